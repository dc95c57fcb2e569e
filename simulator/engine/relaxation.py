"""Relaxation of one field, alone: stability bounds, relaxation times, ``relax`` and ensembles.

The explicit step of ``c dx/dt = s - kappa L(w) x`` is stable while ``dt < 2 c / (kappa
lambda_max)``; :func:`stable_dt` bounds ``lambda_max`` by Gershgorin (``2 max weighted
degree``) and :func:`checked_dt` is the one place a step above the bound is refused.
"""

from __future__ import annotations

import numba
import numpy as np

from ..base import SimulationError, lazy_module
from ..network import Network

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = ["PARALLEL_MIN_NODES", "stable_dt", "checked_dt", "relaxation_time", "relax", "relax_ensemble", "relax_split"]

#: Below this many nodes ``relax`` runs on one core: a step is then shorter than the cores'
#: rendezvous (measured crossover near 1,000 nodes; benchmarks/bench_suite.py).
PARALLEL_MIN_NODES = 2000


def stable_dt(network: Network, c: float = 1.0, kappa: float = 1.0, conductance=None) -> float:
    """Largest stable explicit step for ``c dx/dt = -kappa L x``: ``2 c / (kappa * bound)``,
    with the Gershgorin bound ``2 max_i sum_j w_ij >= lambda_max(L)``."""
    w = network.conductance if conductance is None else conductance
    return 2.0 * c / (kappa * kernels.laplacian_bound(network.topology.edges, w, network.n_nodes))


def relaxation_time(network: Network, c: float = 1.0, kappa: float = 1.0) -> float:
    """Slowest relaxation time ``c / (kappa lambda_2)`` (lambda_2: algebraic connectivity)."""
    import scipy.sparse.linalg

    laplacian = network.laplacian()
    if network.n_nodes <= 2000:
        lambda_2 = np.linalg.eigvalsh(laplacian.toarray())[1]
    else:  # shift-invert around 0 would hit the null space; ask for the two smallest
        # ARPACK starts from a random vector unless given one, and its lambda_2 then differs in
        # the last bits from call to call: a run's T and dt (and a resumed run's) would too
        start = np.random.default_rng(0).standard_normal(network.n_nodes)
        shift = -1e-8 * laplacian.diagonal().max()
        lambda_2 = np.sort(scipy.sparse.linalg.eigsh(laplacian, k=2, sigma=shift, which="LM", v0=start)[0])[1]
    return c / (kappa * lambda_2)


def checked_dt(dt: float, bound: float, detail: str = "") -> float:
    """``dt`` if it is below the explicit stability ``bound``, else the one error that says so."""
    if dt >= bound:
        raise ValueError(
            f"dt={dt:.6g} is above the explicit stability bound {bound:.6g}{detail}; use a smaller dt or leave it "
            "None to choose one"
        )
    return dt


def relax_ensemble(networks, sources, *, n_steps: int, c: float = 1.0, kappa: float = 1.0, x0=None) -> list:
    """Relax many independent networks together: ``n_steps`` explicit steps of
    ``c dx/dt = sources[k] - kappa L_k x`` each, at 0.9 of each network's own stability bound,
    in one compiled call spread over the cores (for sweeps of small networks). Returns the
    fields ``[x_k]``; each equals :func:`relax` on that network alone, step for step.
    """
    networks = list(networks)
    if not networks or len(sources) != len(networks) or (x0 is not None and len(x0) != len(networks)):
        raise ValueError("give one sources array (and one x0, if any) per network, and at least one network")
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    node_offset = np.concatenate([[0], np.cumsum([net.n_nodes for net in networks])]).astype(np.int64)
    edge_offset = np.concatenate([[0], np.cumsum([net.n_edges for net in networks])]).astype(np.int64)
    edges = np.concatenate([net.topology.edges + np.int32(start) for net, start in zip(networks, node_offset)])
    w = np.concatenate([net.conductance for net in networks])
    source = np.concatenate([np.asarray(s, dtype=np.float64) for s in sources]) / kappa
    if source.shape != (node_offset[-1],):
        raise ValueError("each sources array must have one value per node of its network")
    x = np.zeros(node_offset[-1]) if x0 is None else np.concatenate([np.asarray(v, np.float64) for v in x0])
    gain = np.array([0.9 * stable_dt(net, c, kappa) for net in networks]) * kappa / c
    kernels.relax_ensemble(edges, w, x, source, gain, node_offset, edge_offset, int(n_steps), np.empty_like(x))
    return np.split(x, node_offset[1:-1])


