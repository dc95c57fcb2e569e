"""Appendix A's advection mode: transport by hand on a chain and a Y junction, conservation,
direction, release cadence, and refused parameters."""

import dataclasses

import numpy as np
import pytest

import simulator
from simulator import kernels
from simulator.advection import Advection, drain_reachable
from simulator.quasistatic import PressureBoundary


def advect_train(network, inputs, targets, *, mode, w_min=1e-6, **boundary):
    """The advection mode through the one entry point, ``train``."""
    if boundary:
        mode = dataclasses.replace(mode, **boundary)
    return simulator.train(network, inputs, targets, dynamics=mode, w_min=w_min)


def _advect(edges, flow, external_out, s_plus, s_minus=None):
    edges = np.asarray(edges, dtype=np.int32)
    s_minus = np.zeros_like(s_plus) if s_minus is None else s_minus
    out = [np.empty_like(s_plus), np.empty_like(s_plus), np.empty(len(edges)), np.empty(len(edges))]
    drained = kernels.advect(edges, np.asarray(flow, float), np.asarray(external_out, float), s_plus, s_minus, *out)
    return out, drained


def test_chain_carries_chemical_one_hop_per_step_then_drains():
    edges, flow, drain = [[0, 1], [1, 2]], [2.0, 2.0], [0.0, 0.0, 2.0]  # 0 -> 1 -> 2 -> out
    s = np.array([1.0, 0.0, 0.0])
    (s1, _, crossed, _), drained = _advect(edges, flow, drain, s)
    assert s1.tolist() == [0.0, 1.0, 0.0] and crossed.tolist() == [1.0, 0.0] and drained == (0.0, 0.0)
    (s2, _, crossed, _), _ = _advect(edges, flow, drain, s1)
    assert s2.tolist() == [0.0, 0.0, 1.0] and crossed.tolist() == [0.0, 1.0]
    (s3, _, crossed, _), drained = _advect(edges, flow, drain, s2)
    assert s3.tolist() == [0.0, 0.0, 0.0] and crossed.tolist() == [0.0, 0.0] and drained == (1.0, 0.0)


def test_y_junction_splits_by_outgoing_current():
    # 0 -> 1, then 1 -> 2 carries 1 and 1 -> 3 carries 3 (drains at 2 and 3); a pipe against
    # the flow (3 -> 1 written as (1, 3) with positive flow is downstream) must get nothing
    edges, flow, drain = [[0, 1], [1, 2], [1, 3]], [4.0, 1.0, 3.0], [0.0, 0.0, 1.0, 3.0]
    (s, s_minus, crossed, crossed_minus), _ = _advect(edges, flow, drain, np.array([0.0, 2.0, 0.0, 0.0]),
                                                      np.array([0.0, 0.0, 0.0, 1.0]))  # fmt: skip
    np.testing.assert_allclose(s, [0.0, 0.0, 0.5, 1.5])
    np.testing.assert_allclose(crossed, [0.0, 0.5, 1.5])
    np.testing.assert_allclose(s_minus, [0.0, 0.0, 0.0, 0.0])  # s- at drain 3 leaves the network
    np.testing.assert_allclose(crossed_minus, 0.0)


def test_random_flows_conserve_and_never_move_against_the_flow():
    net = simulator.lattice_network(side=8, seed=3)
    rng = np.random.default_rng(0)
    currents = net.node_currents(rng.uniform(0.5, 5, net.n_inputs))
    v = simulator.LaplacianSolver(net).solve(currents)
    flow = net.conductance * net.drops(v)
    external_out = np.maximum(-currents, 0.0)
    s_plus, s_minus = rng.uniform(0, 1, net.n_nodes), rng.uniform(0, 1, net.n_nodes)
    (p, m, cp, cm), (dp, dm) = _advect(net.topology.edges, flow, external_out, s_plus, s_minus)
    assert p.sum() + dp == pytest.approx(s_plus.sum(), rel=1e-13)
    assert m.sum() + dm == pytest.approx(s_minus.sum(), rel=1e-13)
    assert np.all(cp >= 0) and np.all(cm >= 0)
    # what crossed a pipe went downstream: the node a pipe feeds is its higher-pressure end's neighbour
    a, b = net.topology.edges.T
    downstream = np.where(flow > 0, b, a)
    arrived = np.zeros(net.n_nodes)
    np.add.at(arrived, downstream, cp)
    np.testing.assert_allclose(arrived[p > 0], p[p > 0], rtol=1e-12)


