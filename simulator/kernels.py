"""Numba kernels: explicit time stepping of pressure and chemical fields on a flow network.

Arrays in, arrays out; no Python objects, no I/O. Every kernel runs many steps per call so
the Python dispatch cost is paid once per call, not once per step.

Form: one loop over pipes per step. Each pipe ``e = (a, b)`` computes its drop once and
moves the flux ``gain * w_e * (x_a - x_b)`` from ``a`` to ``b``; the chemical rule uses the
same two drops, so learning costs no extra pass. This serial edge loop measured 2.3x faster
than a node-gather loop over a CSR adjacency (which computes every flux twice and sums it
in a dependent chain). :func:`relax_parts` splits the nodes over the cores, each core
writing only its own nodes in the serial order, so its bits are the serial kernel's
(benchmarks/bench_suite.py measures the kernels against their baselines). Pipes are stored
sorted by their lower node, which keeps the access pattern local.

Node indices read from an array are cast to unsigned (``np.uint32``) before they index, and
loops that start anywhere but 0 count in ``np.uint64``: Numba adds a negative-index
(wraparound) select to every access through a signed index, which made the relaxation loop
1.4x slower.

The explicit step for ``c dx/dt = s - kappa L(w) x`` is
``x_new = x + (dt / c) * (s - kappa L x)``; it is stable while
``dt * kappa * lambda_max(L) / c < 2``; :func:`laplacian_bound` bounds ``lambda_max``.
"""

import numpy as np
from numba import njit, prange

from .base import hold_compiles

__all__ = [
    "laplacian_bound", "relax", "relax_parts", "relax_ensemble", "edge_update", "learn_steps", "learn_steps_parts",
    "nudged_steps", "advect",
    "band_assemble", "band_cholesky", "band_solve", "quasistatic_chemical_steps", "scatter_laplacian",
    "implicit_learn_steps", "shifted_band_factor", "band_solve_pair", "negative_cost_gradient",
    "COST_SQUARED", "COST_HUBER", "COST_SOFTMAX_CROSS_ENTROPY",
]  # fmt: skip


@njit(cache=True)
def laplacian_bound(edges, w, n_nodes):
    """Gershgorin bound ``2 * max_i sum_j w_ij`` on the largest Laplacian eigenvalue."""
    degree = np.zeros(n_nodes)
    for e in range(edges.shape[0]):
        degree[np.uint32(edges[e, 0])] += w[e]
        degree[np.uint32(edges[e, 1])] += w[e]
    return 2.0 * degree.max()


@njit(cache=True, error_model="numpy")
def relax(edges, w, x, source, gain, n_steps, scratch):
    """Advance ``x`` in place by ``n_steps`` explicit steps of ``dx = gain * (source - L x)``.

    For ``c dx/dt = s - kappa L x`` pass ``gain = dt * kappa / c`` and ``source = s / kappa``.
    ``edges [m, 2] int32``, ``w [m]``, ``x, source, scratch [n]``.
    """
    _relax_range(edges, w, x, source, gain, n_steps, scratch, 0, x.shape[0], 0, edges.shape[0])


@njit(cache=True, error_model="numpy", inline="always")
def _relax_range(edges, w, x, source, gain, n_steps, scratch, node_lo, node_hi, edge_lo, edge_hi):
    """``relax`` on the nodes ``[node_lo, node_hi)`` and pipes ``[edge_lo, edge_hi)`` only."""
    # gain * w and gain * source once per call, not once per step (the same roundings)
    node_lo, node_hi, edge_lo, edge_hi = np.uint64(node_lo), np.uint64(node_hi), np.uint64(edge_lo), np.uint64(edge_hi)
    gw = np.empty(edge_hi - edge_lo)
    for e in range(edge_lo, edge_hi):
        gw[e - edge_lo] = gain * w[e]
    gs = np.empty(node_hi - node_lo)
    for i in range(node_lo, node_hi):
        gs[i - node_lo] = gain * source[i]
    now, nxt = x, scratch
    for step in range(n_steps):
        if step % 2 == 0:
            now, nxt = x, scratch
        else:
            now, nxt = scratch, x
        for i in range(node_lo, node_hi):
            nxt[i] = now[i] + gs[i - node_lo]
        for e in range(edge_lo, edge_hi):
            a = np.uint32(edges[e, 0])
            b = np.uint32(edges[e, 1])
            flux = gw[e - edge_lo] * (now[a] - now[b])
            nxt[a] -= flux
            nxt[b] += flux
    if n_steps % 2 == 1:
        for i in range(node_lo, node_hi):
            x[i] = scratch[i]


@njit(cache=True, error_model="numpy", parallel=True)
def relax_ensemble(edges, w, x, source, gain, node_offset, edge_offset, n_steps, scratch):
    """``relax`` on ``B`` independent networks stored one after another (a disjoint union):
    network ``k`` owns nodes ``node_offset[k]:node_offset[k+1]`` and pipes
    ``edge_offset[k]:edge_offset[k+1]`` (global node indices) and steps with ``gain[k]``.
    Networks are spread over the cores; each one's arithmetic is that of ``relax``."""
    for k in prange(gain.shape[0]):
        _relax_range(edges, w, x, source, gain[k], n_steps, scratch, node_offset[k], node_offset[k + 1],
                     edge_offset[k], edge_offset[k + 1])  # fmt: skip


