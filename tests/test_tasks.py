"""Iris data, split, normalisation, desired outputs and classification."""

import numpy as np
import pytest

import simulator
from simulator.tasks import class_targets, classify, evaluate_iris, iris_task, load_iris, transfer_matrix


def test_shipped_iris_data():
    features, labels = load_iris()
    assert features.shape == (150, 4)
    assert np.bincount(labels).tolist() == [50, 50, 50]
    np.testing.assert_allclose(features[0], [5.1, 3.5, 1.4, 0.2])  # Fisher's first setosa
    np.testing.assert_allclose(features.mean(axis=0), [5.8433, 3.0573, 3.758, 1.1993], atol=1e-4)


def test_split_is_stratified_seeded_and_normalised_by_the_training_range():
    task = iris_task(seed=3)
    assert np.bincount(task.y_train).tolist() == [25, 25, 25] and np.bincount(task.y_test).tolist() == [25, 25, 25]
    np.testing.assert_allclose(task.x_train.min(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(task.x_train.max(axis=0), 5.0, rtol=1e-15)
    again, other = iris_task(seed=3), iris_task(seed=4)
    assert np.array_equal(task.x_train, again.x_train) and not np.array_equal(task.x_train, other.x_train)
    # train and test together are the whole data set, each example once
    features, _ = load_iris()
    assert len(np.unique(np.concatenate([task.x_train, task.x_test]), axis=0)) == len(np.unique(features, axis=0))
    with pytest.raises(ValueError, match="per_class_train must be in 1..49"):
        iris_task(per_class_train=50)


def test_class_targets_are_responses_to_class_means_and_classify_picks_the_nearest():
    net = simulator.lattice_network(side=12, seed=0)
    task = iris_task(seed=0)
    targets = class_targets(net, task.x_train, task.y_train)
    for c in range(3):
        mean_input = task.x_train[task.y_train == c].mean(axis=0)
        np.testing.assert_allclose(targets[c], net.outputs(simulator.steady_state(net, mean_input)), rtol=1e-12)
    outputs = targets[[2, 0, 1]] + 1e-3
    assert classify(outputs, targets).tolist() == [2, 0, 1]


def test_transfer_matrix_is_the_linear_response_and_metrics_follow_the_paper_protocol():
    net = simulator.lattice_network(side=12, seed=1)
    task = iris_task(seed=1)
    response = transfer_matrix(net)
    x = task.x_test[7]
    np.testing.assert_allclose(response @ x, net.outputs(simulator.steady_state(net, x)), rtol=1e-10, atol=1e-13)
    metrics = evaluate_iris(net, task)
    np.testing.assert_allclose(metrics.desired_output, class_targets(net, task.x_train, task.y_train), rtol=1e-12)
    assert metrics.response_norm == pytest.approx(np.linalg.norm(response), rel=1e-14)
    # paper: desired outputs from the *test* class means; strict: from the training class means
    test_outputs = np.stack([net.outputs(simulator.steady_state(net, x)) for x in task.x_test])
    paper = classify(test_outputs, class_targets(net, task.x_test, task.y_test))
    strict = classify(test_outputs, metrics.desired_output)
    assert metrics.accuracy_test == np.mean(paper == task.y_test)
    assert metrics.accuracy_test_strict == np.mean(strict == task.y_test)
    assert 0.3 < metrics.accuracy_train <= 1.0


# ---------------------------------------------------------------------- tasks of any source
from simulator.tasks import TASKS, CsvTask, NpzTask, seeded_split, teacher_student_data  # noqa: E402

CURRENTS = {"inputs_as": "currents", "outputs_as": "pairs"}


def test_teacher_student_targets_are_reachable_and_seeded():
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=2)
    inputs, targets, teacher = teacher_student_data(net, 30, seed=4)
    assert inputs.shape == (30, 2) and targets.shape == (30, 2) and inputs.min() >= 0 and inputs.max() <= 5
    for x, y in zip(inputs[:3], targets[:3]):  # the teacher's steady outputs: zero cost at its conductances
        assert simulator.cost(teacher, x, y) < 1e-28 < simulator.cost(net, x, y)
    again = teacher_student_data(net, 30, seed=4)
    assert np.array_equal(again[1], targets) and not np.array_equal(teacher_student_data(net, 30, seed=5)[1], targets)
    options = {"n_train": 20, "n_test": 10, "input_scale": 5.0, "spread": 0.5}
    task = TASKS["regression"].from_config(options, network=net, seed=4, boundary=CURRENTS)
    assert task.n_train == 20 and task.evaluate(net, transfer_matrix(net))["cost_test"] > 0
    # with fixed input pressures (the advection mode's other boundary) the teacher answers in kind
    pressures = {"inputs_as": "pressures", "outputs_as": "nodes"}
    task = TASKS["regression"].from_config(options, network=net, seed=4, boundary=pressures)
    _, _, teacher = teacher_student_data(net, 1, seed=4)
    assert task.evaluate(teacher, transfer_matrix(teacher, **pressures))["cost_test"] < 1e-28


def test_seeded_split_and_the_users_own_split(tmp_path):
    train, test = seeded_split(20, 0.25, seed=3)
    assert len(test) == 5 and sorted(np.concatenate([train, test]).tolist()) == list(range(20))
    assert np.array_equal(seeded_split(20, 0.25, seed=3)[1], test)
    rows = "\n".join(f"{i},{2 * i},{i % 3}" for i in range(20))
    (tmp_path / "data.csv").write_text("# comments are skipped\nx,y,z\n" + rows + "\n")
    (tmp_path / "test.csv").write_text("z,x,y\n1,2,3\n")  # columns by name, any order
    options = {"file": str(tmp_path / "data.csv"), "inputs": ["x", "z"], "targets": ["y"], "test_fraction": 0.25,
               "test_file": ""}  # fmt: skip
    seeded = CsvTask.from_config(options, network=None, seed=3, boundary=CURRENTS)
    np.testing.assert_array_equal(seeded.inputs_test[:, 0], test)
    given = CsvTask.from_config({**options, "test_file": str(tmp_path / "test.csv")}, network=None, seed=3,
                                boundary=CURRENTS)  # fmt: skip
    assert given.n_train == 20 and given.inputs_test.tolist() == [[2.0, 1.0]] and given.targets_test.tolist() == [[3]]
    np.savez(tmp_path / "data.npz", inputs=np.ones((6, 2)), targets=np.arange(6.0), test_inputs=np.zeros((2, 2)),
             test_targets=np.ones(2))  # fmt: skip
    npz = NpzTask.from_config({"file": str(tmp_path / "data.npz"), "test_fraction": 0.5}, network=None, seed=0,
                              boundary=CURRENTS)  # fmt: skip
    assert (npz.n_train, npz.targets_train.shape, npz.inputs_test.shape) == (6, (6, 1), (2, 2))


@pytest.mark.parametrize(
    "content, message",
    [
        ("x,y\n1,2\n3,oops\n", r"line 3, column 'y': not a number$"),
        ("x,y\n1,2\n3,4,5\n", r"line 3: 3 field\(s\), the header has 2$"),
        ("a,b\n1,2\n", r"has no column\(s\) \['x', 'y'\]; its first line has 2 field\(s\) and none of them is a "
         "column asked for"),
        ("x,w\n1,2\n", r"has no column\(s\) \['y'\]; its columns: \['x', 'w'\]"),
        ("", "is empty"),
    ],
)
def test_csv_problems_are_named(tmp_path, content, message):
    (tmp_path / "data.csv").write_text(content)
    options = {"file": str(tmp_path / "data.csv"), "inputs": ["x"], "targets": ["y"], "test_fraction": 0.5,
               "test_file": ""}  # fmt: skip
    with pytest.raises(ValueError, match=message):
        CsvTask.from_config(options, network=None, seed=0, boundary=CURRENTS)


def test_a_task_that_does_not_fit_the_network_says_so():
    net = simulator.lattice_network(side=4, d=3, seed=1, n_inputs=1, n_outputs=1)
    options = {"per_class_train": 25, "scale": 5.0}
    task = TASKS["iris"].from_config(options, network=net, seed=0, boundary=CURRENTS)
    with pytest.raises(ValueError, match="task 'iris' has 4 input.* the network has 1 input pair"):
        task.check_fits(net)
    assert task.n_train == 75


def test_tuning_targets_are_factors_of_the_starting_outputs():
    net = simulator.lattice_network(side=6, seed=0, n_inputs=1, n_outputs=2)
    options = {"input": 5.0, "factors": [0.5, 1.5]}
    task = TASKS["tuning"].from_config(options, network=net, seed=0, boundary=CURRENTS)
    start = net.outputs(simulator.steady_state(net, [5.0]))
    np.testing.assert_array_equal(task.targets_train, [start * [0.5, 1.5]])
    with pytest.raises(ValueError, match="one factor per output pair"):
        TASKS["tuning"].from_config({"input": 5.0, "factors": [0.5]}, network=net, seed=0, boundary=CURRENTS)


def test_the_shipped_digits_are_ucis_test_set():
    """1,797 8x8 images of pixel counts 0..16, as UCI and scikit-learn describe them: the
    class sizes and the first image (a zero); and the total of every pixel count, a checksum
    of the copy taken from scikit-learn 1.9.1."""
    from simulator.tasks import load_digits

    pixels, digits = load_digits()
    assert pixels.shape == (1797, 64) and digits.shape == (1797,)
    assert pixels.min() == 0 and pixels.max() == 16
    np.testing.assert_array_equal(np.bincount(digits), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    first_rows = [[0, 0, 5, 13, 9, 1, 0, 0], [0, 0, 13, 15, 10, 15, 5, 0]]
    np.testing.assert_array_equal(pixels[0].reshape(8, 8)[:2], first_rows)
    assert digits[0] == 0 and int(pixels.sum()) == 561718