def _tuning_network():
    return simulator.lattice_network(side=6, d=4, seed=1, n_inputs=1, n_outputs=1)


def test_releases_come_every_tau_steps_and_mass_balances():
    net = _tuning_network()
    result = advect_train(net, [[3.0]], [[0.0]], mode=Advection(xi=0.01, lam=1.0, release_every=7, transport_steps=50))
    assert result.releases.step.tolist() == list(range(0, 50, 7))
    total = result.state.in_network + result.state.drained
    assert total == pytest.approx(result.state.released, rel=1e-12)
    releases = result.releases
    np.testing.assert_allclose(releases.in_network + releases.drained, releases.released, rtol=1e-12)


def test_xi_zero_leaves_the_conductances_alone():
    net = _tuning_network()
    result = advect_train(net, [[3.0]], [[0.0]], mode=Advection(xi=0.0, lam=1.0, release_every=3, transport_steps=20))
    np.testing.assert_array_equal(result.network.conductance, net.conductance)
    assert result.state.released > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"xi": -0.1}, "xi must be finite and >= 0"),
        ({"lam": -1.0}, "lam must be finite and >= 0"),
        ({"release_every": 0}, "release_every must be an integer >= 1"),
        ({"release_every": 2.5}, "release_every must be an integer >= 1"),
        ({"transport_steps": 0}, "transport_steps must be an integer >= 1"),
        ({"inputs_as": "voltages"}, "inputs_as must be one of 'currents', 'pressures'"),
        ({"outputs_as": "nodes"}, "node outputs need pressure inputs"),
        ({"inputs_as": "pressures", "pressure_steps": 5}, "implemented for current inputs only"),
    ],
)
def test_bad_advection_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Advection(**kwargs)


def test_the_old_names_tau_and_steps_still_work_with_a_notice():
    with pytest.warns(simulator.ChemsignalDeprecationWarning) as notices:
        mode = Advection(tau=7, steps=30)
    assert (mode.release_every, mode.transport_steps) == (7, 30)
    assert [str(notice.message) for notice in notices] == [
        "Advection(tau=...) is deprecated; use Advection(release_every=...)",
        "Advection(steps=...) is deprecated; use Advection(transport_steps=...)",
    ]
    assert notices[0].filename == __file__  # the notice points at the caller's line


def test_outputs_without_a_path_to_a_drain_are_refused():
    # a dead-end branch 3-4 off the flow path 0 -> 1 -> 2: no flow, so no way out from 3 or 4
    positions = np.array([[0, 0], [1, 0], [2, 0], [1, 1], [1, 2], [3, 0]], dtype=float)
    edges = [[0, 1], [1, 2], [1, 3], [3, 4], [2, 5]]
    net = simulator.Network(positions, edges, np.ones(5), input_pairs=[[0, 5]], output_pairs=[[3, 4]])
    currents = net.node_currents([1.0])
    v = simulator.LaplacianSolver(net).solve(currents)
    flow = net.conductance * net.drops(v)
    flow[np.abs(flow) < 1e-12] = 0.0  # the dead end carries round-off only
    reachable = drain_reachable(net, flow, np.maximum(-currents, 0))
    assert reachable.tolist() == [True, True, True, False, False, True]
    with pytest.raises(ValueError, match=r"output node\(s\) \[3, 4\] have no downstream path to a drain"):
        advect_train(net, [[1.0]], [[0.5]], mode=Advection(transport_steps=3))


