"""Quasistatic physics: direct solves of ``L(w) x = s``, the cost and its exact gradient.

``L`` is singular (pure current boundary conditions: adding a constant to ``v`` changes
nothing). We fix the gauge by grounding node 0, which leaves a symmetric positive definite
``[n-1, n-1]`` matrix, and shift every solution to mean zero afterwards. Drops, and hence
outputs, costs and updates, do not depend on the gauge.

One :class:`LaplacianSolver` factorises ``L(w)`` once and serves every right-hand side at
those weights: the pressure solve and the chemical (adjoint) solve of a learning step.
"""

from __future__ import annotations

import hashlib
import threading
import weakref

import numpy as np

from .base import lazy_module
from .costs import Cost, checked_cost, is_squared, negative_gradient
from .network import Network

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = [
    "LaplacianSolver",
    "RefactoringLaplacian",
    "solver_of",
    "DENSE_MAX_NODES",
    "steady_state",
    "cost",
    "cost_gradient",
    "batch_cost_gradient",
    "output_error_currents",
    "feedback_currents",
    "output_pair_currents",
    "finite_difference_gradient",
    "transfer_matrix",
    "PressureBoundary",
    "BOUNDARIES",
    "check_boundary",
]

# Below this many nodes a dense Cholesky of the grounded Laplacian beats SuperLU
# (measured: 86 us vs 102 us at 143 unknowns, 0.90 ms vs 0.35 ms at 400; benchmarks/).
DENSE_MAX_NODES = 200

_threadpools = None


def _single_threaded_blas():
    """Small dense factorisations run several times slower when numpy's and scipy's
    OpenBLAS pools both spin up threads; pin BLAS to one thread for those calls only."""
    global _threadpools
    if _threadpools is None:
        from threadpoolctl import ThreadpoolController

        _threadpools = ThreadpoolController()
    return _threadpools.limit(limits=1, user_api="blas")


class LaplacianSolver:
    """Factorisation of the gauge-fixed Laplacian of ``network`` at its current conductances.

    Parameters
    ----------
    network : Network
    method : {"auto", "dense", "sparse"}
        ``dense``: Cholesky (LAPACK) of the grounded Laplacian; ``sparse``: SuperLU with a
        symmetric (minimum degree on ``A + A^T``) ordering; ``auto`` picks dense below
        ``DENSE_MAX_NODES`` nodes.
    """

    @staticmethod
    def choose_method(n_nodes: int) -> str:
        """The backend ``method="auto"`` picks for a network of ``n_nodes``."""
        return "dense" if n_nodes <= DENSE_MAX_NODES else "sparse"

    def __init__(self, network: Network, method: str = "auto"):
        if method == "auto":
            method = self.choose_method(network.n_nodes)
        if method not in ("dense", "sparse"):
            raise ValueError(f"method must be 'auto', 'dense' or 'sparse', got {method!r}")
        self.method = method
        self.n_nodes = network.n_nodes
        import scipy.linalg  # imported where used, as everywhere here: start-up stays short
        import scipy.sparse.linalg

        if method == "dense":
            with _single_threaded_blas():
                self._factor = scipy.linalg.cho_factor(
                    _dense_laplacian(network)[1:, 1:], lower=True, overwrite_a=True, check_finite=False
                )
        else:
            self._factor = scipy.sparse.linalg.splu(
                network.laplacian().tocsc()[1:, 1:],
                permc_spec="MMD_AT_PLUS_A",
                diag_pivot_thresh=0.0,
                options={"SymmetricMode": True},
            )

    def solve(self, sources) -> np.ndarray:
        """Mean-zero solution ``x`` of ``L x = sources`` for ``sources [n]`` or ``[n, k]``.

        The sources must sum to zero over the nodes (what enters must leave), otherwise no
        steady state exists and a ``ValueError`` says so.
        """
        sources = _checked_sources(sources, self.n_nodes)
        solution = np.zeros_like(sources)
        if self.method == "dense":
            import scipy.linalg

            with _single_threaded_blas():
                solution[1:] = scipy.linalg.cho_solve(self._factor, sources[1:], check_finite=False)
        else:
            solution[1:] = self._factor.solve(np.ascontiguousarray(sources[1:]))
        return solution - solution.mean(axis=0)


