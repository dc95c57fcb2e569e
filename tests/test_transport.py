"""The chemical that drifts with the flow (``simulator.transport``, the advection-diffusion equation):
``c_u du/dt = E - kappa L u - a (A(q) + D) u``, ``a = Physics.drift``."""

import numpy as np
import pytest

import simulator
from simulator import Physics, TimeStepped, kernels, train
from simulator.transport import external_outflow, peclet_numbers, steady_chemical, transport_matrix


@pytest.fixture(scope="module")
def case():
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(0, 5, 2), rng.normal(0, 0.3, 2)
    v = simulator.steady_state(net, inputs)
    feedback = simulator.quasistatic.output_error_currents(net, v, targets, 1.0)
    return net, inputs, targets, v, feedback


def test_zero_drift_is_the_diffusion_mode_bit_for_bit(case):
    net, inputs, targets, v, feedback = case
    diffusion = simulator.learning_update(net, inputs, targets, alpha=0.7, kappa=1.5)
    drifting = simulator.learning_update(net, inputs, targets, alpha=0.7, kappa=1.5, drift=0.0)
    assert np.array_equal(diffusion.view(np.uint64), drifting.view(np.uint64))
    # and the continuum joins it smoothly: the departure grows in proportion to the drift
    gaps = [np.linalg.norm(simulator.learning_update(net, inputs, targets, alpha=0.7, kappa=1.5, drift=a)
                           - diffusion) / np.linalg.norm(diffusion) for a in (1e-6, 1e-5, 1e-4)]  # fmt: skip
    np.testing.assert_allclose(np.diff(np.log10(gaps)), 1.0, atol=0.01)


def test_the_quasistatic_chemical_balances_what_enters_and_what_drains(case):
    # the matrix conserves mass: every column sums to what its node drains; each sign of the
    # feedback, solved on its own, leaves entirely with the fluid (u >= 0 where E >= 0)
    net, inputs, _, v, feedback = case
    currents = net.node_currents(inputs)
    matrix = transport_matrix(net, v, currents, 0.3, 2.0)
    outflow = external_outflow(currents)
    np.testing.assert_allclose(np.asarray(matrix.sum(axis=0)).ravel(), 2.0 * outflow, atol=1e-12)
    for part in (np.maximum(feedback, 0.0), np.maximum(-feedback, 0.0)):
        u = steady_chemical(net, v, part, kappa=0.3, drift=2.0, currents=currents)
        assert u.min() > -1e-12 * u.max()
        assert 2.0 * outflow @ u == pytest.approx(part.sum(), rel=1e-12)


def test_time_stepping_conserves_mass_and_settles_on_the_steady_chemical(case):
    net, inputs, targets, v, _ = case
    physics = Physics(c_u=2.0, kappa=0.4, drift=3.0)
    rng = np.random.default_rng(1)
    state = simulator.FieldState(v=v.copy(), u=rng.uniform(0.0, 1.0, net.n_nodes))
    T = 30 * simulator.relaxation_time(net)
    # no feedback (delayed to the end): the chemical only moves and drains
    method = simulator.engine.METHODS["explicit"]
    setup = simulator.engine.Setup(net, simulator.RULES["chemical"], 1e-12, 1.0, TimeStepped(T=T, feedback_delay=T),
                                   physics, simulator.Explicit(), simulator.Deferred(), 1e-6,
                                   simulator.Save())  # fmt: skip
    stepper = method(setup, state)
    stepper.run(inputs[None], targets[None])
    inside = physics.c_u * (stepper.state.u.sum() - state.u.sum())
    assert abs(inside + stepper.drained) < 1e-12 * physics.c_u * state.u.sum()
    assert stepper.drained > 0.5 * physics.c_u * state.u.sum()  # most of it has left with the fluid
    # with feedback: the fields settle on (kappa L + a (A + D)) u = E
    result = train(net, inputs, targets, alpha=1e-12, physics=physics, dynamics=TimeStepped(T=2 * T))
    feedback = simulator.quasistatic.output_error_currents(net, v, targets, 1.0)
    steady = steady_chemical(net, v, feedback, kappa=0.4, drift=3.0)
    assert np.abs(result.state.u - steady).max() < 1e-8 * np.abs(steady).max()


