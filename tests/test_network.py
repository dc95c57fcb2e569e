"""Network construction, the lattice builder, validation messages, networkx round trip."""

import networkx as nx
import numpy as np
import pytest

import simulator
from simulator.network import NetworkWarning

SQUARE = dict(positions=np.zeros((4, 2)), edges=[[0, 1], [1, 2], [2, 3], [3, 0]], conductance=[1.0, 1.0, 1.0, 1.0])


def test_lattice_network_matches_the_papers_recipe():
    net = simulator.lattice_network(side=12, d=4, delta=0.25, seed=0)
    assert net.n_nodes == 144
    assert net.input_pairs.shape == (4, 2) and net.output_pairs.shape == (3, 2)
    # every node moved by exactly delta from its lattice site
    grid = np.stack(np.meshgrid(np.arange(12), np.arange(12), indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_allclose(np.linalg.norm(net.positions - grid, axis=1), 0.25, rtol=1e-12)
    # each node is linked to (at least) its d nearest neighbours
    degree = np.bincount(net.edges.ravel(), minlength=net.n_nodes)
    assert degree.min() >= 4
    distances = np.linalg.norm(net.positions[:, None] - net.positions[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :4]
    pipes = {tuple(e) for e in np.sort(net.edges, axis=1).tolist()}
    assert all(tuple(sorted((i, int(j)))) in pipes for i in range(net.n_nodes) for j in nearest[i])
    # conductances: truncated normal(0.1, 0.01) on [0.01, 0.19]
    assert net.conductance.min() >= 0.01 and net.conductance.max() <= 0.19
    assert abs(net.conductance.mean() - 0.1) < 0.003 and abs(net.conductance.std() - 0.01) < 0.002
    # outputs are pipes; all eight + six terminals distinct
    assert all(tuple(sorted(p)) in pipes for p in net.output_pairs.tolist())
    terminals = np.concatenate([net.input_pairs.ravel(), net.output_pairs.ravel()])
    assert len(set(terminals.tolist())) == 14


def test_same_seed_same_arrays_bit_for_bit():
    a = simulator.lattice_network(side=10, seed=7)
    b = simulator.lattice_network(side=10, seed=7)
    c = simulator.lattice_network(side=10, seed=8)
    for name in ("positions", "edges", "conductance", "input_pairs", "output_pairs"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.positions, c.positions)


def test_arrays_are_read_only():
    net = simulator.lattice_network(side=4, d=3, n_inputs=1, n_outputs=1)
    with pytest.raises(ValueError):
        net.conductance[0] = 1.0


def test_networkx_round_trip_is_exact():
    net = simulator.lattice_network(side=6, seed=3, n_inputs=2, n_outputs=2)
    back = simulator.Network.from_networkx(net.to_networkx())
    for name in ("positions", "edges", "conductance", "input_pairs", "output_pairs"):
        assert np.array_equal(getattr(back, name), getattr(net, name)), name
    graph = net.to_networkx()
    assert nx.is_connected(graph) and graph.number_of_edges() == net.n_edges
    assert [graph.nodes[i]["species"] for i in range(net.n_nodes)] == net.species().tolist()


def test_from_networkx_with_labels_and_no_positions():
    graph = nx.path_graph(["a", "b", "c", "d", "e"])
    nx.set_edge_attributes(graph, 0.5, "conductance")
    graph.add_edge("e", "a", conductance=0.25)
    net = simulator.Network.from_networkx(graph, input_pairs=[("a", "c")], output_pairs=[("d", "e")])
    assert net.input_pairs.tolist() == [[0, 2]] and net.output_pairs.tolist() == [[3, 4]]
    assert net.positions.shape == (5, 2) and np.all(np.isfinite(net.positions))
    with pytest.raises(ValueError, match="edge .* has no 'conductance' attribute"):
        simulator.Network.from_networkx(nx.path_graph(3))
    with pytest.raises(ValueError, match="names node 'z'"):
        simulator.Network.from_networkx(graph, input_pairs=[("a", "z")])


def test_species_codes():
    with pytest.warns(NetworkWarning):  # (3, 1) is a diagonal of the square, not a pipe
        net = simulator.Network(**SQUARE, input_pairs=[[0, 2]], output_pairs=[[3, 1]])
    assert net.species().tolist() == [1, 4, 2, 3]


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(conductance=[1.0, 0.0, 1.0, 1.0]), r"conductance must be > 0: edge 1 has 0.0"),
        (dict(conductance=[1.0, 1.0, -2.0, 1.0]), r"conductance must be > 0: edge 2 has -2.0"),
        (dict(conductance=[1.0, np.nan, 1.0, 1.0]), r"conductance must be finite: edge 1"),
        (dict(conductance=[1.0, 1.0]), r"conductance must have shape \[4\]"),
        (dict(edges=[[0, 1], [1, 2], [2, 2], [3, 0]]), r"edge 2 is a self-loop at node 2"),
        (dict(edges=[[0, 1], [1, 2], [2, 1], [3, 0]]), r"duplicate edge between nodes 1 and 2"),
        (dict(edges=[[0, 1], [1, 2], [2, 7], [3, 0]]), r"edge 2 \(2, 7\) refers to a node outside 0..3"),
        (dict(edges=[[0, 1], [2, 3], [0, 1]], conductance=[1.0, 1.0, 1.0]), r"duplicate edge"),
        (dict(edges=[[0, 1], [2, 3]], conductance=[1.0, 1.0]), r"disconnected: 2 components"),
        (dict(positions=np.zeros((4, 3))), r"positions must have shape \[n, 2\]"),
        (
            dict(input_pairs=[[0, 1]], output_pairs=[[1, 2]]),
            r"node 1 is used twice: by input pair 0 \(-\) and by output pair 0 \(\+\)",
        ),
        (dict(input_pairs=[[0, 0]]), r"node 0 is used twice"),
        (dict(input_pairs=[[0, 9]]), r"input pair 0 refers to node 9, outside 0..3"),
        (dict(output_pairs=[[0, 1, 2]]), r"output_pairs must have shape \[k, 2\]"),
    ],
)
def test_invalid_networks_are_refused_with_a_message_naming_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        simulator.Network(**{**SQUARE, **change})


