"""The driver's base classes (the ``solve_ivp`` pattern): :class:`Method` owns the loop over the
presentations and all its bookkeeping; each method in :data:`simulator.engine.METHODS`
writes only its own presentation.

What the base owns: a private copy of the carried state, the plan of each presentation
(``dt``, step counts, delay steps, the runaway stop), stepping in chunks with the
finiteness check and the snapshots, the conductance floor, the costs, and the result with
its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..base import SimulationError, raise_if_signalled
from ..costs import COSTS, Cost
from ..network import Network
from ..rules import Rule, apply_update
from .relaxation import checked_dt, stable_dt
from .results import FieldState, FrameRecorder, TrainResult
from .specs import Explicit, Implicit, Physics, Save, remodel_rate, whole_steps

__all__ = ["Setup", "Plan", "Method", "TimeSteppedMethod", "coupled_stable_dt", "step_growth"]

@dataclass(frozen=True)
class Setup:
    """One call of ``train``, checked and resolved (every duration in time units)."""

    network: Network
    rule: Rule
    alpha: float
    eta: float
    dynamics: object
    physics: Physics
    integrator: Explicit | Implicit
    weights: object
    w_min: float
    save: Save
    cost: Cost = COSTS["squared"]

    @property
    def live(self) -> bool:
        """The conductances change during the presentation (physical or live weights)."""
        return self.weights.name in ("physical", "live")

    def learn_rate(self, dt: float) -> float:
        """The kernels' ``learn_rate``: the conductance change per step per unit ``u v`` drop
        product (``dt`` times :func:`~simulator.engine.specs.remodel_rate`; the deferred
        device in its own order of operations, as it always was)."""
        if self.weights.name == "deferred":
            return dt * self.alpha / self.dynamics.T
        return dt * remodel_rate(self.weights, self.alpha, self.dynamics.T)

    @property
    def decay_rate(self) -> float:
        """The chemical's decay rate per unit time (time-stepped dynamics; 0: none)."""
        return getattr(self.dynamics, "decay_rate", 0.0)


@dataclass(frozen=True)
class Plan:
    """One presentation: ``n_steps`` steps of ``dt``, the first ``n_delay`` without feedback."""

    dt: float
    n_steps: int
    n_delay: int = 0


class _Log:
    """The per-presentation arrays of one call, filled as presentations complete."""

    def __init__(self, count: int, n_outputs: int):
        self.outputs = np.empty((count, n_outputs))
        self.floored = np.zeros(count, dtype=np.int64)
        self.step_growth = np.zeros(count)
        self.dt = np.empty(count)
        self.done = 0


class Method:
    """The loop over presentations. Subclasses define :meth:`present` (or, to run a whole batch
    in one compiled call, :meth:`present_all`), and :meth:`carried_state` if they carry fields.

    ``timed``: whether presentations have a time step (``TrainResult.dt``).
    """

    name: ClassVar[str] = ""
    timed: ClassVar[bool] = False

    def __init__(self, setup: Setup, state):
        self.setup = setup
        self.network = setup.network
        self.state = self.carried_state(state)
        self.frames = FrameRecorder(setup.save.fields_every, self.frame_sizes(), timed=self.timed)

    def carried_state(self, state):
        """A private copy of the state to start from (None: nothing is carried)."""
        return None

    def frame_sizes(self) -> dict[str, int]:
        return {}

    def run(self, inputs, targets, on_failure: str = "raise") -> TrainResult:
        log = _Log(len(inputs), targets.shape[1])
        status, message = 0, ""
        try:
            self.present_all(inputs, targets, log)
        except SimulationError as error:
            if on_failure == "raise":
                raise
            status, message = -1, str(error)
        done, outputs = log.done, log.outputs[: log.done]
        return TrainResult(
            network=self.network, outputs=outputs, costs=self.setup.cost.value(outputs, targets[:done]),
            floored=log.floored[:done], step_growth=log.step_growth[:done], state=self.state,
            dt=log.dt[:done] if self.timed else None,
            fields=self.frames.result(), releases=self.releases(), status=status, message=message,
        )  # fmt: skip

    def present_all(self, inputs, targets, log: _Log) -> None:
        for k in range(len(inputs)):
            before = self.network.conductance
            log.outputs[k], log.floored[k], log.dt[k] = self.present(k, inputs[k], targets[k])
            log.step_growth[k] = step_growth(before, self.network.conductance)
            log.done = k + 1

    def present(self, k: int, inputs, targets) -> tuple[np.ndarray, int, float]:
        """Present example ``k``; return its outputs, the pipes floored, and its time step (or NaN)."""
        raise NotImplementedError

    def releases(self):
        return None

    def remodel(self, dw) -> int:
        """``w <- max(w + dw, w_min)``; the number of pipes the floor caught."""
        w, floored = apply_update(self.network.conductance, dw, self.setup.w_min)
        self.network = self.network.with_conductance(w)
        return floored


def step_growth(before, after) -> float:
    """The largest change of a pipe in one presentation, in units of the largest conductance
    before it: of order ``lr`` in a healthy run; 10 or more means one step remodelled a pipe
    by an order of magnitude of the network's scale."""
    return float(np.max(np.abs(after - before)) / np.max(before)) if len(before) else 0.0


