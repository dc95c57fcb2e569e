"""Time stepping: steady states, conservation, stability, and the quasistatic limit."""

import numpy as np
import pytest
from conftest import random_task

import simulator
from simulator import Explicit, Implicit, Physics, Quasistatic, Save, TimeStepped, train


def test_two_node_relaxation_follows_the_discrete_solution():
    w, current, dt, c = 0.25, 1.0, 0.5, 2.0
    net = simulator.Network(positions=[[0, 0], [1, 0]], edges=[[0, 1]], conductance=[w], input_pairs=[[0, 1]])
    for steps in (1, 2, 10, 37):
        v, _ = simulator.relax(net, net.node_currents([current]), c=c, dt=dt, n_steps=steps)
        # drop d: c dd/dt = 2I - 2 w d, so d_k = (I/w) (1 - (1 - 2 w dt / c)^k)
        expected = current / w * (1 - (1 - 2 * w * dt / c) ** steps)
        assert v[0] - v[1] == pytest.approx(expected, rel=1e-13)
        assert v.sum() == pytest.approx(0.0, abs=1e-15)


def test_relaxed_state_is_the_direct_solve_and_obeys_kirchhoff(any_network):
    inputs, _ = random_task(any_network)
    currents = any_network.node_currents(inputs)
    relaxed, _ = simulator.relax(any_network, currents, rtol=1e-11)
    direct = simulator.steady_state(any_network, inputs)
    assert np.abs(relaxed - relaxed.mean() - direct).max() < 1e-8 * np.abs(direct).max()
    # Kirchhoff: net outflow through the pipes is zero at interior nodes, the injection elsewhere
    net_outflow = np.zeros(any_network.n_nodes)
    flows = any_network.conductance * any_network.drops(relaxed)
    np.add.at(net_outflow, any_network.edges[:, 0], flows)
    np.add.at(net_outflow, any_network.edges[:, 1], -flows)
    interior = any_network.species() == 0
    assert np.abs(net_outflow[interior]).max() < 1e-9 * np.abs(inputs).max()
    np.testing.assert_allclose(net_outflow[~interior], currents[~interior], atol=1e-9 * np.abs(inputs).max())


def test_presentation_ends_at_the_steady_state_of_both_fields():
    net = simulator.lattice_network(side=5, seed=2, n_inputs=2, n_outputs=2)
    inputs, targets = random_task(net)
    T = 40 * simulator.relaxation_time(net)
    result = simulator.train(net, inputs, targets, alpha=1e-12, eta=0.5, dynamics=simulator.TimeStepped(T=T))
    solver = simulator.LaplacianSolver(net)
    v = solver.solve(net.node_currents(inputs))
    u = solver.solve(simulator.quasistatic.output_error_currents(net, v, targets, 0.5))
    assert np.abs(result.state.v - result.state.v.mean() - v).max() < 1e-8 * np.abs(v).max()
    assert np.abs(result.state.u - result.state.u.mean() - u).max() < 1e-8 * np.abs(u).max()