class RefactoringLaplacian:
    """The gauge-fixed Laplacian of one topology: analysed once, refactorised per conductances.

    Learning never changes which pipes exist, so the fill-reducing ordering and the symbolic
    factorisation are found once (at construction); :meth:`refactor` then redoes only the
    numeric factorisation for new conductances, and :meth:`solve` serves every right-hand
    side from it (pressure and chemical), with :class:`LaplacianSolver`'s conventions.

    backend : ``"pardiso"`` (Intel MKL PARDISO through pypardiso, the optional extra
        ``pip install ".[pardiso]"``: parallel supernodal Cholesky), ``"ldl"`` (QDLDL: AMD
        ordering, symbolic analysis reused; pip-only, a default dependency), ``"splu"``
        (SuperLU, which cannot reuse its analysis), or ``"auto"``: the first of those
        installed and measured fastest for the network's size.
    """

    BACKENDS = ("pardiso", "ldl", "splu")
    # PARDISO's parallel supernodal factorisation pays off on large networks only: per learning
    # step (2 cores) ldl/pardiso measured 0.57/27 ms at 900 nodes, 5.1/20 ms at 1e4,
    # ~equal at 1e5, 5.1/0.9 s at 1e6 (benchmarks/bench_suite.py)
    PARDISO_MIN_NODES = 100_000

    @classmethod
    def choose_backend(cls, n_nodes: int) -> str:
        """What ``backend="auto"`` takes for a network of ``n_nodes``."""
        installed = cls.available()
        if "pardiso" in installed and n_nodes >= cls.PARDISO_MIN_NODES:
            return "pardiso"
        return next(b for b in installed if b != "pardiso")

    @classmethod
    def available(cls) -> list[str]:
        found = []
        for name, module in (("pardiso", "pypardiso"), ("ldl", "qdldl")):
            try:
                __import__(module)
                found.append(name)
            except ImportError:
                pass
        return [*found, "splu"]

    def __init__(self, network: Network, backend: str = "auto"):
        if backend == "auto":
            backend = self.choose_backend(network.n_nodes)
        if backend not in self.BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {self.BACKENDS}, got {backend!r}")
        if backend not in self.available():
            raise ValueError(f"backend {backend!r} is not installed (pip install '.[pardiso]' for pardiso)")
        self.backend, self.n_nodes = backend, network.n_nodes
        self._slots, self._matrix = _upper_pattern(network.edges, network.n_nodes)
        self._solver = None
        self.refactor(network.conductance)

    def refactor(self, conductance) -> None:
        """Numeric factorisation at ``conductance [m]`` (same pipes as at construction)."""
        w = np.ascontiguousarray(conductance, dtype=np.float64)
        kernels.scatter_laplacian(w, *self._slots, self._matrix.data)
        if self.backend == "pardiso":
            if self._solver is None:
                import pypardiso

                self._solver = pypardiso.PyPardisoSolver(mtype=2)  # real symmetric positive definite
                # MKL's memory is freed with this object, or at exit while the interpreter is whole
                # (a __del__ at shutdown fails on imports pypardiso makes while freeing)
                weakref.finalize(self, self._solver.free_memory, everything=True)
                self._solver.set_phase(11)  # analysis: ordering and symbolic factorisation, once
                self._solver._call_pardiso(self._matrix, np.zeros((self.n_nodes - 1, 1)))
            self._solver.set_phase(22)  # numeric factorisation only
            self._solver._call_pardiso(self._matrix, np.zeros((self.n_nodes - 1, 1)))
        elif self.backend == "ldl":
            if self._solver is None:
                import qdldl

                self._solver = qdldl.Solver(self._matrix)
            else:
                self._solver.update(self._matrix)
        else:
            import scipy.sparse.linalg

            self._solver = scipy.sparse.linalg.splu(
                (self._matrix + scipy.sparse.triu(self._matrix, 1).T).tocsc(),
                permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True},
            )  # fmt: skip

    def solve(self, sources) -> np.ndarray:
        """Mean-zero solution of ``L x = sources`` (``[n]`` or ``[n, k]``), as :meth:`LaplacianSolver.solve`."""
        sources = _checked_sources(sources, self.n_nodes)
        solution = np.zeros_like(sources)
        grounded = np.asfortranarray(sources[1:].reshape(self.n_nodes - 1, -1))
        if self.backend == "pardiso":
            self._solver.set_phase(33)
            x = self._solver._call_pardiso(self._matrix, grounded)
        elif self.backend == "ldl":
            x = np.column_stack([self._solver.solve(np.ascontiguousarray(col)) for col in grounded.T])
        else:
            x = self._solver.solve(np.ascontiguousarray(grounded))
        solution[1:] = x.reshape(sources[1:].shape)
        return solution - solution.mean(axis=0)


