"""Movies and field frames (simulator.fields, simulator.animation): frame counts, the pairing
of node fields with conductances, and the colour scales, checked against the run file's data."""

import numpy as np
import pytest

from simulator import RunConfig, load_trajectory, run
from simulator.animation import animate
from simulator.fields import colour_ranges, iter_frames, recorded_field
from simulator.outputs import OutputError

SMALL = {"network": {"side": 6}, "task": {"per_class_train": 4}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A time-stepped run, an advection run and a quasistatic run of 2 epochs on a 6x6 network."""
    folder = tmp_path_factory.mktemp("movies")
    dynamics = {
        "timestepped": ({"name": "timestepped"}, {"fields_every": 1000}),
        "advection": ({"name": "advection", "release_every": 5}, {"fields_every": 100}),
        "quasistatic": ({"name": "quasistatic"}, {}),
    }
    paths = {}
    for name, (table, every) in dynamics.items():
        config = RunConfig.from_dict({**SMALL, "dynamics": table, "run": {"epochs": 2, **every}})
        paths[name] = folder / f"{name}.h5"
        run(config, out=paths[name])
    return paths


def _gif_frames(path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return image.n_frames


@pytest.mark.parametrize("kind, field", [("timestepped", "pressure"), ("timestepped", "concentration"),
                                         ("advection", "s_plus"), ("quasistatic", "conductance")])  # fmt: skip
def test_gif_has_one_frame_per_record_and_the_runs_colour_range(runs, kind, field, tmp_path):
    recorded = load_trajectory(runs[kind])
    series = "observables/edges/conductance" if field == "conductance" else f"particles/nodes/{field}"
    _, _, values = recorded.series(series)
    movie = animate(runs[kind], field, tmp_path / "movie.gif")
    assert movie.frames == len(values) == _gif_frames(movie.path) > 1
    edges = recorded.fixed("connectivity/edges")
    if field == "conductance":
        change = values - values[0]
        assert movie.node_range is None
        assert movie.pipe_range == (-np.abs(change).max(), np.abs(change).max())
    else:
        assert movie.node_range == (values.min(), values.max())
        drops = np.abs(values[:, edges[:, 0]] - values[:, edges[:, 1]])
        if field == "pressure":  # flow: the drop times the last conductances recorded at or before the frame
            _, w_times, w = recorded.series("observables/edges/conductance")
            _, times, _ = recorded.series(series)
            drops = drops * w[np.searchsorted(w_times, times, side="right") - 1]
        assert movie.pipe_range == (0.0, drops.max())


def test_mp4_frame_count(runs, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    movie = animate(runs["timestepped"], "pressure", tmp_path / "pressure.mp4")
    assert imageio_ffmpeg.count_frames_and_secs(str(movie.path))[0] == movie.frames == 28


def test_frames_pair_node_fields_with_the_last_conductances_recorded(runs):
    """Time-stepped runs pair by time; advection runs by the presentation a transport step falls in."""
    ts = load_trajectory(runs["timestepped"])
    frames = recorded_field(ts, "pressure")
    _, w_times, w = ts.series("observables/edges/conductance")
    assert np.all(w_times[frames.conductance_rows] <= frames.times)
    later = frames.conductance_rows + 1 < len(w_times)
    assert np.all(w_times[frames.conductance_rows[later] + 1] > frames.times[later])
    for frame in iter_frames(ts, frames):
        np.testing.assert_array_equal(frame.conductance, w[frames.conductance_rows[frame.index]])
    advection = load_trajectory(runs["advection"])
    frames = recorded_field(advection, "s_minus")
    w_steps, _ = advection.steps_of("observables/edges/conductance")
    per_presentation = advection.config["dynamics"]["transport_steps"]
    presentations = frames.steps // per_presentation
    assert np.all(w_steps[frames.conductance_rows] <= presentations)
    later = frames.conductance_rows + 1 < len(w_steps)
    assert np.all(w_steps[frames.conductance_rows[later] + 1] > presentations[later])
    assert len(set(frames.conductance_rows)) > 1  # frames in more than one epoch


def test_colour_ranges_cover_every_frame(runs):
    recorded = load_trajectory(runs["timestepped"])
    frames = recorded_field(recorded, "concentration")
    (lo, hi), (pipe_lo, pipe_hi) = colour_ranges(recorded, frames)
    seen = list(iter_frames(recorded, frames))
    assert lo == min(f.nodes.min() for f in seen) and hi == max(f.nodes.max() for f in seen)
    assert pipe_lo == 0.0 and pipe_hi == max(f.pipes.max() for f in seen)


def test_refusals(runs, tmp_path):
    with pytest.raises(KeyError, match=r"no 'pressure' field \(it records: conductance"):
        animate(runs["quasistatic"], "pressure", tmp_path / "m.gif")
    with pytest.raises(OutputError, match="give a suffix of mp4, gif"):
        animate(runs["quasistatic"], None, tmp_path / "m.avi")
    (tmp_path / "taken.gif").write_bytes(b"keep")
    with pytest.raises(OutputError, match="exists"):
        animate(runs["quasistatic"], None, tmp_path / "taken.gif")
    assert (tmp_path / "taken.gif").read_bytes() == b"keep"
    assert animate(runs["quasistatic"], None, tmp_path / "taken.gif", overwrite=True).frames == 3


def test_command_line(runs, tmp_path, capsys):
    from simulator.cli import main

    out = tmp_path / "s_minus.gif"
    assert main(["animate", str(runs["advection"]), "--field", "s_minus", "-o", str(out), "--fps", "4"]) == 0
    assert f"movie: {out} (4 frames of s_minus" in capsys.readouterr().out
    assert _gif_frames(out) == 4
    assert main(["animate", str(runs["quasistatic"]), "--field", "concentration", "-o", str(tmp_path / "c.gif")]) == 2
    assert "has no 'concentration' field (it records: conductance" in capsys.readouterr().err
    assert main(["animate", str(runs["quasistatic"]), "-o", str(tmp_path / "c.gif"), "--fps", "0"]) == 2
    assert "--fps must be > 0" in capsys.readouterr().err
