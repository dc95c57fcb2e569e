"""Appendix A's advection mode as an engine method: ``train(..., dynamics=Advection(...))``.

Every presentation runs ``transport_steps`` steps; each step finds the pressures at the
current conductances (solved, relaxed, or with fixed input pressures), releases chemical on
the release cadence, carries it one hop downstream and remodels the pipes it crossed
(:mod:`simulator.advection` holds the physics).
"""

from __future__ import annotations

import numpy as np

from ..advection import AdvectionState, Releases, Transport, stuck_outputs
from ..base import SimulationError, lazy_module
from ..costs import is_squared
from ..quasistatic import LaplacianSolver, PressureBoundary, cost_gradient
from ..transport import external_outflow
from .method import Method
from .quasistatic import banded_fits

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = ["AdvectionMethod"]


def _without_round_off(values: np.ndarray) -> np.ndarray:
    values[np.abs(values) < 1e-12 * np.abs(values).max()] = 0.0  # round-off is not a current
    return values


class _BandedAt:
    """A solver (``solve(sources)``) at the conductances ``w`` by the method's compiled banded
    Cholesky; each solve factorises anew (about 16 us at 144 nodes), so nothing is kept."""

    def __init__(self, method: "AdvectionMethod", w: np.ndarray):
        self.method, self.w = method, w

    def solve(self, sources) -> np.ndarray:
        return self.method._banded(self.w, sources)