def test_output_pair_that_is_not_a_pipe_warns():
    with pytest.warns(NetworkWarning, match=r"output pair 0 \(0, 2\) is not a pipe"):
        simulator.Network(**SQUARE, output_pairs=[[0, 2]])


def test_with_conductance_validates_and_shares_topology():
    net = simulator.lattice_network(side=4, d=3, n_inputs=1, n_outputs=1)
    other = net.with_conductance(net.conductance * 2)
    assert other.topology is net.topology
    np.testing.assert_array_equal(other.conductance, 2 * net.conductance)
    with pytest.raises(ValueError, match="conductance must be > 0"):
        net.with_conductance(-net.conductance)


def test_lattice_builder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="side must be an integer >= 2"):
        simulator.lattice_network(side=1)
    with pytest.raises(ValueError, match="need 14 distinct nodes; the lattice has 9"):
        simulator.lattice_network(side=3)
    with pytest.raises(ValueError, match=r"delta must be in \[0, 1e\+06\] \(lattice spacings\), got nan"):
        simulator.lattice_network(delta=float("nan"))
    with pytest.raises(ValueError, match=r"delta must be in \[0, 1e\+06\] \(lattice spacings\), got 1e\+300"):
        simulator.lattice_network(delta=1e300)  # (distances between nodes would overflow)
    with pytest.raises(ValueError, match="no connected 12x12 lattice with d = 1 in 100 draws; raise d"):
        simulator.lattice_network(d=1)


