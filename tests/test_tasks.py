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
