"""The collapse scenario (scenarios/iris_collapse.py): its smoke form end to end, its refusal to
overwrite, the selection rule, and the choice of terminals (the criterion's maximum, on the
run seed's own pipes)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator.quasistatic import transfer_matrix
from simulator.tasks import class_means, iris_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scenario():
    """The scenario as an importable module (its pool's workers find ``one_run`` by name)."""
    sys.path.insert(0, str(ROOT / "scenarios"))
    try:
        import iris_collapse
    finally:
        sys.path.pop(0)
    return iris_collapse


def test_the_smoke_form_writes_every_output_and_refuses_to_overwrite(scenario, tmp_path, capsys):
    out = tmp_path / "ic"
    assert scenario.main(["--smoke", "--out", str(out), "--workers", "1"]) == 0
    files = {name: tmp_path / f"ic{suffix}" for name, suffix in (("select", "_select.json"), ("report", "_report.json"),
                                                                  ("figure", ".png"))}  # fmt: skip
    assert files["figure"].stat().st_size > 0
    select, report = (json.loads(files[k].read_text()) for k in ("select", "report"))
    assert select["seeds"] == [10, 11] and report["seeds"] == [50, 51] and select["epochs"] == 2
    assert list(select["runs"]) == list(scenario.REMEDIES)
    for record in (select, report):
        table = (tmp_path / f"ic_{record['stage']}.md").read_text()
        for name, runs in record["runs"].items():
            accuracy = np.array(runs["accuracy_test"])
            assert accuracy.shape == (2,) and np.all((0 <= accuracy) & (accuracy <= 1))
            assert all(0 <= a <= 1 for a in runs["accuracy_test_strict"] + runs["accuracy_test_start"])
            s = record["summary"][name]
            assert s["mean"] == pytest.approx(accuracy.mean()) and s["min"] == accuracy.min()
            assert s["below"] == int(np.sum(accuracy < scenario.THRESHOLD))
            assert f"| {s['min']:.3f} |" in table and f"{s['mean']:.3f}" in table
            assert len(record["response_norm_mean"][name]) == 3  # epochs 0, 1, 2
            assert (out / f"{name}_seed{record['seeds'][0]}.h5").exists()
    assert select["chosen"] == scenario.choose(select["summary"])
    assert list(report["runs"]) == list(dict.fromkeys(["paper", select["chosen"]]))
    # the recorded final accuracy is the run file's last epoch
    run = simulator.load_trajectory(out / "paper_seed50.h5")
    assert run.series("observables/accuracy_test")[2][-1] == report["runs"]["paper"]["accuracy_test"][0]
    # a terminals remedy records which candidate won, on the run seed's own pipes
    terminals = select["runs"]["terminals_accuracy"]["terminals"]
    assert all(0 <= t["candidate"] < scenario.CANDIDATES and t["score"] >= t["own_score"] for t in terminals)

    before = {path: path.read_bytes() for path in files.values()}
    capsys.readouterr()
    assert scenario.main(["--smoke", "--out", str(out), "--workers", "1"]) != 0  # refused before any work
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert all(path.read_bytes() == data for path, data in before.items())

    # the report stage alone, its remedies named, over the earlier files with --overwrite
    arguments = ["--smoke", "--out", str(out), "--workers", "1", "--stage", "report", "--remedies", "rescaled"]
    assert scenario.main(arguments) != 0  # its run files and tables exist
    assert scenario.main([*arguments, "--overwrite"]) == 0
    report = json.loads(files["report"].read_text())
    assert list(report["runs"]) == ["paper", "rescaled"] and report["seeds"] == [50, 51]


@pytest.mark.parametrize("arguments", [
    ["--remedies", "nonsense"],
    ["--select-seeds", "10:12", "--report-seeds", "11:13"],  # the report seeds must be held out
    ["--stage", "report"],  # no choice made yet, and no --remedies
])  # fmt: skip
def test_bad_arguments_are_refused_before_any_work(scenario, tmp_path, arguments):
    with pytest.raises(SystemExit) as exit_:
        scenario.main(["--smoke", "--out", str(tmp_path / "ic"), *arguments])
    assert exit_.value.code == 2 and not list(tmp_path.rglob("*.h5"))


def test_the_rule_prefers_the_highest_minimum_then_the_mean(scenario):
    summaries = {"a": {"min": 0.80, "mean": 0.99}, "b": {"min": 0.90, "mean": 0.91}, "c": {"min": 0.90, "mean": 0.95}}
    assert scenario.choose(summaries) == "c"
    assert scenario.choose({"x": {"min": 0.9, "mean": 0.9}, "y": {"min": 0.9, "mean": 0.9}}) == "x"  # first on ties


def test_a_stopped_run_counts_with_its_last_epoch(scenario):
    def row(seed, norms, accuracy):
        return {"remedy": "paper", "seed": seed, "accuracy_test": accuracy, "accuracy_test_strict": accuracy,
                "accuracy_test_start": 0.5, "stopped": "" if len(norms) == 3 else "epoch 1: blow-up", "terminals": {},
                "lr": 3e-3, "step_growth_max": 1.0 if len(norms) == 3 else 500.0, "cost_ratio_max": 1.0,
                "response_norm": norms}  # fmt: skip

    record = scenario.record_of("select", [row(0, [2.0, 1.0, 0.5], 1.0), row(1, [4.0, 3.0], 0.6)], ["paper"], [0, 1])
    assert record["response_norm_mean"]["paper"] == [3.0, 2.0, 0.5]  # the last epoch: the run that reached it
    s = record["summary"]["paper"]
    assert (s["mean"], s["min"], s["below"], s["seeds_below"], s["stopped"]) == (0.8, 0.6, 1, [1], 1)
    assert s["norm_end"] == pytest.approx((0.5 + 3.0) / 2) and s["blow_ups"] == 1 and not s["meets_aim"]


def independent_score(criterion: str, transfer: np.ndarray, split) -> tuple:
    """Each criterion written out again, plainly, from the transfer matrix and the training split."""
    means = np.stack([split.x_train[split.y_train == c].mean(axis=0) for c in range(3)]) @ transfer.T
    if criterion in ("conditioning", "outputs_conditioning"):
        s = np.linalg.svd(transfer if criterion == "conditioning" else means, compute_uv=False)
        return (s.min() / s.max(),)
    outputs = split.x_train @ transfer.T
    within = np.sqrt(np.mean([np.sum((o - means[y]) ** 2) for o, y in zip(outputs, split.y_train)]))
    separation = min(np.linalg.norm(means[a] - means[b]) for a, b in ((0, 1), (0, 2), (1, 2))) / within
    if criterion == "separation":
        return (separation,)
    nearest = np.argmin(np.linalg.norm(outputs[:, None, :] - means[None, :, :], axis=2), axis=1)
    return (np.mean(nearest == split.y_train), separation)


def test_a_blind_network_scores_zero(scenario):
    split = iris_task(0)
    blind = np.outer([1.0, 2.0, 3.0], [1.0, 0.5, 0.2, 0.1])  # rank one: every input seen along one direction
    assert independent_score("conditioning", blind, split)[0] < 1e-12
    assert scenario.CRITERIA["conditioning"][1](blind, split)[0] < 1e-12
    # outputs that do not tell the classes apart: two class means' outputs coincide
    means = class_means(split.x_train, split.y_train)
    null = np.linalg.svd(means[1:2] - means[0:1])[2][1:]  # directions orthogonal to setosa - versicolor
    transfer = np.random.default_rng(0).normal(size=(3, 3)) @ null
    assert scenario.CRITERIA["separation"][1](transfer, split)[0] < 1e-9


@pytest.mark.parametrize("criterion", ["conditioning", "outputs_conditioning", "separation", "accuracy"])
def test_the_chosen_terminals_score_highest_on_the_seeds_own_pipes(scenario, criterion):
    seed = 2  # the nearly blind network of the README (transfer matrix singular values 0.80, 0.09, 0.08)
    config, _, _ = scenario.remedy_config("paper", seed, smoke=True)
    lattice = simulator.lattice_network(side=12, d=4, delta=0.25, seed=seed)
    candidates = scenario.terminal_candidates(config)
    assert len(candidates) == scenario.CANDIDATES
    pipes = {tuple(sorted(e)) for e in lattice.edges.tolist()}
    for net in candidates:  # the pipes are the run seed's lattice; only the terminals differ
        assert np.array_equal(net.positions, lattice.positions) and np.array_equal(net.edges, lattice.edges)
        assert np.array_equal(net.conductance, lattice.conductance)
        assert all(tuple(sorted(pair)) in pipes for pair in net.output_pairs.tolist())  # outputs across a pipe
        assert len(set(net.input_pairs.ravel()) | set(net.output_pairs.ravel())) == 14  # all terminals distinct
    assert np.array_equal(candidates[0].input_pairs, lattice.input_pairs)
    assert np.array_equal(candidates[0].output_pairs, lattice.output_pairs)
    assert len({net.input_pairs.tobytes() + net.output_pairs.tobytes() for net in candidates}) == len(candidates)

    chosen, index, scores = scenario.choose_terminals(config, criterion)
    split = iris_task(seed)
    expected = [independent_score(criterion, transfer_matrix(net), split) for net in candidates]
    for got, want in zip(scores, expected):
        assert got == pytest.approx(want, rel=1e-10)
    assert index == max(range(len(expected)), key=lambda j: (expected[j], -j))  # the maximum, the first on ties
    assert np.array_equal(chosen.input_pairs, candidates[index].input_pairs)
    assert np.array_equal(chosen.output_pairs, candidates[index].output_pairs)
    assert np.array_equal(chosen.conductance, lattice.conductance)
    if criterion != "outputs_conditioning":  # seed 2's own terminals are the best by that one
        assert scores[index] > scores[0] and index > 0