@njit(cache=True, error_model="numpy", parallel=True)
def relax_parts(edges, w, x, source, gain, n_steps, scratch, node_bounds, edge_bounds, leave_from):
    """``relax`` with the nodes split into parts, one per core, bit-identical to ``relax``.

    Needs the pipes sorted by their lower node, stored lower node first, and every pipe
    reaching at most into the next part. Part ``p`` owns nodes
    ``node_bounds[p]:node_bounds[p+1]`` and the pipes ``edge_bounds[p]:edge_bounds[p+1]``
    whose lower node it owns; from ``leave_from[p]`` on, some of them end in part ``p+1``
    (part ``p+1`` scans those again). Each core writes only its own nodes and adds their
    terms in the serial order: first the pipes arriving from the part below (computed again
    on this side), then its own. The source is added only at the nodes that have one, so a
    step reads two node arrays, not three (``now + (+0.0)`` is ``now`` except for ``-0.0``; a
    source of ``-0.0`` counts as present).
    """
    n = x.shape[0]
    parts = node_bounds.shape[0] - 1
    count = 0
    for i in range(n):
        if source[i] != 0.0 or np.signbit(source[i]):
            count += 1
    fed = np.empty(count, np.int64)  # the nodes with a source, ascending
    fed_gain = np.empty(count)
    count = 0
    for i in range(n):
        if source[i] != 0.0 or np.signbit(source[i]):
            fed[count] = i
            fed_gain[count] = gain * source[i]
            count += 1
    gw = np.empty(edges.shape[0])
    for p in prange(parts):
        for e in range(np.uint64(edge_bounds[p]), np.uint64(edge_bounds[p + 1])):
            gw[e] = gain * w[e]
    for step in range(n_steps):
        if step % 2 == 0:
            now, nxt = x, scratch
        else:
            now, nxt = scratch, x
        for p in prange(parts):
            lo, hi = np.uint32(node_bounds[p]), np.uint32(node_bounds[p + 1])
            for i in range(np.uint64(lo), np.uint64(hi)):
                nxt[i] = now[i] + 0.0
            for k in range(np.searchsorted(fed, lo), np.searchsorted(fed, hi)):
                nxt[fed[k]] = now[fed[k]] + fed_gain[k]
            if p > 0:  # pipes arriving from the part below, in pipe order: only their end here
                for e in range(np.uint64(leave_from[p - 1]), np.uint64(edge_bounds[p])):
                    b = np.uint32(edges[e, 1])
                    if b >= lo:
                        a = np.uint32(edges[e, 0])
                        nxt[b] += gw[e] * (now[a] - now[b])
            for e in range(np.uint64(edge_bounds[p]), np.uint64(edge_bounds[p + 1])):
                a = np.uint32(edges[e, 0])
                b = np.uint32(edges[e, 1])
                flux = gw[e] * (now[a] - now[b])
                nxt[a] -= flux
                if b < hi:  # else the part above adds it
                    nxt[b] += flux
    if n_steps % 2 == 1:
        for i in range(n):
            x[i] = scratch[i]


@njit(cache=True)
def edge_update(edges, u, v, alpha, out):
    """The chemical rule on every pipe: ``out[e] = -alpha * (u[a]-u[b]) * (v[a]-v[b])``."""
    for e in range(edges.shape[0]):
        a = np.uint32(edges[e, 0])
        b = np.uint32(edges[e, 1])
        out[e] = -alpha * (u[a] - u[b]) * (v[a] - v[b])


# The costs the kernels compute themselves (``simulator.costs``), by code.
COST_SQUARED, COST_HUBER, COST_SOFTMAX_CROSS_ENTROPY = 0, 1, 2


@njit(cache=True, error_model="numpy", inline="always")
def negative_cost_gradient(cost_code, parameter, targets, outputs, error):
    """``error[i] := -dC/dy_i`` [p] at the outputs ``y`` [p] against ``targets`` [p], for the
    cost ``cost_code``: ``COST_SQUARED``, ``t - y``; ``COST_HUBER``, ``clip(t - y, -parameter,
    parameter)``; ``COST_SOFTMAX_CROSS_ENTROPY``, ``t - softmax(y) sum(t)``; any other code
    NaN (which stops the run at the next finiteness check). The feedback currents are
    ``eta * error``."""
    p = outputs.shape[0]
    if cost_code == COST_SQUARED:
        for i in range(p):
            error[i] = targets[i] - outputs[i]
    elif cost_code == COST_HUBER:
        for i in range(p):
            error[i] = min(max(targets[i] - outputs[i], -parameter), parameter)
    elif cost_code != COST_SOFTMAX_CROSS_ENTROPY:
        error[:] = np.nan
    else:
        top, total, mass = outputs[0], 0.0, 0.0
        for i in range(p):
            top = max(top, outputs[i])
        for i in range(p):
            total += np.exp(outputs[i] - top)
            mass += targets[i]
        for i in range(p):
            error[i] = targets[i] - np.exp(outputs[i] - top) / total * mass