class AdvectionMethod(Method):
    name = "advection"

    def __init__(self, setup, state):
        super().__init__(setup, state)
        self.mode = setup.dynamics
        self.node_outputs = self.mode.outputs_as == "nodes"
        self.scratch = Transport.for_network(self.network)
        self.log: list[tuple] = []
        self.band = self._band_scratch(self.network) if not self.mode.pressure_steps else None

    @staticmethod
    def _band_scratch(network):
        """``(position, band, work)`` for the compiled banded pressure solve at every transport
        step, on networks small enough for it (as the quasistatic loop decides); else None."""
        if not banded_fits(network):
            return None
        position, bandwidth = network.topology.band_order(network.n_nodes)
        return position, np.empty((network.n_nodes - 1, bandwidth + 1)), np.empty(network.n_nodes - 1)

    def carried_state(self, state) -> AdvectionState:
        return AdvectionState.empty(self.network) if state is None else state.copy()

    def frame_sizes(self) -> dict[str, int]:
        n, m = self.network.n_nodes, self.network.n_edges
        return {"s_plus": n, "s_minus": n, "conductance": m}

    def releases(self) -> Releases:
        return Releases.from_rows(self.log)

    def present_all(self, inputs, targets, log) -> None:
        """Refuse, before any step, an example whose outputs have no way out for the chemical."""
        solver = None if self.mode.inputs_as == "pressures" else LaplacianSolver(self.network)
        for k, x in enumerate(inputs):
            stuck = self._stuck(self.network, x, solver)
            if stuck:
                raise ValueError(
                    f"output node(s) {stuck} have no downstream path to a drain for example {k} (inputs {x.tolist()}); "
                    "released chemical would never leave"
                )
        super().present_all(inputs, targets, log)

    def _stuck(self, network, inputs, solver=None) -> list[int]:
        """Output terminals with no flow path to a drain, judged on the steady flow."""
        if self.mode.inputs_as == "pressures":
            boundary = PressureBoundary(network, network.conductance, inputs)
            external_out, v = external_outflow(boundary.injected), boundary.v
        else:
            currents = network.node_currents(inputs)
            external_out, v = external_outflow(currents), (solver or LaplacianSolver(network)).solve(currents)
        return stuck_outputs(network, _without_round_off(network.conductance * network.drops(v)), external_out)

    def present(self, k, inputs, targets):
        network, state, mode = self.network, self.state, self.mode
        currents = network.node_currents(inputs) if mode.inputs_as == "currents" else None
        external_out = None if currents is None else external_outflow(currents)
        w, floored, outputs = network.conductance.copy(), 0, None
        step = 0
        while step < mode.transport_steps:
            plain = self._plain_steps_from(step, currents)
            if plain:  # steps that release nothing and snapshot nothing: one compiled call
                w, floored_now = self._plain_steps(w, currents, external_out, plain)
                floored, step = floored + floored_now, step + plain
                if self.frames.due(state.step):
                    self.frames.add(state.step, None, s_plus=state.s_plus, s_minus=state.s_minus, conductance=w)
                continue
            releasing = state.step % mode.release_every == 0
            # a Network at w only for a step that reads one (its copy and checks cost as much as
            # the banded solve); the rest read the pipes, the same in every copy
            whole = step == 0 or releasing or mode.diffusion or self.band is None
            current = network.with_conductance(w) if whole else network
            v, solver, boundary, external_out = self._pressures(current, w, inputs, currents, external_out)
            if step == 0:
                outputs = self._outputs(current, v)
                if k:  # the first was checked before any step; remodelling may cut an output off
                    self._check_drains(k, current, inputs, v if mode.pressure_steps == 0 else None, external_out)
            if releasing:
                self._release(current, v, inputs, targets, w, solver, boundary)
            if mode.diffusion:
                flow = _without_round_off(w * network.drops(v))
                proposed = w + mode.xi * state.transport(current, flow, external_out, self.scratch, mode.diffusion)
                floored += int(np.count_nonzero(proposed < self.setup.w_min))
                w = np.maximum(proposed, self.setup.w_min)
            else:  # the flow, the hop and the remodelling in one compiled call
                w, count = state.transport_and_remodel(network, w, v, external_out, self.scratch, mode.xi,
                                                       self.setup.w_min)  # fmt: skip
                floored += count
            state.step, step = state.step + 1, step + 1
            if self.frames.due(state.step):
                self.frames.add(state.step, None, s_plus=state.s_plus, s_minus=state.s_minus, conductance=w)
        self.network = network.with_conductance(w)
        return outputs, floored, np.nan

    def _plain_steps_from(self, step: int, currents) -> int:
        """How many transport steps from ``step`` of this presentation can run compiled: none
        for its first step (it reads the outputs), a release, a relaxed or diffusing transport,
        fixed input pressures, or a network too large for the banded solve; else up to the next
        release, the next snapshot (included), or the presentation's end."""
        mode, done = self.mode, self.state.step
        if step == 0 or self.band is None or mode.diffusion or mode.pressure_steps or currents is None:
            return 0
        if done % mode.release_every == 0:
            return 0
        to_snapshot = self.frames.every - done % self.frames.every if self.frames.every else mode.transport_steps
        return min(mode.transport_steps - step, mode.release_every - done % mode.release_every, to_snapshot)

    def _plain_steps(self, w, currents, external_out, count: int) -> tuple[np.ndarray, int]:
        """``count`` steps by :func:`simulator.kernels.advection_plain_steps`, the same bits as
        one at a time; returns the conductances after them and how many pipes were floored."""
        state, scratch, (position, band, work) = self.state, self.scratch, self.band
        w = w.copy()  # changed in place below: never an array a Network holds
        v, w_next = np.empty(self.network.n_nodes), np.empty_like(w)
        done, state.drained, floored = kernels.advection_plain_steps(
            self.network.topology.edges, w, position, currents, external_out, self.mode.xi, self.setup.w_min, band,
            work, v, state.s_plus, state.s_minus, scratch.next_plus, scratch.next_minus, scratch.crossed_plus,
            scratch.crossed_minus, scratch.flow, w_next, count, state.drained,
        )  # fmt: skip
        state.step += int(done)
        if done < count:
            raise SimulationError(f"transport step {state.step}: the grounded Laplacian lost positive definiteness")
        return w, int(floored)

    def _outputs(self, network, v) -> np.ndarray:
        return v[network.output_pairs[:, 0]] if self.node_outputs else network.outputs(v)

    def _banded(self, w, sources) -> np.ndarray:
        """The mean-zero solution of ``L(w) x = sources`` by the compiled banded Cholesky."""
        position, band, work = self.band
        x = np.empty(self.network.n_nodes)  # new each time: a step's pressures are kept (its outputs)
        if not kernels.banded_steady_pressure(self.network.topology.edges, w, position, sources, band, work, x):
            raise SimulationError(f"transport step {self.state.step}: the grounded Laplacian lost positive "
                                  "definiteness")  # fmt: skip
        return x

    def _pressures(self, network, w, inputs, currents, external_out):
        """``(v, solver or None, boundary or None, external_out)`` at the conductances ``w``
        (``network``: at ``w`` unless the banded solve is taken, which reads only its pipes).
        A solver is returned when ``v`` is the steady state it solved (not a relaxing transient)."""
        state = self.state
        if currents is None:  # fixed input pressures: the drains are where the boundary takes current out
            boundary = PressureBoundary(network, w, inputs)
            return boundary.v, None, boundary, external_outflow(boundary.injected)
        if not self.mode.pressure_steps:
            if self.band is None:
                solver = LaplacianSolver(network)
                return solver.solve(currents), solver, None, external_out
            solver = _BandedAt(self, w)
            return solver.solve(currents), solver, None, external_out
        if state.v is None:  # the pressure kernel, carried over; the physics, not its limit
            state.v = np.zeros(network.n_nodes)
        edges = network.topology.edges
        gain = 0.9 * 2.0 / kernels.laplacian_bound(edges, w, network.n_nodes)
        kernels.relax(edges, w, state.v, currents, gain, self.mode.pressure_steps, self.scratch.pressure)
        if not np.all(np.isfinite(state.v)):
            raise SimulationError(f"the pressure blew up at transport step {state.step}")
        return state.v - state.v.mean(), None, None, external_out

    def _check_drains(self, k, network, inputs, steady_v, external_out) -> None:
        """Stop when remodelling has left an output with no way out (``steady_v``: the steady
        pressures when this step solved them, else None: solved here, not a relaxing transient)."""
        if steady_v is None:
            stuck = self._stuck(network, inputs)
        else:
            flow = _without_round_off(network.conductance * network.drops(steady_v))
            stuck = stuck_outputs(network, flow, external_out)
        if stuck:
            raise SimulationError(f"presentation {k}: the flow no longer carries chemical from output node(s) {stuck} "
                                  "to a drain")  # fmt: skip

    def _release(self, network, v, inputs, targets, w, solver, boundary) -> None:
        """Release at the outputs, and log the cost and the alignment of the change since the
        last release with the negative gradient there."""
        state, cost = self.state, self.setup.cost
        outputs = self._outputs(network, v)
        error = cost.gradient(outputs, targets)  # dC/dy: output - target for the squared error
        state.release(network, error, self.mode.lam, self.node_outputs)
        if boundary is None:  # v is steady when this step solved it (solver), else solved here
            gradient = cost_gradient(network, inputs, targets, solver=solver or LaplacianSolver(network), cost=cost,
                                     pressures=None if solver is None else v)  # fmt: skip
        else:
            gradient = boundary.gradient(network, targets, self.node_outputs, cost)
        cosine = np.nan
        if state.last_conductance is not None:
            change = w - state.last_conductance
            norm = np.linalg.norm(change) * np.linalg.norm(state.last_gradient)
            cosine = float(-change @ state.last_gradient / norm) if norm > 0 else np.nan
        state.last_conductance, state.last_gradient = w.copy(), gradient
        release_cost = 0.5 * float(error @ error) if is_squared(cost) else float(cost.value(outputs, targets))
        self.log.append((state.step, release_cost, cosine, state.released, state.drained, state.in_network))
