"""Flow networks: nodes, pipes, boundary pairs, and the paper's lattice builder.

Units and signs (written once, here)
------------------------------------
* ``v`` node pressure and ``u`` chemical concentration: arbitrary but consistent units.
* ``conductance`` ``w_e > 0`` of pipe ``e = (a, b)``: flow per unit pressure drop. The flow
  through pipe ``e`` is ``w_e * (v[a] - v[b])``, positive from ``a`` to ``b``.
* Input pair ``(b+, b-)``: the external current ``I_j`` enters at ``b+`` and leaves at ``b-``
  (a positive ``I_j`` raises ``v[b+]`` above ``v[b-]``).
* Output pair ``(o+, o-)``: the output is the drop ``v[o+] - v[o-]``.
* Steady state: ``L(w) v = I`` with ``(L v)_x = sum_y w_xy (v_x - v_y)`` = net outflow at ``x``.

A :class:`Network` is immutable; learning produces new networks with
:meth:`Network.with_conductance`, which shares the (validated) topology and its derived
arrays, so a learning step costs no re-validation and no rebuild.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .base import check_memory

if TYPE_CHECKING:  # scipy is imported where it is used: start-up stays short
    import scipy.sparse

__all__ = [
    "Network",
    "NetworkWarning",
    "Topology",
    "Reordering",
    "lattice_network",
    "with_new_terminals",
    "SPECIES_INTERIOR",
    "SPECIES_INPUT_PLUS",
    "SPECIES_INPUT_MINUS",
    "SPECIES_OUTPUT_PLUS",
    "SPECIES_OUTPUT_MINUS",
]

# Node species codes, as stored in trajectories (particles/nodes/species).
SPECIES_INTERIOR = 0
SPECIES_INPUT_PLUS = 1
SPECIES_INPUT_MINUS = 2
SPECIES_OUTPUT_PLUS = 3
SPECIES_OUTPUT_MINUS = 4


class NetworkWarning(UserWarning):
    """A network that is valid but probably not what the user meant."""


@dataclass(frozen=True, eq=False)
class Topology:
    """Weight-independent arrays the kernels read (built once, shared by every copy).

    Attributes
    ----------
    edges : [m, 2] int32, C-contiguous
        The pipes, in the network's order, in the index type the kernels are compiled for.
    """

    edges: np.ndarray

    def band_order(self, n_nodes: int, grounded: bool = True) -> tuple[np.ndarray, int]:
        """``(position [n] int32, bandwidth)``: each node's row in a reverse Cuthill-McKee order
        of the Laplacian, grounded at node 0 (``-1`` for node 0) unless ``grounded=False``, and
        that order's bandwidth. Found once per topology (the symbolic analysis of the banded
        solvers)."""
        key = "_band_order" if grounded else "_band_order_all"
        cached = self.__dict__.get(key)
        if cached is None or cached[0].shape[0] != n_nodes:
            cached = _band_order(self.edges, n_nodes, grounded)
            object.__setattr__(self, key, cached)  # a cache, not state
        return cached

    def parts(self, n_nodes: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(node_bounds, edge_bounds, leave_from)`` splitting the nodes into ``count`` equal
        ranges for :func:`kernels.relax_parts`, or None where that kernel does not apply: the
        pipes must be stored sorted by their lower node, lower node first (as the builders
        here store them), and no pipe may reach past the next range. Found once per count."""
        key = ("_parts", n_nodes, count)
        cache = self.__dict__.setdefault("_parts_cache", {})
        if key not in cache:
            cache[key] = _parts(self.edges, n_nodes, count)
        return cache[key]

    @classmethod
    def from_edges(cls, edges: np.ndarray) -> "Topology":
        kernel_edges = np.array(edges, dtype=np.int32, order="C")  # a copy: the caller's array stays writeable
        kernel_edges.flags.writeable = False
        return cls(edges=kernel_edges)


