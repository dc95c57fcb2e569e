"""Sweeps: grid parsing, one file per point, the manifest, skipping complete points, Dask."""

import json
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.sweep import canonical_value, parse_grid, parse_seeds, run_sweep, summarise, sweep_points
from simulator.trajectory import load_trajectory

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
