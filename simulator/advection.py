"""Appendix A: learning by two chemicals carried by the flow (the advection mode).

Each explicit step (pressures at steady state for the current conductances):

1. every ``tau`` steps, starting at the first, each output is compared with its target and
   ``lam * |error|`` of chemical is released: for a pair output whose drop is too high,
   ``s+`` at ``o+`` and ``s-`` at ``o-`` (the reverse when it is too low);
2. all ``s+`` and ``s-`` move one hop downstream, split in proportion to the currents
   leaving each node; the share leaving with the external outflow (the input pairs' ``b-``
   nodes) is drained and counted (:func:`simulator.kernels.advect`);
3. each pipe remodels from what crossed it: ``W <- max(W + xi (S+ - S-), w_min)``.

The mode lowers the cost but is not gradient descent: at every release the run records the
cosine between the conductance change since the previous release and the negative exact
gradient there (``grad_cosine``), the cost, and the released, drained and in-network amounts
(released = in network + drained, to round-off).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels
from .engine import SimulationError
from .network import Network
from .quasistatic import LaplacianSolver, cost_gradient

__all__ = ["Advection", "AdvectionState", "AdvectionResult", "advect_train", "drain_reachable"]


@dataclass(frozen=True)
class Advection:
    """Parameters of the advection mode.

    xi : conductance change per unit of chemical crossing a pipe (>= 0)
    lam : chemical released per unit output error (>= 0), the appendix's lambda
    tau : release delay in steps (an integer >= 1): outputs are checked every ``tau`` steps
    steps : transport steps per presentation (an integer >= 1)
    pressure_steps : how the pressures follow the new conductances after each transport step:
        0 (default) solves them directly (the quasistatic limit); ``k > 0`` advances them by
        ``k`` explicit relaxation steps of the pressure kernel (``c_v = 1``, dt at 0.9 of the
        stability bound), carried over between steps and presentations (current inputs only)
    """

    xi: float = 0.01
    lam: float = 1.0
    tau: int = 10
    steps: int = 100
    pressure_steps: int = 0

    def __post_init__(self):
        for key in ("xi", "lam"):
            value = getattr(self, key)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{key} must be finite and >= 0, got {value!r}")
        for key, low in (("tau", 1), ("steps", 1), ("pressure_steps", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"{key} must be an integer >= {low}, got {value!r}")


@dataclass
class AdvectionState:
    """Chemical carried between presentations: ``s_plus, s_minus [n]``; running totals."""

    s_plus: np.ndarray
    s_minus: np.ndarray
    released: float = 0.0
    drained: float = 0.0
    step: int = 0
    v: np.ndarray | None = None  # pressures, when they relax rather than being solved

    @classmethod
    def empty(cls, network: Network) -> "AdvectionState":
        return cls(np.zeros(network.n_nodes), np.zeros(network.n_nodes))

    @property
    def in_network(self) -> float:
        return float(self.s_plus.sum() + self.s_minus.sum())


@dataclass(frozen=True)
class AdvectionResult:
    """Per presentation (``[B]``): ``outputs`` at its start and pipes ``floored`` during it.
    Per release (``[R]``): ``release_step``, ``cost``, ``grad_cosine`` (NaN at the first
    release of a run), ``released``, ``drained``, ``in_network`` (running totals); the
    trained ``network`` and the final ``state``; and, if asked, snapshots ``frame_step [k]``,
    ``s_plus_frames``, ``s_minus_frames [k, n]`` (after the step) and ``conductance_frames [k, m]``."""

    network: Network
    state: AdvectionState
    release_step: np.ndarray
    cost: np.ndarray
    grad_cosine: np.ndarray
    released: np.ndarray
    drained: np.ndarray
    in_network: np.ndarray
    outputs: np.ndarray | None = None
    floored: np.ndarray | None = None
    frame_step: np.ndarray | None = None
    s_plus_frames: np.ndarray | None = None
    s_minus_frames: np.ndarray | None = None
    conductance_frames: np.ndarray | None = None


def drain_reachable(network: Network, flow, external_out) -> np.ndarray:
    """``[n] bool``: nodes from which following the flow downstream reaches a drain."""
    a, b = network.topology.edges[:, 0], network.topology.edges[:, 1]
    upstream = [[] for _ in range(network.n_nodes)]  # walk the flow backwards from the drains
    for source, target in zip(np.where(flow > 0, a, b)[flow != 0], np.where(flow > 0, b, a)[flow != 0]):
        upstream[target].append(source)
    reached = np.asarray(external_out) > 0
    frontier = list(np.flatnonzero(reached))
    while frontier:
        node = frontier.pop()
        for previous in upstream[node]:
            if not reached[previous]:
                reached[previous] = True
                frontier.append(previous)
    return reached


class _PressureInputs:
    """Inputs as fixed pressures (the appendix's setup): ``v(b+) = p_j``, every ``b-``
    grounded (``v = 0``). Solves the Dirichlet problem on the other nodes, and the gradient
    of the cost with those boundary conditions (adjoint zero on the fixed nodes)."""

    def __init__(self, network: Network, w, pressures):
        import scipy.sparse.linalg

        self.fixed = np.concatenate([network.input_pairs[:, 0], network.input_pairs[:, 1]])
        values = np.concatenate([pressures, np.zeros(network.n_inputs)])
        self.free = np.setdiff1d(np.arange(network.n_nodes), self.fixed)
        laplacian = network.with_conductance(w).laplacian().tocsr()
        block = laplacian[self.free][:, self.free].tocsc()
        self._factor = scipy.sparse.linalg.splu(block)
        self.v = np.zeros(network.n_nodes)
        self.v[self.fixed] = values
        self.v[self.free] = self._factor.solve(-(laplacian[self.free][:, self.fixed] @ values))
        self.injected = laplacian @ self.v  # current the boundary puts in at each node (0 off it)

    def gradient(self, network: Network, targets, node_outputs: bool = False) -> np.ndarray:
        d_cost = np.zeros(network.n_nodes)
        if node_outputs:  # C = 1/2 sum (v(o+) - target)^2
            np.add.at(d_cost, network.output_pairs[:, 0], self.v[network.output_pairs[:, 0]] - targets)
        else:
            error = network.outputs(self.v) - targets
            np.add.at(d_cost, network.output_pairs[:, 0], error)
            np.subtract.at(d_cost, network.output_pairs[:, 1], error)
        adjoint = np.zeros(network.n_nodes)
        adjoint[self.free] = self._factor.solve(d_cost[self.free])
        return -network.drops(adjoint) * network.drops(self.v)


def advect_train(
    network: Network,
    inputs,
    targets,
    *,
    mode: Advection = Advection(),
    inputs_as: str = "currents",
    outputs_as: str = "pairs",
    w_min: float = 1e-6,
    state: AdvectionState | None = None,
    record_every: int | None = None,
) -> AdvectionResult:
    """Present ``inputs [B, q]`` with ``targets [B, p]`` for ``mode.steps`` steps each.

    ``inputs_as="currents"``: current pairs (in at ``b+``, out at ``b-``, the drains);
    ``"pressures"``: fixed pressures at the ``b+`` nodes with every ``b-`` grounded (the
    appendix's setup; drains are the nodes where the boundary takes current out). Pressures
    are solved directly after every remodelling.
    ``outputs_as="pairs"``: the output is the drop ``v(o+) - v(o-)``; ``"nodes"`` (the
    appendix's form, needs pressure inputs so that pressures have a ground): the output is
    the pressure ``v(o+)`` and one chemical is released there, ``s+`` when it is too high,
    ``s-`` when too low (``o-`` plays no part). ``record_every``: keep ``s+``, ``s-`` and the
    conductances after every step whose global index is a multiple of it.
    """
    inputs = np.atleast_2d(np.asarray(inputs, dtype=np.float64))
    targets = np.atleast_2d(np.asarray(targets, dtype=np.float64))
    if inputs.shape[1] != network.n_inputs or targets.shape != (len(inputs), network.n_outputs):
        raise ValueError(f"inputs must be [B, {network.n_inputs}] and targets [B, {network.n_outputs}]")
    if not w_min > 0:
        raise ValueError(f"w_min must be > 0, got {w_min!r}")
    if inputs_as not in ("currents", "pressures"):
        raise ValueError(f"inputs_as must be 'currents' or 'pressures', got {inputs_as!r}")
    if outputs_as not in ("pairs", "nodes"):
        raise ValueError(f"outputs_as must be 'pairs' or 'nodes', got {outputs_as!r}")
    if outputs_as == "nodes" and inputs_as != "pressures":
        raise ValueError(
            "node outputs need pressure inputs (inputs_as='pressures'): with current inputs no node is grounded"
        )
    node_outputs = outputs_as == "nodes"
    if mode.pressure_steps and inputs_as != "currents":
        raise ValueError("relaxing pressures (pressure_steps > 0) is implemented for current inputs only")
    state = AdvectionState.empty(network) if state is None else state
    edges = network.topology.edges
    out_plus, out_minus = network.output_pairs[:, 0], network.output_pairs[:, 1]
    w = network.conductance.copy()
    next_plus, next_minus = np.empty(network.n_nodes), np.empty(network.n_nodes)
    pressure_scratch = np.empty(network.n_nodes)
    crossed_plus, crossed_minus = np.empty(network.n_edges), np.empty(network.n_edges)
    log = {k: [] for k in ("release_step", "cost", "grad_cosine", "released", "drained", "in_network")}
    last_w = last_gradient = None
    frames = ([], [], [], [])
    outputs, floored = np.empty_like(targets), np.zeros(len(inputs), dtype=np.int64)
    for k in range(len(inputs)):
        currents = network.node_currents(inputs[k])
        external_out = np.maximum(-currents, 0.0)
        for step in range(mode.steps):
            current = network.with_conductance(w)
            solver = None  # factorised only where a direct solve is needed
            if inputs_as == "currents":
                if mode.pressure_steps:  # the pressure kernel, carried over; the physics, not its limit
                    if state.v is None:
                        state.v = np.zeros(network.n_nodes)
                    gain = 0.9 * 2.0 / kernels.laplacian_bound(edges, w, network.n_nodes)
                    kernels.relax(edges, w, state.v, currents, gain, mode.pressure_steps, pressure_scratch)
                    if not np.all(np.isfinite(state.v)):
                        raise SimulationError(f"the pressure blew up at transport step {state.step}")
                    v = state.v - state.v.mean()
                else:
                    solver = LaplacianSolver(current)
                    v = solver.solve(currents)
            else:
                boundary = _PressureInputs(network, w, inputs[k])
                v = boundary.v
                external_out = np.maximum(-boundary.injected, 0.0)
                external_out[external_out < 1e-12 * external_out.max()] = 0.0
            flow = w * current.drops(v)
            flow[np.abs(flow) < 1e-12 * np.abs(flow).max()] = 0.0  # round-off is not a current
            if step == 0:
                outputs[k] = v[out_plus] if node_outputs else current.outputs(v)
                steady_flow = flow
                if mode.pressure_steps:  # judge the network by its steady flow, not a transient
                    solver = solver or LaplacianSolver(current)
                    steady_flow = w * current.drops(solver.solve(currents))
                    steady_flow[np.abs(steady_flow) < 1e-12 * np.abs(steady_flow).max()] = 0.0
                reachable = drain_reachable(current, steady_flow, external_out)
                stuck = np.unique(network.output_pairs.ravel()[~reachable[network.output_pairs.ravel()]])
                if len(stuck):
                    raise ValueError(
                        f"output node(s) {stuck.tolist()} have no downstream path to a drain for input {k}; "
                        "released chemical would never leave"
                    )
            if state.step % mode.tau == 0:  # release
                error = (v[out_plus] if node_outputs else current.outputs(v)) - targets[k]
                amount = mode.lam * np.abs(error)
                high = error > 0
                if node_outputs:  # one chemical at the output node
                    np.add.at(state.s_plus, out_plus[high], amount[high])
                    np.add.at(state.s_minus, out_plus[~high], amount[~high])
                    state.released += amount.sum()
                else:
                    np.add.at(state.s_plus, np.where(high, out_plus, out_minus), amount)
                    np.add.at(state.s_minus, np.where(high, out_minus, out_plus), amount)
                    state.released += 2.0 * amount.sum()
                if inputs_as == "currents":
                    solver = solver or LaplacianSolver(current)
                    gradient = cost_gradient(current, inputs[k], targets[k], solver=solver)
                else:
                    gradient = boundary.gradient(current, targets[k], node_outputs)
                cosine = np.nan
                if last_w is not None:
                    change = w - last_w
                    norm = np.linalg.norm(change) * np.linalg.norm(last_gradient)
                    cosine = float(-change @ last_gradient / norm) if norm > 0 else np.nan
                last_w, last_gradient = w.copy(), gradient
                log["release_step"].append(state.step)
                log["cost"].append(0.5 * float(error @ error))
                log["grad_cosine"].append(cosine)
                log["released"].append(state.released)
                log["drained"].append(state.drained)
                log["in_network"].append(state.in_network)
            drained_plus, drained_minus = kernels.advect(
                edges,
                flow,
                external_out,
                state.s_plus,
                state.s_minus,
                next_plus,
                next_minus,
                crossed_plus,
                crossed_minus,
            )
            state.s_plus, next_plus = next_plus, state.s_plus
            state.s_minus, next_minus = next_minus, state.s_minus
            state.drained += drained_plus + drained_minus
            proposed = w + mode.xi * (crossed_plus - crossed_minus)
            floored[k] += int(np.count_nonzero(proposed < w_min))
            w = np.maximum(proposed, w_min)
            state.step += 1
            if record_every and state.step % record_every == 0:
                for frame, value in zip(frames, (state.step, state.s_plus, state.s_minus, w)):
                    frame.append(np.copy(value))
    return AdvectionResult(
        network=network.with_conductance(w),
        state=state,
        outputs=outputs,
        floored=floored,
        **{k: np.array(v, dtype=np.int64 if k == "release_step" else np.float64) for k, v in log.items()},
        **(
            {
                "frame_step": np.array(frames[0], dtype=np.int64),
                "s_plus_frames": np.array(frames[1]).reshape(-1, network.n_nodes),
                "s_minus_frames": np.array(frames[2]).reshape(-1, network.n_nodes),
                "conductance_frames": np.array(frames[3]).reshape(-1, network.n_edges),
            }
            if record_every
            else {}
        ),
    )