def _parts(edges: np.ndarray, n_nodes: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    lower, upper = edges[:, 0], edges[:, 1]
    if count < 2 or len(edges) == 0 or not (np.all(lower < upper) and np.all(np.diff(lower) >= 0)):
        return None
    node_bounds = np.linspace(0, n_nodes, count + 1).round().astype(np.int64)
    if np.max(upper - lower) >= np.min(np.diff(node_bounds)):
        return None  # a pipe would skip a whole range
    edge_bounds = np.searchsorted(lower, node_bounds).astype(np.int64)
    leave_from = edge_bounds[1:].copy()
    for p in range(count):
        leaving = np.flatnonzero(upper[edge_bounds[p] : edge_bounds[p + 1]] >= node_bounds[p + 1])
        if len(leaving):
            leave_from[p] = edge_bounds[p] + leaving[0]
    for array in (node_bounds, edge_bounds, leave_from):
        array.flags.writeable = False
    return node_bounds, edge_bounds, leave_from


def _band_order(edges: np.ndarray, n_nodes: int, grounded: bool = True) -> tuple[np.ndarray, int]:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    first = 1 if grounded else 0
    free = (edges[:, 0] >= first) & (edges[:, 1] >= first)
    a, b = edges[free, 0] - first, edges[free, 1] - first
    size = n_nodes - first
    pattern = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(size, size)).tocsr()
    order = reverse_cuthill_mckee(pattern + pattern.T, symmetric_mode=True)
    position = np.full(n_nodes, -1, dtype=np.int32)
    position[order + first] = np.arange(size, dtype=np.int32)
    bandwidth = int(np.abs(position[edges[free, 0]] - position[edges[free, 1]]).max()) if free.any() else 0
    position.flags.writeable = False
    return position, bandwidth


