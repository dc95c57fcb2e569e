"""Run files that every HDF5 tool opens: a run file, an export sidecar and a sweep's run file
written by this install read, every dataset, with h5py 3.11 (HDF5 1.14) and with h5dump from
HDF5 1.10 (files written with ``libver="latest"`` under HDF5 2.0 did not).

The old readers are not Python packages of this project: ``.ci/run`` makes a venv with h5py
3.11 (``CHEMSIGNAL_OLD_H5PY_PYTHON`` names its interpreter), installs Debian's ``hdf5-tools``
and sets ``CHEMSIGNAL_REQUIRE_OLD_READERS``; elsewhere a missing reader skips its test."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest

import simulator
from simulator.export import export_xdmf
from simulator.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = bool(os.environ.get("CHEMSIGNAL_REQUIRE_OLD_READERS"))  # .ci/run sets it

EVERY_DATASET = """
import hashlib, json, sys
import h5py
found = {}
with h5py.File(sys.argv[1], "r") as f:
    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            found[name] = hashlib.sha1(item[()].tobytes()).hexdigest()
    f.visititems(visit)
print(json.dumps({"hdf5": h5py.version.hdf5_version, "datasets": found}))
"""


def old_python() -> str:
    python = os.environ.get("CHEMSIGNAL_OLD_H5PY_PYTHON", "")
    if not python or not Path(python).exists():
        if REQUIRED:
            pytest.fail("CHEMSIGNAL_OLD_H5PY_PYTHON must name a Python with h5py 3.11")
        pytest.skip("no Python with h5py 3.11 (CHEMSIGNAL_OLD_H5PY_PYTHON); CI makes one and runs this test")
    return python


def h5dump() -> str:
    found = shutil.which("h5dump")
    if found is None:
        if REQUIRED:
            pytest.fail("h5dump (Debian's hdf5-tools) is required here")
        pytest.skip("no h5dump (Debian's hdf5-tools); CI installs it and runs this test")
    return found


def datasets(path) -> dict[str, str]:
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, hashlib.sha1(item[()].tobytes()).hexdigest())
                     if isinstance(item, h5py.Dataset) else None)  # fmt: skip
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("old_readers")
    run = folder / "run.h5"
    simulator.run({"network": {"side": 6}, "task": {"per_class_train": 4}, "run": {"epochs": 2, "fields_every": 500},
                   "dynamics": {"name": "timestepped"}}, out=run)  # fmt: skip
    sidecar = Path(str(export_xdmf(run)) + ".h5")
    config = folder / "point.toml"
    config.write_text('[task]\nname = "regression"\nn_train = 10\n[run]\nepochs = 1\n')
    run_sweep(str(config), {}, [0], folder / "sweep", workers=1, say=lambda *args: None)
    (point,) = sorted((folder / "sweep").glob("*.h5"))
    resumed = folder / "resumed.h5"  # cut back and copied by resume
    with pytest.raises(KeyboardInterrupt):
        simulator.run({"run": {"epochs": 3}}, out=resumed, progress=StopAfterOne())
    simulator.run({"run": {"epochs": 3}}, out=resumed, resume=True)
    return {"run file": run, "export sidecar": sidecar, "sweep point": point, "resumed run file": resumed}


class StopAfterOne:
    def start(self, total, description=""):
        pass

    def update(self, n=1, **metrics):
        raise KeyboardInterrupt

    def close(self):
        pass


@pytest.mark.parametrize("kind", ["run file", "export sidecar", "sweep point", "resumed run file"])
def test_h5py_3_11_reads_every_dataset_as_this_install_does(files, kind):
    done = subprocess.run([old_python(), "-c", EVERY_DATASET, str(files[kind])], capture_output=True, text=True,
                          cwd=files[kind].parent, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    read = json.loads(done.stdout)
    assert read["hdf5"].startswith("1.")  # an HDF5 before 2.0 did the reading
    assert read["datasets"] == datasets(files[kind]) and len(read["datasets"]) > 5


@pytest.mark.parametrize("kind", ["run file", "export sidecar", "sweep point", "resumed run file"])
def test_h5dump_of_hdf5_1_10_reads_every_dataset(files, kind):
    done = subprocess.run([h5dump(), "-A", "0", str(files[kind].name)], capture_output=True, text=True,
                          cwd=files[kind].parent, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "error" not in (done.stderr + done.stdout).lower(), done.stderr[-2000:]
    # each dataset's values once, attributes aside (-A 0; a step shared by several series is printed once,
    # then named as a HARDLINK)
    assert done.stdout.count("DATA {") == len(datasets(files[kind])) > 5