@pytest.mark.parametrize("weights", ["deferred", "live"])
def test_sums_of_pressure_and_chemical_are_conserved_while_stepping(weights):
    net = simulator.lattice_network(side=5, seed=3, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(0)
    state = simulator.FieldState(v=rng.normal(1.0, 1.0, net.n_nodes), u=rng.normal(-2.0, 1.0, net.n_nodes))
    inputs, targets = rng.uniform(0, 5, (6, 2)), rng.normal(0, 1, (6, 2))
    result = simulator.train(
        net, inputs, targets, alpha=0.01, eta=0.5, state=state,
        dynamics=simulator.TimeStepped(T=30.0, feedback_delay=5.0), weights=weights,
    )  # fmt: skip
    assert result.state.step > 100
    assert result.state.v.sum() == pytest.approx(state.v.sum(), abs=1e-11 * np.abs(state.v).sum())
    assert result.state.u.sum() == pytest.approx(state.u.sum(), abs=1e-11 * np.abs(state.u).sum())


def test_deferred_quasistatic_limit_emerges_as_presentation_time_grows(small_network):
    # the numerical device: dw/dt = -(alpha / T) u v summed and applied at the end
    inputs, targets, alpha, eta = np.array([1.0]), np.array([0.3]), 0.05, 0.2
    quasistatic = simulator.learning_update(small_network, inputs, targets, alpha=alpha, eta=eta)
    t_relax = simulator.relaxation_time(small_network)
    errors = []
    for T in t_relax * np.logspace(1, 6, 6):  # five decades, fields starting at rest each time
        result = simulator.train(
            small_network, inputs, targets, alpha=alpha, eta=eta, dynamics=simulator.TimeStepped(T=T),
            weights="deferred",
        )
        dw = result.network.conductance - small_network.conductance
        errors.append(np.linalg.norm(dw - quasistatic) / np.linalg.norm(quasistatic))
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-6, errors
    # the transient deficit is a fixed amount, so the error falls as 1/T
    np.testing.assert_allclose(np.diff(np.log10(errors)), -1.0, atol=0.02)


def test_timestepped_training_tracks_quasistatic_training_on_a_sequence():
    net = simulator.lattice_network(side=5, seed=4, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(1)
    inputs, targets = rng.uniform(0, 5, (5, 2)), rng.normal(0, 0.5, (5, 2))
    kwargs = dict(alpha=0.002, eta=1.0)
    quasistatic = simulator.train(net, inputs, targets, **kwargs)
    timestepped = simulator.train(
        net, inputs, targets, **kwargs, dynamics=simulator.TimeStepped(T=2e4 * simulator.relaxation_time(net)),
        weights="deferred",
    )
    change = quasistatic.network.conductance - net.conductance
    gap = timestepped.network.conductance - quasistatic.network.conductance
    assert np.linalg.norm(gap) < 1e-3 * np.linalg.norm(change)
    np.testing.assert_allclose(timestepped.costs, quasistatic.costs, rtol=1e-3)


def test_quasistatic_train_is_the_sequence_of_learning_updates():
    net = simulator.lattice_network(side=5, seed=4, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(2)
    inputs, targets = rng.uniform(0, 5, (4, 2)), rng.normal(0, 0.5, (4, 2))
    result = simulator.train(net, inputs, targets, alpha=0.002, eta=0.5)
    assert result.floored.sum() == 0
    w = net.conductance
    for x, t in zip(inputs, targets):
        w = w + simulator.learning_update(net.with_conductance(w), x, t, alpha=0.002, eta=0.5)
    np.testing.assert_allclose(result.network.conductance, w, rtol=1e-14)


def test_fields_carry_over_between_presentations_bit_for_bit():
    net = simulator.lattice_network(side=4, d=3, seed=1, n_inputs=1, n_outputs=1)
    inputs, targets = np.array([[1.0], [3.0]]), np.array([[0.2], [-0.1]])
    dynamics = simulator.TimeStepped(T=50.0, feedback_delay=3.0, chemical_lifetime=20.0)
    weights = simulator.Physical(remodel_time=50.0)  # in time units: the same rate in every call
    both = simulator.train(net, inputs, targets, alpha=0.01, eta=0.5, dynamics=dynamics, weights=weights)
    first = simulator.train(net, inputs[0], targets[0], alpha=0.01, eta=0.5, dynamics=dynamics, weights=weights)
    second = simulator.train(
        first.network, inputs[1], targets[1], alpha=0.01, eta=0.5, dynamics=dynamics, state=first.state,
        weights=weights,
    )
    assert np.array_equal(both.network.conductance, second.network.conductance)
    assert np.array_equal(both.state.v, second.state.v) and np.array_equal(both.state.u, second.state.u)
    again = simulator.train(net, inputs, targets, alpha=0.01, eta=0.5, dynamics=dynamics, weights=weights)
    assert np.array_equal(both.network.conductance, again.network.conductance)
    assert np.array_equal(both.outputs, again.outputs)


def test_no_feedback_during_the_release_delay(small_network):
    dynamics = simulator.TimeStepped(T=200.0, feedback_delay=200.0)  # the chemical never switches on
    result = simulator.train(small_network, [1.0], [5.0], alpha=1.0, eta=1.0, dynamics=dynamics)
    assert np.all(result.state.u == 0.0)
    assert np.array_equal(result.network.conductance, small_network.conductance)


def test_dt_above_the_stability_bound_is_refused_with_the_bound(small_network):
    bound = min(simulator.stable_dt(small_network), simulator.stable_dt(small_network, c=1.0, kappa=2.0))
    with pytest.raises(ValueError, match=rf"dt=3 is above the explicit stability bound {bound:.6g}"):
        simulator.train(
            small_network,
            [1.0],
            [0.0],
            dynamics=simulator.TimeStepped(T=10.0),
            integrator=Explicit(dt=3.0),
            physics=Physics(kappa=2.0),
        )
    with pytest.raises(ValueError, match="above the explicit stability bound"):
        simulator.relax(small_network, small_network.node_currents([1.0]), dt=10.0, n_steps=1)
    # just under the bound is accepted and stays finite
    result = simulator.train(
        small_network,
        [1.0],
        [0.0],
        dynamics=simulator.TimeStepped(T=100.0),
        integrator=Explicit(dt=0.99 * bound),
        physics=Physics(kappa=2.0),
        weights="deferred",  # fixed conductances: live ones at alpha = 1 outgrow the bound (refused then, below)
    )
    assert np.all(np.isfinite(result.state.v))


def test_runaway_live_weights_stop_with_a_clear_error(small_network):
    dynamics = simulator.TimeStepped(T=2000.0)
    with pytest.raises(simulator.SimulationError, match="presentation 0 .* lower alpha"):
        simulator.train(
            small_network,
            [50.0],
            [-500.0],
            alpha=50.0,
            eta=10.0,
            dynamics=dynamics,
            weights="live",
            integrator=Explicit(chunk_steps=64),
        )


def test_live_weights_agree_with_deferred_to_first_order_in_alpha(small_network):
    T = 200 * simulator.relaxation_time(small_network)
    gaps = []
    for alpha in (1e-3, 1e-4):
        changes = [
            simulator.train(
                small_network, [1.0], [0.3], alpha=alpha, eta=0.2, dynamics=simulator.TimeStepped(T=T), weights=mode
            ).network.conductance
            - small_network.conductance
            for mode in ("deferred", "live")
        ]
        gaps.append(np.linalg.norm(changes[1] - changes[0]) / np.linalg.norm(changes[0]))
    assert gaps[1] < 0.2 * gaps[0]  # relative gap ~ alpha: second order in the weight change


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: TimeStepped(T=-1.0), "T must be finite and > 0"),
        (lambda: TimeStepped(T=10.0, feedback_delay=11.0), r"feedback_delay must be in \[0, T=10.0\]"),
        (lambda: Physics(c_u=0.0), "c_u must be finite and > 0"),
        (lambda: Physics(kappa=float("nan")), "kappa must be finite and > 0"),
        (lambda: Explicit(dt=-0.1), "dt must be finite and > 0"),
        (lambda: Explicit(safety=1.5), r"safety must be in \(0, 1\]"),
        (lambda: Explicit(max_dt_shrink=0.5), "max_dt_shrink must be >= 1"),
        (lambda: Implicit(), "needs a dt or steps_per_relaxation_time"),
        (lambda: simulator.RelaxationTimes(-1), "must be finite and >= 0"),
    ],
)
def test_bad_timestepping_parameters_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_old_name_tau_still_works_with_a_notice():
    with pytest.warns(
        simulator.ChemsignalDeprecationWarning, match="tau=.... is deprecated; use TimeStepped.feedback_delay"
    ):
        dynamics = TimeStepped(T=10.0, tau=2.0)
    assert dynamics.feedback_delay == 2.0


