"""Movies of a run's recorded fields, drawn from the run file alone.

``python -m simulator animate FILE [--field F] [--out movie.mp4|movie.gif] [--every K]``: node
colours show the field at each recorded frame, pipes are coloured as :mod:`simulator.fields`
describes (flow, chemical drop, or conductance change), and a stamp gives the frame's step,
time and the epoch it falls in. Both colour scales are fixed over the whole movie (a first
pass reads every frame for the ranges), so colours compare across frames. Signed fields
(pressure, concentration) use a diverging map centred on 0; NaN and infinite values are
drawn grey, counted in the stamp, and left out of the scales.

Frames are read and drawn one at a time. MP4 goes through the ffmpeg binary that the
``imageio-ffmpeg`` wheel ships (``pip install 'chemsignal-sim[movie]'``), frame by frame, so
memory stays flat; GIF goes through Pillow, which holds every frame (about 1 MB each) until
it writes the file, so a GIF of more than :data:`GIF_MAX_FRAMES` frames is refused (take
every K-th frame, or write MP4). Every GIF frame uses one palette, made from the first, and
each colour maps to its nearest palette entry, so a colour means the same value in every
frame. Like every output, an existing movie is replaced only when asked, and never the run
file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fields import RecordedField, colour_ranges, iter_frames, recorded_field
from .outputs import OutputError, Replacement, check_not_source, check_target
from .plots import draw_terminals
from .progress import NoProgress
from .trajectory import load_trajectory, verify

__all__ = ["Movie", "animate", "default_movie_path", "MOVIE_FORMATS", "GIF_MAX_FRAMES"]

MOVIE_FORMATS = ("mp4", "gif")
GIF_MAX_FRAMES = 1000  # ~1 GB of frames held by Pillow
GIF_MAX_FPS = 50.0  # GIF stores delays in 1/100 s; browsers slow down anything faster
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
    """The ``imageio_ffmpeg`` module, or None when the optional extra is not installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg


def default_movie_path(path, field: str) -> Path:
    """``<run>_<field>.mp4`` beside the run file, or ``.gif`` when no ffmpeg is installed."""
    return Path(path).with_name(f"{Path(path).stem}_{field}.{'mp4' if _ffmpeg() else 'gif'}")


def _checked_format(out: Path, fps: float) -> str:
    """The movie's format from its suffix, or the :class:`OutputError` that says what to do."""
    suffix = out.suffix.lstrip(".").lower()
    if suffix not in MOVIE_FORMATS:
        raise OutputError(f"cannot write movie {out}: give a suffix of {', '.join(MOVIE_FORMATS)}")
    if suffix == "mp4" and _ffmpeg() is None:
        raise OutputError(f"cannot write {out}: MP4 needs imageio-ffmpeg (pip install 'chemsignal-sim[movie]'); "
                          "or write a GIF (--out movie.gif)")  # fmt: skip
    if not 0 < fps <= (GIF_MAX_FPS if suffix == "gif" else np.inf):
        limit = f" and at most {GIF_MAX_FPS:g} for a GIF" if suffix == "gif" else ""
        raise OutputError(f"fps must be > 0{limit}, got {fps:g}")
    return suffix


def animate(path, field: str | None = None, out=None, *, fps: float = 8.0, every: int = 1, overwrite: bool = False,
            progress=None) -> Movie:  # fmt: skip
    """Write a movie of ``field`` (default: the first with frames of pressure, concentration,
    s_plus, s_minus, conductance) from the run file ``path``.

    Parameters
    ----------
    out : the movie's path, ``.mp4`` or ``.gif`` (default :func:`default_movie_path`)
    fps : frames per second of the movie (at most 50 for a GIF)
    every : draw every ``every``-th recorded frame (and the last)
    overwrite : replace an existing movie (else an :class:`~simulator.outputs.OutputError`)
    progress : a meter (:mod:`simulator.progress`) advanced once per frame drawn

    Returns the :class:`Movie`. A field the run did not record is a ``KeyError`` naming those it did.
    """
    if not (isinstance(every, int | np.integer) and every >= 1):
        raise OutputError(f"every must be a whole number >= 1, got {every!r}")
    run = load_trajectory(path)
    recorded = recorded_field(run, field)
    out = default_movie_path(path, recorded.field) if out is None else Path(out)
    fmt = _checked_format(out, fps)
    check_target(out, overwrite)
    check_not_source(out, path)
    verify(path)
    rows = _chosen_rows(run, recorded, every, fmt)
    node_range, pipe_range = colour_ranges(run, recorded, rows)
    progress = progress or NoProgress()
    progress.start(len(rows), f"{recorded.field} frames")
    drawing = _Drawing(run, recorded, node_range, pipe_range)
    with Replacement(out, overwrite) as scratch:
        images = (drawing.draw(frame) for frame in _counted(iter_frames(run, recorded, rows), progress))
        (_write_mp4 if fmt == "mp4" else _write_gif)(scratch, images, fps)
    progress.close()
    return Movie(out, recorded.field, len(rows), node_range, pipe_range)


