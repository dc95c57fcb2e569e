"""Command line (inspect, plot), the scenario's flags, progress meters and run configuration."""

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import pytest

import simulator
from simulator.cli import main
from simulator.config import RunConfig, config_differences
from simulator.progress import TerminalProgress
from simulator.trajectory import TrajectoryError, load_trajectory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run.h5"
    simulator.run({"run": {"epochs": 3, "seed": 4}}, out=path)
    return path


def test_inspect_shows_config_status_final_metrics_and_datasets(run_file, capsys):
    assert main(["inspect", str(run_file)]) == 0
    shown = capsys.readouterr().out
    assert "status   complete" in shown
    assert "final    epoch 3 of 3 (step 225)" in shown
    for text in ("lr ", "accuracy_test", "response_norm", "clip_fraction", "mean cost, last epoch"):
        assert text in shown, text
    conductance = next(line for line in shown.splitlines() if "observables/edges/conductance/value" in line)
    assert "(4, " in conductance  # epoch 0 and three epochs


def test_plot_draws_the_four_panel_figure_from_the_file(run_file, tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["plot", str(run_file), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    height, width, _ = matplotlib.image.imread(out).shape
    assert width > 1200 and height > 1000


def test_errors_are_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "junk.h5").write_text("junk")
    assert main(["inspect", str(tmp_path / "junk.h5")]) == 2
    assert main(["plot", str(tmp_path / "missing.h5")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [
        f"chemsignal inspect: error: {tmp_path / 'junk.h5'} is not an HDF5 file (or is truncated): "
        + errors[0].split("(or is truncated): ")[1],
        f"chemsignal plot: error: {tmp_path / 'missing.h5'}: no such file",
    ]


def test_scenario_refuses_to_overwrite_and_writes_where_asked(tmp_path):
    out = tmp_path / "smoke.h5"
    command = [sys.executable, str(ROOT / "scenarios" / "iris_diffusion.py"), "--smoke", "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"trajectory: {out}" in first.stdout and out.with_suffix(".png").is_file()
    assert first.stdout.startswith("iris, chemical rule, quasistatic, lr 0.003, seed 0, 2 epochs -> ")
    again = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 2 and "exists; pass --overwrite" in again.stderr
    assert first.stderr == ""  # no progress bar when stderr is not a terminal
    bad = subprocess.run([*command, "--lr", "-1"], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "lr must be > 0, got -1.0" in bad.stderr


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    for stream, shows in ((io.StringIO(), False), (_Terminal(), True)):
        meter = TerminalProgress(stream)
        meter.start(3, "Iris")
        for _ in range(3):
            meter.update(1, test=0.9)
        meter.close()
        assert bool(stream.getvalue()) == shows
        if shows:
            assert "3/3" in stream.getvalue() and "test=0.900" in stream.getvalue()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"rule": {"learning_rate": 1e-3}}, r"unknown config key\(s\) \['rule.learning_rate'\]"),
        ({"learning_rate": 1e-3}, r"unknown config key\(s\) \['learning_rate'\]"),
        ({"run": {"epochs": 2.5}}, "run.epochs must be an integer, got 2.5"),
        ({"rule": {"lr": "fast"}}, "rule.lr must be a number, got 'fast'"),
        ({"rule": {"lr": float("nan")}}, "rule.lr must be finite"),
        ({"run": {"w_min": 0.0}}, "run.w_min must be > 0"),
        ({"run": {"epochs": 0}}, "run.epochs must be >= 1"),
        ({"dynamics": {"name": "implicit"}}, "dynamics.name must be one of"),
        ({"rule": {"name": "hebbian"}}, "rule.name must be one of"),
        ({"task": {"name": "mnist"}}, "task.name must be one of"),
        ({"dynamics": {"name": "timestepped", "feedback_delay": 60.0}},
         r"feedback_delay must be in \[0, presentation=50.0\]"),
        ({"dynamics": {"name": "quasistatic", "presentation": 5.0}},
         r"unknown config key\(s\) \['dynamics.presentation'\]"),
        ({"dynamics": {"name": "timestepped", "weights": "live"}, "rule": {"name": "ep"}},
         "remodels at the end of each presentation"),
        ({"dynamics": {"name": "timestepped", "scheme": "implicit"}, "rule": {"name": "coupled"}},
         "chemical rule only"),
        ({"dynamics": {"name": "advection"}, "rule": {"name": "ep"}}, r"learns by s\+/s- transport"),
        ({"task": {"name": "csv"}}, "task.file is required"),
        ({"network": 3}, r"network must be a table \(\[network\]\)"),
        ({"network": {"file": "net.json", "side": 8}}, "network.side does not apply: they build the lattice"),
        ({"network": {"output_pairs": [[0, 1]]}}, "network.output_pairs does not apply"),
        ({"dynamics": {"name": "advection"}, "rule": {"lr": 0.1, "eta": 2.0}},
         "rule.lr, rule.eta do not apply: the advection mode learns at the rates dynamics.xi and dynamics.lam"),
        ({"dynamics": {"name": "timestepped", "implicit_steps": 5.0}}, "dynamics.implicit_steps does not apply"),
        ({"dynamics": {"name": "timestepped", "safety": 1.5}}, "dynamics.safety must be <= 1, got 1.5"),
        ({"task": {"name": "npz", "file": "x.npz", "test_fraction": 1.0}}, "task.test_fraction must be < 1, got 1.0"),
        # the old flat keys of the Iris config are read as today's, and checked the same way
        ({"epochs": 0}, "run.epochs must be >= 1"),
        ({"dynamics": "timestepped", "rule": "ep", "weights": "live"}, "remodels at the end of each presentation"),
    ],
)  # fmt: skip
@pytest.mark.filterwarnings(
    "ignore::simulator.ChemsignalDeprecationWarning"
)  # the old flat keys: tested in test_config
def test_bad_configs_are_refused_by_name(values, message):
    with pytest.raises(ValueError, match=message):
        RunConfig.from_dict(values)


def test_sigterm_leaves_a_readable_file_marked_interrupted(tmp_path):
    out = tmp_path / "long.h5"
    command = [sys.executable, str(ROOT / "scenarios" / "iris_diffusion.py"), "--epochs", "100000", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until a few epochs are on disk
            time.sleep(0.2)
            if out.exists():
                try:
                    if len(load_trajectory(out).series("observables/epoch")[2]) >= 3:
                        break
                except (TrajectoryError, KeyError, OSError):
                    pass  # file still being created
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and "interrupted" in stderr
    run = load_trajectory(out)
    status, message = run.status
    assert status == "interrupted" and "SIGTERM" in message
    epochs = run.series("observables/epoch")[2]
    # whole blocks only: the last epoch's examples, and perhaps the next epoch's if the signal
    # came while it was being evaluated (--resume drops those; tests/test_resume.py)
    assert len(epochs) >= 3 and len(run.series("observables/cost")[2]) in (75 * epochs[-1], 75 * (epochs[-1] + 1))


SWALLOWED = """
import gc, signal, sys, weakref
import simulator
from simulator.base import interruptible

class SignalInsideAWeakrefCallback:
    def start(self, total, description=""):
        pass

    def update(self, n=1, **metrics):
        class Thing:
            pass

        thing = Thing()
        self.ref = weakref.ref(thing, lambda _: signal.raise_signal(getattr(signal, sys.argv[2])))
        del thing
        gc.collect()

    def close(self):
        pass

try:
    with interruptible():
        simulator.run({"run": {"epochs": 5}}, out=sys.argv[1], progress=SignalInsideAWeakrefCallback())
except KeyboardInterrupt as stop:
    print("stopped:", stop)
"""


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_that_python_swallows_still_stops_the_run_and_prints_no_traceback(tmp_path, name):
    """Python swallows an exception raised inside a weakref callback (seen with h5py's object
    registry, once in about five Ctrl-C) and prints "Exception ignored in ..." with a
    traceback; the signal must still stop the run, at the end of the epoch, quietly."""
    done = subprocess.run([sys.executable, "-c", SWALLOWED, str(tmp_path / "run.h5"), name], capture_output=True,
                          text=True)  # fmt: skip
    assert done.stdout.strip() == f"stopped: received {name}" and done.stderr == "", done.stderr
    run = load_trajectory(tmp_path / "run.h5")
    assert run.status[0] == "interrupted" and list(run.series("observables/epoch")[2]) == [0, 1]


def test_files_of_the_old_flat_config_are_described_but_not_resumed(tmp_path, capsys):
    from simulator.plots import describe
    from simulator.trajectory import Series, TrajectoryWriter

    flat = {"rule": "advection", "dynamics": "quasistatic", "lr": 0.003, "xi": 0.003, "lam": 1.0, "release_every": 20}
    assert describe(flat) == "advection mode, xi 0.003, lam 1, release every 20"
    assert describe({**flat, "rule": "ep"}) == "ep rule, quasistatic, lr 0.003"
    path = tmp_path / "old.h5"
    net = simulator.lattice_network(side=3, n_inputs=1, n_outputs=1)
    with TrajectoryWriter(path, network=net, config={"epochs": 9, "lr": 0.003}, seed=0,
                          series=[Series("observables/epoch", (), "epoch", dtype="int64")]) as out:  # fmt: skip
        out.append("epoch", step=[0], observables__epoch=[0])
    assert main(["resume", str(path)]) == 2
    assert "written by an earlier version (a flat Iris config); it can be inspected" in capsys.readouterr().err
    assert main(["inspect", str(path)]) == 0 and "final    epoch 0 of 9" in capsys.readouterr().out


def test_the_paper_preset_differs_from_ours_in_the_learning_rate_only():
    import importlib.util

    spec = importlib.util.spec_from_file_location("iris_diffusion", ROOT / "scenarios" / "iris_diffusion.py")
    scenario = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scenario)
    _, paper = scenario.parse(["--preset", "paper"])
    _, ours = scenario.parse([])
    assert paper["rule.lr"] == 1e-4 and ours["rule.lr"] == 3e-3  # Fig. 2's rate; ours, tuned
    differing = config_differences(ours.to_dict(), paper.to_dict())
    assert [key for key, _, _ in differing] == ["rule.lr"]
    _, faster = scenario.parse(["--preset", "paper", "--lr", "1e-3"])  # flags still beat the preset
    assert faster["rule.lr"] == 1e-3