def test_tuning_with_advection_lowers_the_cost_tenfold_and_measures_its_gradient_alignment():
    # the tuning scenario's setup: one input, two outputs asked to halve and to grow by half
    net = simulator.lattice_network(side=12, d=4, seed=0, n_inputs=1, n_outputs=2)
    start = net.outputs(simulator.steady_state(net, [5.0]))
    mode = Advection(xi=0.01, lam=1.0, release_every=20, transport_steps=500)
    result = advect_train(net, [[5.0]], [start * [0.5, 1.5]], mode=mode, w_min=1e-4)
    releases = result.releases
    assert releases.cost[-1] < releases.cost[0] / 10
    cosine = releases.grad_cosine[1:]
    assert np.all(np.isnan(releases.grad_cosine[:1])) and np.all(
        (cosine > 0.3) & (cosine < 0.99)
    )  # descent, not gradient
    # the same steps split over presentations (one call per 100 steps, state carried): the same bits
    state, network, rows = None, net, []
    for _ in range(5):
        part = simulator.train(network, [[5.0]], [start * [0.5, 1.5]], w_min=1e-4, state=state,
                               dynamics=dataclasses.replace(mode, transport_steps=100))  # fmt: skip
        network, state = part.network, part.state
        rows.append(part.releases.grad_cosine)
    np.testing.assert_array_equal(network.conductance, result.network.conductance)
    np.testing.assert_array_equal(np.concatenate(rows), releases.grad_cosine)


def test_iris_with_advection_is_recorded_with_its_releases_and_fields(tmp_path):
    from simulator.cli import main
    from simulator.trajectory import load_trajectory

    path = tmp_path / "adv.h5"
    config = simulator.RunConfig.from_dict(
        {
            "dynamics": {"name": "advection", "release_every": 5, "transport_steps": 20},
            "run": {"epochs": 2, "fields_every": 400},
        }
    )
    run = simulator.run(config, out=path)
    trajectory = load_trajectory(path)
    release_step, _, released = trajectory.series("observables/released_mass")
    assert release_step.tolist() == list(range(0, 2 * 75 * 20, 5))  # every 5 steps, across presentations
    _, _, drained = trajectory.series("observables/drained_mass")
    _, _, inside = trajectory.series("observables/in_network_mass")
    np.testing.assert_allclose(drained + inside, released, rtol=1e-12)
    field_step, _, s_plus = trajectory.series("particles/nodes/s_plus")
    assert field_step.tolist() == list(range(400, 3001, 400)) and np.all(s_plus >= 0)
    assert run.epochs["accuracy_test"][-1] > run.epochs["accuracy_test"][0]
    other = tmp_path / "dif.h5"
    simulator.run({"run": {"epochs": 2}}, out=other)
    assert main(["compare", str(other), str(path), "--out", str(tmp_path / "cmp.png")]) == 0
    assert (tmp_path / "cmp.png").stat().st_size > 50_000
    relaxed = simulator.run(config.with_values({"dynamics.pressure_steps": 20, "run.epochs": 1}))
    assert np.isfinite(relaxed.costs).all() and len(relaxed.costs) == 75
    with pytest.raises(ValueError, match="pressure_steps must be >= 0"):
        config.with_values({"dynamics.pressure_steps": -1})


@pytest.mark.parametrize("node_outputs", [False, True])
def test_pressure_inputs_solve_the_dirichlet_problem_and_its_gradient(node_outputs):
    net = simulator.lattice_network(side=6, d=4, seed=2, n_inputs=2, n_outputs=2)
    pressures, targets = np.array([2.0, 1.0]), np.array([0.1, -0.2])
    boundary = PressureBoundary(net, net.conductance, pressures)
    assert np.allclose(boundary.v[net.input_pairs[:, 0]], pressures) and np.allclose(
        boundary.v[net.input_pairs[:, 1]], 0
    )
    off_boundary = np.setdiff1d(np.arange(net.n_nodes), net.input_pairs.ravel())
    assert np.abs(boundary.injected[off_boundary]).max() < 1e-12  # Kirchhoff inside

    def cost(w):
        v = PressureBoundary(net, w, pressures).v
        error = (v[net.output_pairs[:, 0]] if node_outputs else net.outputs(v)) - targets
        return 0.5 * error @ error

    w = net.conductance
    numeric = np.array([(cost(w + h) - cost(w - h)) / (2 * h[e]) for e, h in
                        ((e, np.eye(len(w))[e] * 1e-6 * w[e]) for e in range(len(w)))])  # fmt: skip
    gradient = boundary.gradient(net, targets, node_outputs)
    assert np.linalg.norm(gradient - numeric) / np.linalg.norm(numeric) < 1e-6


