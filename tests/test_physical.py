"""The physical time-stepped protocol: the pipes remodel at the material's own rate while the
fields evolve (``dw/dt = -gamma u v``, ``gamma = alpha / remodel_time``), the chemical may decay,
and the quasistatic limit is the timescale ratio ``remodel_time / relaxation time`` going to
infinity."""

import numpy as np
import pytest

import simulator
from simulator import Implicit, Physical, Quasistatic, RelaxationTimes, TimeStepped, train
from simulator.engine import coupled_stable_dt


@pytest.fixture(scope="module")
def task():
    net = simulator.lattice_network(side=5, seed=2, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(4)
    return net, rng.uniform(0, 5, (4, 2)), rng.normal(0, 0.3, (4, 2))


def test_the_default_of_the_chemical_rule_is_physical_and_of_the_two_phase_rules_deferred(task):
    net, inputs, targets = task
    chemical = simulator.engine.default_weights(simulator.RULES["chemical"], TimeStepped(T=1.0))
    assert chemical == Physical(RelaxationTimes(50.0))
    assert simulator.engine.default_weights(simulator.RULES["ep"], TimeStepped(T=1.0)).name == "deferred"
    T = 30 * simulator.relaxation_time(net)
    default = train(net, inputs, targets, alpha=1e-3, dynamics=TimeStepped(T=T))
    explicit = train(net, inputs, targets, alpha=1e-3, dynamics=TimeStepped(T=T),
                     weights=Physical(50 * simulator.relaxation_time(net)))  # fmt: skip
    assert np.array_equal(default.network.conductance, explicit.network.conductance)


def test_physical_weights_with_remodel_time_T_are_the_live_device_bit_for_bit(task):
    net, inputs, targets = task
    dynamics = TimeStepped(T=40.0, feedback_delay=2.0)
    for integrator in (simulator.Explicit(), Implicit(dt=0.5)):
        live = train(net, inputs, targets, alpha=0.01, dynamics=dynamics, integrator=integrator, weights="live")
        physical = train(net, inputs, targets, alpha=0.01, dynamics=dynamics, integrator=integrator,
                         weights=Physical(remodel_time=40.0))  # fmt: skip
        assert np.array_equal(live.network.conductance, physical.network.conductance)
        assert np.array_equal(live.state.u, physical.state.u)


def test_the_material_rate_does_not_depend_on_the_presentation_time(task):
    # no 1 / T: twice the presentation at the same material rate remodels about twice as far
    net, inputs, targets = task
    t_relax = simulator.relaxation_time(net)
    weights = Physical(remodel_time=100 * t_relax)
    changes = [train(net, inputs[:1], targets[:1], alpha=1e-5, dynamics=TimeStepped(T=k * 100 * t_relax),
                     weights=weights).network.conductance - net.conductance for k in (1, 2)]  # fmt: skip
    ratio = np.linalg.norm(changes[1]) / np.linalg.norm(changes[0])
    assert ratio == pytest.approx(2.0, rel=0.02)
    # the numerical device scales the rate by 1 / T: the same change at any long T
    device = [train(net, inputs[:1], targets[:1], alpha=1e-5, dynamics=TimeStepped(T=k * 100 * t_relax),
                    weights="live").network.conductance - net.conductance for k in (1, 2)]  # fmt: skip
    assert np.linalg.norm(device[1]) / np.linalg.norm(device[0]) == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("integrator", [simulator.Explicit(), Implicit(steps_per_relaxation_time=10)])
def test_physical_learning_approaches_the_gradient_flow_as_the_timescale_ratio_grows(task, integrator):
    # the limit is the gradient flow over each presentation (quasistatic substeps); with
    # T = remodel_time, the distance falls as 1 / ratio
    net, inputs, targets = task
    flow = train(net, inputs, targets, alpha=1e-3, dynamics=Quasistatic(substeps=4096)).network.conductance
    change = flow - net.conductance
    distances = []
    for ratio in (10, 100, 1000):
        duration = RelaxationTimes(ratio)
        stepped = train(net, inputs, targets, alpha=1e-3, dynamics=TimeStepped(T=duration), integrator=integrator,
                        weights=Physical(duration))  # fmt: skip
        distances.append(np.linalg.norm(stepped.network.conductance - flow) / np.linalg.norm(change))
    slope = np.polyfit(np.log10([10, 100, 1000]), np.log10(distances), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1), distances
    assert distances[-1] < 2e-3
    # and the flow is not the one quasistatic step: they differ at second order in alpha
    step = train(net, inputs, targets, alpha=1e-3).network.conductance
    assert np.linalg.norm(step - flow) > 10 * np.linalg.norm(stepped.network.conductance - flow)


@pytest.mark.parametrize("integrator", [simulator.Explicit(), Implicit(steps_per_relaxation_time=20)])
def test_a_decaying_chemical_settles_to_the_screened_steady_state(task, integrator):
    # c_u du/dt = E - kappa L u - (c_u / lifetime) u: at rest, u = (kappa L + c_u / lifetime)^-1 E
    net, inputs, targets = task
    physics, lifetime = simulator.Physics(c_u=2.0, kappa=1.5), 3.0 * simulator.relaxation_time(net)
    T = 60 * simulator.relaxation_time(net)
    result = train(net, inputs[:1], targets[:1], alpha=1e-12, physics=physics, integrator=integrator,
                   dynamics=TimeStepped(T=T, chemical_lifetime=lifetime))  # fmt: skip
    v = simulator.LaplacianSolver(net).solve(net.node_currents(inputs[0]))
    feedback = simulator.quasistatic.output_error_currents(net, v, targets[0], 1.0)
    screened = np.linalg.solve(1.5 * net.laplacian().toarray() + 2.0 / lifetime * np.eye(net.n_nodes), feedback)
    assert np.abs(result.state.u - screened).max() < 1e-7 * np.abs(screened).max()
    assert abs(screened.sum()) < 1e-12 * np.abs(screened).max()  # no mean: E sums to zero


def test_without_feedback_a_decaying_chemical_loses_mass_at_its_rate(task):
    # E = 0 throughout (feedback delayed to the end): sum(u) falls by (1 - dt / lifetime) per
    # explicit step; the pipes move the chemical around without changing its amount
    net, inputs, targets = task
    rng = np.random.default_rng(0)
    state = simulator.FieldState(v=np.zeros(net.n_nodes), u=rng.normal(1.0, 0.5, net.n_nodes))
    lifetime, T = 7.0, 20.0
    result = train(net, inputs[:1], targets[:1], alpha=1e-3, state=state,
                   dynamics=TimeStepped(T=T, feedback_delay=T, chemical_lifetime=lifetime))  # fmt: skip
    dt, steps = result.dt[0], result.state.step
    assert steps * dt == pytest.approx(T, rel=1e-12)
    expected = state.u.sum() * (1.0 - dt / lifetime) ** steps
    assert result.state.u.sum() == pytest.approx(expected, rel=1e-11)


def test_the_explicit_bound_includes_the_decay(task):
    net = task[0]
    physics = simulator.Physics(c_u=1.0, kappa=3.0)  # the chemical limits the step
    free = coupled_stable_dt(physics, net, net.conductance)
    decaying = coupled_stable_dt(physics, net, net.conductance, decay_rate=0.5)
    assert decaying == pytest.approx(2.0 / (2.0 / free + 0.5), rel=1e-12) and decaying < free


def test_bad_physical_protocol_input_is_refused(task):
    net, inputs, targets = task
    with pytest.raises(ValueError, match="remodel_time must be finite and > 0"):
        Physical(remodel_time=0.0)
    with pytest.raises(ValueError, match="chemical_lifetime must be finite and > 0"):
        TimeStepped(T=1.0, chemical_lifetime=-2.0)
    with pytest.raises(ValueError, match="use weights='deferred'"):
        train(net, inputs, targets, rule="ep", dynamics=TimeStepped(T=1.0), weights="physical")
    with pytest.raises(ValueError, match="chemical_lifetime applies to the one-phase chemical rule"):
        train(net, inputs, targets, rule="ep", dynamics=TimeStepped(T=1.0, chemical_lifetime=1.0))
    with pytest.raises(ValueError, match="substeps must be"):
        Quasistatic(substeps=0)
    config = {"dynamics": {"name": "timestepped", "weights": "deferred", "remodel_time": 5.0}}
    with pytest.raises(ValueError, match="dynamics.remodel_time does not apply: it belongs to the physical weights"):
        simulator.RunConfig.from_dict(config)


def test_a_run_config_records_the_physical_protocol(tmp_path):
    config = simulator.RunConfig.from_dict({
        "task": {"name": "regression", "n_train": 6, "n_test": 4}, "network": {"side": 5},
        "dynamics": {"name": "timestepped", "presentation": 4.0, "remodel_time": 8.0, "chemical_lifetime": 2.0},
        "run": {"epochs": 1, "fields_every": 0},
    })  # fmt: skip
    objects = simulator.config.engine_objects(config)
    assert objects["weights"] == Physical(RelaxationTimes(8.0))
    assert objects["dynamics"].chemical_lifetime == RelaxationTimes(2.0)
    result = simulator.run(config, out=tmp_path / "run.h5")
    derived = simulator.load_trajectory(tmp_path / "run.h5").derived
    assert derived["remodel_time"] == pytest.approx(2.0 * derived["T"], rel=1e-12)
    assert result.derived["remodel_time"] == derived["remodel_time"]


def test_the_explicit_step_follows_conductances_that_grow_within_a_presentation(task):
    # physical weights at a high rate thicken pipes 2.5x in one presentation: the automatic
    # step shrinks with the bound, chunk by chunk; a fixed step at the start's bound is stopped.
    # Remodelling this fast is itself a fast timescale: the error is first order in the step
    net, inputs, targets = task
    kwargs = dict(alpha=3.0, dynamics=TimeStepped(T=RelaxationTimes(20)), weights=Physical(RelaxationTimes(20)))
    start = simulator.stable_step(net)
    result = train(net, inputs[:1], targets[:1], **kwargs)
    assert result.network.conductance.max() > 2 * net.conductance.max()
    assert result.dt[0] < 0.9 * start and np.all(np.isfinite(result.state.u))
    finest = train(net, inputs[:1], targets[:1], **kwargs, integrator=simulator.Explicit(safety=0.01)).network
    errors = [np.linalg.norm(train(net, inputs[:1], targets[:1], **kwargs, integrator=simulator.Explicit(safety=s))
                             .network.conductance - finest.conductance) for s in (0.9, 0.3, 0.1)]  # fmt: skip
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.45 * errors[1]
    with pytest.raises(simulator.SimulationError, match="the conductances grew so that dt="):
        train(net, inputs[:1], targets[:1], **kwargs, integrator=simulator.Explicit(dt=start))