@njit(cache=True, error_model="numpy", inline="always")
def _pipe_terms(v_now, u_now, a, b, w_e, gain_v, gain_u, kappa, drift, learn_rate):
    """One pipe's share of a learning step: ``(flux_v, flux_u, dw)`` from ``a`` to ``b``. The
    serial and the split kernels both call this, so they do the same arithmetic. The chemical
    flux is diffusive, plus (``drift != 0``) the upwind share of the pipe's flow
    ``w_e (v_a - v_b)`` times the concentration at its upstream end."""
    drop_v = v_now[a] - v_now[b]
    drop_u = u_now[a] - u_now[b]
    flux_u = gain_u * kappa * w_e * drop_u
    if drift != 0.0:  # not even a zero added otherwise: the diffusion mode's bits
        flow = w_e * drop_v
        flux_u += gain_u * drift * flow * (u_now[a] if flow > 0.0 else u_now[b])
    return gain_v * w_e * drop_v, flux_u, -learn_rate * drop_u * drop_v


@njit(cache=True, error_model="numpy")
def learn_steps(
    edges,
    w,
    v,
    u,
    node_current,
    out_plus,
    out_minus,
    targets,
    eta,
    cost_code,
    cost_parameter,
    feedback_on,
    gain_v,
    gain_u,
    u_keep,
    kappa,
    drift,
    outflow,
    learn_rate,
    live_weights,
    w_min,
    dw_accumulated,
    n_steps,
    v_scratch,
    u_scratch,
):
    """Advance pressure, chemical and conductance together by ``n_steps`` explicit steps.

    Per step, with every right-hand side at time ``t`` (explicit Euler):

    * ``v += gain_v * (I - L v)``                        (``gain_v = dt / c_v``)
    * ``u += gain_u * (E - kappa L u - drift (A(q) + D) u) - (1 - u_keep) u``
      (``gain_u = dt / c_u``; ``u_keep = 1 - dt / chemical_lifetime``: the decay, 1 for none,
      which leaves the bits unchanged; ``A(q)``: upwind transport by the pipe flows ``q = w
      (v_a - v_b)`` at time ``t``, ``D = diag(outflow)``: the drains, ``outflow [n] >= 0``;
      :mod:`simulator.transport`. ``drift = 0``: no term at all, the diffusion's bits)
    * ``E = -eta dC/dy`` at the outputs ``y = v[o+] - v[o-]``, in at ``o+``, out at ``o-``
      (if ``feedback_on``; ``cost_code``, ``cost_parameter``: :func:`negative_cost_gradient`);
      for the squared error ``eta * (target - y)``
    * ``dw = -learn_rate * (u[a]-u[b]) * (v[a]-v[b])``  (``learn_rate = dt * gamma``: ``Setup.learn_rate``)
      is added to ``dw_accumulated``; with ``live_weights`` it is also applied to ``w`` at
      once (floored at ``w_min``), otherwise ``w`` is left alone and the caller applies the
      sum at the end of the presentation.

    ``v``, ``u``, ``w`` and ``dw_accumulated`` are updated in place. Returns the chemical
    drained with the fluid over the steps, summed as ``u`` (``c_u`` times it is the mass).
    """
    n = v.shape[0]
    outputs, error = np.empty(out_plus.shape[0]), np.empty(out_plus.shape[0])
    v_now, v_next, u_now, u_next = v, v_scratch, u, u_scratch
    drained = 0.0
    for step in range(n_steps):
        if step % 2 == 0:
            v_now, v_next, u_now, u_next = v, v_scratch, u, u_scratch
        else:
            v_now, v_next, u_now, u_next = v_scratch, v, u_scratch, u
        for i in range(n):
            v_next[i] = v_now[i] + gain_v * node_current[i]
            u_next[i] = u_keep * u_now[i]
        if drift != 0.0:
            for i in range(n):
                leaving = gain_u * drift * outflow[i] * u_now[i]
                u_next[i] -= leaving
                drained += leaving
        if feedback_on and cost_code == COST_SQUARED:  # in one pass (7% of a 144-node step otherwise)
            for o in range(out_plus.shape[0]):
                p = out_plus[o]
                m = out_minus[o]
                injected = gain_u * eta * (targets[o] - (v_now[p] - v_now[m]))
                u_next[p] += injected
                u_next[m] -= injected
        elif feedback_on:
            for o in range(out_plus.shape[0]):
                outputs[o] = v_now[out_plus[o]] - v_now[out_minus[o]]
            negative_cost_gradient(cost_code, cost_parameter, targets, outputs, error)
            for o in range(out_plus.shape[0]):
                injected = gain_u * eta * error[o]
                u_next[out_plus[o]] += injected
                u_next[out_minus[o]] -= injected
        if drift == 0.0:  # a literal zero: the compiler drops the upwind term (a branch per pipe was 6x slower)
            for e in range(edges.shape[0]):
                _pipe_step(e, edges, w, v_now, u_now, v_next, u_next, dw_accumulated, gain_v, gain_u, kappa, 0.0,
                           learn_rate, live_weights, w_min)  # fmt: skip
        else:
            for e in range(edges.shape[0]):
                _pipe_step(e, edges, w, v_now, u_now, v_next, u_next, dw_accumulated, gain_v, gain_u, kappa,
                           drift, learn_rate, live_weights, w_min)  # fmt: skip
    if n_steps % 2 == 1:
        v[:] = v_scratch
        u[:] = u_scratch
    return drained