def test_tuning_with_pressure_inputs_balances_and_lowers_the_cost():
    net = simulator.lattice_network(side=8, d=4, seed=0, n_inputs=1, n_outputs=1)
    start = net.outputs(PressureBoundary(net, net.conductance, np.array([1.0])).v)
    # the output is ~1e-3 of the input pressure here: lam scales the release to match
    result = advect_train(net, [[1.0]], [start * 0.5], mode=Advection(xi=0.05, lam=100.0, release_every=10,
                          transport_steps=400), inputs_as="pressures")  # fmt: skip
    assert result.releases.cost[-1] < result.releases.cost[0] / 10
    assert result.state.in_network + result.state.drained == pytest.approx(result.state.released, rel=1e-12)


def _four_node_chain():
    # 0 (pressure p) - 1 (output node) - 2 - 3 (grounded): flow 0 -> 1 -> 2 -> 3
    positions = np.array([[0, 0], [1, 0], [2, 0], [3, 0]], dtype=float)
    return simulator.Network(
        positions, [[0, 1], [1, 2], [2, 3]], np.ones(3), input_pairs=[[0, 3]], output_pairs=[[1, 2]]
    )


def test_node_output_releases_one_chemical_at_the_node_and_tunes_its_pressure():
    net = _four_node_chain()  # v = (1, 2/3, 1/3, 0) at p = 1
    first = advect_train(net, [[1.0]], [[0.5]], mode=Advection(xi=0.0, lam=2.0, release_every=100, transport_steps=1),
                         inputs_as="pressures", outputs_as="nodes")  # fmt: skip
    # v(1) = 2/3 is too high by 1/6: lam * 1/6 of s+ at node 1, nothing else, moved one hop to node 2
    assert first.releases.cost[0] == pytest.approx(0.5 * (1 / 6) ** 2) == first.costs[0]
    assert first.state.released == pytest.approx(2.0 / 6)
    np.testing.assert_allclose(first.state.s_plus, [0, 0, 2.0 / 6, 0], atol=1e-15)
    np.testing.assert_allclose(first.state.s_minus, 0.0)
    # with xi > 0 the s+ thickens pipes 1-2 and 2-3 downstream, lowering v(1) toward 0.5
    tuned = advect_train(net, [[1.0]], [[0.5]], mode=Advection(xi=0.5, lam=2.0, release_every=3, transport_steps=300),
                         inputs_as="pressures", outputs_as="nodes")  # fmt: skip
    assert tuned.releases.cost[-1] < 1e-3 * tuned.releases.cost[0]
    assert tuned.network.conductance[1] > 1 and tuned.network.conductance[2] > 1
    with pytest.raises(ValueError, match="node outputs need pressure inputs"):
        advect_train(net, [[1.0]], [[0.5]], mode=Advection(), outputs_as="nodes")


def test_relaxed_pressures_approach_the_direct_solve_as_they_get_more_steps():
    net = simulator.lattice_network(side=5, d=4, seed=2, n_inputs=1, n_outputs=1)
    start = net.outputs(simulator.steady_state(net, [3.0]))
    kwargs = dict(xi=0.05, lam=1.0, release_every=5, transport_steps=60)
    direct = advect_train(net, [[3.0]], [start * 0.5], mode=Advection(**kwargs))
    differences = []
    for steps in (5, 50, 2000):
        relaxed = advect_train(net, [[3.0]], [start * 0.5], mode=Advection(**kwargs, pressure_steps=steps))
        assert relaxed.state.in_network + relaxed.state.drained == pytest.approx(relaxed.state.released, rel=1e-12)
        differences.append(np.abs(relaxed.network.conductance - direct.network.conductance).max())
    assert differences[0] > differences[1] > differences[2] and differences[2] < 1e-9
    with pytest.raises(ValueError, match="pressure_steps must be an integer >= 0"):
        Advection(pressure_steps=-1)


