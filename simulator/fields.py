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

from .outputs import OutputError
from .trajectory import NotInFile

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
    epochs : [k] int64, the epoch each frame falls in (0: before training), or None;
        epoch_ends : [k] bool, the frame is at the end of that epoch (where the conductances
        are recorded)
    pipe_label : what the pipes' colour shows

    Every series of a clock is cut to the samples complete on the whole clock (as
    :meth:`~simulator.Trajectory.clock_rows`), so a running or torn file gives aligned frames.
    """

    field: str
    path: str
    steps: np.ndarray
    times: np.ndarray | None
    conductance_rows: np.ndarray | None
    epochs: np.ndarray | None
    epoch_ends: np.ndarray | None
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


def _complete_rows(run) -> dict[str, int]:
    """``{series path: samples complete on its clock}`` for every series of ``run``."""
    rows = run.clock_rows()
    return {path: rows[clock] for clock, paths in run.clocks().items() for path in paths}


def _series_path(field: str) -> str:
    return CONDUCTANCE if field == "conductance" else f"particles/nodes/{field}"


def available_fields(run, rows: dict[str, int] | None = None) -> list[str]:
    """The fields of :data:`FIELDS` that ``run`` (a :class:`~simulator.Trajectory`) recorded
    (``rows``: its series' complete rows, when already read)."""
    rows = _complete_rows(run) if rows is None else rows
    return [field for field in FIELDS if _series_path(field) in rows]


def recorded_field(run, field: str | None = None) -> RecordedField:
    """The frames of ``field`` in ``run``; ``None``: the first of :data:`FIELDS` the run has
    frames of (node fields first, then the conductances). An unknown or unrecorded field is a
    ``KeyError`` naming those there are."""
    rows = _complete_rows(run)
    available = available_fields(run, rows)
    if field is None:
        if not available:
            raise NotInFile(f"{run.path} records no fields (none of {', '.join(FIELDS)})")
        field = next((f for f in available if rows[_series_path(f)]), available[0])
    if field not in available:
        there = ", ".join(available) or "none"
        raise NotInFile(f"{run.path} has no {field!r} field (it records: {there}; known fields: {', '.join(FIELDS)})")
    path = _series_path(field)
    steps, times = _cut(run.steps_of(path), rows[path])
    if field == "conductance":
        frames = np.arange(len(steps))
        epochs, ends = _epoch_numbers(run, len(steps)), np.ones(len(steps), bool)
        return RecordedField(field, path, steps, times, frames, epochs, ends, "conductance change w - w0")
    paired, epochs, ends = _paired_rows(run, steps, times, rows.get(CONDUCTANCE, 0))
    if field == "pressure":
        label = "flow |w dv| (w: last epoch record)" if paired is not None else "pressure drop |dv| (no w paired)"
    else:
        label = f"{field.replace('_', ' ')} drop |d{field[0]}|"
    return RecordedField(field, path, steps, times, paired, epochs, ends, label)


def _cut(steps_and_times, rows: int):
    steps, times = steps_and_times
    return steps[:rows], None if times is None else times[:rows]


def _epoch_numbers(run, rows: int) -> np.ndarray:
    """The epoch of each conductance record (both are on the epoch clock)."""
    try:
        return run.series("observables/epoch")[2][:rows].astype(np.int64)
    except KeyError:  # a file without an epoch count: one record per epoch from 0
        return np.arange(rows, dtype=np.int64)


def _paired_rows(run, steps: np.ndarray, times: np.ndarray | None, w_rows: int):
    """``(conductance row, epoch, at the epoch's end)`` of each node-field frame, or three Nones
    (see the module's docstring)."""
    if w_rows == 0:
        return None, None, None
    w_steps, w_times = _cut(run.steps_of(CONDUCTANCE), w_rows)
    if times is not None and w_times is not None:
        at, mine, theirs = np.searchsorted(w_times, times, side="right") - 1, times, w_times
    else:
        dynamics = run.config.get("dynamics", {})
        if not isinstance(dynamics, dict) or dynamics.get("name") != "advection":
            return None, None, None
        presentations = steps // int(dynamics.get("transport_steps") or 1)
        at, mine, theirs = np.searchsorted(w_steps, presentations, side="right") - 1, presentations, w_steps
    at = np.clip(at, 0, w_rows - 1).astype(np.int64)
    ends = mine == theirs[at]
    return at, _epoch_numbers(run, w_rows)[at] + ~ends, ends


def iter_frames(run, frames: RecordedField, rows=None) -> Iterator[Frame]:
    """The frames in order (``rows``: which ones, default all), each read as it is asked for
    (memory stays flat)."""
    rows = range(len(frames)) if rows is None else rows
    edges = run.fixed("connectivity/edges")
    paired = frames.conductance_rows
    conductances = None if paired is None else run.iter_rows(CONDUCTANCE, [paired[i] for i in rows])
    first = next(run.iter_rows(CONDUCTANCE, [0])) if frames.field == "conductance" else None
    for index, value in zip(rows, run.iter_rows(frames.path, rows)):
        w = None if conductances is None else next(conductances)
        if frames.field == "conductance":
            nodes, pipes = None, value - first
        else:
            drop = np.abs(value[edges[:, 0]] - value[edges[:, 1]])
            nodes, pipes = value, drop * w if (frames.field == "pressure" and w is not None) else drop
        time = None if frames.times is None else float(frames.times[index])
        yield Frame(index, int(frames.steps[index]), time, nodes, pipes, w)


def colour_ranges(run, frames: RecordedField, rows=None) -> tuple[tuple[float, float] | None, tuple[float, float]]:
    """``(node range or None, pipe range)`` over the frames (``rows``, default all): one colour
    scale for every frame. Node values span min..max; pipe magnitudes 0..max; conductance
    changes -max..max. Only finite values count (a run that blew up still has a scale); a field
    with none is an :class:`~simulator.outputs.OutputError`."""
    node_lo, node_hi, pipe_hi = np.inf, -np.inf, 0.0
    for frame in iter_frames(run, frames, rows):
        if frame.nodes is not None:
            finite = frame.nodes[np.isfinite(frame.nodes)]
            if finite.size:
                node_lo, node_hi = min(node_lo, float(finite.min())), max(node_hi, float(finite.max()))
        pipes = np.abs(frame.pipes[np.isfinite(frame.pipes)])
        pipe_hi = max(pipe_hi, float(pipes.max())) if pipes.size else pipe_hi
    if frames.on_nodes and not node_lo <= node_hi:
        raise OutputError(f"{run.path}: every value of {frames.field} is NaN or infinite; nothing to colour")
    nodes = (node_lo, node_hi) if frames.on_nodes else None
    pipes = (-pipe_hi, pipe_hi) if frames.field == "conductance" else (0.0, pipe_hi)
    return nodes, pipes
