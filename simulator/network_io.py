"""Networks from anywhere: networkx graphs, node-link JSON and GraphML files.

The attribute names are those :meth:`Network.to_networkx` writes: node ``pos`` (``[x, y]``),
edge ``conductance``, graph ``input_pairs`` and ``output_pairs`` (lists of node pairs, in the
graph's own node labels). GraphML cannot hold lists, so there ``pos`` is two node attributes
``x`` and ``y`` (or a string ``"x,y"``) and the pairs are JSON strings. A missing piece is
named in one line. Parallel pipes (a node pair joined twice, in a file or a multigraph) are
merged into one pipe whose conductance is their sum, as parallel pipes conduct, and a
``NetworkWarning`` says so.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from .network import Network, NetworkWarning
from .outputs import Replacement

__all__ = ["as_network", "load_network", "save_network", "NETWORK_FORMATS"]

NETWORK_FORMATS = (".json", ".graphml")


def as_network(source, *, input_pairs=None, output_pairs=None, where: str = "the graph") -> Network:
    """A :class:`Network` from a ``Network`` (returned as it is), a networkx graph, or a file
    path (:func:`load_network`). ``input_pairs``/``output_pairs`` (in the graph's node labels)
    replace the graph's own."""
    if isinstance(source, Network):
        if input_pairs is not None or output_pairs is not None:
            raise ValueError("input_pairs and output_pairs are given by the Network itself")
        return source
    if isinstance(source, (str, Path)):
        return load_network(source, input_pairs=input_pairs, output_pairs=output_pairs)
    if not hasattr(source, "nodes") or not hasattr(source, "edges"):
        raise TypeError(f"a network must be a Network, a networkx graph or a file path, got {type(source).__name__}")
    return _from_graph(source, input_pairs, output_pairs, where)


def _from_graph(graph, input_pairs, output_pairs, where: str) -> Network:
    import networkx as nx

    if graph.is_directed():  # a pipe has no direction: one listed both ways is one pipe or two, who can say
        both_ways = next(((a, b) for a, b in graph.edges() if a != b and graph.has_edge(b, a)), None)
        if both_ways is not None:
            raise ValueError(f"{where}: a directed graph joins {both_ways[0]!r} and {both_ways[1]!r} both ways; a pipe "
                             "has no direction: give each pipe once, in an undirected graph")  # fmt: skip
    parallel = graph.is_multigraph() and any(count > 1 for count in _pipes_per_pair(graph).values())
    graph = _merged_parallel_pipes(graph, where) if parallel else nx.Graph(graph)  # a copy
    labels = {str(label): label for label in graph.nodes}
    pairs = {}
    for name, given in (("input_pairs", input_pairs), ("output_pairs", output_pairs)):
        value = graph.graph.get(name) if given is None else given
        if value is None:
            raise ValueError(f"{where} has no {name!r} (a graph attribute, or {name} = [[a, b], ...] in [network])")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        if not isinstance(value, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
            raise ValueError(f"{where}: {name} must be a list of node pairs, [[a, b], ...]")
        pairs[name] = [tuple(labels.get(str(node), node) for node in pair) for pair in value]
    for label, data in graph.nodes(data=True):
        if "pos" in data or ("x" in data and "y" in data):
            data["pos"] = _position(data, label, where)
    for a, b, data in graph.edges(data=True):
        if "conductance" not in data:
            raise ValueError(f"{where}: edge ({a!r}, {b!r}) has no 'conductance' attribute")
        data["conductance"] = _number(data["conductance"], f"{where}: edge ({a!r}, {b!r}): conductance")
    try:
        return Network.from_networkx(graph, pairs["input_pairs"], pairs["output_pairs"])
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _number(value, what: str) -> float:
    """``value`` as a finite float (a number, or text that is one); else a ``ValueError`` that
    names ``what`` (not the value: a config may name any file)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, np.integer, np.floating)):
        raise ValueError(f"{what} must be a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{what} must be a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite")
    return number


def _position(data: dict, label, where: str) -> tuple[float, float]:
    pos = data.get("pos")
    what = f"{where}: node {label!r}: pos"
    if pos is None:
        pos = (data["x"], data["y"])
    elif isinstance(pos, str):
        pos = pos.strip("()[] ").replace(",", " ").split()
    if not isinstance(pos, (list, tuple)) or len(pos) != 2:
        raise ValueError(f"{what} must be two coordinates [x, y]")
    return _number(pos[0], what), _number(pos[1], what)


def _pipes_per_pair(graph) -> dict:
    counts: dict = {}
    for a, b in graph.edges():
        key = frozenset((a, b))
        counts[key] = counts.get(key, 0) + 1
    return counts


def _merged_parallel_pipes(graph, where: str):
    """A simple graph from a multigraph: the pipes that join one node pair become one, with
    their conductances summed (parallel pipes add); said in one warning."""
    import networkx as nx

    merged = nx.Graph()
    merged.graph.update(graph.graph)
    merged.add_nodes_from(graph.nodes(data=True))
    repeated = []
    for a, b, data in graph.edges(data=True):
        if "conductance" not in data:
            raise ValueError(f"{where}: edge ({a!r}, {b!r}) has no 'conductance' attribute")
        value = _number(data["conductance"], f"{where}: edge ({a!r}, {b!r}): conductance")
        if merged.has_edge(a, b):
            repeated.append((a, b))
            merged.edges[a, b]["conductance"] += value
        else:
            merged.add_edge(a, b, **{**data, "conductance": value})
    if repeated:
        pairs = sorted({tuple(sorted((a, b), key=str)) for a, b in repeated}, key=str)
        warnings.warn(f"{where}: {len(pairs)} node pair(s) joined by more than one pipe (first: {pairs[0]}); each "
                      "pair's pipes are merged into one whose conductance is their sum (parallel pipes)",
                      NetworkWarning, stacklevel=4)  # fmt: skip
    return merged


def load_network(path, *, input_pairs=None, output_pairs=None) -> Network:
    """A network from a node-link JSON (``.json``) or GraphML (``.graphml``) file."""
    path = Path(path)
    if path.suffix not in NETWORK_FORMATS:
        raise ValueError(f"{path}: a network file must be node-link JSON (.json) or GraphML (.graphml)")
    if not path.is_file():
        raise ValueError(f"{path}: no such network file")
    if path.suffix == ".graphml":
        import networkx as nx

        try:
            graph = nx.read_graphml(path)
        except Exception as error:  # networkx raises several kinds for malformed XML
            raise ValueError(f"{path} is not valid GraphML: {error}") from None
    else:
        graph = _node_link_graph(path)
    return _from_graph(graph, input_pairs, output_pairs, str(path))


def _node_link_graph(path: Path):
    """A graph from node-link JSON, read directly (networkx changed the key of the edge list
    from ``links`` to ``edges``; both are read)."""
    import networkx as nx

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a node-link JSON file: {error}") from None
    edges = data.get("edges", data.get("links")) if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(edges, list):
        raise ValueError(f"{path} is not a node-link JSON file (it needs 'nodes' and 'edges' lists)")
    graph = nx.MultiGraph(**(data.get("graph") if isinstance(data.get("graph"), dict) else {}))  # parallel pipes kept
    for i, node in enumerate(data["nodes"]):
        if not isinstance(node, dict) or "id" not in node:
            raise ValueError(f"{path}: node {i} (counting from 0) has no 'id'")
        graph.add_node(_hashable(node["id"]), **{k: v for k, v in node.items() if k != "id"})
    for i, edge in enumerate(edges):
        if not isinstance(edge, dict) or "source" not in edge or "target" not in edge:
            raise ValueError(f"{path}: edge {i} (counting from 0) needs 'source' and 'target'")
        attributes = {k: v for k, v in edge.items() if k not in ("source", "target")}
        graph.add_edge(_hashable(edge["source"]), _hashable(edge["target"]), **attributes)
    return graph


def _hashable(label):
    return tuple(label) if isinstance(label, list) else label


def save_network(network: Network, path, overwrite: bool = False) -> Path:
    """Write ``network`` as node-link JSON or GraphML (by the suffix); an existing file is
    replaced only with ``overwrite`` (:mod:`simulator.outputs`)."""
    path = Path(path)
    if path.suffix not in NETWORK_FORMATS:
        raise ValueError(f"{path}: write node-link JSON (.json) or GraphML (.graphml)")
    with Replacement(path, overwrite) as scratch:
        _write_network(network, path.suffix, scratch)
    return path


def _write_network(network: Network, suffix: str, path: Path) -> None:
    graph = network.to_networkx()
    if suffix == ".json":
        data = {
            "directed": False, "multigraph": False, "graph": graph.graph,
            "nodes": [{"id": node, **{**attributes, "pos": list(attributes["pos"])}} for node, attributes in
                      graph.nodes(data=True)],
            "edges": [{"source": a, "target": b, **attributes} for a, b, attributes in graph.edges(data=True)],
        }  # fmt: skip
        path.write_text(json.dumps(data, indent=1))
        return
    import networkx as nx

    for _, attributes in graph.nodes(data=True):
        attributes["x"], attributes["y"] = (float(c) for c in attributes.pop("pos"))
    for name in ("input_pairs", "output_pairs"):
        graph.graph[name] = json.dumps(np.asarray(graph.graph[name]).tolist())
    nx.write_graphml(graph, path)