@njit(cache=True, error_model="numpy", inline="always")
def _pipe_step(e, edges, w, v_now, u_now, v_next, u_next, dw_accumulated, gain_v, gain_u, kappa, drift,
               learn_rate, live_weights, w_min):  # fmt: skip
    """Pipe ``e``'s share of one ``learn_steps`` step, added into the next fields and ``dw``."""
    a = np.uint32(edges[e, 0])
    b = np.uint32(edges[e, 1])
    flux_v, flux_u, change = _pipe_terms(v_now, u_now, a, b, w[e], gain_v, gain_u, kappa, drift, learn_rate)
    v_next[a] -= flux_v
    v_next[b] += flux_v
    u_next[a] -= flux_u
    u_next[b] += flux_u
    dw_accumulated[e] += change
    if live_weights:
        w[e] = max(w[e] + change, w_min)


@njit(cache=True, error_model="numpy", parallel=True)
def learn_steps_parts(
    edges, w, v, u, node_current, out_plus, out_minus, targets, eta, cost_code, cost_parameter, feedback_on, gain_v,
    gain_u, u_keep, kappa, learn_rate, w_min, dw_accumulated, n_steps, v_scratch, u_scratch, node_bounds, edge_bounds,
    leave_from,
):  # fmt: skip
    """``learn_steps`` (deferred weights: ``w`` fixed; no drift) split over the cores as :func:`relax_parts`
    splits ``relax``, bit-identical to it. Each core writes only its own nodes, in the serial
    order (start value, feedback at its output terminals, pipes arriving from the part below,
    its own pipes), and accumulates ``dw`` only on the pipes whose lower node it owns."""
    parts = node_bounds.shape[0] - 1
    outputs, error = np.empty(out_plus.shape[0]), np.empty(out_plus.shape[0])
    for step in range(n_steps):
        if step % 2 == 0:
            v_now, v_next, u_now, u_next = v, v_scratch, u, u_scratch
        else:
            v_now, v_next, u_now, u_next = v_scratch, v, u_scratch, u
        if feedback_on:  # every core reads the same feedback, computed once before they start
            for o in range(out_plus.shape[0]):
                outputs[o] = v_now[out_plus[o]] - v_now[out_minus[o]]
            negative_cost_gradient(cost_code, cost_parameter, targets, outputs, error)
        for p in prange(parts):
            lo, hi = np.uint32(node_bounds[p]), np.uint32(node_bounds[p + 1])
            for i in range(np.uint64(lo), np.uint64(hi)):
                v_next[i] = v_now[i] + gain_v * node_current[i]
                u_next[i] = u_keep * u_now[i]
            if feedback_on:
                for o in range(out_plus.shape[0]):
                    plus, minus = np.uint32(out_plus[o]), np.uint32(out_minus[o])
                    injected = gain_u * eta * error[o]
                    if lo <= plus < hi:
                        u_next[plus] += injected
                    if lo <= minus < hi:
                        u_next[minus] -= injected
            if p > 0:  # pipes arriving from the part below, in pipe order: only their end here
                for e in range(np.uint64(leave_from[p - 1]), np.uint64(edge_bounds[p])):
                    b = np.uint32(edges[e, 1])
                    if b >= lo:
                        a = np.uint32(edges[e, 0])
                        flux_v, flux_u, _ = _pipe_terms(v_now, u_now, a, b, w[e], gain_v, gain_u, kappa, 0.0,
                                                        learn_rate)  # fmt: skip
                        v_next[b] += flux_v
                        u_next[b] += flux_u
            for e in range(np.uint64(edge_bounds[p]), np.uint64(edge_bounds[p + 1])):
                a = np.uint32(edges[e, 0])
                b = np.uint32(edges[e, 1])
                flux_v, flux_u, change = _pipe_terms(v_now, u_now, a, b, w[e], gain_v, gain_u, kappa, 0.0, learn_rate)
                v_next[a] -= flux_v
                u_next[a] -= flux_u
                if b < hi:
                    v_next[b] += flux_v
                    u_next[b] += flux_u
                dw_accumulated[e] += change
    if n_steps % 2 == 1:
        v[:] = v_scratch
        u[:] = u_scratch