def _upper_pattern(edges: np.ndarray, n_nodes: int):
    """The grounded Laplacian's upper triangle as a CSR matrix (which for a symmetric matrix
    is also its lower triangle in CSC, what QDLDL and PARDISO read), and for every pipe the
    data slots it adds to: its two diagonal entries and its off-diagonal (-1: grounded)."""
    a, b = edges[:, 0].astype(np.int64) - 1, edges[:, 1].astype(np.int64) - 1  # grounded node 0 -> -1
    free = (a >= 0) & (b >= 0)
    low, high = np.minimum(a, b)[free], np.maximum(a, b)[free]
    n = n_nodes - 1
    rows = np.concatenate([np.arange(n), low])
    cols = np.concatenate([np.arange(n), high])
    entry = np.arange(len(rows)) + 1.0  # 1-based ids survive the conversion as data
    import scipy.sparse

    matrix = scipy.sparse.coo_matrix((entry, (rows, cols)), shape=(n, n)).tocsr()
    matrix.sort_indices()
    slot_of_entry = np.empty(len(rows), dtype=np.int64)
    slot_of_entry[matrix.data.astype(np.int64) - 1] = np.arange(len(rows))
    diagonal_a = np.where(a >= 0, slot_of_entry[np.maximum(a, 0)], -1)
    diagonal_b = np.where(b >= 0, slot_of_entry[np.maximum(b, 0)], -1)
    off = np.full(len(edges), -1, dtype=np.int64)
    off[free] = slot_of_entry[n + np.arange(free.sum())]
    return (diagonal_a, diagonal_b, off), matrix


def _checked_sources(sources, n_nodes: int) -> np.ndarray:
    sources = np.asarray(sources, dtype=np.float64)
    if sources.shape[0] != n_nodes:
        raise ValueError(f"sources must have {n_nodes} rows (one per node), got shape {sources.shape}")
    imbalance = np.abs(sources.sum(axis=0))
    if np.any(imbalance > 1e-9 * (np.abs(sources).sum(axis=0) + 1e-300)):
        raise ValueError(
            f"node sources must sum to zero (no steady state otherwise); they sum to {sources.sum(axis=0)}"
        )
    return sources


def _dense_laplacian(network: Network) -> np.ndarray:
    """``L(w)`` as a dense array, built directly (pipes are unique, so no summing needed)."""
    a, b = network.edges[:, 0], network.edges[:, 1]
    laplacian = np.zeros((network.n_nodes, network.n_nodes))
    laplacian[a, b] = laplacian[b, a] = -network.conductance
    laplacian[np.diag_indices(network.n_nodes)] = network.weighted_degree()
    return laplacian


def _solver_for(network: Network, solver: LaplacianSolver | None) -> LaplacianSolver:
    return solver_of(network) if solver is None else solver


# One analysed factorisation per topology, shared by every network with those pipes (the copies
# ``with_conductance`` makes, and networks built apart from equal edges) and dropped with the
# last of them: the topology holds it, this table only finds it.
_SHARED_BY_EDGES: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def solver_of(network: Network) -> "FactorisationAt":
    """A factorisation of ``L(w)`` at ``network``'s conductances, for the stateless functions.

    The fill-reducing ordering and the symbolic analysis are found once per topology and kept
    as long as a network with those pipes lives; a new call refactorises only the numbers, and
    only when the conductances differ from the last ones factorised. Networks up to
    ``DENSE_MAX_NODES`` nodes use :class:`LaplacianSolver`'s dense Cholesky (nothing to
    analyse), larger ones :class:`RefactoringLaplacian` (``backend="auto"``, what ``train``
    uses), so a stateless step and a ``train`` step do the same arithmetic. A result does not
    depend on whether the cache was warm: the same bits either way.
    """
    topology = network.topology
    shared = topology.__dict__.get("_shared_factorisation")
    if shared is None:
        key = (network.n_nodes, hashlib.blake2b(topology.edges.tobytes(), digest_size=20).digest())
        with _SHARED_LOCK:
            shared = _SHARED_BY_EDGES.get(key)
            if shared is None:
                shared = _SHARED_BY_EDGES[key] = _SharedFactorisation(network.n_nodes)
        object.__setattr__(topology, "_shared_factorisation", shared)  # a cache, not state
    return FactorisationAt(shared, network)


