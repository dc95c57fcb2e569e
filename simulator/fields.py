"""Recorded fields, frame by frame: what animations (:mod:`simulator.animation`) and the
ParaView export (:mod:`simulator.export`) read.

A frame is one sample of a field series:

- node fields, ``particles/nodes/<field>`` on the run's ``field`` clock: ``pressure`` and
  ``concentration`` in time-stepped runs, ``s_plus`` and ``s_minus`` in advection runs;
- the conductances, ``observables/edges/conductance``, recorded each epoch.

A node-field frame is paired with the last conductances recorded at or before it: by time
(time-stepped runs record time on both clocks), or by the presentation it falls in (an
advection run's field step counts transport steps, ``transport_steps`` of them per
presentation). Conductances are recorded once an epoch, so within an epoch the pipes may
have moved on since that record: a frame's flow is the recorded conductances times its own
pressure drops. A run whose clocks cannot be paired has no conductances per frame, and its
pressure frames colour pipes by the pressure drop.

Each frame also has a value per pipe, for colouring pipes:

==============  =========================================  ============
field           pipe value                                 colour range
==============  =========================================  ============
pressure        flow magnitude ``w |v_i - v_j|``           0 .. max
concentration,  drop magnitude ``|c_i - c_j|``             0 .. max
s_plus, s_minus
conductance     change since the first record ``w - w_0``  -max .. max
==============  =========================================  ============
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["NODE_FIELDS", "FIELDS", "CONDUCTANCE", "RecordedField", "Frame", "recorded_field", "available_fields",
           "iter_frames", "colour_ranges"]  # fmt: skip

NODE_FIELDS = ("pressure", "concentration", "s_plus", "s_minus")
FIELDS = (*NODE_FIELDS, "conductance")
CONDUCTANCE = "observables/edges/conductance"


@dataclass(frozen=True)
class RecordedField:
    """Where the frames of one field are in a run file.

    field : one of :data:`FIELDS`;  path : its series (``particles/nodes/pressure``, ...)
    steps : [k] int64, the series' steps (its clock's unit: explicit or transport steps for node
        fields, presentations for the conductances);  times : [k] float64, or None
    conductance_rows : [k] int64, the row of the conductance series paired with each frame
        (the last recorded at or before it), or None when the clocks cannot be paired
    pipe_label : what the pipes' colour shows
    """

    field: str
    path: str
    steps: np.ndarray
    times: np.ndarray | None
    conductance_rows: np.ndarray | None
    pipe_label: str

    @property
    def on_nodes(self) -> bool:
        return self.field in NODE_FIELDS

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class Frame:
    """One frame. nodes : [n] the field (None for the conductance field);  pipes : [m] the
    pipe value of the table above;  conductance : [m], or None when not paired."""

    index: int
    step: int
    time: float | None
    nodes: np.ndarray | None
    pipes: np.ndarray
    conductance: np.ndarray | None


def available_fields(run) -> list[str]:
    """The fields of :data:`FIELDS` that ``run`` (a :class:`~simulator.Trajectory`) recorded."""
    recorded = {path for paths in run.clocks().values() for path in paths}
    return [f for f in NODE_FIELDS if f"particles/nodes/{f}" in recorded] + (
        ["conductance"] if CONDUCTANCE in recorded else []
    )


def recorded_field(run, field: str | None = None) -> RecordedField:
    """The frames of ``field`` in ``run``; ``None``: the first node field the run recorded,
    else the conductances. An unknown or unrecorded field is a ``KeyError`` naming those there are."""
    available = available_fields(run)
    if field is None:
        if not available:
            raise KeyError(f"{run.path} records no fields (none of {', '.join(FIELDS)})")
        field = available[0]
    if field not in available:
        there = ", ".join(available) or "none"
        raise KeyError(f"{run.path} has no {field!r} field (it records: {there}; known fields: {', '.join(FIELDS)})")
    if field == "conductance":
        steps, times = run.steps_of(CONDUCTANCE)
        return RecordedField(field, CONDUCTANCE, steps, times, np.arange(len(steps)), "conductance change w - w0")
    path = f"particles/nodes/{field}"
    steps, times = run.steps_of(path)
    rows = _paired_rows(run, steps, times)
    if field == "pressure":
        paired = rows is not None
        label = "flow |w dv| (w: last epoch record)" if paired else "pressure drop |dv| (no conductances paired)"
    else:
        label = f"{field.replace('_', ' ')} drop |d{field[0]}|"
    return RecordedField(field, path, steps, times, rows, label)


def _paired_rows(run, steps: np.ndarray, times: np.ndarray | None) -> np.ndarray | None:
    """The conductance row paired with each node-field frame, or None (see the module's docstring)."""
    if CONDUCTANCE not in {p for paths in run.clocks().values() for p in paths}:
        return None
    w_steps, w_times = run.steps_of(CONDUCTANCE)
    rows = len(w_steps)
    if rows == 0:
        return None
    if times is not None and w_times is not None:
        at = np.searchsorted(w_times, times, side="right") - 1
    else:
        dynamics = run.config.get("dynamics", {})
        if not isinstance(dynamics, dict) or dynamics.get("name") != "advection":
            return None
        per_presentation = dynamics.get("transport_steps") or 1
        at = np.searchsorted(w_steps, steps // int(per_presentation), side="right") - 1
    return np.clip(at, 0, rows - 1).astype(np.int64)


def iter_frames(run, frames: RecordedField) -> Iterator[Frame]:
    """The frames in order, each read as it is asked for (memory stays flat)."""
    edges = run.fixed("connectivity/edges")
    conductances = None if frames.conductance_rows is None else run.iter_rows(CONDUCTANCE, frames.conductance_rows)
    first = next(run.iter_rows(CONDUCTANCE, [0])) if frames.field == "conductance" else None
    values = run.iter_rows(frames.path, range(len(frames)))
    for index, value in enumerate(values):
        w = None if conductances is None else next(conductances)
        if frames.field == "conductance":
            nodes, pipes = None, value - first
        else:
            drop = np.abs(value[edges[:, 0]] - value[edges[:, 1]])
            nodes, pipes = value, drop * w if (frames.field == "pressure" and w is not None) else drop
        time = None if frames.times is None else float(frames.times[index])
        yield Frame(index, int(frames.steps[index]), time, nodes, pipes, w)


def colour_ranges(run, frames: RecordedField) -> tuple[tuple[float, float] | None, tuple[float, float]]:
    """``(node range or None, pipe range)`` over the whole run: one colour scale for every frame.
    Node values span min..max; pipe magnitudes 0..max; conductance changes -max..max."""
    node_lo, node_hi, pipe_hi = np.inf, -np.inf, 0.0
    for frame in iter_frames(run, frames):
        if frame.nodes is not None:
            node_lo, node_hi = min(node_lo, float(frame.nodes.min())), max(node_hi, float(frame.nodes.max()))
        pipe_hi = max(pipe_hi, float(np.abs(frame.pipes).max()))
    nodes = (node_lo, node_hi) if frames.on_nodes and len(frames) else None
    pipes = (-pipe_hi, pipe_hi) if frames.field == "conductance" else (0.0, pipe_hi)
    return nodes, pipes