def test_bad_training_input_is_refused(small_network):
    with pytest.raises(ValueError, match=r"inputs must have shape \[B, 1\]"):
        simulator.train(small_network, [[1.0, 2.0]], [[0.0]])
    with pytest.raises(ValueError, match=r"targets must have shape \[2, 1\]"):
        simulator.train(small_network, [[1.0], [2.0]], [[0.0]])
    with pytest.raises(ValueError, match=r"unknown rule 'hebbian'"):
        simulator.train(small_network, [1.0], [0.0], rule="hebbian", dynamics=simulator.TimeStepped(T=1.0))
    with pytest.raises(ValueError, match="w_min must be finite and > 0"):
        simulator.train(small_network, [1.0], [0.0], w_min=0.0)
    with pytest.raises(ValueError, match="weights must be 'physical' or 'deferred' or 'live', got 'sometimes'"):
        simulator.train(small_network, [1.0], [0.0], dynamics=TimeStepped(T=1.0), weights="sometimes")
    with pytest.raises(TypeError, match="dynamics must be Quasistatic"):
        simulator.train(small_network, [1.0], [0.0], dynamics="timestepped")


def test_field_snapshots_fall_on_the_cadence_and_match_the_final_state(small_network):
    net = small_network
    rng = np.random.default_rng(5)
    inputs, targets = rng.normal(size=(3, net.n_inputs)), rng.normal(size=(3, net.n_outputs))
    dynamics = simulator.TimeStepped(T=40.0)  # 800 steps of dt = 0.05 per presentation
    plain = simulator.train(net, inputs, targets, alpha=0.1, dynamics=dynamics, integrator=Explicit(dt=0.05))
    recorded = simulator.train(
        net, inputs, targets, alpha=0.1, dynamics=dynamics, integrator=Explicit(dt=0.05), save=Save(fields_every=300)
    )
    np.testing.assert_array_equal(plain.network.conductance, recorded.network.conductance)  # recording changes nothing
    frames = recorded.fields
    assert frames.step.tolist() == list(range(300, 2401, 300))
    np.testing.assert_allclose(frames.time, frames.step * 0.05, rtol=1e-12)
    np.testing.assert_array_equal(frames.pressure[-1], recorded.state.v)  # step 2400 is the last one
    np.testing.assert_array_equal(frames.concentration[-1], recorded.state.u)
    with pytest.raises(ValueError, match="fields_every must be a positive integer"):
        Save(fields_every=0)
    with pytest.raises(ValueError, match="no fields in time to save"):
        simulator.train(net, inputs, targets, save=Save(fields_every=10))