class _SharedFactorisation:
    """The factorisation of one topology, at whichever conductances it last served."""

    def __init__(self, n_nodes: int):
        self.n_nodes = n_nodes
        self.lock = threading.Lock()  # a refactorisation and the solves that follow it go together
        self.conductance = None  # the conductances factorised (held, so never another array's id)
        self.factor = None

    def solve_at(self, network: Network, sources) -> np.ndarray:
        with self.lock:
            w = network.conductance
            if self.conductance is None or not (w is self.conductance or np.array_equal(w, self.conductance)):
                if LaplacianSolver.choose_method(network.n_nodes) == "dense":  # nothing to analyse
                    self.factor = LaplacianSolver(network, "dense")
                elif self.factor is None:
                    self.factor = RefactoringLaplacian(network)
                else:
                    self.factor.refactor(w)
                self.conductance = w
            return self.factor.solve(sources)


class FactorisationAt:
    """:func:`solver_of`'s answer: solves ``L(w) x = s`` at one network's conductances, as
    :meth:`LaplacianSolver.solve` does, from the factorisation its topology shares."""

    def __init__(self, shared: _SharedFactorisation, network: Network):
        self._shared, self._network = shared, network
        self.n_nodes = network.n_nodes

    def solve(self, sources) -> np.ndarray:
        """Mean-zero solution of ``L x = sources`` (``[n]`` or ``[n, k]``)."""
        return self._shared.solve_at(self._network, sources)


def _checked_targets(network: Network, targets) -> np.ndarray:
    targets = np.asarray(targets, dtype=np.float64)
    if targets.shape != (network.n_outputs,):
        raise ValueError(f"targets must have shape [{network.n_outputs}] (one per output pair), got {targets.shape}")
    if not np.all(np.isfinite(targets)):
        raise ValueError("targets must be finite")
    return targets


def steady_state(network: Network, inputs, *, solver: LaplacianSolver | None = None) -> np.ndarray:
    """Node pressures ``v [n]`` solving ``L v = I`` with ``mean(v) = 0``.

    ``inputs [q]`` are the input-pair currents (in at ``b+``, out at ``b-``).
    """
    return _solver_for(network, solver).solve(network.node_currents(inputs))


def cost(network: Network, inputs, targets, *, solver: LaplacianSolver | None = None, cost="squared") -> float:
    """The cost ``C`` of the outputs at the steady state: by default the squared error
    ``1/2 sum_i (v(o_i+) - v(o_i-) - target_i)^2``; ``cost`` names another
    (:data:`simulator.costs.COSTS`) or is a :class:`Cost` or a callable."""
    return _cost_at_steady_state(network, inputs, targets, solver, checked_cost(cost))


def _cost_at_steady_state(network: Network, inputs, targets, solver, measure: Cost) -> float:
    outputs = network.outputs(steady_state(network, inputs, solver=solver))
    targets = _checked_targets(network, targets)
    if is_squared(measure):
        residual = outputs - targets
        return 0.5 * float(residual @ residual)
    return float(measure.value(outputs, targets))


def output_pair_currents(network: Network, amounts) -> np.ndarray:
    """Node currents ``[n, ...]``: ``amounts [p, ...]`` in at each ``o+``, out at its ``o-``."""
    amounts = np.asarray(amounts, dtype=np.float64)
    currents = np.zeros((network.n_nodes, *amounts.shape[1:]))
    np.add.at(currents, network.output_pairs[:, 0], amounts)
    np.subtract.at(currents, network.output_pairs[:, 1], amounts)
    return currents


