"""Networks from files and graphs: node-link JSON and GraphML round trips, and one clear line
for what is missing."""

import json

import networkx as nx
import numpy as np
import pytest

import simulator
from simulator.network_io import as_network, load_network, save_network


def same_network(a, b) -> bool:
    return all(np.array_equal(getattr(a, key), getattr(b, key)) for key in
               ("positions", "edges", "conductance", "input_pairs", "output_pairs"))  # fmt: skip


@pytest.mark.parametrize("suffix", [".json", ".graphml"])
def test_files_round_trip_exactly(tmp_path, suffix):
    network = simulator.lattice_network(side=5, seed=3, n_inputs=2, n_outputs=1)
    path = save_network(network, tmp_path / f"net{suffix}")
    assert same_network(load_network(path), network)
    with pytest.raises(ValueError, match="exists; pass --overwrite"):
        save_network(network, path)
    other = simulator.lattice_network(side=4, seed=1, n_inputs=1, n_outputs=1)
    assert same_network(load_network(save_network(other, path, overwrite=True)), other)  # replaced whole


def test_any_networkx_graph_and_the_old_links_key(tmp_path):
    graph = nx.path_graph(["a", "b", "c", "d"])
    for k, (u, v) in enumerate(graph.edges):
        graph.edges[u, v]["conductance"] = 0.5 + k
    network = as_network(graph, input_pairs=[("a", "d")], output_pairs=[("b", "c")])
    assert network.input_pairs.tolist() == [[0, 3]] and network.output_pairs.tolist() == [[1, 2]]
    np.testing.assert_array_equal(network.conductance, [0.5, 1.5, 2.5])
    # node-link JSON as older networkx wrote it ("links"), pairs as graph attributes
    data = {"graph": {"input_pairs": [["a", "d"]], "output_pairs": [["b", "c"]]},
            "nodes": [{"id": name, "pos": [i, 0]} for i, name in enumerate("abcd")],
            "links": [{"source": u, "target": v, "conductance": 1.0} for u, v in graph.edges]}  # fmt: skip
    (tmp_path / "old.json").write_text(json.dumps(data))
    loaded = load_network(tmp_path / "old.json")
    assert loaded.positions[:, 0].tolist() == [0, 1, 2, 3] and loaded.input_pairs.tolist() == [[0, 3]]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["graph"].pop("input_pairs"), "has no 'input_pairs'"),
        (lambda d: d["edges"][1].pop("conductance"), r"edge \(1, 2\) has no 'conductance' attribute"),
        (lambda d: d["graph"].update(output_pairs=[[1, 9]]), "names node 9, which is not in the graph"),
        (lambda d: d["nodes"][2].update(pos=[1.0]), r"node 2: pos must be two coordinates \[x, y\]"),
        (lambda d: d["nodes"][2].update(pos="abc"), r"node 2: pos must be two coordinates \[x, y\]"),
        (lambda d: d["nodes"][2].update(pos=[1.0, "abc"]), "node 2: pos must be a number"),
        (lambda d: d["edges"][1].update(conductance="abc"), r"edge \(1, 2\): conductance must be a number"),
        (lambda d: d["edges"][1].update(conductance=True), r"edge \(1, 2\): conductance must be a number"),
        (lambda d: d["graph"].update(input_pairs=7), r"input_pairs must be a list of node pairs, \[\[a, b\], ...\]"),
        (lambda d: d["graph"].update(input_pairs=[[0, 1, 3]]), "input_pairs must be a list of node pairs"),
        (lambda d: d.pop("nodes"), "is not a node-link JSON file"),
        (lambda d: d["edges"].append({"source": 0}), r"edge 3 \(counting from 0\) needs 'source' and 'target'"),
        (lambda d: d["edges"].pop(0), "disconnected"),
    ],
)
def test_missing_pieces_are_named_in_one_line(tmp_path, change, message):
    data = {"graph": {"input_pairs": [[0, 3]], "output_pairs": [[1, 2]]},
            "nodes": [{"id": i, "pos": [i, 0.0]} for i in range(4)],
            "edges": [{"source": i, "target": i + 1, "conductance": 1.0} for i in range(3)]}  # fmt: skip
    change(data)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message) as error:
        load_network(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_file_kinds_and_garbage_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must be node-link JSON"):
        load_network(tmp_path / "net.gml")
    (tmp_path / "net.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not a node-link JSON file"):
        load_network(tmp_path / "net.json")
    (tmp_path / "net.graphml").write_text("<graphml>")
    with pytest.raises(ValueError, match="is not valid GraphML"):
        load_network(tmp_path / "net.graphml")


@pytest.mark.parametrize("form", ["node-link", "graphml", "multigraph"])
def test_parallel_pipes_are_merged_into_one_whose_conductance_is_their_sum_and_said(tmp_path, form):
    """A node pair joined three times (0.1, 0.5, 0.7) was one pipe of 0.7 (the last); parallel
    pipes conduct as one of the summed conductance, the steady state is the same, and a warning
    says what was merged."""
    graph = nx.path_graph(4)
    for a, b in graph.edges:
        graph.edges[a, b]["conductance"] = 1.0
    graph.graph.update(input_pairs=[[0, 3]], output_pairs=[[1, 2]])
    for i, node in enumerate(graph.nodes):
        graph.nodes[node]["pos"] = [float(i), 0.0]
    multi = nx.MultiGraph(graph)
    multi.remove_edge(1, 2)
    for value in (0.1, 0.5, 0.7):
        multi.add_edge(1, 2, conductance=value)
    if form == "node-link":
        source = tmp_path / "net.json"
        data = {"graph": graph.graph, "nodes": [{"id": n, **d} for n, d in multi.nodes(data=True)],
                "edges": [{"source": a, "target": b, **d} for a, b, d in multi.edges(data=True)]}  # fmt: skip
        source.write_text(json.dumps(data))
    elif form == "graphml":
        source = tmp_path / "net.graphml"
        written = multi.copy()
        for _, attributes in written.nodes(data=True):
            attributes["x"], attributes["y"] = attributes.pop("pos")
        written.graph = {key: json.dumps(value) for key, value in graph.graph.items()}
        nx.write_graphml(written, source)
    else:
        source = multi
    said = r"1 node pair\(s\) joined by more than one pipe \(first: \('?1'?, '?2'?\)\); each pair's pipes are merged"
    with pytest.warns(simulator.NetworkWarning, match=said + " into one whose conductance is their sum"):
        net = simulator.as_network(source)
    assert net.n_edges == 3
    merged = {tuple(sorted(edge)): w for edge, w in zip(net.topology.edges.tolist(), net.conductance)}
    assert merged[(1, 2)] == pytest.approx(1.3, abs=1e-15)
    reference = simulator.as_network(graph).with_conductance(np.array([1.0, 1.3, 1.0]))
    assert np.allclose(simulator.steady_state(net, [1.0]), simulator.steady_state(reference, [1.0]), atol=1e-14)


def test_a_directed_graph_that_joins_two_nodes_both_ways_is_refused(tmp_path):
    """A pipe has no direction: a->b and b->a are one pipe listed twice, or two parallel pipes;
    nx.Graph kept the last conductance, silently."""
    graph = nx.DiGraph()
    graph.add_nodes_from((i, {"pos": [float(i), 0.0]}) for i in range(4))
    graph.add_edges_from([(0, 1), (1, 2), (2, 3), (2, 1)], conductance=1.0)
    graph.graph.update(input_pairs=[[0, 3]], output_pairs=[[1, 2]])
    with pytest.raises(ValueError, match="a directed graph joins 1 and 2 both ways; a pipe has no direction"):
        simulator.as_network(graph)
    graph.remove_edge(2, 1)
    assert simulator.as_network(graph).n_edges == 3  # one way only: the pipes as they are
