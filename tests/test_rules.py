"""The chemical rule is exact gradient descent, for every eta."""

import numpy as np
import pytest
from conftest import random_task

import simulator


def test_chemical_update_matches_central_finite_differences(any_network):
    inputs, targets = random_task(any_network, seed=2)
    alpha, eta = 0.4, 0.05
    dw = simulator.learning_update(any_network, inputs, targets, rule="chemical", alpha=alpha, eta=eta)
    numeric = -alpha * eta * simulator.finite_difference_gradient(any_network, inputs, targets)
    assert np.linalg.norm(dw - numeric) / np.linalg.norm(numeric) < 1e-6


@pytest.mark.parametrize("eta", [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3])
def test_chemical_update_is_the_gradient_step_for_every_eta(eta):
    net = simulator.lattice_network(side=12, seed=0)
    inputs, targets = random_task(net, seed=3)
    alpha = 0.7
    dw = simulator.learning_update(net, inputs, targets, rule="chemical", alpha=alpha, eta=eta)
    step = -alpha * eta * simulator.cost_gradient(net, inputs, targets)
    assert np.abs(dw - step).max() <= 1e-13 * np.abs(step).max()


def test_kappa_scales_the_chemical_step():
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=2)
    inputs, targets = random_task(net)
    base = simulator.learning_update(net, inputs, targets, alpha=1.0, eta=0.1)
    slow = simulator.learning_update(net, inputs, targets, alpha=1.0, eta=0.1, kappa=4.0)
    np.testing.assert_allclose(slow, base / 4.0, rtol=1e-13)


def test_gradient_rule_is_the_exact_step():
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=2)
    inputs, targets = random_task(net)
    dw = simulator.learning_update(net, inputs, targets, rule="gradient", alpha=0.5, eta=0.2)
    np.testing.assert_allclose(dw, -0.1 * simulator.cost_gradient(net, inputs, targets), rtol=1e-13)


def test_a_small_step_lowers_the_cost():
    net = simulator.lattice_network(side=12, seed=0)
    inputs, targets = random_task(net, seed=4)
    before = simulator.cost(net, inputs, targets)
    gradient = simulator.cost_gradient(net, inputs, targets)
    step = 1e-4 * before / np.sum(gradient**2)  # aims for a 1e-4 relative decrease
    dw = simulator.learning_update(net, inputs, targets, alpha=step, eta=1.0)
    after = simulator.cost(net.with_conductance(net.conductance + dw), inputs, targets)
    assert after < before
    # and by the amount first-order theory predicts
    np.testing.assert_allclose(after - before, -step * np.sum(gradient**2), rtol=1e-3)


def test_bad_rule_arguments_are_refused():
    net = simulator.lattice_network(side=4, d=3, n_inputs=1, n_outputs=1)
    with pytest.raises(ValueError, match=r"unknown rule 'hebbian'; choose one of \['chemical', 'gradient'\]"):
        simulator.learning_update(net, [1.0], [0.0], rule="hebbian")
    for key in ("alpha", "eta", "kappa"):
        with pytest.raises(ValueError, match=f"{key} must be finite and > 0"):
            simulator.learning_update(net, [1.0], [0.0], **{key: -1.0})


def test_apply_update_counts_the_floor():
    w, floored = simulator.apply_update(np.array([0.1, 0.2, 0.3]), np.array([-0.2, 0.1, -0.3]), 1e-3)
    np.testing.assert_array_equal(w, [1e-3, 0.30000000000000004, 1e-3])
    assert floored == 2