def test_the_kernel_steps_the_upwind_equation(case):
    # one explicit step of learn_steps against the matrix form, drifting and decaying
    net, inputs, targets, v, _ = case
    rng = np.random.default_rng(2)
    u0, v0 = rng.normal(size=net.n_nodes), v + rng.normal(0, 0.1, net.n_nodes)
    currents = net.node_currents(inputs)
    outflow = external_outflow(currents)
    gain_u, kappa, drift, keep = 0.01, 0.8, 1.7, 0.99
    ku, kv, dw = u0.copy(), v0.copy(), np.zeros(net.n_edges)
    drained = kernels.learn_steps(
        net.topology.edges, net.conductance.copy(), kv, ku, currents, net.output_pairs[:, 0].astype(np.int32),
        net.output_pairs[:, 1].astype(np.int32), targets, 1.0, 0, 0.0, False, 0.01, gain_u, keep, kappa, drift,
        outflow, 0.0, False, 1e-6, dw, 1, np.empty(net.n_nodes), np.empty(net.n_nodes),
    )  # fmt: skip
    expected = keep * u0 - gain_u * (transport_matrix(net, v0, currents, kappa, drift) @ u0)
    np.testing.assert_allclose(ku, expected, rtol=1e-12, atol=1e-14)
    assert drained == pytest.approx(gain_u * drift * outflow @ u0, rel=1e-12)


def test_large_peclet_numbers_approach_pure_transport(case):
    # kappa -> 0 at fixed drift: a u tends to the transported chemical (A + D)^-1 E
    net, inputs, _, v, feedback = case
    transported = steady_chemical(net, v, feedback, kappa=1e-300, drift=1.0)
    gaps = [np.linalg.norm(steady_chemical(net, v, feedback, kappa=k, drift=1.0) - transported)
            / np.linalg.norm(transported) for k in (1e-2, 1e-3, 1e-4)]  # fmt: skip
    np.testing.assert_allclose(np.diff(np.log10(gaps)), -1.0, atol=0.05)
    pipes = peclet_numbers(net, v, kappa=1e-3, drift=1.0)
    assert np.median(pipes) == pytest.approx(np.median(np.abs(net.drops(v))) / 1e-3, rel=1e-12)


def test_the_two_chemical_mode_with_a_diffusive_part_keeps_its_balance():
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(0, 5, (3, 2)), rng.normal(0, 0.3, (3, 2))
    cosines = []
    for diffusion in (0.0, 0.1, 10.0):
        mode = simulator.Advection(diffusion=diffusion, release_every=2, transport_steps=10)
        releases = train(net, inputs, targets, dynamics=mode).releases
        np.testing.assert_allclose(releases.in_network + releases.drained, releases.released, rtol=1e-12)
        cosines.append(np.nanmean(releases.grad_cosine))
    assert np.all(np.isfinite(cosines))  # the diffusion changes where the chemical goes, and so the update
    assert abs(cosines[1] - cosines[0]) > 1e-4 and abs(cosines[2] - cosines[0]) > 1e-2


def test_a_drifting_chemical_is_refused_where_it_has_no_meaning(case):
    net, inputs, targets, _, _ = case
    physics = Physics(drift=1.0)
    with pytest.raises(ValueError, match="drift must be finite and >= 0"):
        Physics(drift=-1.0)
    with pytest.raises(ValueError, match="rule 'ep' has none"):
        train(net, inputs, targets, rule="ep", physics=physics)
    with pytest.raises(ValueError, match="rule 'gradient' has none"):
        simulator.learning_update(net, inputs, targets, rule="gradient", drift=1.0)
    with pytest.raises(ValueError, match="the implicit integrator factorises the symmetric diffusion"):
        train(net, inputs, targets, physics=physics, dynamics=TimeStepped(T=1.0),
              integrator=simulator.Implicit(dt=0.1))  # fmt: skip
    with pytest.raises(ValueError, match="solver_method='banded' solves the symmetric diffusion"):
        train(net, inputs, targets, physics=physics, dynamics=simulator.Quasistatic(solver_method="banded"))
    with pytest.raises(ValueError, match=r"the s\+/s- mode \(Advection\) is carried by the flow already"):
        train(net, inputs, targets, physics=physics, dynamics=simulator.Advection())
    with pytest.raises(ValueError, match="diffusion must be finite and >= 0"):
        simulator.Advection(diffusion=-0.5)


