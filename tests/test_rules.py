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
    with pytest.raises(
        ValueError, match=r"unknown rule 'hebbian'; choose one of \['chemical', 'coupled', 'ep', 'gradient'\]"
    ):
        simulator.learning_update(net, [1.0], [0.0], rule="hebbian")
    for key in ("alpha", "eta", "kappa"):
        with pytest.raises(ValueError, match=f"{key} must be finite and > 0"):
            simulator.learning_update(net, [1.0], [0.0], **{key: -1.0})


def test_apply_update_counts_the_floor():
    w, floored = simulator.apply_update(np.array([0.1, 0.2, 0.3]), np.array([-0.2, 0.1, -0.3]), 1e-3)
    np.testing.assert_array_equal(w, [1e-3, 0.30000000000000004, 1e-3])
    assert floored == 2


# ---------------------------------------------------------------------- relatives: EP and CL
ETAS = np.logspace(-4, -1, 7)


def _fitted_slope(etas, errors) -> float:
    return float(np.polyfit(np.log(etas), np.log(errors), 1)[0])


def test_ep_nudged_state_is_free_state_plus_chemical(any_network):
    from simulator.rules import nudged_state

    inputs, targets = random_task(any_network, seed=6)
    solver = simulator.LaplacianSolver(any_network)
    v = simulator.steady_state(any_network, inputs, solver=solver)
    u = solver.solve(simulator.quasistatic.output_error_currents(any_network, v, targets, eta=0.3))
    np.testing.assert_allclose(nudged_state(any_network, v, targets, eta=0.3, solver=solver), v + u, atol=1e-12)


@pytest.mark.parametrize("case", ["watts-strogatz-30", "lattice-12x12"])
def test_ep_error_against_the_gradient_step_shrinks_linearly_with_eta(case):
    from conftest import NETWORK_CASES

    net = NETWORK_CASES[case]()
    inputs, targets = random_task(net, seed=7)
    gradient = simulator.cost_gradient(net, inputs, targets)
    errors = []
    for eta in ETAS:
        dw = simulator.learning_update(net, inputs, targets, rule="ep", alpha=1.0, eta=eta)
        step = -eta * gradient
        errors.append(np.linalg.norm(dw - step) / np.linalg.norm(step))
    assert 0.9 <= _fitted_slope(ETAS, errors) <= 1.1
    assert errors[0] < 1e-3  # and it is the gradient step in the limit


def test_cl_clamped_state_holds_the_clamped_drops_and_kirchhoff_elsewhere(any_network):
    from simulator.rules import clamped_state

    inputs, targets = random_task(any_network, seed=8)
    solver = simulator.LaplacianSolver(any_network)
    v = simulator.steady_state(any_network, inputs, solver=solver)
    eta = 0.4
    clamped = clamped_state(any_network, v, targets, eta=eta, solver=solver)
    free_out = any_network.outputs(v)
    np.testing.assert_allclose(any_network.outputs(clamped), free_out + eta * (targets - free_out), atol=1e-10)
    # the clamp injects current only at output terminals: Kirchhoff holds everywhere else
    residual = any_network.laplacian() @ clamped - any_network.node_currents(inputs)
    elsewhere = np.setdiff1d(np.arange(any_network.n_nodes), any_network.output_pairs.ravel())
    assert np.abs(residual[elsewhere]).max() < 1e-9 * np.abs(any_network.node_currents(inputs)).max()


def test_cl_descends_the_conductance_weighted_cost_to_first_order():
    from conftest import NETWORK_CASES

    from simulator.rules import coupled_cost_gradient, output_resistance

    net = NETWORK_CASES["watts-strogatz-30"]()
    inputs, targets = random_task(net, seed=9)
    weighted = coupled_cost_gradient(net, inputs, targets)
    # the weighted cost's gradient (G held fixed) against central finite differences
    weights = np.linalg.inv(output_resistance(net, simulator.LaplacianSolver(net)))

    def weighted_cost(w):
        error = net.outputs(simulator.steady_state(net.with_conductance(w), inputs)) - targets
        return 0.5 * error @ weights @ error

    w = net.conductance
    numeric = np.array([
        (weighted_cost(w + h) - weighted_cost(w - h)) / (2e-6 * w[e])
        for e, h in ((e, np.eye(len(w))[e] * 1e-6 * w[e]) for e in range(len(w)))
    ])  # fmt: skip
    assert np.linalg.norm(weighted - numeric) / np.linalg.norm(numeric) < 1e-6
    errors = []
    for eta in ETAS:
        dw = simulator.learning_update(net, inputs, targets, rule="coupled", alpha=1.0, eta=eta)
        errors.append(np.linalg.norm(dw + eta * weighted) / np.linalg.norm(eta * weighted))
    assert 0.9 <= _fitted_slope(ETAS, errors) <= 1.1 and errors[0] < 1e-3
    # ... which is not the gradient of C: a cosine below 1, reported, not assumed
    plain = simulator.cost_gradient(net, inputs, targets)
    assert weighted @ plain / (np.linalg.norm(weighted) * np.linalg.norm(plain)) < 0.999


@pytest.mark.parametrize("rule", sorted(simulator.RULES))
def test_every_rule_lowers_the_cost_on_a_small_step(rule, any_network):
    inputs, targets = random_task(any_network, seed=10)
    before = simulator.cost(any_network, inputs, targets)
    dw = simulator.learning_update(any_network, inputs, targets, rule=rule, alpha=1e-3, eta=1e-2)
    after = simulator.cost(any_network.with_conductance(any_network.conductance + dw), inputs, targets)
    assert after < before
