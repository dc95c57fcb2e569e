"""Movies and field frames (simulator.fields, simulator.animation): frame counts, the pairing
of node fields with conductances, and the colour scales, checked against the run file's data."""

from pathlib import Path

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


def test_colour_ranges_are_those_of_the_raw_series(runs):
    recorded = load_trajectory(runs["timestepped"])
    _, _, values = recorded.series("particles/nodes/concentration")
    edges = recorded.fixed("connectivity/edges")
    (lo, hi), (pipe_lo, pipe_hi) = colour_ranges(recorded, recorded_field(recorded, "concentration"))
    assert (lo, hi) == (values.min(), values.max())
    assert (pipe_lo, pipe_hi) == (0.0, np.abs(values[:, edges[:, 0]] - values[:, edges[:, 1]]).max())


def test_each_frame_knows_its_epoch(runs):
    """A frame between two conductance records is in the later one's epoch; one at a record ends it."""
    recorded = load_trajectory(runs["timestepped"])
    frames = recorded_field(recorded, "pressure")
    _, w_times, _ = recorded.series("observables/edges/conductance")
    epochs = recorded.series("observables/epoch")[2]
    after = frames.times > w_times[frames.conductance_rows]
    np.testing.assert_array_equal(frames.epochs, epochs[frames.conductance_rows] + after)
    np.testing.assert_array_equal(frames.epoch_ends, ~after)
    assert set(frames.epochs) == {1, 2}  # 2 epochs, no frame at t = 0


def _copy(source, folder, name):
    import shutil

    return Path(shutil.copy(source, folder / name))


def test_a_blown_up_field_keeps_a_finite_scale(runs, tmp_path):
    import h5py

    path = _copy(runs["timestepped"], tmp_path, "blown.h5")
    with h5py.File(path, "r+") as f:
        values = f["particles/nodes/pressure/value"]
        clean = values[()]
        values[3, 5], values[4, :] = np.inf, np.nan
    movie = animate(path, "pressure", tmp_path / "blown.gif")
    finite = np.delete(clean, 4, axis=0)
    finite[3, 5] = np.nan
    assert movie.frames == len(clean) and movie.node_range == (np.nanmin(finite), np.nanmax(finite))
    with h5py.File(path, "r+") as f:
        f["particles/nodes/concentration/value"][...] = np.nan
    with pytest.raises(OutputError, match="every value of concentration is NaN or infinite"):
        animate(path, "concentration", tmp_path / "nan.gif")


def test_a_torn_file_gives_the_frames_complete_on_the_clock(runs, tmp_path):
    """One field cut short (a run killed between two writes): every field of the clock is cut to it."""
    import h5py

    path = _copy(runs["timestepped"], tmp_path, "torn.h5")
    with h5py.File(path, "r+") as f:
        f["particles/nodes/concentration/value"].resize(20, axis=0)
    recorded = load_trajectory(path)
    assert len(recorded_field(recorded, "pressure")) == len(recorded_field(recorded, "concentration")) == 20
    assert animate(path, "pressure", tmp_path / "torn.gif").frames == 20


def test_every_kth_frame_and_the_gif_limit(runs, tmp_path, monkeypatch):
    movie = animate(runs["timestepped"], "pressure", tmp_path / "every.gif", every=5)
    assert movie.frames == _gif_frames(movie.path) == len(range(0, 28, 5)) + 1  # and the last, 27
    import simulator.animation

    monkeypatch.setattr(simulator.animation, "GIF_MAX_FRAMES", 10)
    with pytest.raises(OutputError, match="28 frames is too many for a GIF .* pass --every 3"):
        animate(runs["timestepped"], "pressure", tmp_path / "long.gif")


def test_gif_colours_mean_the_same_value_in_every_frame(runs, tmp_path):
    """One palette for every frame: the colour bars (the same values in every frame) keep their pixels."""
    from PIL import Image

    movie = animate(runs["timestepped"], "concentration", tmp_path / "palette.gif")
    bars = []
    with Image.open(movie.path) as image:
        for k in range(image.n_frames):
            image.seek(k)
            bars.append(np.asarray(image.convert("RGB"))[80:600, 600:720])
    assert all(np.array_equal(bar, bars[0]) for bar in bars[1:])
    assert len(np.unique(bars[0].reshape(-1, 3), axis=0)) > 100  # the bars' gradients kept their shades


def test_refusals(runs, tmp_path):
    with pytest.raises(KeyError, match=r"no 'pressure' field \(it records: conductance"):
        animate(runs["quasistatic"], "pressure", tmp_path / "m.gif")
    with pytest.raises(OutputError, match="give a suffix of mp4, gif"):
        animate(runs["quasistatic"], None, tmp_path / "m.avi")
    odd = _copy(runs["quasistatic"], tmp_path, "run_named.gif")  # a run file named like a movie
    with pytest.raises(OutputError, match="it is .*, the file it is made from"):
        animate(odd, None, odd, overwrite=True)
    assert load_trajectory(odd).status[0] == "complete"
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
    assert "fps must be > 0 and at most 50 for a GIF, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["animate", str(runs["quasistatic"]), "-o", str(tmp_path / "c.gif"), "--every", "0"])
    assert "argument --every: must be a whole number >= 1" in capsys.readouterr().err
