"""Numba kernels against plain numpy references of the same explicit step."""

import numpy as np
import pytest

import simulator
from simulator import kernels


@pytest.fixture
def net():
    return simulator.lattice_network(side=6, d=4, seed=2, n_inputs=2, n_outputs=2)


def test_laplacian_bound_is_gershgorin_and_bounds_the_spectrum(net):
    bound = kernels.laplacian_bound(net.topology.edges, net.conductance, net.n_nodes)
    assert bound == pytest.approx(2 * net.weighted_degree().max(), rel=1e-14)
    assert np.linalg.eigvalsh(net.laplacian().toarray()).max() <= bound


def test_relax_matches_the_numpy_explicit_step(net):
    rng = np.random.default_rng(0)
    x0, source, gain = rng.normal(size=net.n_nodes), rng.normal(size=net.n_nodes), 0.7
    laplacian = net.laplacian()
    expected = x0.copy()
    for _ in range(5):
        previous, expected = expected, expected + gain * (source - laplacian @ expected)
    for steps in (4, 5):  # an even and an odd count: the result must land in x either way
        x = x0.copy()
        kernels.relax(net.topology.edges, net.conductance, x, source, gain, steps, np.empty_like(x))
        np.testing.assert_allclose(x, expected if steps == 5 else previous, rtol=1e-13, atol=1e-13)


def test_relax_conserves_the_sum_and_reaches_the_direct_solve(net):
    source = net.node_currents(np.array([1.0, -2.0]))
    x = np.full(net.n_nodes, 0.25)
    kernels.relax(
        net.topology.edges, net.conductance, x, source, 0.9 * simulator.stable_dt(net), 20000, np.empty_like(x)
    )
    assert x.sum() == pytest.approx(0.25 * net.n_nodes, rel=1e-12)
    direct = simulator.LaplacianSolver(net).solve(source)
    np.testing.assert_allclose(x - x.mean(), direct, atol=1e-10 * np.abs(direct).max())


def test_edge_update_is_the_chemical_rule(net):
    rng = np.random.default_rng(2)
    u, v = rng.normal(size=net.n_nodes), rng.normal(size=net.n_nodes)
    out = np.empty(net.n_edges)
    kernels.edge_update(net.edges, u, v, 0.3, out)
    np.testing.assert_allclose(out, -0.3 * net.drops(u) * net.drops(v), rtol=1e-15)


