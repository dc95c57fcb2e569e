"""Sweeps: grid parsing, one file per point, the manifest, skipping complete points, Dask."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import simulator
import simulator.sweep
from simulator.cli import main
from simulator.outputs import held
from simulator.sweep import canonical_value, parse_grid, parse_seeds, run_sweep, summarise, sweep_points
from simulator.trajectory import TrajectoryError, load_trajectory

SCENARIO = str(Path(__file__).resolve().parents[1] / "scenarios" / "iris_diffusion.py")


def test_grid_and_seed_parsing():
    assert parse_grid(["lr=1e-4,1e-3", "w_min=0.01"]) == {"lr": ["0.0001", "0.001"], "w_min": ["0.01"]}
    # one spelling per value, wherever it came from (TOML 0.001, the command line 1e-3)
    assert [canonical_value(v) for v in ("1e-3", "0.001", "1", "1.0", "3e-3", "-1e-3", "2.5e20", "True", "x.h5")] == [
        "0.001", "0.001", "1", "1", "0.003", "-0.001", "2.5e+20", "true", "x.h5"]  # fmt: skip
    assert parse_seeds("2:5") == [2, 3, 4] and parse_seeds("1,7") == [1, 7]
    assert parse_grid(["rule.eta=0.1,1"]) == {"rule.eta": ["0.1", "1"]}
    for bad, message in ((["lr"], "KEY=V1,V2"), (["lr="], "KEY=V1,V2"), (["l r=1"], "not a flag name")):
        with pytest.raises(ValueError, match=message):
            parse_grid(bad)
    with pytest.raises(ValueError, match="START:STOP or a,b,c"):
        parse_seeds("zero")
    points = sweep_points({"lr": ["1", "2"], "epochs": ["3"]}, [0, 1])
    assert [p["file"] for p in points] == ["epochs3_lr1_seed0.h5", "epochs3_lr1_seed1.h5",
                                           "epochs3_lr2_seed0.h5", "epochs3_lr2_seed1.h5"]  # fmt: skip


def test_sweep_writes_every_point_and_skips_complete_ones_on_rerun(tmp_path):
    grid = {"lr": ["1e-3", "3e-3"]}
    manifest = run_sweep(SCENARIO, grid, [0, 1], tmp_path, passthrough=["--smoke"], workers=2, say=lambda _: None)
    assert [e["status"] for e in manifest] == ["complete"] * 4
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    config = load_trajectory(tmp_path / "lr0.003_seed1.h5").config
    assert config["rule"]["lr"] == 3e-3 and config["run"]["seed"] == 1 and config["run"]["epochs"] == 2  # --smoke
    before = {e["file"]: (tmp_path / e["file"]).stat().st_mtime_ns for e in manifest}
    messages = []
    run_sweep(SCENARIO, grid, [0, 1], tmp_path, passthrough=["--smoke"], say=messages.append)
    assert messages == [f"4 points, 4 already complete, 0 to run -> {tmp_path}/"]
    assert before == {e["file"]: (tmp_path / e["file"]).stat().st_mtime_ns for e in manifest}
    table, figure = summarise(tmp_path)
    assert "| lr0.001 | 2 |" in table and figure.is_file()


def test_a_failing_point_is_reported_not_hidden(tmp_path, capsys):
    code = main(["sweep", SCENARIO, "--grid", "lr=-1,1e-3", "--seeds", "0", "--out", str(tmp_path), "--smoke"])
    assert code == 1
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    failed = [e for e in manifest if e["status"] != "complete"]
    assert [e["file"] for e in failed] == ["lr-1_seed0.h5"] and "lr must be > 0" in failed[0]["error"]


def test_sweep_runs_on_a_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            manifest = run_sweep(SCENARIO, {"lr": ["1e-3", "2e-3"]}, [3], tmp_path, passthrough=["--smoke"],
                                 executor=client.get_executor(), say=lambda _: None)  # fmt: skip
    assert [e["status"] for e in manifest] == ["complete", "complete"]
    assert [load_trajectory(tmp_path / e["file"]).config["rule"]["lr"] for e in manifest] == [1e-3, 2e-3]


def test_sweep_of_a_run_config_over_any_key(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('[task]\nname = "regression"\nn_train = 20\n[run]\nepochs = 2\n')
    out = tmp_path / "sweep"
    code = main(["sweep", str(config), "--grid", "rule.eta=0.1,1", "--seeds", "0:2", "--out", str(out),
                 "--workers", "2", "--set", "rule.lr=0.001"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(e["file"], e["status"]) for e in manifest] == [
        ("rule.eta0.1_seed0.h5", "complete"), ("rule.eta0.1_seed1.h5", "complete"),
        ("rule.eta1_seed0.h5", "complete"), ("rule.eta1_seed1.h5", "complete"),
    ]  # fmt: skip
    run = load_trajectory(out / "rule.eta1_seed1.h5")
    assert (run.config["rule"]["eta"], run.config["rule"]["lr"], run.config["run"]["seed"]) == (1.0, 0.001, 1)
    assert "final cost_test: mean" in capsys.readouterr().out  # no accuracy in a regression: its test cost
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['rule.etta'\]"):
        run_sweep(str(config), {"rule.etta": ["1"]}, [0], out, say=lambda _: None)


# ---------------------------------------------------------------------- sweeps that cannot lie or destroy
SLOW_POINT = """[task]
name = "regression"
n_train = 20
[rule]
lr = 0.0003
[dynamics]
name = "timestepped"
presentation = 20.0
[run]
epochs = 40
fields_every = 0
"""


def test_a_rerun_with_other_settings_is_refused_naming_the_difference(tmp_path, capsys):
    out = tmp_path / "sweep"
    arguments = ["sweep", SCENARIO, "--grid", "lr=1e-3", "--seeds", "0", "--out", str(out), "--smoke"]
    assert main(arguments) == 0
    stamp = (out / "lr0.001_seed0.h5").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*arguments, "--epochs", "3"]) == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line == (f"chemsignal sweep: error: {out}/lr0.001_seed0.h5 was made with other settings: run.epochs "
                    "(there 2, here 3); rerun with the same settings to finish that sweep, or give another --out")
    assert (out / "lr0.001_seed0.h5").stat().st_mtime_ns == stamp
    # the same point written another way (0.001 in a sweep file) is the same point: nothing to run
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(f'scenario = "{SCENARIO}"\nout = "sweep"\nseeds = [0]\n[sweep]\nlr = [0.001]\nsmoke = true\n')
    messages = []
    described = simulator.sweep.read_sweep_file(sweep_file)
    run_sweep(described["scenario"], described["grid"], [0], out, passthrough=described["passthrough"],
              say=messages.append)  # fmt: skip
    assert messages == [f"1 points, 1 already complete, 0 to run -> {out}/"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest[0]["identity"]["config"]["rule"]["lr"] == 0.001 and manifest[0]["identity"]["config"]["run"][
        "epochs"] == 2  # fmt: skip


def test_a_point_held_by_a_live_run_is_waited_for_not_run_twice(tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_POINT)
    out = tmp_path / "sweep"
    out.mkdir()
    point = out / "default_seed0.h5"
    other = subprocess.Popen([sys.executable, "-m", "simulator", "run", str(config), "--out", str(point), "--set",
                              "run.seed=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not held(point) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert held(point)
        manifest = run_sweep(str(config), {}, [0], out, say=lambda _: None)
    finally:
        other.communicate(timeout=120)
    assert other.returncode == 0 and manifest[0]["status"] == "complete"
    recorded = load_trajectory(point)
    assert recorded.resumed == [] and recorded.command_line[1] == "run"  # the other run's file, finished by it


def _sweep_in_thread(*args, **kwargs):
    found = {}

    def target():
        try:
            found["manifest"] = run_sweep(*args, say=lambda _: None, **kwargs)
        except BaseException as error:  # reported by the test
            found["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    return thread, found


def test_two_sweeps_on_one_folder_finish_it_together_running_each_point_once(tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_POINT.replace("epochs = 40", "epochs = 10"))
    out = tmp_path / "sweep"
    first, found_first = _sweep_in_thread(str(config), {"rule.eta": ["0.5", "1"]}, [0, 1], out, workers=1)
    second, found_second = _sweep_in_thread(str(config), {"rule.eta": ["0.5", "1"]}, [0, 1], out, workers=1)
    first.join(300)
    second.join(300)
    for found in (found_first, found_second):
        assert "error" not in found, found.get("error")
        assert [e["status"] for e in found["manifest"]] == ["complete"] * 4
    for entry in found_first["manifest"]:
        recorded = load_trajectory(out / entry["file"])
        assert recorded.resumed == [] and recorded.status[0] == "complete"  # each run once, start to end
    assert not list(out.glob(".*partial*"))


def test_a_dask_worker_lost_mid_point_leaves_the_sweep_complete(tmp_path):
    distributed = pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_POINT)
    out = tmp_path / "sweep"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            workers = set(client.run(os.getpid).values())
            thread, found = _sweep_in_thread(str(config), {"rule.eta": ["0.5", "1"]}, [0], out,
                                             executor=client.get_executor())  # fmt: skip
            victim = None
            deadline = time.monotonic() + 120
            while victim is None and time.monotonic() < deadline:  # a point running under a worker, some epochs in
                for pid in workers:
                    for child in psutil.Process(pid).children(recursive=True):
                        try:
                            point = next((a for a in child.cmdline() if a.endswith(".h5")), None)
                        except psutil.Error:  # a child that ended between the listing and the look (a zombie)
                            continue
                        try:
                            if point and load_trajectory(point).clock_rows().get("epoch", 0) > 3:
                                victim = (psutil.Process(pid), child, Path(point))
                        except TrajectoryError:  # not created yet, or being created
                            pass
                time.sleep(0.1)
            assert victim is not None, "no point ran under a worker"
            worker, child, point = victim
            child.kill()  # the worker and the run it started, lost at once
            worker.kill()
            thread.join(300)
    assert "error" not in found, found.get("error")
    assert [e["status"] for e in found["manifest"]] == ["complete", "complete"]
    recorded = load_trajectory(point)
    assert recorded.resumed and recorded.resumed[0]["status_before"] == "running"  # resumed by the task's retry
    whole = simulator.run(simulator.RunConfig.from_file(config).with_values(
        {"rule.eta": recorded.config["rule"]["eta"], "run.seed": 0}))  # fmt: skip
    np.testing.assert_array_equal(recorded.series("observables/cost")[2], whole.costs)  # as if never lost


def test_a_second_sweep_into_one_folder_keeps_the_first_ones_manifest_entries(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[task]\nname = "regression"\nn_train = 20\n[rule]\nlr = 0.0003\n[run]\nepochs = 2\n')
    out = tmp_path / "sweep"
    run_sweep(str(config), {"rule.eta": ["0.5"]}, [0, 1], out, say=lambda _: None)
    ours = run_sweep(str(config), {"rule.eta": ["1"]}, [0], out, say=lambda _: None)
    assert [e["file"] for e in ours] == ["rule.eta1_seed0.h5"]
    recorded = json.loads((out / "manifest.json").read_text())
    assert sorted((e["file"], e["status"]) for e in recorded) == [
        ("rule.eta0.5_seed0.h5", "complete"), ("rule.eta0.5_seed1.h5", "complete"), ("rule.eta1_seed0.h5", "complete")]


def test_points_run_in_long_lived_workers_and_match_a_run_of_their_own(tmp_path):
    """Four points on one worker: one process ran them all (a scenario of ours records its pid
    beside its file), and each point's file holds the same trajectory, bit for bit, as the
    same command run as a process of its own."""
    scenario = tmp_path / "pid_scenario.py"
    scenario.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(SCENARIO).parent)!r})\n"
        "import iris_diffusion\n"
        "def main(argv=None):\n"
        "    out = sys.argv[sys.argv.index('--out') + 1]\n"
        "    with open(out + '.pid', 'w') as file:\n"
        "        file.write(str(os.getpid()))\n"
        "    return iris_diffusion.main(argv)\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main())\n"
    )
    out = tmp_path / "sweep"
    manifest = run_sweep(str(scenario), {"lr": ["1e-3", "3e-3"]}, [0, 1], out, passthrough=["--smoke"], workers=1,
                         say=lambda _: None)  # fmt: skip
    assert [e["status"] for e in manifest] == ["complete"] * 4
    pids = {(out / (e["file"] + ".pid")).read_text() for e in manifest}
    assert len(pids) == 1 and pids != {str(os.getpid())}
    alone = tmp_path / "alone.h5"
    subprocess.run([sys.executable, SCENARIO, "--smoke", "--seed", "1", "--lr", "3e-3", "--out", str(alone)],
                   check=True, capture_output=True)  # fmt: skip
    swept, single = load_trajectory(out / "lr0.003_seed1.h5"), load_trajectory(alone)
    assert swept.config == single.config
    compared = [name for name, _, _ in single.datasets() if name.startswith("observables/") and "wall" not in name]
    assert "observables/edges/conductance/value" in compared and "observables/cost/value" in compared
    for name in compared:
        kind, series = name.rsplit("/", 1)
        column = 0 if series == "step" else 2
        assert np.array_equal(swept.series(kind)[column], single.series(kind)[column], equal_nan=True), name