def output_error_currents(network: Network, v, targets, eta: float) -> np.ndarray:
    """Feedback currents ``E [n]``: ``eta (target_i - output_i)`` in at ``o_i+``, out at ``o_i-``:
    ``E = -eta dC/dv`` for the squared-error cost (:func:`feedback_currents` for any cost)."""
    return feedback_currents(network, v, targets, eta)


def feedback_currents(network: Network, v, targets, eta: float, cost: Cost | str = "squared") -> np.ndarray:
    """Feedback currents ``E [n] = -eta dC/dv``: ``-eta dC/dy_i`` in at ``o_i+``, out at ``o_i-``,
    for the outputs ``y`` of the pressures ``v`` (``eta (target_i - y_i)`` for the squared error)."""
    targets = _checked_targets(network, targets)
    return output_pair_currents(network, eta * negative_gradient(checked_cost(cost), network.outputs(v), targets))


def cost_gradient(
    network: Network, inputs, targets, *, solver: LaplacianSolver | None = None, cost="squared", pressures=None
) -> np.ndarray:
    """Exact ``dC/dw [m]`` by one adjoint solve with the same factorisation.

    Differentiating ``L v = I``: ``dC/dw_ab = -(a_a - a_b)(v_a - v_b)`` with ``L a = dC/dv``.
    ``cost``: as in :func:`cost`. ``pressures``: the steady state ``v [n]`` for ``inputs``,
    when the caller has already solved it at these conductances (one solve fewer).
    """
    solver = _solver_for(network, solver)
    v = steady_state(network, inputs, solver=solver) if pressures is None else pressures
    adjoint = solver.solve(-feedback_currents(network, v, targets, 1.0, cost))
    return -network.drops(adjoint) * network.drops(v)