def test_train_leaves_the_callers_state_alone_and_returns_the_new_one():
    net = _tuning_network()
    mode = Advection(xi=0.01, lam=1.0, release_every=3, transport_steps=10)
    first = simulator.train(net, [[3.0]], [[0.0]], dynamics=mode)
    before = first.state.copy()
    second = simulator.train(first.network, [[3.0]], [[0.0]], dynamics=mode, state=first.state)
    for key in ("s_plus", "s_minus", "last_conductance", "last_gradient"):
        np.testing.assert_array_equal(getattr(first.state, key), getattr(before, key))
    assert (first.state.step, first.state.released) == (before.step, before.released)
    assert second.state.step == 20 and second.state is not first.state
    assert second.fields is None and second.dt is None and second.success


def _appendix_tuning(tmp_path, xi: float, every: int, steps: int) -> simulator.Trajectory:
    """Appendix A's tuning in the appendix's form, releasing every ``every`` transport steps."""
    config = {
        "network": {"side": 8}, "task": {"name": "tuning", "input": 5.0, "factors": [0.5, 1.5]},
        "dynamics": {"name": "advection", "xi": xi, "release_every": every, "transport_steps": every,
                     "inputs_as": "pressures", "outputs_as": "nodes"},
        "run": {"epochs": steps // every, "fields_every": 0},
    }  # fmt: skip
    path = tmp_path / f"xi{xi}_every{every}.h5"
    simulator.run(config, out=path)
    return simulator.load_trajectory(path)


def test_footnote_52_a_release_delay_avoids_the_build_up_of_chemical(tmp_path):
    """The paper's footnote [52]: the delay avoids a build-up of chemical in the network, and,
    for a pipe response strong enough, the outputs oscillating about their targets."""
    peaks = {every: _appendix_tuning(tmp_path, 0.01, every, 200).series("observables/in_network_mass")[2].max()
             for every in (1, 20)}  # fmt: skip
    assert peaks[1] > 4 * peaks[20]  # 14.2 against 2.28
    crossings = {}
    for every in (1, 10):
        run = _appendix_tuning(tmp_path, 0.5, every, 400)
        error = run.series("observables/output")[2] - run.series("observables/target")[2]
        crossings[every] = int(np.sum(np.diff(np.sign(error[len(error) // 2 :]), axis=0) != 0))
    assert crossings[1] > 3 * max(crossings[10], 1), crossings


def test_banded_pressures_of_each_transport_step_match_the_direct_solve(monkeypatch):
    """Small networks solve each transport step's pressures (and each release's gradient) by the
    compiled banded Cholesky; the kernel matches the direct solve to round-off, and so does a
    whole run: its conductances and the alignment of each release with the gradient."""
    from simulator.engine.advection import AdvectionMethod

    net = simulator.lattice_network(side=8, seed=4)
    rng = np.random.default_rng(1)
    currents = net.node_currents(rng.normal(size=net.n_inputs))
    position, bandwidth = net.topology.band_order(net.n_nodes)
    v = np.empty(net.n_nodes)
    band, work = np.empty((net.n_nodes - 1, bandwidth + 1)), np.empty(net.n_nodes - 1)
    assert kernels.banded_steady_pressure(net.topology.edges, net.conductance, position, currents, band, work, v)
    direct = simulator.LaplacianSolver(net).solve(currents)
    np.testing.assert_allclose(v, direct, rtol=0, atol=1e-13 * np.abs(direct).max())

    inputs, targets = rng.normal(size=(6, net.n_inputs)), 0.1 * rng.normal(size=(6, net.n_outputs))
    mode = Advection(xi=0.01, lam=1.0, release_every=5, transport_steps=10)
    assert AdvectionMethod._band_scratch(net) is not None  # the banded path is the one taken
    banded_run = advect_train(net, inputs, targets, mode=mode)
    monkeypatch.setattr(AdvectionMethod, "_band_scratch", staticmethod(lambda network: None))
    solved_run = advect_train(net, inputs, targets, mode=mode)
    banded, solved = banded_run.network.conductance, solved_run.network.conductance
    assert not np.array_equal(banded, net.conductance)
    np.testing.assert_allclose(banded, solved, rtol=1e-11)
    cosines = banded_run.releases.grad_cosine, solved_run.releases.grad_cosine
    assert len(cosines[0]) == 12 and np.isnan(cosines[0][0]) and np.all(np.isfinite(cosines[0][1:]))
    np.testing.assert_allclose(*cosines, rtol=1e-9)


def test_drain_reachable_matches_a_walk_up_the_flow_by_hand():
    """The compiled walk against the plain one (from each drain, up every pipe whose flow
    enters the node), on random flows with stagnant pipes and nodes that reach no drain."""

    def by_hand(net, flow, external_out):
        reached, frontier = external_out > 0, list(np.flatnonzero(external_out > 0))
        while frontier:
            node = frontier.pop()
            for (a, b), q in zip(net.edges, flow):
                source = a if (q > 0 and b == node) else b if (q < 0 and a == node) else None
                if source is not None and not reached[source]:
                    reached[source] = True
                    frontier.append(source)
        return reached

    rng = np.random.default_rng(5)
    net = simulator.lattice_network(side=6, seed=2)
    unreached = 0
    for _ in range(30):
        flow = rng.normal(size=net.n_edges) * (rng.random(net.n_edges) > 0.3)
        external_out = rng.normal(size=net.n_nodes) * (rng.random(net.n_nodes) > 0.85)
        expected = by_hand(net, flow, external_out)
        np.testing.assert_array_equal(drain_reachable(net, flow, external_out), expected)
        unreached += int((~expected).sum())
    assert unreached > 0  # the cases tell reached from unreached


def test_plain_steps_in_one_compiled_call_give_the_same_bits_as_one_at_a_time(monkeypatch):
    """The steps between releases run as one compiled call (``advection_plain_steps``); one
    step at a time through Python gives the same conductances, chemical and drained mass, bit
    for bit, and the same snapshots."""
    from simulator.engine.advection import AdvectionMethod

    net = simulator.lattice_network(side=8, seed=2)
    rng = np.random.default_rng(3)
    inputs, targets = rng.uniform(1, 5, size=(5, net.n_inputs)), 0.1 * rng.normal(size=(5, net.n_outputs))
    mode = Advection(xi=0.02, lam=1.0, release_every=7, transport_steps=12)
    save = simulator.Save(fields_every=5)
    runs = [simulator.train(net, inputs, targets, dynamics=mode, w_min=1e-6, save=save)]
    calls = []
    original = AdvectionMethod._plain_steps
    monkeypatch.setattr(AdvectionMethod, "_plain_steps", lambda self, *a: calls.append(a[-1]) or original(self, *a))
    simulator.train(net, inputs, targets, dynamics=mode, w_min=1e-6, save=save)
    assert calls and max(calls) > 1  # the compiled path was taken, for several steps at once
    monkeypatch.setattr(AdvectionMethod, "_plain_steps_from", lambda self, step, currents: 0)
    runs.append(simulator.train(net, inputs, targets, dynamics=mode, w_min=1e-6, save=save))
    compiled, stepped = runs
    assert np.array_equal(compiled.network.conductance, stepped.network.conductance)
    assert compiled.state.drained == stepped.state.drained > 0
    assert np.array_equal(compiled.state.s_plus, stepped.state.s_plus)
    assert np.array_equal(compiled.fields.step, stepped.fields.step) and len(compiled.fields.step) == 12
    for name in ("s_plus", "conductance"):
        assert np.array_equal(compiled.fields.fields[name], stepped.fields.fields[name])