@njit(cache=True, error_model="numpy")
def nudged_steps(
    edges, w, v, source, gain, out_plus, out_minus, clamp_on, clamped_drops, free_drops, learn_rate, dw_accumulated,
    n_steps, scratch,
):  # fmt: skip
    """The nudged phase of the two-phase rules (EP, CL): relax ``v`` and integrate the update.

    Per step: ``v += gain * (source - L v)``; if ``clamp_on`` (coupled learning), each output
    pair is then put back on its clamped drop, moving both terminals by equal and opposite
    amounts (so ``sum(v)`` is kept and the clamp acts as a current through the pair);
    ``dw += learn_rate * (free_drops^2 - (v[a]-v[b])^2)`` on every pipe, with
    ``free_drops [m]`` the stored free state (``learn_rate = dt * (alpha / 2) / T_nudged``).
    ``v`` and ``dw_accumulated`` are updated in place; ``w`` is not touched.
    """
    n = v.shape[0]
    now, nxt = v, scratch
    for step in range(n_steps):
        if step % 2 == 0:
            now, nxt = v, scratch
        else:
            now, nxt = scratch, v
        for i in range(n):
            nxt[i] = now[i] + gain * source[i]
        for e in range(edges.shape[0]):
            a = np.uint32(edges[e, 0])
            b = np.uint32(edges[e, 1])
            drop = now[a] - now[b]
            flux = gain * w[e] * drop
            nxt[a] -= flux
            nxt[b] += flux
            dw_accumulated[e] += learn_rate * (free_drops[e] * free_drops[e] - drop * drop)
        if clamp_on:
            for o in range(out_plus.shape[0]):
                p = out_plus[o]
                q = out_minus[o]
                shift = 0.5 * (clamped_drops[o] - (nxt[p] - nxt[q]))
                nxt[p] += shift
                nxt[q] -= shift
    if n_steps % 2 == 1:
        v[:] = scratch


@njit(cache=True)
def advect(edges, flow, external_out, s_plus, s_minus, next_plus, next_minus, crossed_plus, crossed_minus):
    """Move all ``s+`` and ``s-`` one hop downstream; return ``(drained_plus, drained_minus)``.

    ``flow [m]``: current in each pipe, positive from ``edges[e, 0]`` to ``edges[e, 1]``;
    ``external_out [n] >= 0``: current leaving the network at each node (drains). The
    chemical at a node leaves along every outgoing current in proportion to it; the share of
    the external outflow is drained. A node with no outflow keeps its chemical.
    ``crossed_plus/minus [m]`` get the amounts that passed each pipe (``S+``, ``S-``);
    ``next_plus/minus [n]`` the new amounts at the nodes.
    """
    n = s_plus.shape[0]
    outflow = external_out.copy()
    for e in range(edges.shape[0]):
        q = flow[e]
        if q > 0.0:
            outflow[np.uint32(edges[e, 0])] += q
        elif q < 0.0:
            outflow[np.uint32(edges[e, 1])] -= q
    for i in range(n):
        if outflow[i] > 0.0:
            next_plus[i] = 0.0
            next_minus[i] = 0.0
        else:  # stagnant node: nothing leaves
            next_plus[i] = s_plus[i]
            next_minus[i] = s_minus[i]
    for e in range(edges.shape[0]):
        q = flow[e]
        a, b = np.uint32(edges[e, 0]), np.uint32(edges[e, 1])
        if q > 0.0:
            source, target, share = a, b, q / outflow[a]
        elif q < 0.0:
            source, target, share = b, a, -q / outflow[b]
        else:
            crossed_plus[e] = 0.0
            crossed_minus[e] = 0.0
            continue
        crossed_plus[e] = s_plus[source] * share
        crossed_minus[e] = s_minus[source] * share
        next_plus[target] += crossed_plus[e]
        next_minus[target] += crossed_minus[e]
    drained_plus = 0.0
    drained_minus = 0.0
    for i in range(n):
        if external_out[i] > 0.0:
            share = external_out[i] / outflow[i]
            drained_plus += s_plus[i] * share
            drained_minus += s_minus[i] * share
    return drained_plus, drained_minus


@njit(cache=True)
def advect_and_remodel(edges, w, v, external_out, xi, w_min, s_plus, s_minus, next_plus, next_minus, crossed_plus,
                       crossed_minus, flow, w_next):  # fmt: skip
    """One transport step of the advection mode (no diffusion) in one call: the flow
    ``w (v_a - v_b)`` with round-off zeroed (``|q| < 1e-12 max |q|``: not a current), the
    chemical carried by :func:`advect`, and the pipes remodelled,
    ``w_next = max(w + xi (S+ - S-), w_min)``. The same operations in the same order as the
    numpy steps it replaces, so the same bits. Returns ``(drained_plus, drained_minus, floored)``.

    ``v [n]`` the pressures; ``flow [m]`` and ``w_next [m]`` are written; the other arguments
    as in :func:`advect`.
    """
    m = edges.shape[0]
    biggest = 0.0
    for e in range(m):
        q = w[e] * (v[np.uint32(edges[e, 0])] - v[np.uint32(edges[e, 1])])
        flow[e] = q
        biggest = max(biggest, abs(q))
    threshold = 1e-12 * biggest
    for e in range(m):
        if abs(flow[e]) < threshold:
            flow[e] = 0.0
    drained_plus, drained_minus = advect(edges, flow, external_out, s_plus, s_minus, next_plus, next_minus,
                                         crossed_plus, crossed_minus)  # fmt: skip
    floored = 0
    for e in range(m):
        proposed = w[e] + xi * (crossed_plus[e] - crossed_minus[e])
        if proposed < w_min:
            floored += 1
            w_next[e] = w_min
        else:
            w_next[e] = proposed
    return drained_plus, drained_minus, floored


