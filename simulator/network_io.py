"""Networks from anywhere: networkx graphs, node-link JSON and GraphML files.

The attribute names are those :meth:`Network.to_networkx` writes: node ``pos`` (``[x, y]``),
edge ``conductance``, graph ``input_pairs`` and ``output_pairs`` (lists of node pairs, in the
graph's own node labels). GraphML cannot hold lists, so there ``pos`` is two node attributes
``x`` and ``y`` (or a string ``"x,y"``) and the pairs are JSON strings. A missing piece is
named in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .network import Network
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

    graph = nx.Graph(graph)  # a copy: positions and labels are normalised below
    labels = {str(label): label for label in graph.nodes}
    pairs = {}
    for name, given in (("input_pairs", input_pairs), ("output_pairs", output_pairs)):
        value = graph.graph.get(name) if given is None else given
        if value is None:
            raise ValueError(f"{where} has no {name!r} (a graph attribute, or {name} = [[a, b], ...] in [network])")
        if isinstance(value, str):
            value = json.loads(value)
        pairs[name] = [tuple(labels.get(str(node), node) for node in pair) for pair in value]
    for label, data in graph.nodes(data=True):
        if "pos" in data or ("x" in data and "y" in data):
            data["pos"] = _position(data, label, where)
    for a, b, data in graph.edges(data=True):
        if "conductance" not in data:
            raise ValueError(f"{where}: edge ({a!r}, {b!r}) has no 'conductance' attribute")
        data["conductance"] = float(data["conductance"])
    try:
        return Network.from_networkx(graph, pairs["input_pairs"], pairs["output_pairs"])
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _position(data: dict, label, where: str) -> tuple[float, float]:
    pos = data.get("pos")
    if pos is None:
        pos = (data["x"], data["y"])
    elif isinstance(pos, str):
        pos = [float(x) for x in pos.strip("()[] ").replace(",", " ").split()]
    if len(pos) != 2:
        raise ValueError(f"{where}: node {label!r} has pos {data.get('pos')!r}; need two coordinates")
    return float(pos[0]), float(pos[1])


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
    graph = nx.Graph(**data.get("graph", {}))
    for node in data["nodes"]:
        if "id" not in node:
            raise ValueError(f"{path}: a node has no 'id': {node}")
        graph.add_node(_hashable(node["id"]), **{k: v for k, v in node.items() if k != "id"})
    for edge in edges:
        if "source" not in edge or "target" not in edge:
            raise ValueError(f"{path}: an edge needs 'source' and 'target': {edge}")
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
