"""Movies of a run's recorded fields, drawn from the run file alone.

``python -m simulator animate FILE [--field F] [--out movie.mp4|movie.gif]``: node colours show
the field at each recorded frame, pipes are coloured as :mod:`simulator.fields` describes
(flow, chemical drop, or conductance change), and a stamp gives the frame's step, time and
the epoch it falls in. Both colour scales are fixed over the whole run (a first pass reads
every frame for the ranges), so colours compare across frames.

Frames are read and drawn one at a time. MP4 goes through the ffmpeg binary that the
``imageio-ffmpeg`` wheel ships (``pip install 'chemsignal-sim[movie]'``), frame by frame, so
memory stays flat; GIF goes through Pillow, which holds every frame (one byte per pixel)
until it writes the file. Like every output, an existing movie is replaced only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fields import RecordedField, colour_ranges, iter_frames, recorded_field
from .outputs import OutputError, Replacement, check_target
from .progress import NoProgress
from .trajectory import load_trajectory, verify

__all__ = ["Movie", "animate", "MOVIE_FORMATS"]

MOVIE_FORMATS = ("mp4", "gif")
# pixels a multiple of 16: H.264 encodes whole macro blocks, and imageio-ffmpeg would resize otherwise
_SIZE_PIXELS = (800, 704)


@dataclass(frozen=True)
class Movie:
    """A written movie. frames : how many;  node_range, pipe_range : the fixed colour scales
    (``node_range`` None for the conductance field)."""

    path: Path
    field: str
    frames: int
    node_range: tuple[float, float] | None
    pipe_range: tuple[float, float]


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg


def default_movie_path(path, field: str) -> Path:
    """``<run>_<field>.mp4`` beside the run file, or ``.gif`` when no ffmpeg is installed."""
    return Path(path).with_name(f"{Path(path).stem}_{field}.{'mp4' if _ffmpeg() else 'gif'}")


def _movie_format(out: Path) -> str:
    suffix = out.suffix.lstrip(".").lower()
    if suffix not in MOVIE_FORMATS:
        raise OutputError(f"cannot write movie {out}: give a suffix of {', '.join(MOVIE_FORMATS)}")
    if suffix == "mp4" and _ffmpeg() is None:
        raise OutputError(f"cannot write {out}: MP4 needs imageio-ffmpeg (pip install 'chemsignal-sim[movie]'); "
                          "or write a GIF (--out movie.gif)")  # fmt: skip
    return suffix


def animate(path, field: str | None = None, out=None, *, fps: float = 8.0, overwrite: bool = False,
            progress=None) -> Movie:  # fmt: skip
    """Write a movie of ``field`` (default: the first recorded of pressure, concentration,
    s_plus, s_minus, else conductance) from the run file ``path``.

    Parameters
    ----------
    out : the movie's path, ``.mp4`` or ``.gif`` (default :func:`default_movie_path`)
    fps : frames per second of the movie
    overwrite : replace an existing movie (else an :class:`~simulator.outputs.OutputError`)
    progress : a meter (:mod:`simulator.progress`) advanced once per frame

    Returns the :class:`Movie`. A field the run did not record is a ``KeyError`` naming those it did.
    """
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    run = load_trajectory(path)
    frames = recorded_field(run, field)
    out = default_movie_path(path, frames.field) if out is None else Path(out)
    fmt = _movie_format(out)
    check_target(out, overwrite)
    verify(path)
    if not len(frames):
        raise OutputError(f"{path} has no {frames.field} frames yet")
    node_range, pipe_range = colour_ranges(run, frames)
    progress = progress or NoProgress()
    progress.start(len(frames), f"{frames.field} frames")
    drawing = _Drawing(run, frames, node_range, pipe_range)
    with Replacement(out, overwrite) as scratch:
        write = _write_mp4 if fmt == "mp4" else _write_gif
        write(scratch, (drawing.draw(frame) for frame in _counted(iter_frames(run, frames), progress)), fps)
    progress.close()
    return Movie(out, frames.field, len(frames), node_range, pipe_range)


def _counted(frames, progress):
    for frame in frames:
        yield frame
        progress.update(1)


def _write_mp4(path, images, fps: float) -> None:
    writer = _ffmpeg().write_frames(str(path), _SIZE_PIXELS, fps=fps, quality=7, output_params=["-f", "mp4"])
    writer.send(None)  # start ffmpeg
    try:
        for image in images:
            writer.send(image.tobytes())
    finally:
        writer.close()


def _write_gif(path, images, fps: float) -> None:
    from PIL import Image

    frames = [Image.fromarray(image).quantize(colors=255) for image in images]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0)


class _Drawing:
    """One figure, drawn once; each frame only recolours it and restamps the title."""

    def __init__(self, run, frames: RecordedField, node_range, pipe_range):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.colors import Normalize
        from matplotlib.figure import Figure

        self.frames, self.epoch_of = frames, _epoch_clock(run)
        positions, edges = run.fixed("particles/nodes/position"), run.fixed("connectivity/edges")
        width, height = _SIZE_PIXELS
        self.figure = Figure(figsize=(width / 100, height / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.figure)
        ax = self.figure.add_axes((0.02, 0.08, 0.70, 0.83))
        pipe_cmap = "RdBu" if frames.field == "conductance" else "magma_r"
        self.pipes = LineCollection(positions[edges], linewidths=2.5, capstyle="round", cmap=pipe_cmap,
                                    norm=Normalize(*_widened(pipe_range)))  # fmt: skip
        self.pipes.set_array(np.zeros(len(edges)))
        ax.add_collection(self.pipes)
        self.nodes = None
        if node_range is not None:
            norm = Normalize(*_widened(node_range))
            self.nodes = ax.scatter(*positions.T, c=np.zeros(len(positions)), s=36, cmap="viridis", norm=norm, zorder=4,
                                    edgecolors="0.3", linewidths=0.3)  # fmt: skip
        _draw_terminals(ax, positions, run.fixed("connectivity/input_pairs"), run.fixed("connectivity/output_pairs"))
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.set_axis_off()
        bars = [(self.pipes, frames.pipe_label + " (pipes)")]
        if self.nodes is not None:
            bars.append((self.nodes, frames.field.replace("_", " ") + " (nodes)"))
        for left, (artist, label) in zip((0.755, 0.875), bars):
            self.figure.colorbar(artist, cax=self.figure.add_axes((left, 0.1, 0.022, 0.78)), label=label, format="%.3g")
        self.stamp = self.figure.suptitle("", x=0.02, y=0.97, ha="left", fontsize=12)

    def draw(self, frame) -> np.ndarray:
        """The frame as a [height, width, 3] uint8 image."""
        self.pipes.set_array(frame.pipes)
        if self.nodes is not None:
            self.nodes.set_array(frame.nodes)
        self.stamp.set_text(self._stamp(frame))
        self.canvas.draw()
        return np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3])

    def _stamp(self, frame) -> str:
        field = self.frames.field.replace("_", " ")
        unit = "presentation" if self.frames.field == "conductance" else "step"
        parts = [f"{field}: frame {frame.index + 1}/{len(self.frames)}", f"{unit} {frame.step}"]
        if frame.time is not None:
            parts.append(f"t = {frame.time:.4g}")
        if self.frames.conductance_rows is not None and self.epoch_of is not None:
            parts.append(f"epoch {self.epoch_of[self.frames.conductance_rows[frame.index]]}")
        return ",  ".join(parts)


def _draw_terminals(ax, positions, input_pairs, output_pairs) -> None:
    """Input pairs as red squares, output pairs as green circles; ``+`` filled, ``-`` open; with a
    legend. Drawn under the nodes, as frames around them: the field peaks at the terminals."""
    for pairs, colour, marker, name in ((input_pairs, "tab:red", "s", "input"),
                                        (output_pairs, "tab:green", "o", "output")):  # fmt: skip
        ax.scatter(*positions[pairs[:, 0]].T, marker=marker, s=170, color=colour, edgecolors="white", zorder=3,
                   label=f"{name} +")  # fmt: skip
        ax.scatter(*positions[pairs[:, 1]].T, marker=marker, s=170, facecolors="white", edgecolors=colour,
                   linewidths=2.5, zorder=3, label=f"{name} -")  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.005), ncol=4, fontsize=9, frameon=False)


def _epoch_clock(run) -> np.ndarray | None:
    """The epoch of each conductance record (both are recorded on the epoch clock), or None."""
    try:
        epochs = run.series("observables/epoch")[2]
    except KeyError:
        return None
    rows = len(run.steps_of("observables/edges/conductance")[0]) if len(epochs) else 0
    return epochs if rows and len(epochs) >= rows else None


def _widened(bounds: tuple[float, float]) -> tuple[float, float]:
    """A colour range that is not empty (a field constant over the whole run)."""
    lo, hi = bounds
    if hi > lo:
        return lo, hi
    pad = max(abs(lo), 1.0) * 1e-9
    return lo - pad, hi + pad