def coupled_stable_dt(physics: Physics, network: Network, w, decay_rate: float = 0.0) -> float:
    """Stability bound of the pressure and the chemical together, at conductances ``w``: the
    chemical's ``2 / (kappa bound / c_u + r)`` with its decay rate ``r``."""
    chemical = stable_dt(network, physics.c_u, physics.kappa, w)
    if decay_rate:
        chemical = 2.0 / (2.0 / chemical + decay_rate)
    return min(stable_dt(network, physics.c_v, 1.0, w), chemical)


class TimeSteppedMethod(Method):
    """Fields integrated in time: the carried :class:`FieldState`, the plan of each presentation,
    and stepping in chunks (finiteness checked after each, snapshots on their cadence)."""

    timed = True
    stability = "coupled"  # the explicit bound: of both fields ("coupled") or of the pressure alone

    def __init__(self, setup: Setup, state):
        super().__init__(setup, state)
        self.out_plus = self.network.output_pairs[:, 0].astype(np.int32)  # the kernels' index type
        self.out_minus = self.network.output_pairs[:, 1].astype(np.int32)
        self.check_start()

    def carried_state(self, state) -> FieldState:
        if state is None:
            return FieldState.at_rest(self.network)
        state = state.copy()
        if state.v.shape != (self.network.n_nodes,) or state.u.shape != (self.network.n_nodes,):
            raise ValueError(f"state fields must have shape [{self.network.n_nodes}]")
        return state

    def frame_sizes(self) -> dict[str, int]:
        return {"pressure": self.network.n_nodes, "concentration": self.network.n_nodes}

    def bound(self, w) -> float:
        """The explicit stability bound at conductances ``w``: of both fields ("coupled"), or of
        the pressure alone."""
        physics = self.setup.physics
        if self.stability == "coupled":
            return coupled_stable_dt(physics, self.network, w, self.setup.decay_rate)
        return stable_dt(self.network, physics.c_v, 1.0, w)

    def check_start(self) -> None:
        """A fixed explicit ``dt`` above the starting network's bound is bad input, refused with
        the bound before any step (later, growing conductances are the physics: :meth:`plan`)."""
        integrator, physics = self.setup.integrator, self.setup.physics
        if integrator.name == "explicit" and integrator.dt is not None:
            detail = f" (2 c / (kappa * Gershgorin bound), c_v={physics.c_v}, c_u={physics.c_u}, kappa={physics.kappa})"
            checked_dt(integrator.dt, self.bound(self.network.conductance), detail)

    def plan(self, k: int, w, least_steps: int = 1, cap: float = np.inf) -> Plan:
        """The steps of presentation ``k`` at conductances ``w`` (explicit: from the stability
        bound, or ``cap`` if lower, stopping a runaway; implicit: the fixed step)."""
        integrator, schedule = self.setup.integrator, self.setup.dynamics
        dt = integrator.dt
        if integrator.name == "explicit":
            bound = min(self.bound(w), cap)
            self._check_runaway(k, integrator.safety * bound, w)
            if dt is None:
                dt = integrator.safety * bound
            elif dt >= bound:
                raise SimulationError(
                    f"presentation {k}: the conductances grew so that dt={dt:.6g} is above the stability bound "
                    f"{bound:.6g} (largest conductance {np.max(w):.3g}); lower the learning rate or dt"
                )
        dt, n_steps = whole_steps(schedule.T, dt, least_steps)
        return Plan(dt, n_steps, min(n_steps, round(schedule.feedback_delay / dt)))

    def _check_runaway(self, k: int, step: float, w) -> None:
        min_dt = self.setup.integrator.min_dt
        if min_dt is not None and step < min_dt:
            raise SimulationError(
                f"presentation {k}: the stable time step fell to {step:.3g}, below min_dt={min_dt:.3g} (largest "
                f"conductance {np.max(w):.3g}): the conductances are running away; lengthen the presentation "
                "(nearer the quasistatic limit) or lower the learning rate"
            )

    def advance(self, step_chunk, n_steps: int, start_step: int, dt: float, k: int) -> None:
        """Call ``step_chunk(count)`` until ``n_steps`` steps are done: in chunks of at most the
        integrator's ``chunk_steps``, each ending on the next snapshot, each checked."""
        state, done = self.state, 0
        while done < n_steps:
            chunk = self.frames.chunk(state.step, min(self.setup.integrator.chunk_steps, n_steps - done))
            step_chunk(chunk)
            done += chunk
            state.step += chunk
            self.check(k, dt)
            raise_if_signalled()  # a signal whose KeyboardInterrupt Python swallowed
            if self.frames.due(state.step):
                time = state.time + (state.step - start_step) * dt
                self.frames.add(state.step, time, pressure=state.v, concentration=state.u)

    hint: ClassVar[str] = "lower dt"  # what the user can do when the fields blow up

    def finite(self) -> bool:
        return bool(np.all(np.isfinite(self.state.v)) and np.all(np.isfinite(self.state.u)))

    def check(self, k: int, dt: float) -> None:
        """Stop with the reason when a field is no longer finite."""
        if not self.finite():
            raise SimulationError(
                f"the fields blew up during presentation {k} (step {self.state.step}, dt={dt:.6g}); {self.hint}"
            )
