"""What ``train`` carries between calls and what it returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..advection import AdvectionState, Releases
from ..network import Network

__all__ = ["FieldState", "FieldFrames", "TrainResult", "FrameRecorder"]


@dataclass
class FieldState:
    """Fields that carry over between presentations (time-stepped dynamics).

    v : [n] node pressure;  u : [n] chemical concentration;  time : elapsed time;
    step : time steps taken (explicit or implicit).
    """

    v: np.ndarray
    u: np.ndarray
    time: float = 0.0
    step: int = 0

    @classmethod
    def at_rest(cls, network: Network) -> "FieldState":
        return cls(v=np.zeros(network.n_nodes), u=np.zeros(network.n_nodes))

    def copy(self) -> "FieldState":
        """A private copy (the engine never changes a caller's state)."""
        return FieldState(np.array(self.v, dtype=np.float64), np.array(self.u, dtype=np.float64), self.time, self.step)


@dataclass(frozen=True)
class FieldFrames:
    """Snapshots of the fields taken while stepping.

    step : [k] time (or transport) steps, counted over the run;  time : [k] elapsed time, or
    None where there is none (advection counts steps only);  fields : ``{name: [k, size]}``,
    each also an attribute: ``pressure``, ``concentration`` (time-stepped) or ``s_plus``,
    ``s_minus``, ``conductance`` (advection), each after the step.
    """

    step: np.ndarray
    time: np.ndarray | None
    fields: dict

    def __getattr__(self, name):
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(f"no field {name!r}; recorded: {sorted(fields)}")


@dataclass(frozen=True)
class TrainResult:
    """What a sequence of presentations produced (the ``OdeResult`` pattern).

    network : the network with its final conductances
    outputs : [B, p] output drops per example (steady outputs before the update in the
        quasistatic dynamics; at the end of the presentation when time-stepped, so with
        physical or live weights after the pipes have learned from it; at the start of the
        presentation in the advection mode)
    costs : [B] the cost of each example's outputs (``train``'s ``cost``; ``1/2 |outputs - targets|^2``
        for the squared error)
    floored : [B] pipe updates caught by the conductance floor per example: one update per
        pipe and presentation (deferred weights), one per pipe and transport step (advection,
        summed over the presentation), or, with physical or live weights, the pipes at the
        floor at the end
    step_growth : [B] the largest change of a pipe in each presentation, in units of the
        largest conductance before it (``engine.method.step_growth``): what a run watches
        for blow-ups
    state : the carried fields after the last presentation (:class:`FieldState`, or
        ``AdvectionState``), None in the quasistatic dynamics
    dt : [B] the time step of each presentation (time-stepped), else None
    fields : snapshots (when ``Save(fields_every=...)`` asked for them), else None
    releases : per release of the advection mode, else None
    status : 0 when every presentation ran; -1 when the physics stopped (``message`` says
        why; the arrays then hold the presentations completed, ``B`` of them, and
        ``network`` the conductances after the last of those)
    """

    network: Network
    outputs: np.ndarray
    costs: np.ndarray
    floored: np.ndarray
    step_growth: np.ndarray | None = None
    state: FieldState | AdvectionState | None = None
    dt: np.ndarray | None = None
    fields: FieldFrames | None = None
    releases: Releases | None = None
    status: int = 0
    message: str = ""

    @property
    def success(self) -> bool:
        return self.status == 0


class FrameRecorder:
    """Keeps snapshots every ``every`` steps (or none when ``every`` is None).

    ``sizes``: each recorded field's name and length (so that no frames still has a shape).
    """

    def __init__(self, every: int | None, sizes: dict[str, int], timed: bool = True):
        self.every, self.sizes, self.timed = every, sizes, timed
        self.steps, self.times, self.values = [], [], {name: [] for name in sizes}

    def chunk(self, step: int, steps: int) -> int:
        """At most ``steps``, ending on the next snapshot (``step``: steps taken so far)."""
        return min(steps, self.every - step % self.every) if self.every else steps

    def due(self, step: int) -> bool:
        return bool(self.every) and step % self.every == 0

    def add(self, step: int, time: float | None, **fields) -> None:
        self.steps.append(step)
        self.times.append(time)
        for name, value in fields.items():
            self.values[name].append(np.copy(value))

    def result(self) -> FieldFrames | None:
        if not self.every:
            return None
        fields = {name: np.array(rows, dtype=np.float64).reshape(-1, size) for (name, size), rows in
                  zip(self.sizes.items(), self.values.values())}  # fmt: skip
        times = np.array(self.times, dtype=np.float64) if self.timed else None
        return FieldFrames(step=np.array(self.steps, dtype=np.int64), time=times, fields=fields)
