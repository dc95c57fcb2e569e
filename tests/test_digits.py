"""The classification target protocols (moving, rescaled, fixed, one-hot), the digits task,
its ceilings, and the digits scenarios in smoke form."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator.tasks import (
    TASKS,
    class_means,
    classify,
    digits_task,
    linear_ceilings,
    load_digits,
    onehot_targets,
    transfer_matrix,
)

CURRENTS = {"inputs_as": "currents", "outputs_as": "pairs"}
ROOT = Path(__file__).resolve().parents[1]


def test_digits_split_is_seeded_centred_on_the_training_mean_and_scaled():
    split = digits_task(3, n_train=1000, scale=2.0)
    assert split.x_train.shape == (1000, 64) and split.x_test.shape == (797, 64)
    np.testing.assert_allclose(split.x_train.mean(axis=0), 0.0, atol=1e-12)
    pixels, labels = load_digits()
    raw = digits_task(3, n_train=1000, centre=False)
    assert raw.x_train.min() >= 0 and raw.x_train.max() <= 1  # pixel / 16
    np.testing.assert_allclose(split.x_train, 2.0 * (raw.x_train - raw.x_train.mean(axis=0)), atol=1e-12)
    np.testing.assert_array_equal(np.sort(np.concatenate([raw.y_train, raw.y_test])), np.sort(labels))
    assert not np.array_equal(digits_task(4).y_train, split.y_train)
    with pytest.raises(ValueError, match="n_train must be in 10..1796"):
        digits_task(0, n_train=1797)


def test_ceilings_match_a_direct_computation():
    split = digits_task(1)
    ceilings = linear_ceilings(split)
    means = np.stack([split.x_train[split.y_train == c].mean(axis=0) for c in range(10)])
    nearest = np.argmin(((split.x_test[:, None, :] - means[None]) ** 2).sum(axis=-1), axis=1)
    assert ceilings["nearest_centroid"] == pytest.approx(np.mean(nearest == split.y_test), abs=1e-12)
    design = np.hstack([split.x_train, np.ones((1000, 1))])
    weights = np.linalg.pinv(design) @ np.eye(10)[split.y_train]
    scores = np.hstack([split.x_test, np.ones((797, 1))]) @ weights
    assert ceilings["least_squares"] == pytest.approx(np.mean(scores.argmax(axis=1) == split.y_test), abs=1e-12)
    assert 0.85 < ceilings["nearest_centroid"] < ceilings["least_squares"] < 0.97


def test_onehot_codes_are_centred_and_sized_to_the_outputs_spread():
    outputs = np.random.default_rng(0).normal(scale=0.3, size=(500, 10))
    codes = onehot_targets(outputs, 10, 2.0)
    np.testing.assert_allclose(codes.sum(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(codes[3, 3] - codes[3, 4], 2.0 * np.std(outputs), rtol=1e-14)
    # nearest code = largest output, for outputs of any offset
    np.testing.assert_array_equal(classify(outputs + 5.0, codes), outputs.argmax(axis=1))


@pytest.fixture(scope="module")
def iris_pair():
    net = simulator.lattice_network(seed=2)
    trained = net.with_conductance(net.conductance * np.exp(np.random.default_rng(1).normal(size=net.n_edges)))
    return net, trained


@pytest.mark.parametrize("protocol", ["moving", "rescaled", "fixed", "onehot"])
def test_each_protocol_sets_the_desired_outputs_it_says(iris_pair, protocol):
    start, later = iris_pair
    options = {"per_class_train": 25, "scale": 5.0, "targets": protocol, "target_scale": 1.5}
    task = TASKS["iris"].from_config(options, network=start, seed=0, boundary=CURRENTS)
    split, r0, r = task.split, transfer_matrix(start), transfer_matrix(later)
    means = class_means(split.x_train, split.y_train)
    desired = task.evaluate(later, r)["desired_output"]
    expected = {
        "moving": means @ r.T,
        "rescaled": np.linalg.norm(r0) / np.linalg.norm(r) * (means @ r.T),
        "fixed": means @ r0.T,
        "onehot": onehot_targets(split.x_train @ r0.T, 3, 1.5),
    }[protocol]
    np.testing.assert_allclose(desired, expected, rtol=1e-12, atol=1e-15)
    inputs, targets = task.examples(np.arange(5), {"desired_output": desired})
    np.testing.assert_array_equal(targets, desired[split.y_train[:5]])
    metrics = task.evaluate(later, r)
    reference = means @ r.T if protocol in ("moving", "rescaled") else expected
    assert metrics["accuracy_train"] == pytest.approx(
        np.mean(classify(split.x_train @ r.T, reference) == split.y_train)
    )


def test_fixed_targets_hold_through_a_recorded_run_and_moving_ones_move(tmp_path):
    fixed = simulator.run({"task": {"name": "iris", "targets": "fixed"}, "run": {"epochs": 3}}, out=tmp_path / "f.h5")
    moving = simulator.run({"run": {"epochs": 3}}, out=tmp_path / "m.h5")
    desired = simulator.load_trajectory(tmp_path / "f.h5").series("observables/desired_output")[2]
    assert desired.shape == (4, 3, 3)
    np.testing.assert_array_equal(desired[1:], np.broadcast_to(desired[0], (3, 3, 3)))
    moved = simulator.load_trajectory(tmp_path / "m.h5").series("observables/desired_output")[2]
    assert np.abs(moved[-1] - moved[0]).max() > 1e-3
    np.testing.assert_array_equal(desired[0], moved[0])  # the same start: the protocols part from there
    # before training the fixed targets are the training class means' outputs: the strict accuracy's reference
    assert fixed.epochs["accuracy_test"][0] == moving.epochs["accuracy_test_strict"][0]


def test_an_unknown_protocol_is_refused_by_name():
    with pytest.raises(ValueError, match="task.targets must be one of .*'moving'.*got 'sliding'"):
        simulator.RunConfig.from_dict({"task": {"name": "digits", "targets": "sliding"}})


def test_digits_learns_on_a_small_lattice():
    config = {"task": {"name": "digits", "n_train": 200, "target_scale": 10.0}, "network": {"side": 16, "d": 12},
              "rule": {"lr": 0.1}, "run": {"epochs": 3}}  # fmt: skip
    result = simulator.run(config)
    accuracy = result.epochs["accuracy_test"]
    assert accuracy[0] < 0.2 < 0.4 < accuracy[-1]  # one-hot codes start at chance (0.1)


def test_the_digits_scenarios_run_in_smoke_form(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scenarios"))
    try:
        import digits
        import digits_table
    finally:
        sys.path.pop(0)
    assert digits.main(["--smoke", "--out", str(tmp_path / "d.h5")]) == 0
    assert "test accuracy" in capsys.readouterr().out and (tmp_path / "d.png").exists()
    assert digits_table.main(["--smoke", "--out", str(tmp_path / "table"), "--workers", "1"]) == 0
    table = json.loads((tmp_path / "table.json").read_text())["accuracy_test"]
    assert set(table) >= {"chemical", "ep", "coupled", "least squares (no network)"}
    assert all(0.0 <= v <= 1.0 for row in table.values() for v in row.values())
    assert digits_table.main(["--smoke", "--out", str(tmp_path / "table"), "--workers", "1"]) != 0  # no overwrite


def test_the_full_batch_fit_lowers_the_cost_and_the_scaling_study_runs(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scenarios"))
    try:
        import digits_capacity
        import scaling
    finally:
        sys.path.pop(0)
    assert digits_capacity.main(["--smoke", "--d", "8", "--out", str(tmp_path / "cap.json")]) == 0
    (row,) = json.loads((tmp_path / "cap.json").read_text())["rows"]
    assert row["cost_after"] < 0.9 * row["cost_before"] and row["test"] > row["test_before"]
    assert scaling.main(["--smoke", "--out", str(tmp_path / "scaling"), "--workers", "1"]) == 0
    points = json.loads((tmp_path / "scaling.json").read_text())["points"]
    assert sorted({p["nodes"] for p in points}) == [64, 144] and not any(p["stopped"] for p in points)
    assert (tmp_path / "scaling.png").exists()
    assert scaling.power_law([1, 10, 100], [2, 20, 200]) == pytest.approx(1.0)
