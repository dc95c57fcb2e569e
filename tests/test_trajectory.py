"""Run files: H5MD conformance (pyh5md and plain h5py), status, no overwrite, following a live file."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import live_writer

import simulator
from simulator import RunConfig, run
from simulator.trajectory import Series, TrajectoryError, TrajectoryWriter, load_trajectory

SMALL = RunConfig.from_dict({"run": {"epochs": 2}})
TIMESTEPPED = RunConfig.from_dict(
    {"run": {"epochs": 1, "fields_every": 300}, "dynamics": {"name": "timestepped", "presentation": 0.5}}
)


@pytest.fixture(scope="module")
def quasistatic_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "qs.h5"
    run(SMALL, out=path, command_line=["test"])
    return path


@pytest.fixture(scope="module")
def timestepped_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "ts.h5"
    run(TIMESTEPPED, out=path)
    return path


def test_pyh5md_reads_the_file(quasistatic_file, timestepped_file):
    pyh5md = pytest.importorskip("pyh5md")
    for path in (quasistatic_file, timestepped_file):
        with pyh5md.File(str(path), "r") as f:  # asserts h5md/author and h5md/creator
            nodes = f.particles_group("nodes")
            assert list(nodes["box"].attrs["boundary"]) == [b"none", b"none"]
            position = pyh5md.element(nodes, "position")
            assert position.element_type == "FixedElement" and position.shape == (144, 2)
            cost = pyh5md.element(f["observables"], "cost")
            assert cost.element_type == "TimeElement"
            epochs = json.loads(f["parameters/config"].attrs["run"])["epochs"]
            assert cost.step.shape == cost.value.shape == (75 * epochs,)
            conductance = pyh5md.element(f["observables/edges"], "conductance")
            assert conductance.value.shape[1] == f["connectivity/edges"].shape[0]
    with pyh5md.File(str(timestepped_file), "r") as f:
        pressure = pyh5md.element(f.particles_group("nodes"), "pressure")
        assert pressure.value.shape[0] == pressure.step.shape[0] == pressure.time.shape[0] > 0
        assert np.all(pressure.step[()] % TIMESTEPPED["run.fields_every"] == 0)


def test_plain_h5py_layout(quasistatic_file):
    with h5py.File(quasistatic_file, "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/creator"].attrs["version"] == simulator.__version__
        assert "version" in f["h5md/modules/chemsignal"].attrs
        assert f[f["connectivity/edges"].attrs["particles_group"]].name == "/particles/nodes"
        # series sampled together share one step dataset (hard links)
        assert f["observables/cost/step"].id == f["observables/output/step"].id
        assert f["observables/accuracy_test/step"].id == f["observables/edges/conductance/step"].id
        assert "time" not in f["observables/cost"]  # quasistatic: T -> infinity, no physical time
        epochs = f["observables/epoch/value"][()]
        assert list(epochs) == [0, 1, 2]
        assert list(f["observables/epoch/step"][()]) == [0, 75, 150]
        assert list(f["observables/cost/step"][()]) == list(range(1, 151))
        assert json.loads(f["parameters"].attrs["config"]) == SMALL.to_dict()
        assert f["parameters/run_status"][()] == b"complete"
        species = f["particles/nodes/species"][()]
        assert np.bincount(species).tolist()[1:] == [4, 4, 3, 3]


def test_file_matches_the_run(tmp_path):
    result = run(SMALL, out=tmp_path / "a.h5")
    trajectory = load_trajectory(tmp_path / "a.h5")
    assert trajectory.status == ("complete", "")
    np.testing.assert_array_equal(trajectory.series("observables/cost")[2], result.costs)
    np.testing.assert_array_equal(trajectory.series("observables/accuracy_test")[2], result.epochs["accuracy_test"])
    np.testing.assert_array_equal(trajectory.series("observables/edges/conductance")[2][-1],
                                  result.network.conductance)  # fmt: skip
    start = trajectory.network()
    np.testing.assert_array_equal(start.conductance, simulator.lattice_network(seed=0).conductance)
    # targets are the class means through the network of the same epoch
    _, _, desired = trajectory.series("observables/desired_output")
    _, _, target = trajectory.series("observables/target")
    _, _, label = trajectory.series("observables/label")
    np.testing.assert_array_equal(target[:75], desired[0][label[:75]])
    np.testing.assert_array_equal(target[75:], desired[1][label[75:]])


def test_timestepped_fields_and_times(timestepped_file):
    trajectory = load_trajectory(timestepped_file)
    T = trajectory.derived["T"]
    step, time, _ = trajectory.series("observables/cost")
    np.testing.assert_allclose(time, step * T)
    field_step, field_time, pressure = trajectory.series("particles/nodes/pressure")
    _, _, dt = trajectory.series("observables/dt")
    assert np.all(np.diff(field_step) == TIMESTEPPED["run.fields_every"])
    steps_per_presentation = np.rint(T / dt).astype(int)  # dt is re-chosen per presentation
    ends = np.cumsum(steps_per_presentation)
    k = np.searchsorted(ends, field_step)  # presentation of each frame
    into = field_step - np.concatenate([[0], ends])[k]
    np.testing.assert_allclose(field_time, k * T + into * dt[k], rtol=1e-12)
    assert abs(pressure.sum(axis=1)).max() < 1e-9  # sum(v) conserved from rest


def test_same_seed_same_file_contents(tmp_path):
    run(TIMESTEPPED, out=tmp_path / "a.h5")
    run(TIMESTEPPED, out=tmp_path / "b.h5")
    a, b = load_trajectory(tmp_path / "a.h5"), load_trajectory(tmp_path / "b.h5")
    names = [name for name, _, _ in a.datasets() if name.startswith(("observables", "particles"))]
    assert len(names) > 20
    with h5py.File(a.path, "r") as fa, h5py.File(b.path, "r") as fb:
        for name in names:
            np.testing.assert_array_equal(fa[name][()], fb[name][()], err_msg=name)  # bit for bit


def test_existing_file_is_never_overwritten_unless_asked(tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(b"precious")
    with pytest.raises(TrajectoryError, match="exists; pass --overwrite"):
        run(SMALL, out=path)
    assert path.read_bytes() == b"precious"
    run(SMALL, out=path, overwrite=True)
    assert load_trajectory(path).status[0] == "complete"


def test_missing_folder_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(TrajectoryError, match="does not exist"):
        run(SMALL, out=tmp_path / "no" / "run.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(TrajectoryError, match="not an HDF5 file"):
        load_trajectory(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(TrajectoryError, match="not a chemsignal trajectory"):
        load_trajectory(tmp_path / "other.h5")


class _StopAfter:
    """A progress meter that raises after ``epochs`` epochs (as a signal handler would)."""

    def __init__(self, epochs, error):
        self.epochs, self.error = epochs, error

    def start(self, total, description=""):
        pass

    def update(self, advance=1, **postfix):
        self.epochs -= advance
        if self.epochs == 0:
            raise self.error

    def close(self):
        pass


@pytest.mark.parametrize(
    "error, status", [(KeyboardInterrupt("received SIGTERM"), "interrupted"), (RuntimeError("disk on fire"), "failed")]
)
def test_stopped_run_leaves_a_readable_file_that_says_so(tmp_path, error, status):
    path = tmp_path / "stopped.h5"
    with pytest.raises(type(error)):
        run({"run": {"epochs": 5}}, out=path, progress=_StopAfter(2, error))
    trajectory = load_trajectory(path)
    got, message = trajectory.status
    assert got == status and str(error) in message
    assert list(trajectory.series("observables/epoch")[2]) == [0, 1, 2]
    assert len(trajectory.series("observables/cost")[2]) == 150


def test_append_checks_blocks(tmp_path):
    net = simulator.lattice_network(side=3, n_inputs=1, n_outputs=1)
    series = [Series("observables/a", (), "c"), Series("observables/b", (2,), "c")]
    with TrajectoryWriter(tmp_path / "w.h5", network=net, config={}, seed=0, series=series) as out:
        with pytest.raises(KeyError, match="needs exactly"):
            out.append("c", step=[1], **{"observables/a": [1.0]})
        with pytest.raises(ValueError, match="expected a block of shape"):
            out.append("c", step=[1], **{"observables/a": [1.0], "observables/b": [1.0, 2.0]})
        out.append("c", step=[1, 2], **{"observables/a": [1.0, 2.0], "observables/b": np.ones((2, 2))})
        with pytest.raises(ValueError, match=r"clock 'c': steps must grow along the clock; got \[2, 3\] after 2"):
            out.append("c", step=[2, 3], **{"observables/a": [1.0, 2.0], "observables/b": np.ones((2, 2))})
        with pytest.raises(ValueError, match=r"steps must grow along the clock; got \[4, 4\]"):
            out.append("c", step=[4, 4], **{"observables/a": [1.0, 2.0], "observables/b": np.ones((2, 2))})
    step, time, value = load_trajectory(tmp_path / "w.h5").series("observables/b")
    assert list(step) == [1, 2] and time is None and value.shape == (2, 2)


def test_inspect_reads_a_file_while_it_is_being_written(tmp_path):
    path = tmp_path / "live.h5"
    with live_writer(path):
        shown = subprocess.run(
            [sys.executable, "-m", "simulator", "inspect", str(path)], capture_output=True, text=True
        )
        assert shown.returncode == 0, shown.stderr
        assert "status   running" in shown.stdout
        assert "final    epoch 1 of 9" in shown.stdout
        assert "observables/epoch/value" in shown.stdout
    assert load_trajectory(path).status[0] == "complete"


def test_file_size_stays_close_to_the_data_it_holds(tmp_path):
    # SWMR never reuses freed space: a writer that rewrote compressed chunks on every append
    # grew files 50x larger than their data; ours stays within page padding of it (measured:
    # 0.56 MB for 0.53 MB of data; 1.1 MB with the 64 KiB chunks of before)
    path = tmp_path / "long.h5"
    run({"run": {"epochs": 40}}, out=path)
    with h5py.File(path, "r") as f:
        data = sum(f[name].nbytes for name, _, _ in load_trajectory(path).datasets())
    assert path.stat().st_size < 1.2 * data + 100_000


# ---------------------------------------------------------------------- damaged files
class StopAfter:
    """A progress meter that interrupts the run after ``epochs`` epochs."""

    def __init__(self, epochs):
        self.left = epochs

    def start(self, total, description=""):
        pass

    def update(self, n=1, **metrics):
        self.left -= n
        if self.left == 0:
            raise KeyboardInterrupt

    def close(self):
        pass


def _flip(path, offset: int, count: int) -> None:
    with open(path, "r+b") as stream:
        stream.seek(offset)
        data = stream.read(count)
        stream.seek(offset)
        stream.write(bytes(b ^ 0xFF for b in data))


def _one_error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def test_every_dataset_carries_a_checksum(quasistatic_file):
    with h5py.File(quasistatic_file, "r") as f:
        unchecked = []
        f.visititems(lambda name, item: unchecked.append(name) if isinstance(item, h5py.Dataset) and item.size
                     and not item.fletcher32 and item.shape != () else None)  # fmt: skip
    assert unchecked == []  # (scalars cannot be chunked: the status is checked by its value)


def _growing_datasets(f: h5py.File) -> list:
    found = []
    f.visititems(lambda name, item: found.append(item) if isinstance(item, h5py.Dataset)
                 and item.maxshape[:1] == (None,) else None)  # fmt: skip
    return found


def test_no_rewrite_of_a_chunk_or_of_metadata_crosses_a_page(quasistatic_file, timestepped_file, tmp_path):
    """kill -9 can split a write() between two memory pages, and HDF5 rewrites a partly filled
    chunk in place on every append (a torn rewrite failed its checksum in 1 kill of ~500). So
    every chunk that holds several rows lies within one 4 KiB page with its checksum, and the
    file is laid out in pages (HDF5 then keeps smaller metadata within a page too)."""
    resumed = tmp_path / "resumed.h5"
    with pytest.raises(KeyboardInterrupt):
        run(TIMESTEPPED.with_values({"run.epochs": 2}), out=resumed, progress=StopAfter(1))
    run(TIMESTEPPED.with_values({"run.epochs": 2}), out=resumed, resume=True)
    shared_pages = 0
    for path in (quasistatic_file, timestepped_file, resumed):
        with h5py.File(path, "r") as f:
            layout = f.id.get_create_plist()
            assert layout.get_file_space_strategy()[0] == h5py.h5f.FSPACE_STRATEGY_PAGE
            assert layout.get_file_space_page_size() == 4096
            growing = _growing_datasets(f)
            for dataset in growing:
                assert dataset.fletcher32, dataset.name
                if dataset.chunks[0] == 1:
                    continue  # a chunk of one row is written once, whole, and never rewritten
                shared_pages += 1
                for index in range(dataset.id.get_num_chunks()):
                    chunk = dataset.id.get_chunk_info(index)
                    first, last = chunk.byte_offset, chunk.byte_offset + chunk.size - 1
                    assert chunk.size <= 4096 and first // 4096 == last // 4096, (dataset.name, chunk)
    assert shared_pages > 10  # the check above saw chunks of several rows


def test_flipped_bytes_are_named_by_inspect_plot_and_resume(tmp_path, capsys):
    from simulator.cli import main

    path = tmp_path / "stopped.h5"
    with pytest.raises(KeyboardInterrupt):
        run(RunConfig.from_dict({"run": {"epochs": 5}}), out=path, progress=StopAfter(2))
    with h5py.File(path, "r") as f:
        output = f["observables/output/value"]
        chunk, used = output.id.get_chunk_info(0), output.size * output.dtype.itemsize
    _flip(path, chunk.byte_offset + used // 2, 8)  # in the data (a flip in a chunk's unused tail harms none)
    before = path.read_bytes()
    named = f"{path} is damaged: /observables/output/value fails its checksum (bytes changed on disk)"
    for command in (["inspect", str(path)], ["plot", str(path)], ["resume", str(path)]):
        assert main(command) == 2, command
        assert _one_error(capsys).endswith(named), command
    assert path.read_bytes() == before and not path.with_suffix(".png").exists()
    with pytest.raises(simulator.trajectory.DamagedFile, match="/observables/output/value fails its checksum"):
        load_trajectory(path).series("observables/output")


def test_fifty_kilobytes_overwritten_in_the_middle_are_found(tmp_path, capsys):
    from simulator.cli import main

    path = tmp_path / "run.h5"
    run(RunConfig.from_dict({}), out=path)  # the default Iris run, as in the report
    size = path.stat().st_size
    with open(path, "r+b") as stream:
        stream.seek(size // 2)
        stream.write(np.random.default_rng(0).bytes(50_000))
    for command in (["inspect", str(path)], ["plot", str(path)]):
        assert main(command) == 2
        assert f"{path} is damaged: " in _one_error(capsys)
    with pytest.raises(simulator.trajectory.DamagedFile):
        load_trajectory(path).verify()