def relax_split(network: Network, threads: int | None = None):
    """The split of ``network`` that :func:`relax` (and time-stepped ``train`` with deferred
    weights) steps on ``threads`` cores (default: Numba's thread count), or None when it steps
    on one: fewer than :data:`PARALLEL_MIN_NODES` nodes, one thread, or pipes not stored in
    the order the split needs (:meth:`Topology.parts`). Either way the result is bit-identical."""
    threads = numba.get_num_threads() if threads is None else threads
    if network.n_nodes < PARALLEL_MIN_NODES or threads < 2:
        return None
    return network.topology.parts(network.n_nodes, threads)


def relax(
    network: Network,
    sources,
    *,
    x0=None,
    c: float = 1.0,
    kappa: float = 1.0,
    dt: float | None = None,
    n_steps: int | None = None,
    rtol: float | None = None,
    max_steps: int = 10_000_000,
    check_every: int = 4096,
) -> tuple[np.ndarray, int]:
    """Relax ``c dx/dt = sources - kappa L x`` by explicit steps; return ``(x, steps)``.

    Runs ``n_steps`` steps, or until the residual ``|sources - kappa L x|_inf`` falls below
    ``rtol * |sources|_inf`` (checked every ``check_every`` steps), whichever is given.
    ``dt`` defaults to 0.9 of the stability bound. ``x`` is not shifted: ``sum(x)`` keeps
    its initial value because the sources sum to zero. From :data:`PARALLEL_MIN_NODES` nodes
    on, the steps are split over the cores (:func:`relax_split`), with the same bits.
    """
    if (n_steps is None) == (rtol is None):
        raise ValueError("give exactly one of n_steps and rtol")
    sources = np.ascontiguousarray(sources, dtype=np.float64)
    bound = stable_dt(network, c, kappa)
    dt = 0.9 * bound if dt is None else checked_dt(dt, bound)
    x = np.zeros(network.n_nodes) if x0 is None else np.array(x0, dtype=np.float64)
    if x.shape != (network.n_nodes,) or sources.shape != (network.n_nodes,):
        raise ValueError(f"sources and x0 must have shape [{network.n_nodes}] (one value per node)")
    scratch = np.empty_like(x)
    gain, source = dt * kappa / c, sources / kappa
    laplacian = network.laplacian() if rtol is not None else None
    target = np.inf if n_steps is None else n_steps
    limit = min(max_steps, target)
    parts = relax_split(network)
    done = 0
    while done < limit:
        chunk = int(min(check_every, limit - done))
        if parts is None:
            kernels.relax(network.topology.edges, network.conductance, x, source, gain, chunk, scratch)
        else:
            kernels.relax_parts(network.topology.edges, network.conductance, x, source, gain, chunk, scratch, *parts)
        done += chunk
        if not np.all(np.isfinite(x)):
            raise SimulationError(f"relaxation blew up after {done} steps (dt={dt:.6g})")
        if rtol is not None:
            residual = np.abs(sources - kappa * (laplacian @ x)).max()
            if residual <= rtol * np.abs(sources).max():
                return x, done
    if rtol is not None:
        raise SimulationError(f"relaxation did not reach rtol={rtol:g} in {max_steps} steps")
    return x, done