# ---------------------------------------------------------------------- quasistatic, banded
# Small networks: the grounded Laplacian in a bandwidth-reducing order (reverse Cuthill-McKee,
# found once per topology) is a narrow band; its Cholesky factor costs n * bw^2 / 2 flops and
# needs no pivoting (SPD). ``position[node]`` is the node's row in that order, -1 for the
# grounded node; ``band[i, d] = A[i, i + d]`` for d = 0..bw (upper band, row-major).


@njit(cache=True)
def band_assemble(edges, w, position, band):
    """``band`` := the grounded Laplacian of ``w`` in band storage."""
    band[:] = 0.0
    for e in range(edges.shape[0]):
        pa, pb, we = position[edges[e, 0]], position[edges[e, 1]], w[e]
        if pa >= 0:
            band[pa, 0] += we
        if pb >= 0:
            band[pb, 0] += we
        if pa >= 0 and pb >= 0:
            low, high = min(pa, pb), max(pa, pb)
            band[low, high - low] -= we


@njit(cache=True, fastmath=False)
def band_cholesky(band):
    """In place: ``A = R^T R`` with ``R[j, j + d] = band[j, d]`` for ``d >= 1`` and the diagonal
    stored inverted, ``band[j, 0] = 1 / R[j, j]`` (the solves multiply; a division's latency
    would sit on their dependent chain). Returns False if ``A`` is not positive definite (a
    pivot <= 0), else True."""
    n, width = band.shape[0], band.shape[1] - 1
    for j in range(n):
        pivot = band[j, 0]
        if not pivot > 0.0:
            return False
        pivot = np.sqrt(pivot)
        band[j, 0] = pivot
        reach = min(width, n - 1 - j)
        for d in range(1, reach + 1):
            band[j, d] /= pivot
        for a in range(1, reach + 1):  # rank-1 update of the trailing band
            factor = band[j, a]
            if factor != 0.0:
                row = j + a
                for b in range(a, reach + 1):
                    band[row, b - a] -= factor * band[j, b]
        band[j, 0] = 1.0 / pivot
    return True


@njit(cache=True)
def band_solve(band, x):
    """In place: ``x := A^-1 x`` from the factor of :func:`band_cholesky`."""
    n, width = band.shape[0], band.shape[1] - 1
    for j in range(n):  # R^T y = x
        x[j] *= band[j, 0]
        xj = x[j]
        for d in range(1, min(width, n - 1 - j) + 1):
            x[j + d] -= band[j, d] * xj
    for j in range(n - 1, -1, -1):  # R x = y, by columns: independent updates, no dependent sum
        x[j] *= band[j, 0]
        xj = x[j]
        for d in range(1, min(width, j) + 1):
            x[j - d] -= band[j - d, d] * xj


@njit(cache=True)
def band_solve_pair(band, x, y):
    """``band_solve`` of two right-hand sides with one factor, in the same loops (the two
    substitutions' dependent chains then overlap instead of running one after the other)."""
    n, width = band.shape[0], band.shape[1] - 1
    for j in range(n):
        x[j] *= band[j, 0]
        y[j] *= band[j, 0]
        xj, yj = x[j], y[j]
        for d in range(1, min(width, n - 1 - j) + 1):
            x[j + d] -= band[j, d] * xj
            y[j + d] -= band[j, d] * yj
    for j in range(n - 1, -1, -1):
        x[j] *= band[j, 0]
        y[j] *= band[j, 0]
        xj, yj = x[j], y[j]
        for d in range(1, min(width, j) + 1):
            x[j - d] -= band[j - d, d] * xj
            y[j - d] -= band[j - d, d] * yj


@njit(cache=True)
def _grounded_solve(band, position, source, out, work):
    """``out [n]`` := the solution with the grounded node at 0 (gauge fixed by grounding)."""
    for node in range(position.shape[0]):
        if position[node] >= 0:
            work[position[node]] = source[node]
    band_solve(band, work)
    for node in range(position.shape[0]):
        out[node] = work[position[node]] if position[node] >= 0 else 0.0


@njit(cache=True)
def drain_reachable(edges, flow, external_out, reached):
    """``reached [n] bool`` := the nodes from which following the flow downstream reaches a
    drain (``external_out > 0``): a walk up the flow from every drain."""
    n, m = external_out.shape[0], edges.shape[0]
    start = np.zeros(n + 1, dtype=np.int64)  # the pipes' upstream ends, grouped by downstream node
    for e in range(m):
        if flow[e] != 0.0:
            start[(edges[e, 1] if flow[e] > 0.0 else edges[e, 0]) + 1] += 1
    for node in range(n):
        start[node + 1] += start[node]
    upstream, filled = np.empty(start[n], dtype=np.int64), start[:n].copy()
    for e in range(m):
        if flow[e] != 0.0:
            source, target = (edges[e, 0], edges[e, 1]) if flow[e] > 0.0 else (edges[e, 1], edges[e, 0])
            upstream[filled[target]] = source
            filled[target] += 1
    frontier, size = np.empty(n, dtype=np.int64), 0
    for node in range(n):
        reached[node] = external_out[node] > 0.0
        if reached[node]:
            frontier[size] = node
            size += 1
    while size:
        size -= 1
        node = frontier[size]
        for i in range(start[node], start[node + 1]):
            if not reached[upstream[i]]:
                reached[upstream[i]] = True
                frontier[size] = upstream[i]
                size += 1