def _as_index_array(name: str, value, width: int) -> np.ndarray:
    array = np.asarray(value)
    if array.size == 0:
        return np.zeros((0, width), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"{name} must have shape [k, {width}], got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{name} must hold integer node indices, got dtype {array.dtype}")
    return array.astype(np.int64)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Network:
    """A linear flow network with input and output node pairs.

    Parameters
    ----------
    positions : [n, 2] float64
        Node coordinates (layout only; the physics does not use them).
    edges : [m, 2] int
        Pipe end nodes ``(a, b)``; flow is counted positive from ``a`` to ``b``.
    conductance : [m] float64, > 0
        Pipe conductances ``w``.
    input_pairs : [q, 2] int
        ``(b+, b-)`` per input; current ``I_j`` enters at ``b+`` and leaves at ``b-``.
    output_pairs : [p, 2] int
        ``(o+, o-)`` per output; the output is ``v[o+] - v[o-]``. Should be pipes (the
        paper's choice); a warning says when one is not.

    All arrays are stored read-only. Construction validates everything and raises a
    ``ValueError`` naming the problem: shapes, non-finite or non-positive conductance,
    self-loops, duplicate pipes, out-of-range or overlapping terminals, a disconnected graph.
    """

    positions: np.ndarray
    edges: np.ndarray
    conductance: np.ndarray
    input_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    output_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    topology: Topology | None = field(default=None, repr=False)

    def __post_init__(self):
        set_ = object.__setattr__
        if self.topology is not None:  # a copy made by with_conductance: topology known good
            set_(self, "conductance", _frozen(_checked_conductance(self.conductance, len(self.edges))))
            return
        positions = np.asarray(self.positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 2:
            raise ValueError(f"positions must have shape [n, 2], got {positions.shape}")
        n = len(positions)
        if n < 2:
            raise ValueError(f"a network needs at least 2 nodes, got {n}")
        if not np.all(np.isfinite(positions)):
            raise ValueError("positions must be finite")
        edges = _as_index_array("edges", self.edges, 2)
        if len(edges) == 0:
            raise ValueError("a network needs at least one edge (pipe)")
        _check_edges(edges, n)
        conductance = _checked_conductance(self.conductance, len(edges))
        input_pairs = _as_index_array("input_pairs", self.input_pairs, 2)
        output_pairs = _as_index_array("output_pairs", self.output_pairs, 2)
        _check_pairs(input_pairs, output_pairs, n)
        _check_connected(edges, n)
        _warn_outputs_not_pipes(edges, output_pairs)
        set_(self, "positions", _frozen(positions))
        set_(self, "edges", _frozen(edges))
        set_(self, "conductance", _frozen(conductance))
        set_(self, "input_pairs", _frozen(input_pairs))
        set_(self, "output_pairs", _frozen(output_pairs))
        set_(self, "topology", Topology.from_edges(edges))

    # ------------------------------------------------------------------ sizes and views
    @property
    def n_nodes(self) -> int:
        return len(self.positions)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @property
    def n_inputs(self) -> int:
        return len(self.input_pairs)

    @property
    def n_outputs(self) -> int:
        return len(self.output_pairs)

    def with_conductance(self, conductance) -> "Network":
        """The same network with new conductances ``[m]`` (validated: finite, > 0)."""
        return dataclasses.replace(self, conductance=conductance)

    def species(self) -> np.ndarray:
        """Node species ``[n]`` int8: 0 interior, 1 input+, 2 input-, 3 output+, 4 output-."""
        species = np.full(self.n_nodes, SPECIES_INTERIOR, dtype=np.int8)
        species[self.input_pairs[:, 0]] = SPECIES_INPUT_PLUS
        species[self.input_pairs[:, 1]] = SPECIES_INPUT_MINUS
        species[self.output_pairs[:, 0]] = SPECIES_OUTPUT_PLUS
        species[self.output_pairs[:, 1]] = SPECIES_OUTPUT_MINUS
        return species

    def node_currents(self, inputs) -> np.ndarray:
        """Node current vector ``I [n]`` from the input-pair currents ``inputs [q]``."""
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.shape != (self.n_inputs,):
            raise ValueError(
                f"inputs must have shape [{self.n_inputs}] (one current per input pair), got {inputs.shape}"
            )
        currents = np.zeros(self.n_nodes)
        currents[self.input_pairs[:, 0]] += inputs
        currents[self.input_pairs[:, 1]] -= inputs
        return currents

    def outputs(self, v) -> np.ndarray:
        """Output drops ``v[o+] - v[o-]`` ``[p]`` (or ``[..., p]`` for stacked fields)."""
        v = np.asarray(v)
        return v[..., self.output_pairs[:, 0]] - v[..., self.output_pairs[:, 1]]

    def drops(self, field) -> np.ndarray:
        """Drop of a node field across every pipe, ``field[a] - field[b]`` ``[m]``."""
        field = np.asarray(field)
        return field[..., self.edges[:, 0]] - field[..., self.edges[:, 1]]

    def laplacian(self, conductance=None) -> scipy.sparse.csr_matrix:
        """Weighted graph Laplacian ``L(w)`` as a sparse ``[n, n]`` matrix."""
        w = self.conductance if conductance is None else np.asarray(conductance, dtype=np.float64)
        a, b = self.edges[:, 0], self.edges[:, 1]
        n = self.n_nodes
        rows = np.concatenate([a, b, a, b])
        cols = np.concatenate([b, a, a, b])
        vals = np.concatenate([-w, -w, w, w])
        import scipy.sparse as sp

        return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))

    def weighted_degree(self) -> np.ndarray:
        """Sum of conductances at each node ``[n]`` (the Laplacian's diagonal)."""
        return np.bincount(self.edges.ravel(), weights=np.repeat(self.conductance, 2), minlength=self.n_nodes)

    # ------------------------------------------------------------------ networkx
    @classmethod
    def from_networkx(
        cls, graph, input_pairs=None, output_pairs=None, *, conductance="conductance", pos="pos"
    ) -> "Network":
        """Build a network from a networkx graph.

        Nodes are numbered in ``graph.nodes`` order; ``input_pairs`` and ``output_pairs`` are
        given in the graph's own node labels (default: ``graph.graph["input_pairs"]`` and
        ``["output_pairs"]``, as written by :meth:`to_networkx`). Every edge needs the
        ``conductance`` attribute; node positions come from the ``pos`` attribute, or from a
        seeded spring layout when no node has one.
        """
        import networkx as nx

        if graph.is_directed() or graph.is_multigraph():
            raise ValueError("from_networkx needs an undirected simple graph (nx.Graph)")
        labels = list(graph.nodes)
        index = {label: i for i, label in enumerate(labels)}
        edges, weights = [], []
        for a, b, data in graph.edges(data=True):
            if conductance not in data:
                raise ValueError(f"edge ({a!r}, {b!r}) has no {conductance!r} attribute")
            edges.append((index[a], index[b]))
            weights.append(data[conductance])
        has_pos = [pos in graph.nodes[label] for label in labels]
        if all(has_pos):
            positions = np.array([graph.nodes[label][pos] for label in labels], dtype=np.float64)
        elif not any(has_pos):
            layout = nx.spring_layout(graph, seed=0)
            positions = np.array([layout[label] for label in labels], dtype=np.float64)
        else:
            missing = labels[has_pos.index(False)]
            raise ValueError(f"node {missing!r} has no {pos!r} attribute while others do")

        def relabel(name, pairs):
            if pairs is None:
                pairs = graph.graph.get(name, [])
            try:
                return np.array([(index[p], index[m]) for p, m in pairs], dtype=np.int64).reshape(-1, 2)
            except KeyError as err:
                raise ValueError(f"{name} names node {err.args[0]!r}, which is not in the graph") from None

        return cls(
            positions=positions,
            edges=np.array(edges, dtype=np.int64).reshape(-1, 2),
            conductance=np.array(weights, dtype=np.float64),
            input_pairs=relabel("input_pairs", input_pairs),
            output_pairs=relabel("output_pairs", output_pairs),
        )

    def renumbered(self, node_order, pipe_order=None, *, lower_first: bool = False) -> "Reordering":
        """The same network with new node ``k`` = old node ``node_order[k]`` and new pipe ``j`` =
        old pipe ``pipe_order[j]`` (default: the pipes keep their order). Each pipe keeps its
        orientation, so flows keep their signs, unless ``lower_first``: then each pipe is stored
        lower node first, and one whose ends swap carries its flow with the opposite sign. Sums
        over pipes run in another order, so results agree with the old numbering's to rounding."""
        n, m = self.n_nodes, self.n_edges
        node_order = np.asarray(node_order, dtype=np.int64)
        pipe_order = np.arange(m) if pipe_order is None else np.asarray(pipe_order, dtype=np.int64)
        for name, order, size in (("node_order", node_order, n), ("pipe_order", pipe_order, m)):
            if order.shape != (size,) or not np.array_equal(np.sort(order), np.arange(size)):
                raise ValueError(f"{name} must be a permutation of 0..{size - 1}")
        new_index = np.empty(n, dtype=np.int64)
        new_index[node_order] = np.arange(n)
        edges = new_index[self.edges[pipe_order]]
        network = Network(
            positions=self.positions[node_order],
            edges=np.sort(edges, axis=1) if lower_first else edges,
            conductance=self.conductance[pipe_order],
            input_pairs=new_index[self.input_pairs],
            output_pairs=new_index[self.output_pairs],
        )
        return Reordering(network, node_order, pipe_order)

    def reordered(self) -> "Reordering":
        """The same network with its nodes renumbered in reverse Cuthill-McKee order (the order
        of :meth:`Topology.band_order`), each pipe stored lower node first, and the pipes sorted
        by (lower, upper) node.

        Neighbours then have nearby numbers, which keeps the kernels' node accesses in cache
        and lets :func:`simulator.relax` split the steps over the cores
        (:meth:`Topology.parts`). Worth it for a network built in an arbitrary order (from
        networkx, say); :func:`lattice_network` already numbers its nodes this way. The physics
        is unchanged; sums over pipes run in another order, so results agree to rounding, and
        a pipe whose ends swap carries its flow with the opposite sign.
        """
        new_index, _ = self.topology.band_order(self.n_nodes, grounded=False)
        ends = np.sort(new_index[self.edges], axis=1)
        return self.renumbered(np.argsort(new_index), np.lexsort((ends[:, 1], ends[:, 0])), lower_first=True)

    def to_networkx(self):
        """A ``networkx.Graph`` with node attributes ``pos``, ``species``, edge attribute
        ``conductance`` and graph attributes ``input_pairs``, ``output_pairs``."""
        import networkx as nx

        graph = nx.Graph(
            input_pairs=[tuple(map(int, p)) for p in self.input_pairs],
            output_pairs=[tuple(map(int, p)) for p in self.output_pairs],
        )
        species = self.species()
        for i in range(self.n_nodes):
            graph.add_node(i, pos=tuple(self.positions[i]), species=int(species[i]))
        for (a, b), w in zip(self.edges.tolist(), self.conductance.tolist()):
            graph.add_edge(a, b, conductance=w)
        return graph