# ---------------------------------------------------------------------- two-phase rules, time-stepped
@pytest.mark.parametrize("rule", ["ep", "coupled", "gradient"])
def test_two_phase_rules_converge_to_their_quasistatic_updates(rule):
    net = simulator.lattice_network(side=5, d=4, seed=2, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(0, 5, (3, 2)), rng.normal(0, 1, (3, 2))
    quasistatic = simulator.train(net, inputs, targets, rule=rule, alpha=0.1, eta=0.1)
    reference = quasistatic.network.conductance - net.conductance
    errors = []
    for multiple in (30, 100, 300):
        dynamics = simulator.TimeStepped(T=multiple * simulator.relaxation_time(net))
        stepped = simulator.train(net, inputs, targets, rule=rule, alpha=0.1, eta=0.1, dynamics=dynamics)
        errors.append(
            np.linalg.norm(stepped.network.conductance - net.conductance - reference) / np.linalg.norm(reference)
        )
    assert errors[2] < 0.01 and (rule == "gradient" or errors[0] > errors[1] > errors[2])
    np.testing.assert_allclose(stepped.outputs, quasistatic.outputs, rtol=0.05, atol=1e-3)


def test_coupled_nudged_phase_holds_the_clamp_and_conserves_pressure_sum():
    net = simulator.lattice_network(side=5, d=4, seed=2, n_inputs=2, n_outputs=2)
    inputs, targets = np.array([[1.0, 3.0]]), np.array([[0.5, -0.5]])
    eta = 0.3
    result = simulator.train(net, inputs, targets, rule="coupled", alpha=0.1, eta=eta,
                             dynamics=simulator.TimeStepped(T=40 * simulator.relaxation_time(net)))  # fmt: skip
    free = result.outputs[0]
    np.testing.assert_allclose(net.outputs(result.state.v), free + eta * (targets[0] - free), atol=1e-12)
    assert abs(result.state.v.sum()) < 1e-10  # started at rest; the clamp moves terminals in equal and opposite steps


def test_two_phase_rules_refuse_live_weights(small_network):
    with pytest.raises(ValueError, match="remodels at the end of each presentation"):
        simulator.train(small_network, [[1.0]], [[0.0]], rule="ep", dynamics=TimeStepped(T=1.0), weights="live")
    with pytest.raises(ValueError, match="feedback_delay applies to the one-phase chemical rule"):
        simulator.train(small_network, [[1.0]], [[0.0]], rule="ep", dynamics=TimeStepped(T=1.0, feedback_delay=0.5))


def test_running_away_conductances_stop_the_run_with_the_reason(tmp_path):
    # EP far from the quasistatic limit (T = 1 relaxation time): the "free" drops are not yet
    # free and the update is O(alpha v^2); conductances blow up and dt with them. The floor
    # on dt stops it at once instead of letting each presentation take longer than the last.
    from simulator import SimulationError

    config = simulator.RunConfig.from_dict(
        {
            "rule": {"name": "ep"},
            "dynamics": {"name": "timestepped", "presentation": 1.0},
            "run": {"epochs": 3, "fields_every": 0},
        }
    )
    with pytest.raises(SimulationError, match="the conductances are running away"):
        simulator.run(config, out=tmp_path / "ep.h5")
    status, message = simulator.load_trajectory(tmp_path / "ep.h5").status
    assert status == "failed" and "running away" in message
    network = simulator.lattice_network(side=4, d=3, seed=1, n_inputs=1, n_outputs=1)
    step = simulator.stable_step(network)
    with pytest.raises(SimulationError, match="below min_dt"):  # the floor is checked before stepping
        train(network, [[1.0]], [[0.0]], dynamics=TimeStepped(T=10.0), integrator=Explicit(min_dt=1.01 * step))
    train(network, [[1.0]], [[0.0]], dynamics=TimeStepped(T=10.0), integrator=Explicit(min_dt=0.99 * step))
    # max_dt_shrink: the same floor relative to the starting network's step; asked for, the
    # presentations completed come back with the reason instead of an exception
    result = train(network, [[5.0]] * 3, [[0.0]] * 3, alpha=100.0, dynamics=TimeStepped(T=10.0),
                   integrator=Explicit(max_dt_shrink=2.0), weights="deferred", on_failure="return")  # fmt: skip
    assert (result.status, result.success, len(result.costs)) == (-1, False, 1)
    assert result.message.startswith("presentation 1: the stable time step fell") and "running away" in result.message
    assert result.network.conductance.max() > 100 * network.conductance.max()  # after the one presentation that ran


def test_banded_quasistatic_path_equals_the_reference_solves(any_network):
    # the compiled banded path (RCM order once, refactorised per presentation) against the
    # reference (LaplacianSolver dense/SuperLU + the rule registry), over many presentations
    rng = np.random.default_rng(5)
    inputs = rng.uniform(0.0, 5.0, (40, any_network.n_inputs))
    targets = rng.normal(0.0, 0.5, (40, any_network.n_outputs))
    runs = {
        method: train(any_network, inputs, targets, alpha=0.01, eta=0.5, w_min=1e-3, physics=Physics(kappa=2.0),
                      dynamics=Quasistatic(solver_method=method))
        for method in ("banded", "dense")
    }  # fmt: skip
    banded, reference = runs["banded"], runs["dense"]
    np.testing.assert_allclose(banded.network.conductance, reference.network.conductance, rtol=1e-11)
    np.testing.assert_allclose(banded.outputs, reference.outputs, rtol=1e-10, atol=1e-12)
    assert np.array_equal(banded.floored, reference.floored)
    position, bandwidth = any_network.topology.band_order(any_network.n_nodes)
    assert position[0] == -1 and sorted(position[1:]) == list(range(any_network.n_nodes - 1))
    with pytest.raises(ValueError, match="chemical rule only"):
        train(any_network, inputs, targets, rule="ep", dynamics=Quasistatic(solver_method="banded"))


def test_band_cholesky_solves_and_refuses_an_indefinite_matrix():
    from simulator import kernels

    rng = np.random.default_rng(0)
    n, width = 30, 4
    dense = np.zeros((n, n))
    for d in range(1, width + 1):
        values = rng.uniform(-1, 1, n - d)
        dense += np.diag(values, d) + np.diag(values, -d)
    dense += np.diag(np.abs(dense).sum(axis=1) + 0.5)  # diagonally dominant: SPD
    band = np.array([[dense[i, i + d] if i + d < n else 0.0 for d in range(width + 1)] for i in range(n)])
    assert kernels.band_cholesky(band)
    x = rng.normal(size=n)
    solution = x.copy()
    kernels.band_solve(band, solution)
    np.testing.assert_allclose(dense @ solution, x, rtol=0, atol=1e-12)
    band = np.array([[dense[i, i + d] if i + d < n else 0.0 for d in range(width + 1)] for i in range(n)])
    band[7, 0] = -1.0
    assert not kernels.band_cholesky(band)


def test_implicit_scheme_reaches_the_quasistatic_update_like_the_explicit_one():
    # backward-Euler diffusion at a few steps per relaxation time: the distance from the
    # quasistatic update is the physics' (falls as 1/T) and matches the explicit scheme's
    network = simulator.lattice_network(side=8, seed=3)
    rng = np.random.default_rng(2)
    inputs, targets = rng.uniform(0, 5, (6, 4)), rng.normal(0, 0.3, (6, 3))
    t_relax = simulator.relaxation_time(network)
    reference = train(network, inputs, targets, alpha=3e-3, eta=1.0).network.conductance - network.conductance

    def distance(dynamics, integrator=Explicit()):
        change = train(
            network, inputs, targets, alpha=3e-3, eta=1.0, dynamics=dynamics, integrator=integrator, weights="deferred"
        ).network.conductance
        return np.linalg.norm(change - network.conductance - reference) / np.linalg.norm(reference)

    def implicit_distance(T, dt):
        return distance(TimeStepped(T=T), Implicit(dt=dt))

    implicit = [implicit_distance(T * t_relax, t_relax / 5) for T in (10, 100, 1000)]
    assert implicit[0] > implicit[1] > implicit[2] and implicit[2] < 2e-3
    assert 8 < implicit[0] / implicit[1] < 12  # 1/T
    # at a fixed T, finer implicit steps approach the explicit scheme (first order in dt)
    explicit = distance(TimeStepped(T=100 * t_relax))
    finer = [implicit_distance(100 * t_relax, t_relax / k) for k in (5, 20, 200)]
    assert finer[0] > finer[1] > finer[2] > explicit and finer[2] - explicit < 0.05 * explicit
    assert finer[0] < 1.6 * explicit  # 5 steps per relaxation time: within 60% of the explicit distance
    # given in relaxation times, the step is the same one
    in_relaxation_times = distance(TimeStepped(T=simulator.RelaxationTimes(100)), Implicit(steps_per_relaxation_time=5))
    assert in_relaxation_times == pytest.approx(finer[0], rel=1e-9)
    with pytest.raises(ValueError, match="chemical rule only"):
        train(network, inputs, targets, rule="ep", dynamics=TimeStepped(T=1.0), integrator=Implicit(dt=0.1))


def test_timestepped_training_over_the_cores_gives_the_serial_bits(monkeypatch):
    from simulator import engine
    from simulator.engine import explicit

    net = simulator.lattice_network(side=50, seed=1)
    assert engine.relax_split(net, threads=2) is not None
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(0, 5, (2, net.n_inputs)), rng.normal(0, 0.1, (2, net.n_outputs))
    dynamics = simulator.TimeStepped(T=0.2 * simulator.relaxation_time(net))
    runs = []
    for split in (lambda network, threads=None: network.topology.parts(network.n_nodes, 2), lambda *a, **k: None):
        monkeypatch.setattr(explicit, "relax_split", split)
        runs.append(simulator.train(net, inputs, targets, alpha=1e-2, eta=1.0, dynamics=dynamics))
    over_cores, serial = runs
    assert np.array_equal(over_cores.network.conductance, serial.network.conductance)
    assert np.array_equal(over_cores.outputs, serial.outputs)
    assert not np.array_equal(serial.network.conductance, net.conductance)


@pytest.mark.parametrize("rule, integrator", [("chemical", Explicit()), ("chemical", Implicit(dt=0.5)),
                                              ("ep", Explicit()), ("chemical", None)])  # fmt: skip
def test_train_changes_none_of_its_arguments(rule, integrator, small_network):
    rng = np.random.default_rng(3)
    inputs, targets = rng.uniform(0, 5, (3, 1)), rng.normal(0, 1, (3, 1))
    state = simulator.FieldState(v=rng.normal(size=small_network.n_nodes), u=rng.normal(size=small_network.n_nodes))
    copies = [np.copy(x) for x in (inputs, targets, state.v, state.u, small_network.conductance)]
    if integrator is None:
        result = train(small_network, inputs, targets, rule=rule, alpha=0.1)
    else:
        result = train(small_network, inputs, targets, rule=rule, alpha=0.1, dynamics=TimeStepped(T=20.0),
                       integrator=integrator, state=state)  # fmt: skip
        assert result.state is not state and not np.array_equal(result.state.v, state.v)
    for before, after in zip(copies, (inputs, targets, state.v, state.u, small_network.conductance)):
        np.testing.assert_array_equal(before, after)
    assert (state.time, state.step) == (0.0, 0)


def test_a_call_that_stops_partway_returns_what_ran_when_asked(small_network):
    # the compiled banded loop: a factorisation that fails after the first presentation
    result = train(small_network, [[1.0]] * 3, [[0.0]] * 3, alpha=1e300, on_failure="return")
    assert (result.status, len(result.costs)) == (-1, 1) and "positive definiteness" in result.message
    with pytest.raises(simulator.SimulationError, match="presentation 1: the grounded Laplacian"):
        train(small_network, [[1.0]] * 3, [[0.0]] * 3, alpha=1e300)
    # a fixed explicit dt: refused at the start when above the bound (bad input), but when the
    # conductances grow past it during training, that is the physics stopping
    dynamics, integrator = TimeStepped(T=10.0), Explicit(dt=0.5)
    result = train(small_network, [[5.0]] * 3, [[0.0]] * 3, alpha=100.0, dynamics=dynamics, integrator=integrator,
                   weights="deferred", on_failure="return")  # fmt: skip
    assert (result.status, len(result.costs)) == (-1, 1)
    assert result.message.startswith("presentation 1: the conductances grew so that dt=0.5 is above the stability")


def test_the_relaxation_time_of_a_large_network_is_the_same_bits_at_every_call():
    """Above 2,000 nodes lambda_2 comes from ARPACK, which starts from a random vector unless
    given one: a run's T and dt (and so a resumed run's) differed in the last bits per call."""
    net = simulator.lattice_network(side=46, seed=0)  # 2,116 nodes: the sparse path
    times = [simulator.relaxation_time(net) for _ in range(3)]
    assert times[0] == times[1] == times[2]
    dense = 1.0 / np.linalg.eigvalsh(net.laplacian().toarray())[1]
    assert abs(times[0] - dense) < 1e-9 * dense
