"""Numba kernels: explicit time stepping of pressure and chemical fields on a flow network.

Arrays in, arrays out; no Python objects, no I/O. Every kernel runs many steps per call so
the Python dispatch cost is paid once per call, not once per step.

Adjacency is CSR in gather form (each node sums over its own row), so a node's update
never writes another node's entry and parallel loops over nodes are race-free:

* ``indptr [n+1] int32``, ``neighbors [2m] int32``, ``edge_ids [2m] int32``;
* conductances are gathered as ``w[edge_ids[k]]`` so they can change between (or during)
  calls without rebuilding the adjacency.

The explicit step for ``c dx/dt = s - kappa L(w) x`` is
``x_new[i] = x[i] + (dt / c) * (s[i] + kappa * sum_j w_ij (x[j] - x[i]))``.
It is stable while ``dt * kappa * lambda_max(L) / c < 2``; :func:`laplacian_bound` gives a
Gershgorin bound on ``lambda_max``.
"""

import numpy as np
from numba import njit, prange

__all__ = [
    "laplacian_bound",
    "relax",
    "relax_parallel",
    "edge_update",
    "learn_steps",
]


@njit(cache=True)
def laplacian_bound(indptr, edge_ids, w):
    """Gershgorin bound ``2 * max_i sum_j w_ij`` on the largest Laplacian eigenvalue."""
    largest = 0.0
    for i in range(indptr.shape[0] - 1):
        degree = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            degree += w[edge_ids[k]]
        if degree > largest:
            largest = degree
    return 2.0 * largest


@njit(cache=True)
def _relax_step(indptr, neighbors, edge_ids, w, x, source, gain, out):
    for i in range(x.shape[0]):
        xi = x[i]
        flux = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            flux += w[edge_ids[k]] * (x[neighbors[k]] - xi)
        out[i] = xi + gain * (source[i] + flux)


@njit(cache=True, parallel=True)
def _relax_step_parallel(indptr, neighbors, edge_ids, w, x, source, gain, out):
    for i in prange(x.shape[0]):
        xi = x[i]
        flux = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            flux += w[edge_ids[k]] * (x[neighbors[k]] - xi)
        out[i] = xi + gain * (source[i] + flux)


@njit(cache=True)
def relax(indptr, neighbors, edge_ids, w, x, source, gain, n_steps, scratch):
    """Advance ``x`` in place by ``n_steps`` explicit steps of ``dx = gain * (source - L x)``.

    ``gain = dt * kappa / c`` and ``source`` is already divided by ``kappa`` (so
    ``source = I`` for the pressure with ``kappa = 1``). ``scratch`` is an ``[n]`` buffer.
    Serial: the best choice for small networks, where a parallel region per step costs more
    than the step itself.
    """
    current, spare = x, scratch
    for _ in range(n_steps):
        _relax_step(indptr, neighbors, edge_ids, w, current, source, gain, spare)
        current, spare = spare, current
    if n_steps % 2 == 1:
        x[:] = current


@njit(cache=True)
def relax_parallel(indptr, neighbors, edge_ids, w, x, source, gain, n_steps, scratch):
    """:func:`relax` with the node loop split across threads (for large networks)."""
    current, spare = x, scratch
    for _ in range(n_steps):
        _relax_step_parallel(indptr, neighbors, edge_ids, w, current, source, gain, spare)
        current, spare = spare, current
    if n_steps % 2 == 1:
        x[:] = current


@njit(cache=True)
def edge_update(edges, u, v, alpha, out):
    """The chemical rule on every pipe: ``out[e] = -alpha * (u[a]-u[b]) * (v[a]-v[b])``."""
    for e in range(edges.shape[0]):
        a = edges[e, 0]
        b = edges[e, 1]
        out[e] = -alpha * (u[a] - u[b]) * (v[a] - v[b])


@njit(cache=True)
def learn_steps(
    indptr,
    neighbors,
    edge_ids,
    edges,
    w,
    v,
    u,
    node_current,
    out_plus,
    out_minus,
    targets,
    eta,
    feedback_on,
    gain_v,
    gain_u,
    kappa,
    learn_rate,
    live_weights,
    w_min,
    dw_accumulated,
    n_steps,
    v_scratch,
    u_scratch,
):
    """Advance pressure, chemical and conductance together by ``n_steps`` explicit steps.

    Per step, with the fields at time ``t`` on the right-hand side (explicit Euler):

    * ``v += gain_v * (I - L v)``                        (``gain_v = dt / c_v``)
    * ``u += gain_u * (E - kappa L u)``                  (``gain_u = dt / c_u``)
    * ``E = eta * (target - (v[o+] - v[o-]))`` in at ``o+``, out at ``o-`` (if ``feedback_on``)
    * ``dw = -learn_rate * (u[a]-u[b]) * (v[a]-v[b])``  (``learn_rate = dt * alpha / T``)
      is added to ``dw_accumulated``; with ``live_weights`` it is also applied to ``w`` at
      once (floored at ``w_min``), otherwise ``w`` is left alone and the caller applies the
      sum at the end of the presentation.

    ``v``, ``u``, ``w`` and ``dw_accumulated`` are updated in place.
    """
    n = v.shape[0]
    v_now, v_next = v, v_scratch
    u_now, u_next = u, u_scratch
    for _ in range(n_steps):
        for i in range(n):
            vi = v_now[i]
            ui = u_now[i]
            flux_v = 0.0
            flux_u = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                wk = w[edge_ids[k]]
                j = neighbors[k]
                flux_v += wk * (v_now[j] - vi)
                flux_u += wk * (u_now[j] - ui)
            v_next[i] = vi + gain_v * (node_current[i] + flux_v)
            u_next[i] = ui + gain_u * kappa * flux_u
        if feedback_on:
            for o in range(out_plus.shape[0]):
                p = out_plus[o]
                m = out_minus[o]
                injected = gain_u * eta * (targets[o] - (v_now[p] - v_now[m]))
                u_next[p] += injected
                u_next[m] -= injected
        for e in range(edges.shape[0]):
            a = edges[e, 0]
            b = edges[e, 1]
            step = -learn_rate * (u_now[a] - u_now[b]) * (v_now[a] - v_now[b])
            dw_accumulated[e] += step
            if live_weights:
                w[e] = max(w[e] + step, w_min)
        v_now, v_next = v_next, v_now
        u_now, u_next = u_next, u_now
    if n_steps % 2 == 1:
        v[:] = v_now
        u[:] = u_now