def test_reordered_restores_a_banded_numbering_and_the_same_physics():
    lattice = simulator.lattice_network(side=50, seed=3)
    rng = np.random.default_rng(0)
    shuffled, node_shuffle, _ = lattice.renumbered(rng.permutation(lattice.n_nodes), rng.permutation(lattice.n_edges))
    v_lattice = simulator.LaplacianSolver(lattice).solve(lattice.node_currents(np.ones(4)))
    v_shuffled = simulator.LaplacianSolver(shuffled).solve(shuffled.node_currents(np.ones(4)))
    np.testing.assert_allclose(v_shuffled, v_lattice[node_shuffle], atol=1e-12)
    with pytest.raises(ValueError, match="node_order must be a permutation"):
        lattice.renumbered(np.zeros(lattice.n_nodes, dtype=int))
    assert simulator.engine.relax_split(shuffled, threads=2) is None  # pipes in no usable order
    new, node_order, pipe_order = shuffled.reordered()
    edges = new.edges
    assert (edges[:, 0] < edges[:, 1]).all() and (np.diff(edges[:, 0]) >= 0).all()
    assert np.max(edges[:, 1] - edges[:, 0]) <= 2 * np.max(np.abs(np.diff(lattice.edges, axis=1)))
    assert simulator.engine.relax_split(new, threads=2) is not None
    np.testing.assert_array_equal(new.conductance, shuffled.conductance[pipe_order])
    np.testing.assert_array_equal(new.positions, shuffled.positions[node_order])
    inputs = np.array([1.0, -2.0, 0.5, 3.0])
    v_new = simulator.LaplacianSolver(new).solve(new.node_currents(inputs))
    v_old = simulator.LaplacianSolver(shuffled).solve(shuffled.node_currents(inputs))
    back = np.empty_like(v_new)
    back[node_order] = v_new
    np.testing.assert_allclose(back - back.mean(), v_old - v_old.mean(), atol=1e-10 * np.abs(v_old).max())
    np.testing.assert_allclose(new.outputs(v_new), shuffled.outputs(v_old), rtol=1e-9)
    relaxed, _ = simulator.relax(new, new.node_currents(inputs), rtol=1e-10)  # stepped over the cores
    np.testing.assert_allclose(new.outputs(relaxed), new.outputs(v_new), atol=1e-6 * np.abs(new.outputs(v_new)).max())


def test_output_pairs_apart_are_joined_by_no_pipe_and_leave_the_default_draw_alone():
    apart = simulator.lattice_network(seed=3, adjacent_outputs=False)
    pipes = {tuple(sorted(edge)) for edge in apart.topology.edges.tolist()}
    assert not any(tuple(sorted(pair)) in pipes for pair in apart.output_pairs.tolist())
    terminals = np.concatenate([apart.input_pairs.ravel(), apart.output_pairs.ravel()])
    assert len(set(terminals.tolist())) == len(terminals)  # all distinct
    default, same = simulator.lattice_network(seed=3), simulator.lattice_network(seed=3, adjacent_outputs=True)
    np.testing.assert_array_equal(default.output_pairs, same.output_pairs)
    np.testing.assert_array_equal(apart.input_pairs, default.input_pairs)  # the same draw up to the outputs
    assert all(tuple(sorted(pair)) in pipes for pair in default.output_pairs.tolist())


@pytest.mark.parametrize("side, d, delta", [(4, 4, 0.25), (12, 4, 0.25), (12, 6, 0.4), (9, 3, 0.0), (12, 4, 0.0),
                                            (20, 8, 0.1), (33, 4, 0.25)])  # fmt: skip
def test_small_lattices_are_the_same_found_by_every_pair_or_by_the_kd_tree(side, d, delta, monkeypatch):
    """Up to 1,024 nodes the nearest neighbours come from every pair's distance (no scipy.spatial
    import); the network is the one the k-d tree gives, ties included (those go to the tree)."""
    import simulator.network

    for seed in range(4):
        by_pairs = simulator.lattice_network(side=side, d=d, delta=delta, seed=seed)
        with monkeypatch.context() as patch:
            patch.setattr(simulator.network, "_BRUTE_FORCE_NODES", 0)
            by_tree = simulator.lattice_network(side=side, d=d, delta=delta, seed=seed)
        np.testing.assert_array_equal(by_pairs.edges, by_tree.edges)
        np.testing.assert_array_equal(by_pairs.conductance, by_tree.conductance)
        np.testing.assert_array_equal(by_pairs.output_pairs, by_tree.output_pairs)


def test_new_terminals_keep_the_pipes_and_draw_as_the_lattice_builder_does():
    from simulator.network import with_new_terminals

    net = simulator.lattice_network(side=8, seed=5)
    other = with_new_terminals(net, np.random.default_rng(1))
    np.testing.assert_array_equal(other.edges, net.edges)
    np.testing.assert_array_equal(other.conductance, net.conductance)
    assert other.input_pairs.shape == (4, 2) and other.output_pairs.shape == (3, 2)
    assert not np.array_equal(other.input_pairs, net.input_pairs)
    pipes = {tuple(sorted(e)) for e in net.edges.tolist()}
    assert all(tuple(sorted(pair)) in pipes for pair in other.output_pairs.tolist())  # outputs are pipes
    terminals = np.concatenate([other.input_pairs.ravel(), other.output_pairs.ravel()])
    assert len(set(terminals.tolist())) == 14  # all distinct
    again = with_new_terminals(net, np.random.default_rng(1))
    np.testing.assert_array_equal(again.input_pairs, other.input_pairs)