def _chosen_rows(run, recorded: RecordedField, every: int, fmt: str) -> list[int]:
    """Every ``every``-th frame and the last; an empty field or a GIF too long is refused."""
    if not len(recorded):
        going = " yet (the run is still going)" if run.status[0] == "running" else ""
        raise OutputError(f"{run.path} has no {recorded.field} frames{going}")
    rows = list(range(0, len(recorded), every))
    rows += [len(recorded) - 1] if rows[-1] != len(recorded) - 1 else []
    if fmt == "gif" and len(rows) > GIF_MAX_FRAMES:
        needed = -(-len(recorded) // GIF_MAX_FRAMES)
        raise OutputError(f"{len(rows)} frames is too many for a GIF (Pillow holds each, ~1 MB): pass --every "
                          f"{needed} (every={needed}), or write .mp4")  # fmt: skip
    return rows


def _counted(frames, progress):
    """The frames, advancing ``progress`` after each is used."""
    for frame in frames:
        yield frame
        progress.update(1)


def _write_mp4(path, images, fps: float) -> None:
    """H.264 through imageio-ffmpeg's binary, one frame at a time (``path`` has no suffix to go by)."""
    writer = _ffmpeg().write_frames(str(path), _SIZE_PIXELS, fps=fps, quality=7, output_params=["-f", "mp4"])
    writer.send(None)  # start ffmpeg
    try:
        for image in images:
            writer.send(image.tobytes())
    finally:
        writer.close()


def _write_gif(path, images, fps: float) -> None:
    """A looping GIF through Pillow, every frame on the first frame's palette (see :func:`_indexed`)."""
    from PIL import Image

    pictures, palette = [], None
    for image in images:
        if palette is None:  # median cut of the first frame: its colour bars hold every shade the maps use
            quantized = Image.fromarray(image).quantize(colors=255, dither=Image.Dither.NONE)
            palette = np.asarray(quantized.getpalette()[: 3 * len(quantized.getcolors())], np.int32).reshape(-1, 3)
        picture = Image.fromarray(_indexed(image, palette), mode="P")
        picture.putpalette(palette.astype(np.uint8).ravel().tolist())
        pictures.append(picture)
    delay = 10 * max(1, round(100 / fps))  # GIF counts in 1/100 s
    pictures[0].save(path, format="GIF", save_all=True, append_images=pictures[1:], duration=delay, loop=0,
                     optimize=False)  # fmt: skip


def _indexed(image: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Each pixel of ``image`` [h, w, 3] as the index of the nearest colour of ``palette`` [k, 3]:
    a function of the colour alone, so a pixel that keeps its colour keeps its index in every
    frame (Pillow's own palette mapping goes through a coarse lookup table and does not)."""
    codes = (image[..., 0].astype(np.int32) << 16) | (image[..., 1].astype(np.int32) << 8) | image[..., 2]
    colours, inverse = np.unique(codes.ravel(), return_inverse=True)
    rgb = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1)
    nearest = np.argmin(((rgb[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2), axis=1)
    return nearest[inverse].reshape(image.shape[:2]).astype(np.uint8)


class _Drawing:
    """One figure, drawn once; each frame only recolours it and restamps the title."""

    def __init__(self, run, recorded: RecordedField, node_range, pipe_range):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        self.recorded = recorded
        positions, edges = run.fixed("particles/nodes/position"), run.fixed("connectivity/edges")
        width, height = _SIZE_PIXELS
        self.figure = Figure(figsize=(width / 100, height / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.figure)
        ax = self.figure.add_axes((0.02, 0.08, 0.70, 0.83))
        pipe_cmap, pipe_norm = _colour_map(pipe_range, "magma_r")
        self.pipes = LineCollection(positions[edges], linewidths=2.5, capstyle="round", cmap=pipe_cmap, norm=pipe_norm)
        self.pipes.set_array(np.zeros(len(edges)))
        ax.add_collection(self.pipes)
        self.nodes = None
        if node_range is not None:
            node_cmap, node_norm = _colour_map(node_range, "viridis")
            self.nodes = ax.scatter(*positions.T, c=np.zeros(len(positions)), s=36, cmap=node_cmap, norm=node_norm,
                                    zorder=4, edgecolors="0.3", linewidths=0.3)  # fmt: skip
        # the terminals under the nodes, as frames around them: the field peaks at the terminals
        draw_terminals(ax, positions, run.fixed("connectivity/input_pairs"), run.fixed("connectivity/output_pairs"),
                       size=170, fontsize=9)  # fmt: skip
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.set_axis_off()
        bars = [(self.pipes, recorded.pipe_label + " (pipes)")]
        if self.nodes is not None:
            bars.append((self.nodes, recorded.field.replace("_", " ") + " (nodes)"))
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
        recorded = self.recorded
        unit = "presentation" if recorded.field == "conductance" else "step"
        parts = [f"{recorded.field.replace('_', ' ')}: frame {frame.index + 1}/{len(recorded)}",
                 f"{unit} {frame.step}"]  # fmt: skip
        if frame.time is not None:
            parts.append(f"t = {frame.time:.4g}")
        if recorded.epochs is not None:
            epoch = recorded.epochs[frame.index]
            at_end = recorded.epoch_ends[frame.index]
            parts.append(("before training" if epoch == 0 else f"end of epoch {epoch}") if at_end else f"epoch {epoch}")
        bad = sum(int(np.count_nonzero(~np.isfinite(v))) for v in (frame.nodes, frame.pipes) if v is not None)
        if bad:
            parts.append(f"{bad} values NaN/inf (grey)")
        return ",  ".join(parts)


def _colour_map(bounds: tuple[float, float], sequential: str):
    """``(colour map, norm)``: a diverging map centred on 0 for values of both signs, else
    ``sequential``; non-finite values grey; a range that is a single value widened a hair."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, TwoSlopeNorm

    lo, hi = bounds
    if not hi > lo:
        pad = max(abs(lo), 1.0) * 1e-9
        lo, hi = lo - pad, hi + pad
    signed = lo < 0 < hi
    cmap = colormaps["RdBu_r" if signed else sequential].with_extremes(bad="0.6")
    return cmap, TwoSlopeNorm(0.0, lo, hi) if signed else Normalize(lo, hi)
