"""Quasistatic physics: direct solves of ``L(w) x = s``, the cost and its exact gradient.

``L`` is singular (pure current boundary conditions: adding a constant to ``v`` changes
nothing). We fix the gauge by grounding node 0, which leaves a symmetric positive definite
``[n-1, n-1]`` matrix, and shift every solution to mean zero afterwards. Drops, and hence
outputs, costs and updates, do not depend on the gauge.

One :class:`LaplacianSolver` factorises ``L(w)`` once and serves every right-hand side at
those weights: the pressure solve and the chemical (adjoint) solve of a learning step.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from threadpoolctl import ThreadpoolController

from .network import Network

__all__ = [
    "LaplacianSolver",
    "DENSE_MAX_NODES",
    "steady_state",
    "cost",
    "cost_gradient",
    "output_error_currents",
    "finite_difference_gradient",
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
        sources = np.asarray(sources, dtype=np.float64)
        if sources.shape[0] != self.n_nodes:
            raise ValueError(f"sources must have {self.n_nodes} rows (one per node), got shape {sources.shape}")
        imbalance = np.abs(sources.sum(axis=0))
        if np.any(imbalance > 1e-9 * (np.abs(sources).sum(axis=0) + 1e-300)):
            raise ValueError(
                f"node sources must sum to zero (no steady state otherwise); they sum to {sources.sum(axis=0)}"
            )
        solution = np.zeros_like(sources)
        if self.method == "dense":
            with _single_threaded_blas():
                solution[1:] = scipy.linalg.cho_solve(self._factor, sources[1:], check_finite=False)
        else:
            solution[1:] = self._factor.solve(np.ascontiguousarray(sources[1:]))
        return solution - solution.mean(axis=0)


def _dense_laplacian(network: Network) -> np.ndarray:
    """``L(w)`` as a dense array, built directly (pipes are unique, so no summing needed)."""
    a, b = network.edges[:, 0], network.edges[:, 1]
    laplacian = np.zeros((network.n_nodes, network.n_nodes))
    laplacian[a, b] = laplacian[b, a] = -network.conductance
    laplacian[np.diag_indices(network.n_nodes)] = network.weighted_degree()
    return laplacian


def _solver_for(network: Network, solver: LaplacianSolver | None) -> LaplacianSolver:
    return LaplacianSolver(network) if solver is None else solver


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


def cost(network: Network, inputs, targets, *, solver: LaplacianSolver | None = None) -> float:
    """``C = 1/2 sum_i (v(o_i+) - v(o_i-) - target_i)^2`` at the steady state."""
    residual = network.outputs(steady_state(network, inputs, solver=solver)) - _checked_targets(network, targets)
    return 0.5 * float(residual @ residual)


def output_error_currents(network: Network, v, targets, eta: float) -> np.ndarray:
    """Feedback currents ``E [n]``: ``eta (target_i - output_i)`` in at ``o_i+``, out at ``o_i-``.

    ``E = -eta dC/dv`` for the squared-error cost.
    """
    error = _checked_targets(network, targets) - network.outputs(v)
    currents = np.zeros(network.n_nodes)
    currents[network.output_pairs[:, 0]] += eta * error
    currents[network.output_pairs[:, 1]] -= eta * error
    return currents


def cost_gradient(network: Network, inputs, targets, *, solver: LaplacianSolver | None = None) -> np.ndarray:
    """Exact ``dC/dw [m]`` by one adjoint solve with the same factorisation.

    Differentiating ``L v = I``: ``dC/dw_ab = -(a_a - a_b)(v_a - v_b)`` with ``L a = dC/dv``.
    """
    solver = _solver_for(network, solver)
    v = steady_state(network, inputs, solver=solver)
    adjoint = solver.solve(-output_error_currents(network, v, targets, eta=1.0))
    return -network.drops(adjoint) * network.drops(v)


def finite_difference_gradient(network: Network, inputs, targets, *, relative_step: float = 1e-5) -> np.ndarray:
    """Central finite differences of :func:`cost` in every conductance (a reference: 2m solves)."""
    w = network.conductance
    gradient = np.empty_like(w)
    for e in range(len(w)):
        h = relative_step * w[e]
        plus, minus = w.copy(), w.copy()
        plus[e] += h
        minus[e] -= h
        gradient[e] = (
            cost(network.with_conductance(plus), inputs, targets)
            - cost(network.with_conductance(minus), inputs, targets)
        ) / (2 * h)
    return gradient
