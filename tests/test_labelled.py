"""Labelled data: a run file as one xarray Dataset, a sweep folder as one Dataset over its grid,
and the sweep summary's ``--metric``."""

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import simulator.sweep
from simulator import RunConfig, run
from simulator.cli import main
from simulator.sweep import load, run_sweep
from simulator.trajectory import load_trajectory

pytest.importorskip("xarray")

SWEEP_CONFIG = '[task]\nname = "regression"\nn_train = 20\n[run]\nepochs = 2\n'
SWEEP_ARGUMENTS = ["--grid", "rule.eta=0.5,1", "--seeds", "0:2"]


def same_bits(a, b) -> bool:
    """Equal dtype, shape and bytes: NaN in the same places with the same payload counts as equal."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def shorten(path, series: str, rows: int, status: str = "interrupted") -> None:
    """Leave ``series`` with ``rows`` samples and the run ``status``, as a run killed mid-block does."""
    with h5py.File(path, "r+") as f:
        f[f"{series}/value"].resize(rows, axis=0)
        f["parameters/run_status"][()] = np.bytes_(status)


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("iris") / "run.h5"
    run(RunConfig.from_dict({"run": {"epochs": 2}}), out=path)
    return path


@pytest.fixture(scope="module")
def timestepped_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("timestepped") / "run.h5"
    config = {"task": {"name": "regression", "n_train": 10}, "run": {"epochs": 2, "fields_every": 20},
              "dynamics": {"name": "timestepped", "presentation": 1.0}}  # fmt: skip
    run(RunConfig.from_dict(config), out=path)
    return path


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory):
    """A finished config sweep: regression, ``rule.eta`` 0.5 and 1, seeds 0 and 1, 2 epochs each."""
    root = tmp_path_factory.mktemp("sweep")
    (root / "run.toml").write_text(SWEEP_CONFIG)
    manifest = run_sweep(str(root / "run.toml"), {"rule.eta": ["0.5", "1"]}, [0, 1], root / "out", workers=2,
                         say=lambda _: None)  # fmt: skip
    assert [entry["status"] for entry in manifest] == ["complete"] * 4
    return root


# ---------------------------------------------------------------------- one run
def test_a_run_as_a_dataset_holds_the_files_values_bit_for_bit(iris_run):
    trajectory = load_trajectory(iris_run)
    ds = trajectory.to_xarray()
    for name, path in [("accuracy_test", "observables/accuracy_test"), ("cost_train", "observables/cost_train"),
                       ("conductance", "observables/edges/conductance"), ("cost", "observables/cost"),
                       ("output", "observables/output"), ("example", "observables/example")]:  # fmt: skip
        step, time, value = trajectory.series(path)
        assert same_bits(ds[name].values, value), name
        dimension = ds[name].dims[0]
        assert same_bits(ds[f"step_{dimension}"].values, step) and time is None  # a quasistatic run has no time
    assert ds["conductance"].dims == ("epoch", "edge") and ds.sizes["epoch"] == 3
    assert ds["cost"].dims == ("presentation",) and ds.sizes["presentation"] == 150  # 75 presentations an epoch
    assert ds["output"].dims == ds["target"].dims == ("presentation", "output_pair")  # shared: output - target
    assert same_bits(ds["epoch"].values, trajectory.series("observables/epoch")[2])  # [0, 1, 2] label the epochs
    assert float(ds["accuracy_test"].sel(epoch=2)) == trajectory.series("observables/accuracy_test")[2][2]
    assert not [name for name in ds.variables if "checkpoint" in name or "time_" in name]


def test_a_runs_fixed_data_and_provenance_are_coordinates_and_attributes(iris_run):
    trajectory = load_trajectory(iris_run)
    ds = trajectory.to_xarray()
    position, edges = trajectory.fixed("particles/nodes/position"), trajectory.fixed("connectivity/edges")
    assert same_bits(ds["x"].values, position[:, 0]) and same_bits(ds["y"].values, position[:, 1])
    assert same_bits(ds["node_a"].values, edges[:, 0]) and same_bits(ds["node_b"].values, edges[:, 1])
    assert same_bits(ds["species"].values, trajectory.fixed("particles/nodes/species"))
    assert ds["x"].dims == ds["species"].dims == ("node",) and ds["node_a"].dims == ("edge",)
    assert (ds.attrs["status"], ds.attrs["message"], ds.attrs["seed"]) == ("complete", "", 0)
    assert json.loads(ds.attrs["config"]) == trajectory.config and ds.attrs["path"] == str(iris_run)
    assert json.loads(ds.attrs["versions"]) == trajectory.versions
    assert ds["conductance"].attrs["unit"] == "conductance"
    assert ds["conductance"].attrs["h5md_path"] == "observables/edges/conductance"


def test_a_time_stepped_runs_fields_are_frames_by_nodes_with_their_times(timestepped_run):
    trajectory = load_trajectory(timestepped_run)
    ds = trajectory.to_xarray()
    for name in ("pressure", "concentration"):
        step, time, value = trajectory.series(f"particles/nodes/{name}")
        assert ds[name].dims == ("frame", "node") and value.shape == (123, ds.sizes["node"])
        assert same_bits(ds[name].values, value)
        assert same_bits(ds["step_frame"].values, step) and same_bits(ds["time_frame"].values, time)
    step, time, _ = trajectory.series("observables/cost_test")
    assert same_bits(ds["step_epoch"].values, step) and same_bits(ds["time_epoch"].values, time)


def test_an_interrupted_file_is_cut_to_the_samples_complete_on_each_clock(iris_run, tmp_path):
    path = tmp_path / "torn.h5"
    shutil.copy(iris_run, path)
    shorten(path, "observables/accuracy_test", 2)  # the last epoch's block half written
    trajectory = load_trajectory(path)
    ds = trajectory.to_xarray()
    assert ds.sizes["epoch"] == 2 and ds.attrs["status"] == "interrupted"
    assert same_bits(ds["conductance"].values, trajectory.series("observables/edges/conductance")[2])
    assert len(trajectory.series("observables/edges/conductance")[2]) == 2  # every reader cuts the clock alike
    with h5py.File(path, "r") as f:
        assert len(f["observables/edges/conductance/value"]) == 3  # (the file itself is left as it is)
    assert ds.sizes["presentation"] == 150  # the other clock keeps all of its samples


def test_without_xarray_the_error_says_how_to_install_it(iris_run, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "xarray", None)  # an import of it now fails
    with pytest.raises(ImportError, match=r"to_xarray needs xarray: pip install 'chemsignal-sim\[xarray\]'"):
        load_trajectory(iris_run).to_xarray()
    with pytest.raises(ImportError, match=r"load needs xarray"):
        load(tmp_path)


def test_importing_the_package_and_the_sweep_module_does_not_import_xarray():
    code = "import sys, simulator, simulator.sweep, simulator.cli; print('xarray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


# ---------------------------------------------------------------------- a sweep
def test_a_sweep_loads_as_one_dataset_over_its_grid_seeds_and_epochs(sweep_folder):
    out = sweep_folder / "out"
    ds = load(out)
    assert dict(ds.sizes) == {"rule.eta": 2, "seed": 2, "epoch": 3}
    assert ds["rule.eta"].values.tolist() == [0.5, 1.0] and ds["seed"].values.tolist() == [0, 1]
    assert ds["epoch"].values.tolist() == [0, 1, 2]
    assert ds["cost_test"].dims == ("rule.eta", "seed", "epoch")
    assert {"cost_test", "cost_train", "clip_fraction", "step_growth", "cost_ratio"} <= set(ds.data_vars)
    assert (ds["status"].values == "complete").all()
    for eta, label in ((0.5, "rule.eta0.5"), (1.0, "rule.eta1")):
        for seed in (0, 1):
            trajectory = load_trajectory(out / f"{label}_seed{seed}.h5")
            point = ds.sel({"rule.eta": eta, "seed": seed})
            assert str(point["file"].values) == f"{label}_seed{seed}.h5"
            for name in ("cost_test", "cost_train", "step_growth"):
                assert same_bits(point[name].values, trajectory.series(f"observables/{name}")[2]), (label, seed, name)


def test_a_missing_point_is_nan_and_a_shorter_one_nan_padded(sweep_folder, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sweep_folder / "out", out)
    (out / "rule.eta1_seed1.h5").unlink()
    shorten(out / "rule.eta0.5_seed1.h5", "observables/cost_test", 2)
    ds = load(out)
    assert ds["status"].values.tolist() == [["complete", "interrupted"], ["complete", "missing"]]
    assert np.isnan(ds["cost_test"].sel({"rule.eta": 1.0, "seed": 1})).all()
    shorter = ds["cost_test"].sel({"rule.eta": 0.5, "seed": 1}).values
    expected = load_trajectory(out / "rule.eta0.5_seed1.h5").series("observables/cost_test")[2]
    assert same_bits(shorter[:2], expected) and np.isnan(shorter[2])
    assert not np.isnan(ds["cost_test"].sel(seed=0)).any()  # the others untouched


def test_a_grid_cell_no_manifest_entry_names_is_absent(sweep_folder, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sweep_folder / "out", out)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps([e for e in manifest if e["file"] != "rule.eta0.5_seed0.h5"]))
    ds = load(out)
    assert ds["status"].values.tolist() == [["absent", "complete"], ["complete", "complete"]]
    assert str(ds["file"].values[0, 0]) == "" and np.isnan(ds["cost_train"].values[0, 0]).all()


def test_loading_a_folder_that_is_not_a_sweep_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no manifest.json"):
        load(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load(tmp_path / "nowhere")
    (tmp_path / "manifest.json").write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="cannot be read as a sweep manifest"):
        load(tmp_path)


# ---------------------------------------------------------------------- the summary's --metric
def test_an_unknown_metric_is_refused_before_running_naming_the_known_ones(sweep_folder, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(sweep_folder / "out", out)
    before = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    code = main(["sweep", str(sweep_folder / "run.toml"), *SWEEP_ARGUMENTS, "--out", str(out), "--metric", "acuracy"])
    assert code == 2
    error = capsys.readouterr().err
    assert "metric 'acuracy' is not a per-epoch series" in error and "cost_test, cost_train" in error
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == before  # nothing run or rewritten


def test_an_unknown_metric_found_once_the_points_have_run_is_an_error_too(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(SWEEP_CONFIG)
    arguments = ["--seeds", "0", "--workers", "1", "--out", str(tmp_path / "out"), "--metric", "accuracy_test"]
    assert main(["sweep", str(tmp_path / "run.toml"), *arguments]) == 2  # a regression has no accuracy
    assert "metric 'accuracy_test' is not a per-epoch series" in capsys.readouterr().err
    assert load_trajectory(tmp_path / "out" / "default_seed0.h5").status[0] == "complete"  # the point was kept


def test_a_known_metric_labels_the_summary_and_spreads_the_seeds(sweep_folder, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(sweep_folder / "out", out)
    figures = []
    original = simulator.sweep.save_figure
    monkeypatch.setattr(simulator.sweep, "save_figure", lambda fig, *a, **k: figures.append(fig) or original(fig, *a,
                        **k))  # fmt: skip
    code = main(["sweep", str(sweep_folder / "run.toml"), *SWEEP_ARGUMENTS, "--out", str(out), "--metric",
                 "cost_train"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "| point | seeds | final cost_train: mean |" in (out / "summary.md").read_text()
    assert (out / "summary.png").is_file()
    (ax,) = figures[0].axes
    assert ax.get_ylabel() == "final cost_train"
    dots = [collection.get_offsets() for collection in ax.collections if len(collection.get_offsets()) == 2]
    assert [np.round(d[:, 0], 12).tolist() for d in dots] == [[-0.15, 0.15], [0.85, 1.15]]  # seed 0 left, 1 right
    ds = load(out)
    final = ds["cost_train"].isel(epoch=-1)
    assert [d[:, 1].tolist() for d in dots] == final.values.tolist()  # each dot its seed's final value