def batch_cost_gradient(network: Network, inputs, targets, *, solver: LaplacianSolver | None = None):
    """``(C, dC/dw [m])`` of the mean squared error ``C = 1/(2N) sum_n |R x_n - t_n|^2`` over a
    batch (``inputs [N, q]`` currents, ``targets [N, p]``), by ``q + p`` solves instead of ``N``:
    with ``G = dC/dR = (R X^T - T^T) X / N``, ``dC/dw_e = -sum_ij G_ij (a_i)_e (b_j)_e``, where
    ``b_j`` is the pressure field of unit current at input pair ``j`` and ``a_i`` that at
    output pair ``i`` (``(.)_e``: the drop across pipe ``e``). A reference for full-batch
    optimisers (what the network *can* do), not a learning rule: no pipe sees ``G``."""
    solver = _solver_for(network, solver)
    inputs, targets = np.asarray(inputs, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    from_inputs = solver.solve(np.stack([network.node_currents(e) for e in np.eye(network.n_inputs)], axis=1))
    unit_outputs = np.zeros((network.n_nodes, network.n_outputs))
    unit_outputs[network.output_pairs[:, 0], np.arange(network.n_outputs)] += 1.0
    unit_outputs[network.output_pairs[:, 1], np.arange(network.n_outputs)] -= 1.0
    from_outputs = solver.solve(unit_outputs)
    transfer = network.outputs(from_inputs.T).T
    error = inputs @ transfer.T - targets
    grad_transfer = error.T @ inputs / len(inputs)
    a, b = (field[network.edges[:, 0]] - field[network.edges[:, 1]] for field in (from_outputs, from_inputs))
    return 0.5 * float(np.sum(error**2)) / len(inputs), -np.sum(a * (b @ grad_transfer.T), axis=1)


def finite_difference_gradient(
    network: Network, inputs, targets, *, relative_step: float = 1e-5, cost="squared"
) -> np.ndarray:
    """Central finite differences of :func:`cost` in every conductance (a reference: 2m solves)."""
    measure = checked_cost(cost)
    w = network.conductance
    gradient = np.empty_like(w)
    for e in range(len(w)):
        h = relative_step * w[e]
        plus, minus = w.copy(), w.copy()
        plus[e] += h
        minus[e] -= h
        gradient[e] = (
            _cost_at_steady_state(network.with_conductance(plus), inputs, targets, None, measure)
            - _cost_at_steady_state(network.with_conductance(minus), inputs, targets, None, measure)
        ) / (2 * h)
    return gradient


#: How inputs enter and outputs are read: ``inputs_as`` "currents" (a current pair per input,
#: in at ``b+``, out at ``b-``) or "pressures" (``v(b+)`` held at the input, every ``b-``
#: grounded: Appendix A's setup); ``outputs_as`` "pairs" (the drop ``v(o+) - v(o-)``) or
#: "nodes" (the pressure ``v(o+)``, which needs a ground: pressure inputs only).
BOUNDARIES = {"inputs_as": ("currents", "pressures"), "outputs_as": ("pairs", "nodes")}


def check_boundary(inputs_as: str, outputs_as: str) -> None:
    """Node outputs need a ground, which only pressure inputs give."""
    if outputs_as == "nodes" and inputs_as != "pressures":
        raise ValueError(
            "node outputs need pressure inputs (inputs_as='pressures'): with current inputs no node is grounded"
        )


class PressureBoundary:
    """Inputs as fixed pressures (the appendix's setup): ``v(b+) = p_j``, every ``b-``
    grounded (``v = 0``). Solves the Dirichlet problem on the other nodes at conductances
    ``w``, and the gradient of the cost with those boundary conditions (adjoint zero on the
    fixed nodes).

    v : [n] the pressures;  injected : [n] the current the boundary puts in at each node
    (zero off the boundary; negative where it takes current out: the drains)
    """

    def __init__(self, network: Network, w, pressures):
        self.fixed = np.concatenate([network.input_pairs[:, 0], network.input_pairs[:, 1]])
        values = np.concatenate([pressures, np.zeros(network.n_inputs)])
        self.free = np.setdiff1d(np.arange(network.n_nodes), self.fixed)
        laplacian = network.with_conductance(w).laplacian().tocsr()
        block = laplacian[self.free][:, self.free].tocsc()
        import scipy.sparse.linalg

        self._factor = scipy.sparse.linalg.splu(block)
        self.v = np.zeros(network.n_nodes)
        self.v[self.fixed] = values
        self.v[self.free] = self._factor.solve(-(laplacian[self.free][:, self.fixed] @ values))
        self.injected = laplacian @ self.v

    def outputs(self, network: Network, node_outputs: bool = False) -> np.ndarray:
        """The outputs at these pressures: pair drops, or ``v(o+)`` with ``node_outputs``."""
        return self.v[network.output_pairs[:, 0]] if node_outputs else network.outputs(self.v)

    def gradient(self, network: Network, targets, node_outputs: bool = False, cost="squared") -> np.ndarray:
        """``dC/dw [m]`` with these boundary conditions, of ``C = 1/2 |outputs - targets|^2`` or
        of ``cost``."""
        d_cost = np.zeros(network.n_nodes)
        error = checked_cost(cost).gradient(self.outputs(network, node_outputs), targets)  # dC/d(output)
        np.add.at(d_cost, network.output_pairs[:, 0], error)
        if not node_outputs:  # the output is the drop v(o+) - v(o-), not v(o+)
            np.subtract.at(d_cost, network.output_pairs[:, 1], error)
        adjoint = np.zeros(network.n_nodes)
        adjoint[self.free] = self._factor.solve(d_cost[self.free])
        return -network.drops(adjoint) * network.drops(self.v)


def transfer_matrix(
    network: Network, solver=None, *, inputs_as: str = "currents", outputs_as: str = "pairs"
) -> np.ndarray:
    """The linear response ``R [p, q]``: outputs = ``R @ inputs`` at steady state.

    ``solver``: a factorisation of ``network`` to reuse (current inputs; made here if omitted).
    ``inputs_as``, ``outputs_as``: see :data:`BOUNDARIES`.
    """
    if inputs_as == "pressures":
        unit = np.eye(network.n_inputs)
        node_outputs = outputs_as == "nodes"
        columns = [PressureBoundary(network, network.conductance, e).outputs(network, node_outputs) for e in unit]
        return np.stack(columns, axis=1).reshape(network.n_outputs, network.n_inputs)
    check_boundary(inputs_as, outputs_as)
    solver = solver_of(network) if solver is None else solver
    unit_currents = np.stack([network.node_currents(e) for e in np.eye(network.n_inputs)], axis=1)
    return network.outputs(solver.solve(unit_currents).T).T
