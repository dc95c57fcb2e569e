"""The XDMF sidecar (simulator.export): read back by meshio, from another folder, its values
equal the run file's, and it copies none of them."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from simulator import RunConfig, load_trajectory, run
from simulator.export import export_xdmf
from simulator.outputs import OutputError

meshio = pytest.importorskip("meshio")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xdmf")
    small = {"network": {"side": 6}, "task": {"per_class_train": 4}}
    paths = {}
    for name, dynamics, every in (("timestepped", {"name": "timestepped"}, 1000),
                                  ("advection", {"name": "advection", "release_every": 5}, 100),
                                  ("quasistatic", {"name": "quasistatic"}, 1000)):  # fmt: skip
        paths[name] = folder / f"{name}.h5"
        run(RunConfig.from_dict({**small, "dynamics": dynamics, "run": {"epochs": 2, "fields_every": every}}),
            out=paths[name])  # fmt: skip
    return paths


def _read_back(xdmf, elsewhere):
    """Every frame of the sidecar as meshio reads it, read with another working directory."""
    here = os.getcwd()
    os.chdir(elsewhere)
    try:
        with meshio.xdmf.TimeSeriesReader(xdmf) as reader:
            points, cells = reader.read_points_cells()
            frames = [reader.read_data(k) for k in range(reader.num_steps)]
    finally:
        os.chdir(here)
    return points, cells, frames


@pytest.mark.parametrize("kind, fields", [("timestepped", ("pressure", "concentration")),
                                          ("advection", ("s_plus", "s_minus")), ("quasistatic", ())])  # fmt: skip
def test_meshio_reads_the_runs_values(runs, kind, fields, tmp_path):
    recorded = load_trajectory(runs[kind])
    xdmf = export_xdmf(runs[kind])
    points, cells, frames = _read_back(xdmf, tmp_path)
    np.testing.assert_array_equal(points, recorded.fixed("particles/nodes/position"))
    assert cells[0].type == "line"
    np.testing.assert_array_equal(cells[0].data, recorded.fixed("connectivity/edges"))
    w_steps, w_times, w = recorded.series("observables/edges/conductance")
    clock = f"particles/nodes/{fields[0]}" if fields else "observables/edges/conductance"
    steps, times, _ = recorded.series(clock)
    assert len(frames) == len(steps) > 1
    for field in fields:
        values = recorded.series(f"particles/nodes/{field}")[2]
        for k, (_, point_data, _) in enumerate(frames):
            np.testing.assert_array_equal(point_data[field], values[k])
    for k, (time, point_data, cell_data) in enumerate(frames):
        assert time == (times[k] if times is not None else steps[k])
        np.testing.assert_array_equal(point_data["species"], recorded.fixed("particles/nodes/species"))
        paired = (k if not fields else np.searchsorted(w_times, times[k], side="right") - 1 if times is not None
                    else np.searchsorted(w_steps, steps[k] // recorded.config["dynamics"]["transport_steps"],
                                         side="right") - 1)  # fmt: skip
        np.testing.assert_array_equal(cell_data["conductance"][0], w[paired])


def test_sidecar_copies_no_data_and_is_not_overwritten(runs):
    xdmf = runs["timestepped"].with_name("copy_check.xdmf")
    export_xdmf(runs["timestepped"], xdmf)
    import h5py

    with h5py.File(str(xdmf) + ".h5", "r") as sidecar:
        datasets = []
        sidecar.visititems(lambda name, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
        assert datasets and all(d.is_virtual for d in datasets)
    with pytest.raises(OutputError, match="exists"):
        export_xdmf(runs["timestepped"], xdmf)
    with pytest.raises(OutputError, match=r"ends in \.xdmf"):
        export_xdmf(runs["timestepped"], xdmf.with_suffix(".xml"))


def test_the_run_file_is_never_a_sidecar(runs, tmp_path):
    """A run named ``r.xdmf.h5``, exported to ``r.xdmf`` with overwrite: its companion would be the run."""
    run_file = Path(shutil.copy(runs["advection"], tmp_path / "r.xdmf.h5"))
    before = run_file.read_bytes()
    with pytest.raises(OutputError, match="the file it is made from"):
        export_xdmf(run_file, tmp_path / "r.xdmf", overwrite=True)
    assert run_file.read_bytes() == before and not (tmp_path / "r.xdmf").exists()


def test_a_sidecar_in_another_folder_read_from_a_third(runs, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "third").mkdir()
    xdmf = export_xdmf(runs["advection"], tmp_path / "other" / "adv.xdmf")
    _, _, frames = _read_back(xdmf, tmp_path / "third")
    values = load_trajectory(runs["advection"]).series("particles/nodes/s_minus")[2]
    assert len(frames) == len(values)
    for k, (_, point_data, _) in enumerate(frames):
        np.testing.assert_array_equal(point_data["s_minus"], values[k])


def test_a_torn_file_exports_the_frames_complete_on_the_clock(runs, tmp_path):
    import h5py

    torn = Path(shutil.copy(runs["timestepped"], tmp_path / "torn.h5"))
    with h5py.File(torn, "r+") as f:
        f["particles/nodes/concentration/value"].resize(20, axis=0)
    _, _, frames = _read_back(export_xdmf(torn), tmp_path)
    assert len(frames) == 20


def test_command_line(runs, tmp_path, capsys):
    from simulator.cli import main

    out = tmp_path / "advection.xdmf"
    assert main(["export", str(runs["advection"]), "--xdmf", "-o", str(out)]) == 0
    assert f"xdmf:   {out}" in capsys.readouterr().out
    recorded = load_trajectory(runs["advection"]).series("particles/nodes/s_plus")[0]
    assert len(_read_back(out, tmp_path)[2]) == len(recorded)
    assert main(["export", str(runs["advection"]), "--xdmf", "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_a_run_file_named_with_a_percent_sign_exports_and_reads_back(runs, tmp_path):
    """HDF5 takes a virtual source's file name as a printf pattern (%b: a block number); a run
    file named run%b.h5 raised a ValueError from h5py's depths and wrote nothing."""
    path = tmp_path / "run%b.h5"
    shutil.copy(runs["timestepped"], path)
    xdmf = export_xdmf(path)
    points, _, frames = _read_back(xdmf, tmp_path)
    recorded = load_trajectory(path)
    np.testing.assert_array_equal(points, recorded.fixed("particles/nodes/position"))
    pressure = recorded.series("particles/nodes/pressure")[2]
    assert len(frames) == len(pressure) > 1
    for k, (_, point_data, _) in enumerate(frames):
        np.testing.assert_array_equal(point_data["pressure"], pressure[k])
