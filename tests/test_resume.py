"""--resume: an interrupted or killed run continues from its last complete epoch to a file
identical, sample for sample, to an uninterrupted run's."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import live_writer

import simulator
from simulator import runs
from simulator.cli import main
from simulator.trajectory import TrajectoryError, TrajectoryWriter, load_trajectory

ROOT = Path(__file__).resolve().parents[1]


def differing_datasets(a, b) -> list[str]:
    """Datasets (outside ``parameters``, which records when and how the run was made) whose
    shape or bits differ between two files; also checks both files share step datasets alike."""
    differing = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names = []
        fa.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        assert names, "no datasets"
        for name in names:
            if name.startswith("parameters"):
                continue
            x, y = fa[name][()], fb.get(name)
            if y is None or x.shape != y.shape or x.tobytes() != y[()].tobytes():
                differing.append(name)
        for name, other in (
            ("observables/cost/step", "observables/output/step"),
            ("observables/cost_test/step", "observables/epoch/step"),
        ):  # hard links kept
            assert fb[name].id == fb[other].id
    return differing


class StopAfter:
    """A progress meter that interrupts the run (as Ctrl-C would) after ``epochs`` epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def start(self, total, description=""):
        self.done = 0

    def update(self, n=1, **metrics):
        self.done += n
        if self.done == self.epochs:
            raise KeyboardInterrupt

    def close(self):
        pass


def config(**tables) -> simulator.RunConfig:
    return simulator.RunConfig.from_dict(tables)


CASES = {
    "quasistatic": config(run={"epochs": 4, "seed": 3}),
    "timestepped": config(
        run={"epochs": 3, "fields_every": 500}, dynamics={"name": "timestepped", "presentation": 1.0}
    ),
    "implicit": config(run={"epochs": 3, "fields_every": 100}, dynamics={"name": "timestepped", "scheme": "implicit"}),
    "advection": config(run={"epochs": 3, "fields_every": 50}, dynamics={"name": "advection", "transport_steps": 5}),
    "advection-relaxing": config(
        run={"epochs": 3, "fields_every": 50}, dynamics={"name": "advection", "transport_steps": 5, "pressure_steps": 5}
    ),
    "regression-live": config(
        task={"name": "regression", "n_train": 20},
        run={"epochs": 3, "fields_every": 300},
        dynamics={"name": "timestepped", "presentation": 2.0, "weights": "live"},
    ),
    "tuning-pressures": config(
        task={"name": "tuning", "factors": [0.5]},
        network={"side": 6, "n_outputs": 1},
        run={"epochs": 3, "fields_every": 7},
        dynamics={"name": "advection", "inputs_as": "pressures", "outputs_as": "nodes", "xi": 0.05},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, case):
    config = CASES[case]
    whole = simulator.run(config, out=tmp_path / "whole.h5")
    with pytest.raises(KeyboardInterrupt):
        simulator.run(config, out=tmp_path / "parts.h5", progress=StopAfter(2))
    stopped = load_trajectory(tmp_path / "parts.h5")
    assert stopped.status[0] == "interrupted" and stopped.clock_rows()["epoch"] == 3  # epochs 0, 1, 2
    resumed = simulator.run(config, out=tmp_path / "parts.h5", resume=True)
    assert differing_datasets(tmp_path / "whole.h5", tmp_path / "parts.h5") == []
    assert np.array_equal(resumed.network.conductance, whole.network.conductance)
    assert np.array_equal(resumed.costs, whole.costs)
    for key, values in whole.epochs.items():
        assert np.array_equal(resumed.epochs[key], values, equal_nan=True), key
    run = load_trajectory(tmp_path / "parts.h5")
    assert run.status[0] == "complete"
    assert [(entry["from_epoch"], entry["status_before"]) for entry in run.resumed] == [(2, "interrupted")]


class StopAtStart(StopAfter):
    """Interrupts as the first epoch starts: the file holds epoch 0 (the untrained network) only."""

    def start(self, total, description=""):
        raise KeyboardInterrupt


@pytest.mark.parametrize("case", ["quasistatic", "implicit", "advection"])
@pytest.mark.parametrize("stop", ["before epoch 0", "after epoch 0"])
def test_a_run_stopped_before_its_first_epoch_resumes_to_the_same_file(tmp_path, monkeypatch, case, stop):
    """Found by benchmarks/faults.py (kill -9 at random moments): a file holding epoch 0 alone
    was resumed with epoch 0 recorded twice, and one holding no epoch at all could not be resumed."""
    config = CASES[case]
    simulator.run(config, out=tmp_path / "whole.h5")
    with pytest.raises(KeyboardInterrupt), monkeypatch.context() as patch:
        if stop == "before epoch 0":  # interrupted while the untrained network is evaluated
            patch.setattr(runs._Run, "evaluate", lambda self: (_ for _ in ()).throw(KeyboardInterrupt()))
        simulator.run(config, out=tmp_path / "parts.h5", progress=StopAtStart(0))
    assert load_trajectory(tmp_path / "parts.h5").clock_rows()["epoch"] == (0 if stop == "before epoch 0" else 1)
    simulator.run(config, out=tmp_path / "parts.h5", resume=True)
    assert differing_datasets(tmp_path / "whole.h5", tmp_path / "parts.h5") == []


def test_kill_9_at_random_moments_never_loses_a_run(tmp_path):
    """A few trials of benchmarks/faults.py's (which runs 200): a forked run killed at a random
    moment leaves no file or a readable one, and resume finishes it equal to the whole run."""
    import os

    config = CASES["quasistatic"].with_values({"run.epochs": 60})
    simulator.run(config.with_values({"run.epochs": 1}))  # compiled and warm: the runs below are timed alike
    start = time.perf_counter()
    simulator.run(config, out=tmp_path / "whole.h5")
    duration = time.perf_counter() - start
    rng = np.random.default_rng(7)
    outcomes = []
    for trial in range(8):
        path = tmp_path / f"trial{trial}.h5"
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            try:
                simulator.run(config, out=path)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.05, 0.9) * duration)  # within the run, wherever it is
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if not path.exists():
            outcomes.append("no file")
            continue
        load_trajectory(path).verify()  # readable, every checksum intact
        status = load_trajectory(path).status[0]
        if status != "complete":
            simulator.run(config, out=path, resume=True)
        assert differing_datasets(tmp_path / "whole.h5", path) == [], trial
        outcomes.append(status)
    assert outcomes.count("complete") <= 2, outcomes  # most trials were killed mid-run


