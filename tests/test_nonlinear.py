"""Nonlinear pipes: Newton's steady state, the exact gradient through it, the chemical rule's
departure from it, the time-stepped relaxation, and the scenario in its smoke form."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import random_task

import simulator
from simulator.base import SimulationError
from simulator.nonlinear import (
    FLOW_LAWS,
    CubicLaw,
    DiodeLaw,
    LinearLaw,
    chemical_update,
    exact_chemical_update,
    exact_gradient,
    fidelity,
    flow_law,
    newton_solve,
    nonlinear_cost,
    nonlinear_steady_state,
    relax_nonlinear,
    relax_presentation,
    train_nonlinear,
)
from simulator.rules import apply_update

ROOT = Path(__file__).resolve().parents[1]
LAWS = [CubicLaw(0.3), DiodeLaw(3.0), DiodeLaw(1.0, width=0.2)]


@pytest.fixture(scope="module")
def net() -> simulator.Network:
    return simulator.lattice_network(side=5, d=4, seed=2, n_inputs=2, n_outputs=2)


def kirchhoff_residual(network, law, v, inputs) -> np.ndarray:
    """``sum of pipe flows out of each node - injected current``, pipe by pipe (no shared code)."""
    out = -network.node_currents(inputs)
    for (a, b), w, dv in zip(network.edges, network.conductance, network.drops(v)):
        q = w * law.flux(np.array([dv]))[0]
        out[a] += q
        out[b] -= q
    return out


# ---------------------------------------------------------------------- flow laws
@pytest.mark.parametrize("law", [LinearLaw(), *LAWS, CubicLaw(10.0), DiodeLaw(100.0)], ids=repr)
def test_a_law_passes_zero_and_its_slope_is_its_derivative_and_positive(law):
    dv = np.linspace(-6, 6, 241)
    assert law.flux(np.zeros(1))[0] == 0.0
    h = 1e-6
    numeric = (law.flux(dv + h) - law.flux(dv - h)) / (2 * h)
    assert np.allclose(law.slope(dv), numeric, rtol=1e-7, atol=1e-8)
    assert np.all(law.slope(dv) > 0)


def test_the_diode_conducts_w_forward_and_w_over_1_plus_beta_backward():
    law = DiodeLaw(beta=4.0, width=0.1)
    assert law.slope(np.array([5.0]))[0] == pytest.approx(1.0, abs=1e-12)
    assert law.slope(np.array([-5.0]))[0] == pytest.approx(0.2, abs=1e-12)


@pytest.mark.parametrize("law", [LinearLaw(), CubicLaw(0.0), DiodeLaw(0.0)], ids=repr)
def test_beta_zero_is_the_linear_steady_state(net, law):
    inputs, _ = random_task(net, seed=1)
    linear = simulator.steady_state(net, inputs)
    result = newton_solve(net, net.node_currents(inputs), law)
    assert np.abs(result.v - linear).max() <= 1e-12 * np.abs(linear).max()
    assert result.iterations == 0  # the linear start is already the solution


# ---------------------------------------------------------------------- Newton
@pytest.mark.parametrize("law", [*LAWS, CubicLaw(10.0)], ids=repr)
def test_newton_satisfies_kirchhoff_at_every_node(net, law):
    inputs, _ = random_task(net, seed=3)
    v = nonlinear_steady_state(net, inputs, law)
    assert np.abs(kirchhoff_residual(net, law, v, inputs)).max() < 1e-12 * np.abs(inputs).max()
    assert abs(v.mean()) < 1e-12 * np.abs(v).max()  # the gauge: mean zero


def test_newton_converges_quadratically(net):
    inputs, _ = random_task(net, seed=4)
    result = newton_solve(net, net.node_currents(inputs), CubicLaw(1.0), tol=1e-14)
    r = result.residuals
    assert r[-1] < 1e-14 and result.iterations >= 4
    assert np.all(result.steps[-3:] == 1.0)  # full Newton steps near the solution
    # the last steps above round-off: e_{k+1} <= C e_k^2 (digits double), not C e_k
    close = [k for k in range(len(r) - 1) if r[k] < 0.1 and r[k + 1] > 1e-15]
    assert len(close) >= 2
    assert all(r[k + 1] <= 2.0 * r[k] ** 2 for k in close), r


def test_newton_from_rest_needs_its_line_search(net):
    inputs, _ = random_task(net, seed=5)
    currents = net.node_currents(inputs)
    # from v = 0 the first Newton step is the linear state, where the cubic term is far too strong
    result = newton_solve(net, currents, CubicLaw(10.0), v0=np.zeros(net.n_nodes))
    assert result.steps[0] < 1.0 and result.steps[-1] == 1.0
    assert np.abs(result.v - newton_solve(net, currents, CubicLaw(10.0)).v).max() < 1e-10


# ---------------------------------------------------------------------- gradients and updates
@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_exact_gradient_matches_central_finite_differences(net, law):
    inputs, targets = random_task(net, seed=6)
    gradient = exact_gradient(net, inputs, targets, law)
    w = net.conductance
    numeric = np.empty_like(w)
    for e in range(len(w)):
        h = 1e-5 * w[e]
        plus, minus = w.copy(), w.copy()
        plus[e] += h
        minus[e] -= h
        numeric[e] = (nonlinear_cost(net.with_conductance(plus), inputs, targets, law)
                      - nonlinear_cost(net.with_conductance(minus), inputs, targets, law)) / (2 * h)  # fmt: skip
    assert np.linalg.norm(gradient - numeric) / np.linalg.norm(numeric) < 1e-6


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_the_chemical_diffusing_by_the_jacobian_is_the_exact_step(net, law):
    inputs, targets = random_task(net, seed=7)
    alpha, eta = 0.3, 0.05
    step = -alpha * eta * exact_gradient(net, inputs, targets, law)
    dw = exact_chemical_update(net, inputs, targets, law, alpha=alpha, eta=eta)
    assert np.abs(dw - step).max() <= 1e-10 * np.abs(step).max()


@pytest.mark.parametrize("local", ["drop", "flow"])
def test_at_beta_zero_the_chemical_update_is_the_gradient_step_and_the_linear_rule(net, local):
    inputs, targets = random_task(net, seed=8)
    alpha, eta = 0.7, 0.2
    dw = chemical_update(net, inputs, targets, CubicLaw(0.0), alpha=alpha, eta=eta, local=local)
    step = -alpha * eta * exact_gradient(net, inputs, targets, CubicLaw(0.0))
    linear = simulator.learning_update(net, inputs, targets, rule="chemical", alpha=alpha, eta=eta)
    assert np.abs(dw - step).max() <= 1e-10 * np.abs(step).max()
    assert np.abs(dw - linear).max() <= 1e-10 * np.abs(linear).max()
    assert fidelity(net, inputs, targets, CubicLaw(0.0), local=local).cosine == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name, betas", [("cubic", [0.01, 0.1, 1.0, 10.0]), ("diode", [0.1, 1.0, 10.0])])
@pytest.mark.parametrize("local", ["drop", "flow"])
def test_the_chemical_update_departs_from_the_gradient_as_beta_grows(name, betas, local):
    network = simulator.lattice_network(side=6, d=4, seed=1, n_inputs=2, n_outputs=2)
    inputs, targets = random_task(network, seed=0)
    found = [fidelity(network, inputs, targets, flow_law(name, beta=beta), local=local) for beta in betas]
    cosines = [f.cosine for f in found]
    assert all(c < 1 - 1e-6 for c in cosines)
    assert all(later < earlier for earlier, later in zip(cosines, cosines[1:])), cosines
    errors = [f.relative_error for f in found]
    assert all(later > earlier for earlier, later in zip(errors, errors[1:])), errors


# ---------------------------------------------------------------------- time stepping
@pytest.mark.parametrize("law", [LinearLaw(), *LAWS, CubicLaw(10.0)], ids=repr)
def test_explicit_relaxation_reaches_the_newton_state(net, law):
    inputs, _ = random_task(net, seed=9)
    currents = net.node_currents(inputs)
    newton = nonlinear_steady_state(net, inputs, law)
    v, steps = relax_nonlinear(net, currents, law, rtol=1e-11)
    assert steps > 10
    assert np.abs(v - newton).max() <= 1e-7 * np.abs(newton).max()
    assert abs(v.sum()) < 1e-9 * np.abs(v).max()  # sum(v) conserved from rest


@pytest.mark.parametrize("law", [CubicLaw(1.0), DiodeLaw(3.0)], ids=repr)
def test_a_time_stepped_presentation_settles_to_the_quasistatic_update(net, law):
    inputs, targets = random_task(net, seed=10)
    v, u, _ = relax_presentation(net, inputs, targets, law, eta=0.5, c_u=2.0, rtol=1e-11)
    quasistatic = chemical_update(net, inputs, targets, law, eta=0.5)
    assert np.abs(-net.drops(u) * net.drops(v) - quasistatic).max() <= 1e-7 * np.abs(quasistatic).max()


# ---------------------------------------------------------------------- training
def test_training_at_beta_zero_is_the_linear_chemical_rule_step_for_step(net):
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(0, 5, (6, net.n_inputs)), rng.normal(0, 1, (6, net.n_outputs))
    lr, w_min = 3e-2, 1e-4
    trained = train_nonlinear(net, inputs, targets, CubicLaw(0.0), lr=lr, epochs=3, seed=4, w_min=w_min)
    shuffle, network = np.random.default_rng(np.random.SeedSequence(4, spawn_key=(2,))), net
    for _ in range(3):
        for k in shuffle.permutation(len(inputs)):
            dw = simulator.learning_update(network, inputs[k], targets[k], rule="chemical", alpha=lr, eta=1.0)
            network = network.with_conductance(apply_update(network.conductance, dw, w_min)[0])
    assert np.abs(trained.network.conductance - network.conductance).max() <= 1e-12
    exact = train_nonlinear(net, inputs, targets, CubicLaw(0.0), rule="exact", lr=lr, epochs=3, seed=4, w_min=w_min)
    assert np.abs(exact.network.conductance - network.conductance).max() <= 1e-12


@pytest.mark.parametrize("rule", ["chemical", "exact"])
def test_training_through_cubic_pipes_lowers_the_cost_reproducibly(net, rule):
    law = CubicLaw(0.3)
    rng = np.random.default_rng(1)
    inputs = rng.uniform(0, 5, (8, net.n_inputs))
    teacher = net.with_conductance(net.conductance * np.exp(0.5 * rng.normal(size=net.n_edges)))
    targets = np.stack([teacher.outputs(nonlinear_steady_state(teacher, x, law)) for x in inputs])
    first = train_nonlinear(net, inputs, targets, law, rule=rule, lr=1e-2, epochs=10, seed=0)
    cost = first.history["cost"]
    assert cost.shape == (11,) and cost[-1] < 0.5 * cost[0]
    again = train_nonlinear(net, inputs, targets, law, rule=rule, lr=1e-2, epochs=10, seed=0)
    assert np.array_equal(first.network.conductance, again.network.conductance)


def test_moving_targets_are_asked_for_every_epoch_and_evaluate_is_recorded(net):
    inputs, _ = random_task(net, seed=11)
    calls = []

    def targets(network):
        calls.append(network)
        return np.zeros((1, net.n_outputs))

    result = train_nonlinear(
        net, inputs[None], targets, CubicLaw(0.1), epochs=3, evaluate=lambda n: {"w1": n.conductance[1]}
    )
    assert len(calls) == 4 and set(result.history) == {"w1"} and result.history["w1"].shape == (4,)


# ---------------------------------------------------------------------- bad input
def test_bad_input_is_refused_with_a_clear_message(net):
    inputs, targets = random_task(net)
    with pytest.raises(ValueError, match="beta must be finite and >= 0"):
        CubicLaw(-0.1)
    with pytest.raises(ValueError, match="beta must be finite and >= 0"):
        flow_law("diode", beta=float("nan"))
    with pytest.raises(ValueError, match=r"unknown flow law 'quadratic'; choose one of \['cubic', 'diode', 'linear'\]"):
        flow_law("quadratic")
    with pytest.raises(ValueError, match="the linear law has no beta"):
        flow_law("linear", beta=1.0)
    with pytest.raises(ValueError, match="width must be finite and > 0"):
        DiodeLaw(1.0, width=0.0)
    with pytest.raises(ValueError, match="flow law 'cubic'"):
        flow_law("cubic", width=2.0)
    with pytest.raises(ValueError, match="sources must have shape"):
        newton_solve(net, np.zeros(3), "cubic")
    with pytest.raises(ValueError, match="v0 must be finite with shape"):
        newton_solve(net, net.node_currents(inputs), "cubic", v0=np.zeros(3))
    with pytest.raises(ValueError, match="targets must have shape"):
        nonlinear_cost(net, inputs, targets[:1], "linear")
    with pytest.raises(ValueError, match="local must be one of 'drop', 'flow'"):
        chemical_update(net, inputs, targets, CubicLaw(0.1), local="pressure")
    with pytest.raises(ValueError, match="rule must be one of 'chemical', 'exact'"):
        train_nonlinear(net, inputs[None], targets[None], CubicLaw(0.1), rule="ep")
    with pytest.raises(ValueError, match="safety must be in"):
        relax_nonlinear(net, net.node_currents(inputs), "linear", safety=1.5)
    assert sorted(FLOW_LAWS) == ["cubic", "diode", "linear"]


def test_newton_that_does_not_converge_says_so(net):
    inputs, _ = random_task(net)
    with pytest.raises(SimulationError, match=r"did not converge in 2 iterations \(relative residual .* > tol=1e-12"):
        newton_solve(net, net.node_currents(inputs), CubicLaw(10.0), max_iter=2)
    with pytest.raises(SimulationError, match="did not reach rtol"):
        relax_nonlinear(net, net.node_currents(inputs), CubicLaw(1.0), max_steps=5)


# ---------------------------------------------------------------------- the scenario
def load_scenario(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scenarios" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scenario_runs_in_smoke_form_and_never_overwrites_unasked(tmp_path, capsys):
    scenario = load_scenario("nonlinear_pipes")
    out = tmp_path / "nl.json"
    assert scenario.main(["--smoke", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    linear = [r for r in results["fidelity"] if r["beta"] == 0]
    assert len(linear) == 2  # cubic and diode
    for row in linear:
        for local in ("drop", "flow"):
            assert row[f"cosine_{local}"] == pytest.approx(1.0, abs=1e-9)
            assert row[f"relative_error_{local}"] < 1e-9
    bent = [r for r in results["fidelity"] if r["beta"] > 0]
    assert bent and all(r["cosine_drop"] < 1 - 1e-6 for r in bent)
    iris = {(r["beta"], r["rule"]): r for r in results["iris"]}
    assert iris[0, "chemical"]["accuracy_after"] == iris[0, "exact"]["accuracy_after"]  # the same rule at beta = 0
    assert all(0 <= r["accuracy_after"] <= 1 and not r["failed"] for r in results["iris"])
    assert all(r["test_cost_after"] < r["test_cost_before"] for r in results["regression"])
    assert out.with_suffix(".png").stat().st_size > 0 and "| beta |" in out.with_suffix(".md").read_text()
    before = out.read_text()
    assert scenario.main(["--smoke", "--out", str(out)]) != 0  # exists: refused before any work
    assert "error:" in capsys.readouterr().err and out.read_text() == before