@njit(cache=True)
def banded_steady_pressure(edges, w, position, currents, band, work, out):
    """``out [n]`` := the mean-zero solution of ``L(w) out = currents`` by the banded Cholesky
    (``band`` ``[n - 1, bw + 1]`` and ``work [n - 1]`` scratch). False if ``L`` lost positive
    definiteness (``out`` then undefined), else True."""
    band_assemble(edges, w, position, band)
    if not band_cholesky(band):
        return False
    _grounded_solve(band, position, currents, out, work)
    out -= out.mean()
    return True


@njit(cache=True)
def advection_plain_steps(edges, w, position, currents, external_out, xi, w_min, band, work, v, s_plus,
                          s_minus, next_plus, next_minus, crossed_plus, crossed_minus, flow, w_next, count,
                          drained):  # fmt: skip
    """``count`` transport steps of the advection mode that release nothing and snapshot
    nothing, in one call: each the steady pressures at the current ``w`` (banded Cholesky,
    :func:`banded_steady_pressure`) and then :func:`advect_and_remodel`. Updates ``w``,
    ``s_plus``, ``s_minus`` and ``v`` (the last step's pressures) in place; ``drained`` is the
    running total, added to step by step as the steps one at a time do (the same bits).

    Returns ``(steps completed, drained, floored)``: fewer steps than ``count`` when a
    factorisation failed (``w`` then holds the conductances before that step).
    """
    floored = 0
    for step in range(count):
        if not banded_steady_pressure(edges, w, position, currents, band, work, v):
            return step, drained, floored
        drained_plus, drained_minus, floored_now = advect_and_remodel(
            edges, w, v, external_out, xi, w_min, s_plus, s_minus, next_plus, next_minus, crossed_plus,
            crossed_minus, flow, w_next,
        )  # fmt: skip
        s_plus[:] = next_plus
        s_minus[:] = next_minus
        w[:] = w_next
        drained += drained_plus + drained_minus
        floored += floored_now
    return count, drained, floored


@njit(cache=True)
def quasistatic_chemical_steps(
    edges, w, position, bandwidth, currents, out_plus, out_minus, targets, alpha, eta, cost_code, cost_parameter, kappa,
    w_min, outputs, floored, growth,
):  # fmt: skip
    """Present ``B`` examples at steady state with the chemical rule, updating ``w`` in place.

    Per example: assemble and factorise the grounded Laplacian once; solve the pressure
    ``L v = currents[k]``; read the outputs ``v(o+) - v(o-)`` into ``outputs[k]``; solve the
    chemical ``kappa L u = E`` with ``E = -eta dC/dy`` (:func:`negative_cost_gradient`; for
    the squared error ``eta (target - output)``) in at ``o+``, out at ``o-``
    from the same factor; then ``w_e := max(w_e - alpha du_e dv_e, w_min)``, counting the
    pipes floored into ``floored[k]`` and the largest ``|dw_e|`` over the largest ``w_e`` before
    the step into ``growth[k]``. Returns the number of presentations completed: all
    ``B`` of them, or fewer if a factorisation failed (``w`` then holds the conductances after
    the last presentation completed).
    """
    n = position.shape[0]
    band = np.empty((n - 1, bandwidth + 1))
    v, u = np.empty(n), np.empty(n)
    source, work, error = np.empty(n), np.empty(n - 1), np.empty(out_plus.shape[0])
    for k in range(currents.shape[0]):
        band_assemble(edges, w, position, band)
        if not band_cholesky(band):
            return k
        _grounded_solve(band, position, currents[k], v, work)
        source[:] = 0.0
        for i in range(out_plus.shape[0]):
            outputs[k, i] = v[out_plus[i]] - v[out_minus[i]]
        negative_cost_gradient(cost_code, cost_parameter, targets[k], outputs[k], error)
        for i in range(out_plus.shape[0]):
            source[out_plus[i]] += eta * error[i]
            source[out_minus[i]] -= eta * error[i]
        _grounded_solve(band, position, source, u, work)
        count, largest, change = 0, 0.0, 0.0
        for e in range(edges.shape[0]):
            a, b = np.uint32(edges[e, 0]), np.uint32(edges[e, 1])
            proposed = w[e] - alpha * ((u[a] - u[b]) / kappa) * (v[a] - v[b])
            if proposed < w_min:
                proposed = w_min
                count += 1
            largest = max(largest, w[e])
            change = max(change, abs(proposed - w[e]))
            w[e] = proposed
        floored[k] = count
        growth[k] = change / largest
    return currents.shape[0]