def test_a_half_written_epoch_is_dropped_and_redone(tmp_path, monkeypatch):
    config = CASES["quasistatic"].with_values({"run.seed": 1})
    simulator.run(config, out=tmp_path / "whole.h5")
    calls = []

    def evaluate_then_stop(self):  # stop after epoch 3's examples are on disk, before its record
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(self)

    original = runs._Run.evaluate
    monkeypatch.setattr(runs._Run, "evaluate", evaluate_then_stop)
    with pytest.raises(KeyboardInterrupt):
        simulator.run(config, out=tmp_path / "parts.h5")
    monkeypatch.setattr(runs._Run, "evaluate", original)
    assert load_trajectory(tmp_path / "parts.h5").clock_rows() == {"epoch": 3, "example": 3 * 75}
    simulator.run(config, out=tmp_path / "parts.h5", resume=True)
    assert differing_datasets(tmp_path / "whole.h5", tmp_path / "parts.h5") == []


def test_kill_9_leaves_a_readable_file_that_resumes_to_the_same_result(tmp_path):
    flags = ["--dynamics", "timestepped", "--presentation", "1", "--epochs", "12", "--field-every", "2000"]
    scenario = [sys.executable, str(ROOT / "scenarios" / "iris_diffusion.py"), *flags]
    subprocess.run([*scenario, "--out", str(tmp_path / "whole.h5")], check=True, capture_output=True)
    out = tmp_path / "killed.h5"
    process = subprocess.Popen([*scenario, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            try:
                if load_trajectory(out).clock_rows()["epoch"] >= 3:
                    break
            except (TrajectoryError, KeyError, OSError):
                pass  # not created yet
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    run = load_trajectory(out)  # readable up to the last flush
    assert run.status[0] == "running"  # nobody could say otherwise
    epochs = run.series("observables/epoch")[2]
    assert 3 <= len(epochs) < 13 and np.array_equal(epochs, np.arange(len(epochs)))
    done = subprocess.run([*scenario, "--out", str(out), "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert differing_datasets(tmp_path / "whole.h5", out) == []
    assert load_trajectory(out).resumed[0]["status_before"] == "running"


def test_resume_refuses_what_it_cannot_continue(tmp_path, capsys):
    config = simulator.RunConfig.from_dict({"run": {"epochs": 2}})
    simulator.run(config, out=tmp_path / "done.h5")
    with pytest.raises(simulator.trajectory.NothingToResume, match="is complete; there is nothing to resume"):
        simulator.run(config, out=tmp_path / "done.h5", resume=True)
    with pytest.raises(KeyboardInterrupt):
        simulator.run(config, out=tmp_path / "stopped.h5", progress=StopAfter(1))
    differs = r"another config: rule.lr \(file 0.003, given 0.001\)"
    with pytest.raises(simulator.trajectory.ConfigDiffers, match=differs):
        simulator.run(config.with_values({"rule.lr": 1e-3}), out=tmp_path / "stopped.h5", resume=True)
    with pytest.raises(TrajectoryError, match="no such file"):
        simulator.run(config, out=tmp_path / "missing.h5", resume=True)
    # the command line: config read from the file
    assert main(["resume", str(tmp_path / "stopped.h5")]) == 0
    assert "complete; test accuracy" in capsys.readouterr().out
    assert load_trajectory(tmp_path / "stopped.h5").status[0] == "complete"
    assert main(["resume", str(tmp_path / "stopped.h5")]) == 4  # nothing to resume (simulator.commandline)
    assert "nothing to resume" in capsys.readouterr().err


def test_a_file_a_live_run_still_writes_is_not_resumed(tmp_path):
    path = tmp_path / "live.h5"
    with live_writer(path):
        with pytest.raises(simulator.trajectory.FileBusy, match="is being written by a live run"):
            TrajectoryWriter.reopen(path, rows={"epoch": 0}, note={})
    assert load_trajectory(path).status[0] == "complete"


def _with_old_drift_key(path: Path) -> None:
    """The run file as it was written before ``dynamics.drift`` was named ``dynamics.advection``."""
    with h5py.File(path, "r+") as f:
        parameters = f["parameters"]
        stored = json.loads(parameters.attrs["config"])
        dynamics = stored["dynamics"]
        stored["dynamics"] = {("advection" if key == "drift" else key): value for key, value in dynamics.items()}
        parameters.attrs["config"] = json.dumps(stored, sort_keys=True)
        parameters["config"].attrs["dynamics"] = json.dumps(stored["dynamics"])


@pytest.mark.parametrize("how", ["run --resume", "resume"])
def test_a_file_with_the_old_key_dynamics_advection_resumes(tmp_path, capsys, how):
    config = simulator.RunConfig.from_dict({"run": {"epochs": 3, "seed": 1}, "dynamics": {"drift": 0.5}})
    simulator.run(config, out=tmp_path / "whole.h5")
    with pytest.raises(KeyboardInterrupt):
        simulator.run(config, out=tmp_path / "parts.h5", progress=StopAfter(2))
    _with_old_drift_key(tmp_path / "parts.h5")
    if how == "resume":  # the config read from the file, migrated with the notice
        with pytest.warns(simulator.ChemsignalDeprecationWarning, match="dynamics.advection is now dynamics.drift"):
            assert main(["resume", str(tmp_path / "parts.h5")]) == 0
    else:  # the command line: the file's config and the given one compared as this version reads them
        config_file = tmp_path / "c.toml"
        config_file.write_text(config.to_toml())
        assert main(["run", str(config_file), "--out", str(tmp_path / "parts.h5"), "--resume"]) == 0
    assert load_trajectory(tmp_path / "parts.h5").status[0] == "complete"
    assert differing_datasets(tmp_path / "whole.h5", tmp_path / "parts.h5") == []