def test_run_configs_take_the_drift_and_the_diffusive_part(tmp_path):
    base = {"task": {"name": "regression", "n_train": 6, "n_test": 4}, "network": {"side": 5}, "run": {"epochs": 1}}
    drifting = simulator.RunConfig.from_dict({**base, "dynamics": {"name": "quasistatic", "drift": 0.5}})
    objects = simulator.config.engine_objects(drifting)
    assert objects["physics"].drift == 0.5 and objects["dynamics"] == simulator.Quasistatic()
    diffused = simulator.RunConfig.from_dict({**base, "task": {"name": "tuning"},
                                              "dynamics": {"name": "advection", "diffusion": 0.2}})  # fmt: skip
    assert simulator.config.engine_objects(diffused)["dynamics"].diffusion == 0.2
    result = simulator.run(drifting, out=tmp_path / "drifting.h5")
    assert result.status == 0 and np.isfinite(result.costs).all()


def test_a_drifting_chemical_without_a_drain_is_refused_in_one_line(case):
    net, _, targets, _, _ = case
    with pytest.raises(ValueError, match="a drifting chemical needs a drain"):
        simulator.learning_update(net, np.zeros(net.n_inputs), targets, drift=1.0)


def test_the_old_name_advection_still_works_with_one_notice(case):
    net, inputs, targets, v, feedback = case
    with pytest.warns(simulator.ChemsignalDeprecationWarning) as notices:
        physics = Physics(kappa=0.4, advection=1.5)
    assert physics == Physics(kappa=0.4, drift=1.5) and physics.drift == 1.5
    assert [str(n.message) for n in notices] == ["Physics(advection=...) is deprecated; use Physics(drift=...)"]
    assert notices[0].filename == __file__  # the notice points at the caller's line
    calls = {
        "learning_update": lambda **a: simulator.learning_update(net, inputs, targets, alpha=0.7, kappa=0.4, **a),
        "steady_chemical": lambda **a: steady_chemical(net, v, feedback, kappa=0.4, **a),
        "peclet_numbers": lambda **a: peclet_numbers(net, v, kappa=0.4, **a),
    }
    for name, call in calls.items():
        new = call(drift=1.5)
        with pytest.warns(simulator.ChemsignalDeprecationWarning) as notices:
            old = call(advection=1.5)
        assert [str(n.message) for n in notices] == [f"{name}(advection=...) is deprecated; use {name}(drift=...)"]
        assert notices[0].filename == __file__
        assert old.shape == new.shape and old.tobytes() == new.tobytes(), name
    with pytest.raises(TypeError, match="'drift'"):
        peclet_numbers(net, v, kappa=0.4)


@pytest.mark.parametrize("dynamics", [{"name": "quasistatic"}, {"name": "timestepped", "presentation": 2.0}])
def test_a_config_with_the_old_key_dynamics_advection_loads_with_one_notice(tmp_path, dynamics):
    base = {"task": {"name": "regression", "n_train": 6, "n_test": 4}, "network": {"side": 5}, "run": {"epochs": 2}}
    new = simulator.RunConfig.from_dict({**base, "dynamics": {**dynamics, "drift": 0.5}})
    with pytest.warns(simulator.ChemsignalDeprecationWarning) as notices:
        old = simulator.RunConfig.from_dict({**base, "dynamics": {**dynamics, "advection": 0.5}})
    assert [str(n.message) for n in notices] == ["dynamics.advection is now dynamics.drift"]
    assert old == new and "advection" not in old.tables["dynamics"]
    # set on top of a config (--set dynamics.advection=...): the old key is not lost to the new one's default
    with pytest.warns(simulator.ChemsignalDeprecationWarning) as notices:
        assignments = {**{f"dynamics.{key}": value for key, value in dynamics.items()}, "dynamics.advection": 0.5}
        assert simulator.RunConfig.from_dict(base).with_values(assignments) == old
    assert [str(n.message) for n in notices] == ["dynamics.advection is now dynamics.drift"]
    runs = [simulator.run(config, out=tmp_path / f"{name}.h5") for name, config in (("old", old), ("new", new))]
    assert runs[0].costs.tobytes() == runs[1].costs.tobytes()
    assert runs[0].network.conductance.tobytes() == runs[1].network.conductance.tobytes()