class Reordering(NamedTuple):
    """:meth:`Network.reordered`: new node ``k`` is old node ``node_order[k]``, new pipe ``j``
    is old pipe ``pipe_order[j]``. Back to the old numbering: ``x_old[node_order] = x_new``,
    ``w_old[pipe_order] = w_new``."""

    network: Network
    node_order: np.ndarray
    pipe_order: np.ndarray


# ---------------------------------------------------------------------- validation
def _checked_conductance(conductance, m: int) -> np.ndarray:
    w = np.array(conductance, dtype=np.float64)
    if w.shape != (m,):
        raise ValueError(f"conductance must have shape [{m}] (one per edge), got {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        raise ValueError(f"conductance must be finite: edge {bad[0]} has {w[bad[0]]} ({bad.size} such edges)")
    bad = np.flatnonzero(w <= 0)
    if bad.size:
        raise ValueError(f"conductance must be > 0: edge {bad[0]} has {w[bad[0]]} ({bad.size} such edges)")
    return w


def _check_edges(edges: np.ndarray, n: int) -> None:
    out = np.flatnonzero((edges < 0).any(axis=1) | (edges >= n).any(axis=1))
    if out.size:
        raise ValueError(f"edge {out[0]} {tuple(edges[out[0]].tolist())} refers to a node outside 0..{n - 1}")
    loops = np.flatnonzero(edges[:, 0] == edges[:, 1])
    if loops.size:
        raise ValueError(f"edge {loops[0]} is a self-loop at node {edges[loops[0], 0]}")
    keys = _pair_keys(edges, n)
    order = np.argsort(keys, kind="stable")
    repeated = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if repeated.size:
        a, b = sorted(edges[order[repeated[0]]].tolist())
        raise ValueError(f"duplicate edge between nodes {a} and {b} (pipes are undirected; list each once)")


def _pair_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    """One integer per unordered node pair, for vectorised membership tests."""
    low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    return low * n + high


def _check_pairs(input_pairs: np.ndarray, output_pairs: np.ndarray, n: int) -> None:
    seen: dict[int, str] = {}
    for kind, pairs in (("input", input_pairs), ("output", output_pairs)):
        for j, (plus, minus) in enumerate(pairs.tolist()):
            for node, sign in ((plus, "+"), (minus, "-")):
                if not 0 <= node < n:
                    raise ValueError(f"{kind} pair {j} refers to node {node}, outside 0..{n - 1}")
                label = f"{kind} pair {j} ({sign})"
                if node in seen:
                    raise ValueError(
                        f"node {node} is used twice: by {seen[node]} and by {label}; terminals must be distinct"
                    )
                seen[node] = label


def _components(edges: np.ndarray, n: int) -> tuple[int, np.ndarray]:
    """``(count, label [n])``: the connected components of the pipes' graph."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    graph = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)


def _check_connected(edges: np.ndarray, n: int) -> None:
    n_components, labels = _components(edges, n)
    if n_components > 1:
        sizes = np.bincount(labels)
        raise ValueError(
            f"the network is disconnected: {n_components} components "
            f"(sizes {sorted(sizes.tolist(), reverse=True)[:5]}); the steady state is not unique"
        )


def _warn_outputs_not_pipes(edges: np.ndarray, output_pairs: np.ndarray) -> None:
    if len(output_pairs) == 0:
        return
    n = int(max(edges.max(), output_pairs.max())) + 1
    pipe_keys = np.sort(_pair_keys(edges, n))
    output_keys = _pair_keys(output_pairs, n)
    is_pipe = pipe_keys[np.minimum(np.searchsorted(pipe_keys, output_keys), len(pipe_keys) - 1)] == output_keys
    for j in np.flatnonzero(~is_pipe):
        warnings.warn(
            f"output pair {j} {tuple(output_pairs[j].tolist())} is not a pipe; the paper uses neighbouring nodes "
            "(training is less smooth otherwise)",
            NetworkWarning,
            stacklevel=4,
        )


# ---------------------------------------------------------------------- the paper's builder
def lattice_network(
    side: int = 12,
    d: int = 4,
    delta: float = 0.25,
    seed: int = 0,
    *,
    n_inputs: int = 4,
    n_outputs: int = 3,
    conductance_mean: float = 0.1,
    conductance_sd: float = 0.01,
    conductance_range: tuple[float, float] = (0.01, 0.19),
    adjacent_outputs: bool = True,
    max_attempts: int = 100,
) -> Network:
    """The paper's network: a perturbed square lattice linked to ``d`` nearest neighbours.

    1. ``side x side`` square lattice with unit spacing;
    2. each node moved by ``delta`` (lattice units) in a uniformly random direction;
    3. each node linked to its ``d`` nearest neighbours (union of the k-NN relation, undirected);
    4. conductances from a normal(``conductance_mean``, ``conductance_sd``) truncated to
       ``conductance_range``;
    5. ``n_inputs`` pairs of distinct random nodes, ``n_outputs`` pairs of neighbouring nodes
       (pipes; with ``adjacent_outputs=False``, pairs of random nodes that no pipe joins), all
       terminals distinct, each pair's orientation random.

    Redrawn (from the same random stream) until the graph is connected. The same arguments
    give bit-identical arrays.
    """
    if int(side) != side or side < 2:
        raise ValueError(f"side must be an integer >= 2, got {side!r}")
    if int(d) != d or not 1 <= d < side * side:
        raise ValueError(f"d must be an integer in 1..{side * side - 1}, got {d!r}")
    if not (np.isfinite(delta) and 0 <= delta <= MAX_DELTA):
        raise ValueError(f"delta must be in [0, {MAX_DELTA:g}] (lattice spacings), got {delta!r}")
    low, high = conductance_range
    if not (0 < low < high and low <= conductance_mean <= high and conductance_sd > 0):
        raise ValueError(
            f"need 0 < low <= conductance_mean <= high and conductance_sd > 0, got range {conductance_range}, "
            f"mean {conductance_mean}, sd {conductance_sd}"
        )
    side, d = int(side), int(d)
    n = side * side
    check_memory(f"a {side}x{side} lattice with d = {d}", n * (_BUILD_BYTES_PER_NODE + _BUILD_BYTES_PER_LINK * d),
                 "choose a smaller network.side")  # fmt: skip
    if 2 * n_inputs + 2 * n_outputs > n:
        raise ValueError(
            f"{n_inputs} input and {n_outputs} output pairs need {2 * (n_inputs + n_outputs)} distinct nodes; "
            f"the lattice has {n}"
        )
    rng = np.random.default_rng(seed)
    grid = (
        np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), axis=-1)
        .reshape(-1, 2)
        .astype(np.float64)
    )
    for _ in range(max_attempts):
        angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
        positions = grid + delta * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        edges = _knn_edges(positions, d)
        if _components(edges, n)[0] == 1:
            break
    else:
        raise ValueError(f"no connected {side}x{side} lattice with d = {d} in {max_attempts} draws; raise d (the "
                         "paper's is 4)")  # fmt: skip
    conductance = _truncated_normal(rng, conductance_mean, conductance_sd, low, high, len(edges))
    input_pairs, output_pairs = _choose_terminals(rng, n, edges, n_inputs, n_outputs, adjacent_outputs)
    with warnings.catch_warnings():
        if not adjacent_outputs:  # asked for: no warning that the outputs are not pipes
            warnings.simplefilter("ignore", NetworkWarning)
        return Network(positions, edges, conductance, input_pairs, output_pairs)


#: The largest node displacement ``lattice_network`` takes, in lattice spacings: far beyond the
#: lattice's own width, and small enough that no distance between nodes overflows or loses the
#: lattice to round-off.
MAX_DELTA = 1e6
#: About what building a lattice takes at its peak, per node and per nearest-neighbour link
#: (grids, the displaced positions, the neighbour search and its pairs), checked against the
#: memory available before anything is allocated: measured with tracemalloc at side 200,
#: 344 bytes per node at d = 4 and 920 at d = 12, so 56 + 72 d; rounded up.
_BUILD_BYTES_PER_NODE, _BUILD_BYTES_PER_LINK = 64, 80

#: Up to this many nodes the nearest neighbours are found by comparing every pair (numpy, a
#: few ms): scipy.spatial's import alone takes 0.2 s, most of a small run's start-up.
_BRUTE_FORCE_NODES = 1024


def _knn_edges(positions: np.ndarray, d: int) -> np.ndarray:
    neighbours = _nearest_by_every_pair(positions, d) if len(positions) <= _BRUTE_FORCE_NODES else None
    if neighbours is None:
        from scipy.spatial import cKDTree

        _, neighbours = cKDTree(positions).query(positions, k=d + 1)
    rows = np.repeat(np.arange(len(positions)), d)
    cols = neighbours[:, 1:].ravel()  # column 0 is the node itself
    n = len(positions)
    keys = np.sort(_pair_keys(np.stack([rows, cols], axis=1), n))
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # union of the k-NN relation
    return np.stack([keys // n, keys % n], axis=1)


def _nearest_by_every_pair(positions: np.ndarray, d: int) -> np.ndarray | None:
    """``[n, d + 1]``: each node, then its ``d`` nearest (what ``cKDTree.query(k=d + 1)`` gives),
    from the distances of every pair; None when a tie or near-tie (1e-9 relative) decides who
    is the ``d``-th nearest, or two nodes coincide: the k-d tree's own order then decides, so
    the network is the same whichever way it is found (tested on many lattices)."""
    squared = ((positions[:, None, :] - positions[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(squared, -1.0)  # each node first, as the tree lists it
    keep = min(d + 2, len(positions))
    order = np.argpartition(squared, keep - 1, axis=1)[:, :keep]  # the keep nearest, in no order
    order = np.take_along_axis(order, np.argsort(np.take_along_axis(squared, order, axis=1), axis=1), axis=1)
    nearest = np.take_along_axis(squared, order, axis=1)
    inside, outside = nearest[:, d], nearest[:, d + 1] if nearest.shape[1] > d + 1 else np.inf
    if np.any(nearest[:, 1] <= 0.0) or np.any(outside - inside <= 1e-9 * np.abs(outside)):
        return None
    return order[:, : d + 1]


def _truncated_normal(rng, mean, sd, low, high, size) -> np.ndarray:
    out = np.empty(size)
    filled = 0
    while filled < size:  # rejection: exact and seeded, and the cut is ~9 sd away by default
        draw = rng.normal(mean, sd, size=size - filled)
        keep = draw[(draw >= low) & (draw <= high)]
        out[filled : filled + len(keep)] = keep
        filled += len(keep)
    return out


def with_new_terminals(network: Network, rng: np.random.Generator, *, adjacent_outputs: bool = True) -> Network:
    """The same pipes and conductances with input and output pairs drawn afresh from ``rng``,
    as :func:`lattice_network` draws them (as many of each as ``network`` has)."""
    inputs, outputs = _choose_terminals(rng, network.n_nodes, network.edges, network.n_inputs, network.n_outputs,
                                        adjacent_outputs)  # fmt: skip
    return Network(network.positions, network.edges, network.conductance, inputs, outputs)


def _choose_terminals(rng, n, edges, n_inputs, n_outputs, adjacent_outputs=True):
    order = rng.permutation(n)
    input_nodes = order[: 2 * n_inputs]
    if not adjacent_outputs:  # the paper's contrast: outputs across two nodes that no pipe joins
        return input_nodes.reshape(-1, 2), _distant_pairs(rng, order[2 * n_inputs :], edges, n, n_outputs)
    used = np.zeros(n, dtype=bool)
    used[input_nodes] = True
    output_pairs = []
    for e in rng.permutation(len(edges)):
        if len(output_pairs) == n_outputs:
            break
        a, b = edges[e]
        if not (used[a] or used[b]):
            used[a] = used[b] = True
            output_pairs.append((a, b) if rng.random() < 0.5 else (b, a))
    if len(output_pairs) < n_outputs:
        raise ValueError(f"could not place {n_outputs} output pipes with distinct terminals")
    return input_nodes.reshape(-1, 2), np.array(output_pairs, dtype=np.int64).reshape(-1, 2)


def _distant_pairs(rng, free, edges, n, count) -> np.ndarray:
    """``count`` pairs of the nodes ``free`` (in random order) that no pipe joins."""
    linked = set(_pair_keys(edges, n).tolist())
    pairs, left = [], list(rng.permutation(free))
    while len(pairs) < count and len(left) >= 2:
        a = left.pop()
        partner = next((b for b in left if min(a, b) * n + max(a, b) not in linked), None)
        if partner is not None:
            left.remove(partner)
            pairs.append((a, partner))
    if len(pairs) < count:
        raise ValueError(f"could not place {count} output pairs of nodes that no pipe joins")
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)