@pytest.mark.parametrize("live, u_keep", [(False, 1.0), (True, 1.0), (True, 0.93)])
def test_learn_steps_matches_a_numpy_reference(net, live, u_keep):
    rng = np.random.default_rng(3)
    v0, u0 = rng.normal(size=net.n_nodes), rng.normal(size=net.n_nodes)
    currents = net.node_currents(rng.normal(size=net.n_inputs))
    targets = rng.normal(size=net.n_outputs)
    eta, gain_v, gain_u, kappa, rate, w_min = 0.3, 0.8, 0.6, 1.5, 0.05, 0.095
    # numpy reference: explicit Euler on all three fields from the state at time t
    v, u, w, accumulated = v0.copy(), u0.copy(), net.conductance.copy(), np.zeros(net.n_edges)
    for _ in range(3):
        laplacian = net.laplacian(w)
        feedback = np.zeros(net.n_nodes)
        error = targets - net.outputs(v)
        feedback[net.output_pairs[:, 0]] += eta * error
        feedback[net.output_pairs[:, 1]] -= eta * error
        step = -rate * net.drops(u) * net.drops(v)
        decay = (1 - u_keep) * u
        v, u = v + gain_v * (currents - laplacian @ v), u + gain_u * (feedback - kappa * laplacian @ u) - decay
        accumulated += step
        if live:
            w = np.maximum(w + step, w_min)
    kv, ku, kw, kacc = v0.copy(), u0.copy(), net.conductance.copy(), np.zeros(net.n_edges)
    kernels.learn_steps(
        net.topology.edges, kw, kv, ku, currents,
        net.output_pairs[:, 0].astype(np.int32), net.output_pairs[:, 1].astype(np.int32), targets, eta, 0, 0.0,
        True, gain_v, gain_u, u_keep, kappa, 0.0, np.zeros(net.n_nodes), rate, live, w_min, kacc, 3,
        np.empty_like(kv), np.empty_like(ku),
    )  # fmt: skip
    for got, want in ((kv, v), (ku, u), (kw, w), (kacc, accumulated)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert live == (not np.array_equal(kw, net.conductance))


def test_ensemble_relaxation_equals_each_network_relaxed_alone():
    networks = [simulator.lattice_network(side=side, seed=seed) for side, seed in ((4, 0), (6, 1), (5, 2), (4, 3))]
    rng = np.random.default_rng(0)
    sources = [net.node_currents(rng.uniform(0, 5, net.n_inputs)) for net in networks]
    together = simulator.relax_ensemble(networks, sources, n_steps=301, c=2.0, kappa=0.5)
    for net, source, x in zip(networks, sources, together):
        alone, _ = simulator.relax(net, source, c=2.0, kappa=0.5, n_steps=301)
        assert np.array_equal(x, alone)  # the same arithmetic, bit for bit
    with pytest.raises(ValueError, match="one sources array"):
        simulator.relax_ensemble(networks, sources[:2], n_steps=1)


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("steps", [40, 41])
def test_relax_split_over_parts_gives_the_serial_bits(count, steps):
    net = simulator.lattice_network(side=20, seed=4)
    parts = net.topology.parts(net.n_nodes, count)
    assert parts is not None and len(parts[0]) == count + 1
    node_bounds, edge_bounds, leave_from = parts
    edges = net.topology.edges
    assert (edges[edge_bounds[1] : edge_bounds[2], 0] >= node_bounds[1]).all()
    crossing = edges[edge_bounds[0] : edge_bounds[1], 1] >= node_bounds[1]
    assert crossing.any() and not crossing[: leave_from[0] - edge_bounds[0]].any()
    rng = np.random.default_rng(count)
    source = np.where(rng.random(net.n_nodes) < 0.3, rng.normal(size=net.n_nodes), 0.0)
    source[[3, 7]] = -0.0  # a signed zero is a source too: it keeps a -0.0 node at -0.0
    x0 = np.where(rng.random(net.n_nodes) < 0.5, rng.normal(size=net.n_nodes), -0.0)
    gain = 0.9 * simulator.stable_dt(net)
    serial, split = x0.copy(), x0.copy()
    kernels.relax(edges, net.conductance, serial, source, gain, steps, np.empty_like(x0))
    kernels.relax_parts(edges, net.conductance, split, source, gain, steps, np.empty_like(x0), *parts)
    assert np.array_equal(serial.view(np.uint64), split.view(np.uint64))
    assert not np.array_equal(serial, x0)


def test_relax_runs_split_from_parallel_min_nodes_with_the_same_bits():
    small, large = simulator.lattice_network(side=12), simulator.lattice_network(side=50, seed=1)
    assert simulator.engine.relax_split(small) is None and simulator.engine.relax_split(large, threads=1) is None
    assert simulator.engine.relax_split(large, threads=2) is not None
    source = large.node_currents(np.array([1.0, 2.0, 3.0, 4.0]))
    x, _ = simulator.relax(large, source, n_steps=301)
    serial = np.zeros(large.n_nodes)
    gain = 0.9 * simulator.stable_dt(large)
    kernels.relax(large.topology.edges, large.conductance, serial, source, gain, 301, np.empty_like(serial))
    assert np.array_equal(x, serial)


def test_parts_refuse_pipe_orders_the_split_cannot_use():
    net = simulator.lattice_network(side=20, seed=4)
    edges = net.topology.edges
    topology = type(net.topology)
    assert topology.from_edges(edges[::-1]).parts(net.n_nodes, 2) is None  # not sorted by lower node
    assert topology.from_edges(edges[:, ::-1]).parts(net.n_nodes, 2) is None  # upper node first
    assert net.topology.parts(net.n_nodes, 50) is None  # ranges of 8 nodes: pipes would skip one
    assert net.topology.parts(net.n_nodes, 1) is None
    mine = np.array(edges)
    topology.from_edges(mine)
    assert mine.flags.writeable  # the topology keeps its own read-only copy


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("steps", [30, 31])
@pytest.mark.parametrize("cost", [(0, 0.0), (1, 0.5), (2, 0.0)], ids=["squared", "huber", "softmax"])
def test_learn_steps_split_over_parts_gives_the_serial_bits(count, steps, cost):
    net = simulator.lattice_network(side=20, seed=5)
    parts = net.topology.parts(net.n_nodes, count)
    rng = np.random.default_rng(count + steps)
    v0, u0 = rng.normal(size=net.n_nodes), rng.normal(size=net.n_nodes)
    currents = net.node_currents(rng.normal(size=net.n_inputs))
    targets = rng.normal(size=net.n_outputs)
    plus, minus = net.output_pairs[:, 0].astype(np.int32), net.output_pairs[:, 1].astype(np.int32)
    gain = 0.9 * simulator.stable_dt(net)
    results = []
    for kernel, extra in ((kernels.learn_steps, ()), (kernels.learn_steps_parts, parts)):
        v, u, dw = v0.copy(), u0.copy(), np.zeros(net.n_edges)
        head = (net.topology.edges, net.conductance.copy(), v, u, currents, plus, minus, targets, 0.3, *cost, True)
        rates = (gain, 0.8 * gain, 0.97, 1.5 * 0.5)  # gain_v, gain_u, u_keep, kappa (stable)
        if kernel is kernels.learn_steps:  # no advection (the split kernel carries none)
            kernel(*head, *rates, 0.0, np.zeros(net.n_nodes), 0.05, False, 1e-4, dw, steps, np.empty_like(v),
                   np.empty_like(u))  # fmt: skip
        else:
            kernel(*head, *rates, 0.05, 1e-4, dw, steps, np.empty_like(v), np.empty_like(u), *extra)
        results.append((v, u, dw))
    for serial, split in zip(*results):
        assert np.array_equal(serial.view(np.uint64), split.view(np.uint64))
    assert np.abs(results[0][2]).max() > 0  # the pipes learned something