@njit(cache=True)
def scatter_laplacian(w, diagonal_a, diagonal_b, off, data):
    """``data`` := the grounded Laplacian's stored entries for conductances ``w``: pipe ``e``
    adds ``w[e]`` at its diagonal slots and ``-w[e]`` at its off-diagonal slot (-1: none)."""
    data[:] = 0.0
    for e in range(w.shape[0]):
        if diagonal_a[e] >= 0:
            data[diagonal_a[e]] += w[e]
        if diagonal_b[e] >= 0:
            data[diagonal_b[e]] += w[e]
        if off[e] >= 0:
            data[off[e]] -= w[e]


@njit(cache=True)
def implicit_learn_steps(
    band_edges, w, position, band_v, band_u, v, u, node_current, band_out_plus, band_out_minus, targets, eta,
    cost_code, cost_parameter, feedback_on, v_rate, u_rate, learn_rate, shared, dw_accumulated, n_steps, vb, ub, cb,
    edges, kappa, u_shift, live_weights, w_min,
):  # fmt: skip
    """``learn_steps`` with the diffusion taken implicitly (backward Euler), stable at any step:

    * ``(c_v/dt + L) v_new = (c_v/dt) v + I``                      (``band_v``: its factor)
    * ``(c_u/dt + c_u r + kappa L) u_new = (c_u/dt) u + E(v)``     (``band_u``: its factor;
      ``r`` the chemical's decay rate, ``u_shift = c_u/dt + c_u r``)
    * ``dw += -learn_rate * (u[a]-u[b]) * (v[a]-v[b])`` at the step's start, as ``learn_steps``

    ``v_rate = c_v / dt``, ``u_rate = c_u / dt``; ``shared``: the two matrices are the same
    (``band_u`` is then not read). The fields are stepped in the band order
    (``position[node]``, all nodes, no grounding: the shifted matrices are positive definite);
    ``band_edges`` and ``band_out_plus/minus`` are the pipes and output nodes in that order
    (``edges``: the pipes in node order, to refactorise), ``vb, ub, cb [n]`` scratch. The
    fixed point of a step is the steady state, so the fast modes, which the quasistatic limit
    does not see, are damped instead of resolved. With ``live_weights`` every step's change
    is applied to ``w`` at once (floored at ``w_min``) and both factors are refactorised at
    the new ``w`` before the fields step (the fields feel the remodelling); otherwise ``w``
    stays fixed. ``v``, ``u``, ``dw_accumulated`` (and live, ``w``, the bands) are updated.
    Returns False if a refactorisation lost positive definiteness (the fields are then not
    written back).
    """
    n = v.shape[0]
    outputs, error = np.empty(band_out_plus.shape[0]), np.empty(band_out_plus.shape[0])
    for i in range(n):
        vb[position[i]] = v[i]
        ub[position[i]] = u[i]
        cb[position[i]] = node_current[i]
    for _ in range(n_steps):
        for e in range(band_edges.shape[0]):
            a = np.uint32(band_edges[e, 0])
            b = np.uint32(band_edges[e, 1])
            if live_weights:
                change = -learn_rate * (ub[a] - ub[b]) * (vb[a] - vb[b])
                dw_accumulated[e] += change
                w[e] = max(w[e] + change, w_min)
            else:
                dw_accumulated[e] -= learn_rate * (ub[a] - ub[b]) * (vb[a] - vb[b])
        if live_weights:
            if not shifted_band_factor(edges, w, position, 1.0, v_rate, band_v):
                return False
            if not shared and not shifted_band_factor(edges, w, position, kappa, u_shift, band_u):
                return False
        for i in range(n):
            ub[i] *= u_rate
        if feedback_on:  # from the pressure at the step's start
            for o in range(band_out_plus.shape[0]):
                outputs[o] = vb[band_out_plus[o]] - vb[band_out_minus[o]]
            negative_cost_gradient(cost_code, cost_parameter, targets, outputs, error)
            for o in range(band_out_plus.shape[0]):
                injected = eta * error[o]
                ub[band_out_plus[o]] += injected
                ub[band_out_minus[o]] -= injected
        for i in range(n):
            vb[i] = v_rate * vb[i] + cb[i]
        if shared:  # c_u = c_v and kappa = 1: one matrix for both fields
            band_solve_pair(band_v, vb, ub)
        else:
            band_solve(band_v, vb)
            band_solve(band_u, ub)
    for i in range(n):
        v[i] = vb[position[i]]
        u[i] = ub[position[i]]
    return True


@njit(cache=True)
def shifted_band_factor(edges, w, position, scale, shift, band):
    """``band`` := the Cholesky factor of ``shift * I + scale * L(w)`` over all nodes."""
    band_assemble(edges, w, position, band)
    for i in range(band.shape[0]):
        for d in range(band.shape[1]):
            band[i, d] *= scale
        band[i, 0] += shift
    return band_cholesky(band)


hold_compiles(globals())  # a Ctrl-C while a kernel compiles waits for it (simulator.base.hold_compiles)
