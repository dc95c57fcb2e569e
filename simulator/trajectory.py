"""Run files in H5MD 1.1: one HDF5 file per run, readable by plain h5py and H5MD readers.

Layout (time series are H5MD groups with ``step``, ``time`` and ``value``; series sampled
together share ``step``/``time`` through hard links)::

    h5md/                          version [1, 1]; author, creator; modules/chemsignal
    particles/nodes/box            dimension 2, boundary none
    particles/nodes/position       [n, 2]   layout coordinates (lattice units)
    particles/nodes/species        [n]      0 interior, 1 input+, 2 input-, 3 output+, 4 output-
    particles/nodes/pressure/      [k, n]   time-stepped runs, at the run's field cadence
    particles/nodes/concentration/ [k, n]   (step counts explicit time steps)
    connectivity/edges             [m, 2]   pipes; also input_pairs, output_pairs
    observables/...                series declared by the run (step counts presentations)
    parameters/                    config (JSON), seed, versions; run_status, run_message

The writer opens the file in SWMR mode after creating every object, appends in blocks (one
resize and one write per dataset per block, then a flush, then the block's mark in
``parameters/committed_rows`` and a second flush), and records ``run_status``:
``running`` while it works, then ``complete``, ``interrupted`` or ``failed`` (with the error in
``run_message``). A reader can open the file while the run is still writing.

Nothing torn is read. A block is appended with SIGINT and SIGTERM held back
(:func:`simulator.base.signals_deferred`), and a clock's rows count only once its block is
marked committed, after the block itself reached the file: a kill at any moment leaves whole
blocks behind. Readers (:class:`Trajectory`, ``inspect``, the figures, ``resume``) see each
clock cut to its trusted rows (:meth:`Trajectory.clock_rows`): whole on every series of the
clock, committed, with steps that grow, and epochs whose checkpoint agrees with the clocks it
counts; files written before the mark (or torn by older versions) are checked the same way.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import resource
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .base import __version__, lazy_module, signals_deferred
from .commandline import EXIT_FAILED, EXIT_NOTHING_TO_RESUME, EXIT_REFUSED
from .network import Network
from .outputs import BusyError, OutputError, Replacement, WriterLock, check_target, held
from .provenance import provenance
from .schema import CHECKPOINT, Series

h5py = lazy_module("h5py")  # loaded when a file is first read or written

__all__ = [
    "MODULE",
    "CHECKPOINT",
    "Series",
    "TrajectoryError",
    "FileBusy",
    "NothingToResume",
    "ConfigDiffers",
    "DamagedFile",
    "WriteFailed",
    "NotInFile",
    "TrajectoryWriter",
    "check_run_file",
    "Trajectory",
    "load_trajectory",
    "verify",
    "versions",
]

MODULE = "chemsignal"  # our H5MD module: per-edge data, conventions, units
MODULE_VERSION = (1, 0)
UNITS = (
    "dimensionless: currents in units of the input scale, conductances as given, pressures and "
    "concentrations in current/conductance, time in node compliance/conductance"
)
STATUSES = ("running", "complete", "interrupted", "failed")
WARNINGS_BYTES = 8192  # parameters/run_warnings: the run's warnings, one per line
# Chunks of fixed datasets (written once, before SWMR): ~64 KiB. No dataset is compressed: in
# SWMR mode HDF5 never reuses freed file space, and every append that rewrites a partly filled
# *compressed* chunk frees its old copy: measured, a 150-epoch Iris run grew to 43 MB for
# 0.9 MB of data with gzip, 2 MB without. Our floats barely compress anyway (~15%).
_CHUNK_BYTES = 1 << 16
# kill -9 can tear a write() between two memory pages (the kernel checks for a fatal signal
# before each page it copies), and HDF5 rewrites a partly filled chunk in place on every
# append: a torn rewrite left a chunk whose Fletcher-32 checksum no longer matched its bytes
# (measured: 1 kill in ~500 of an Iris run, 3 in 300 of a writer appending in a tight loop).
# So files are laid out in pages (HDF5's paged aggregation: nothing smaller than a page
# crosses one), and a growing chunk that holds several rows fits one page with its checksum:
# each rewrite of such a chunk is a single page, which a kill cannot split (0 in 1,600 since).
# Metadata smaller than a page is kept within one too; larger index blocks are not covered.
# A row too large to share a page has a chunk of its own, written once and never rewritten.
_PAGE_BYTES = 4096
_CHECKSUM_BYTES = 4  # the Fletcher-32 filter stores its checksum after the chunk's data
_PAGED = dict(fs_strategy="page", fs_page_size=_PAGE_BYTES, fs_persist=False)
# A writer only appends, so a chunk cache of a few chunks per dataset is all it uses; HDF5's
# default (1 MiB per dataset) let a long run's memory creep up by ~1 MiB per series.
_CACHE_BYTES = 4 * _CHUNK_BYTES
# Room kept free for the last writes of a run (its status, the metadata flushed on closing).
_RESERVE_BYTES = 1 << 18
#: HDF5 library versions whose file formats a run file may use: SWMR and paged aggregation
#: need 1.10's, and "latest" under HDF5 2.0 (h5py's wheels since 3.15) writes object headers
#: that HDF5 1.10 and 1.14 cannot read (h5dump, h5py 3.11, MATLAB, ParaView): any HDF5 from
#: 1.10 on reads what these bounds write.
LIBVER = ("v110", "v114")
#: Rows of each clock whose block reached the file whole (written after the block's flush).
COMMITTED = "parameters/committed_rows"
# A reader of a file that its run is still writing may meet a state HDF5 is between (the
# superblock's end of file ahead of the bytes, an object header being rewritten): it reads
# again, for up to this long, before taking the error as the file's.
_LIVE_READ_SECONDS = 2.0


class TrajectoryError(OutputError):
    """A file is missing, not one of our trajectories, or would overwrite an existing one
    (command-line exit code 2)."""


class FileBusy(TrajectoryError, BusyError):
    """The run file is held by a live run (exit code 3: refused)."""

    exit_code = EXIT_REFUSED


def _as_run_file_error(error: OutputError) -> TrajectoryError:
    """An output refusal, as the run-file error callers catch (``TrajectoryError``)."""
    if isinstance(error, TrajectoryError):
        return error
    return (FileBusy if isinstance(error, BusyError) else TrajectoryError)(str(error))


def check_run_file(path, overwrite: bool) -> Path:
    """``path`` if a run may write it now (:func:`simulator.outputs.check_target`), else the
    ``TrajectoryError`` that says why."""
    try:
        return check_target(path, overwrite)
    except OutputError as error:
        raise _as_run_file_error(error) from None


class NothingToResume(TrajectoryError):
    """``resume`` of a run that is complete (exit code 4)."""

    exit_code = EXIT_NOTHING_TO_RESUME


class ConfigDiffers(TrajectoryError):
    """``resume`` with another config than the file's (exit code 3: refused)."""

    exit_code = EXIT_REFUSED


class WriteFailed(TrajectoryError):
    """A run file that could not be written to the end (a full disk, a lost volume): the
    message says what is left (exit code 1: failed)."""

    exit_code = EXIT_FAILED


class DamagedFile(TrajectoryError):
    """A run file whose bytes no longer match their checksums (or whose metadata cannot be
    read): the message names the damaged object."""


def versions() -> dict:
    """Versions of the package, Python and the numerical libraries; the commit the code ran
    from (``git``) and a digest of the package's source (:mod:`simulator.provenance`)."""
    import numba
    import scipy

    return {
        "chemsignal-sim": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
        **provenance(),
    }


def _sample_bytes(sample_shape: tuple, itemsize: int) -> int:
    return max(1, int(np.prod(sample_shape, dtype=np.int64)) * itemsize)


def _chunks(sample_shape: tuple, itemsize: int) -> tuple:
    rows = int(np.clip(_CHUNK_BYTES // _sample_bytes(sample_shape, itemsize), 1, 4096))
    return (rows, *sample_shape)


def _growing_chunks(sample_shape: tuple, itemsize: int) -> tuple:
    """The chunk of a series that grows by appends: as many rows as fit one page with the
    checksum, or a single row (written once) when two rows do not fit."""
    return (max(1, (_PAGE_BYTES - _CHECKSUM_BYTES) // _sample_bytes(sample_shape, itemsize)), *sample_shape)


def stored_bytes_per_sample(sample_shape: tuple, dtype) -> float:
    """About how many bytes of file one appended sample of a series takes: its share of the
    pages its chunk fills (a chunk of one large row ends on a page boundary)."""
    itemsize = np.dtype(dtype).itemsize
    rows, *_ = _growing_chunks(sample_shape, itemsize)
    chunk_bytes = rows * _sample_bytes(sample_shape, itemsize) + _CHECKSUM_BYTES
    return -(-chunk_bytes // _PAGE_BYTES) * _PAGE_BYTES / rows


def _fixed(group, name: str, data) -> h5py.Dataset:
    """A fixed dataset, chunked so that it carries a Fletcher-32 checksum."""
    data = np.asarray(data)
    if not data.size:
        return group.create_dataset(name, data=data)
    rows = min(len(data), _chunks(data.shape[1:], data.dtype.itemsize)[0])
    return group.create_dataset(name, data=data, chunks=(rows, *data.shape[1:]), fletcher32=True)


def _created(path: Path) -> h5py.File:
    """An HDF5 file in the empty partial file that :class:`~simulator.outputs.Replacement`
    claimed for it (made afresh, never through a link, so truncating it is safe)."""
    try:
        return h5py.File(path, "w", libver=LIBVER, rdcc_nbytes=_CACHE_BYTES, **_PAGED)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {_os_reason(error)}") from None


def _os_reason(error: OSError) -> str:
    """The operating system's reason, without HDF5's call stack."""
    text = str(error)
    if "error message = '" in text:
        return text.split("error message = '", 1)[1].split("'", 1)[0]
    return error.strerror or text


@dataclass
class _Layout:
    """What a writer keeps of one series between blocks."""

    rows: int
    row_shape: tuple
    chunk_rows: int
    chunk_bytes: int


class TrajectoryWriter:
    """Write one run. Use as a context manager::

        with TrajectoryWriter(path, network=net, config=cfg, seed=0, series=[...]) as out:
            out.append("example", step=steps, time=None, **{"observables/cost": costs})

    On leaving the block the status becomes ``complete``; ``interrupted`` after
    KeyboardInterrupt or SystemExit (SIGINT/SIGTERM); ``failed`` (with the message) after any
    other exception, which then propagates.

    Parameters
    ----------
    path : file to create; an existing file is refused unless ``overwrite``
    network : the starting network (positions, species, pipes, terminal pairs)
    config : the resolved run configuration (JSON-serialisable dict)
    seed : the run's seed
    series : every time series the run will append to
    timed_clocks : clocks whose samples carry a physical ``time`` (others only ``step``)
    command_line : the command as the user typed it (stored verbatim)
    derived : quantities the run computed from the config (e.g. the presentation time in
        time units), stored beside it
    """

    def __init__(
        self,
        path,
        *,
        network: Network,
        config: dict,
        seed: int,
        series: list[Series],
        timed_clocks: tuple[str, ...] = (),
        command_line: list[str] | None = None,
        overwrite: bool = False,
        derived: dict | None = None,
        author: str | None = None,
    ):
        self.path = Path(path)
        # built beside the target (simulator.outputs): a new file appears at its path once it
        # is a readable SWMR file; one that replaces another, only when this run closes it whole
        try:
            self._target = Replacement(self.path, overwrite)
        except OutputError as error:
            raise _as_run_file_error(error) from None
        try:
            self._file = _created(self._target.write_path)
        except BaseException as error:
            self._target.abandon()
            raise _as_run_file_error(error) if isinstance(error, OutputError) else error from None
        self._lock, self._write_failed, self._layouts = None, False, {}
        self.status = "running"
        try:
            self._lock = WriterLock(self._target.write_path)  # it stays with the file when it appears
            self._create(network, config, seed, series, timed_clocks, command_line, derived or {}, author)
            self._file.swmr_mode = True
            self._file.flush()
            with signals_deferred():  # the file appears whole, or not at all
                self._target.appear()
        except BaseException as error:
            if self._target.write_path == self.path:  # it appeared, and then a held signal came
                self.__exit__(type(error), error, error.__traceback__)
                raise
            self._file.close()
            if self._lock is not None:
                self._lock.release()
            self._target.abandon()  # nothing was run yet: leave no half-made file
            if isinstance(error, OutputError):
                raise _as_run_file_error(error) from None
            if isinstance(error, OSError):
                raise TrajectoryError(f"cannot write {self.path}: {_os_reason(error)}") from None
            raise

    # ------------------------------------------------------------------ structure
    def _create(self, network, config, seed, series, timed_clocks, command_line, derived, author):
        f = self._file
        h5md = f.create_group("h5md")
        h5md.attrs["version"] = np.array([1, 1], dtype=np.int32)
        f.create_group("h5md/author").attrs["name"] = author or os.environ.get("USER", "unknown")
        creator = f.create_group("h5md/creator")
        creator.attrs["name"] = "chemsignal-sim"
        creator.attrs["version"] = __version__
        module = f.create_group(f"h5md/modules/{MODULE}")
        module.attrs["version"] = np.array(MODULE_VERSION, dtype=np.int32)
        module.attrs["units"] = UNITS
        module.attrs["edges"] = (
            "per-pipe series live in observables/edges/ with value [k, m], pipe order of connectivity/edges"
        )
        module.attrs["steps"] = (
            "observables count presentations (learning steps); particles/nodes fields count explicit time steps"
        )

        nodes = f.create_group("particles/nodes")
        box = nodes.create_group("box")
        box.attrs["dimension"] = np.int32(2)
        box.attrs["boundary"] = np.array([b"none", b"none"])
        _fixed(nodes, "position", network.positions).attrs["unit"] = "lattice spacing"
        _fixed(nodes, "species", network.species().astype(np.int32)).attrs["legend"] = (
            "0 interior, 1 input+, 2 input-, 3 output+, 4 output-"
        )
        connectivity = f.create_group("connectivity")
        for name, pairs in (
            ("edges", network.topology.edges),
            ("input_pairs", network.input_pairs),
            ("output_pairs", network.output_pairs),
        ):
            _fixed(connectivity, name, np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
            connectivity[name].attrs["particles_group"] = nodes.ref
        _create_parameters(f, network, config, seed, command_line, derived)
        self._create_series(series, timed_clocks)

    def _create_series(self, series, timed_clocks):
        f = self._file
        self._clocks: dict[str, dict] = {}
        self._series: dict[str, h5py.Dataset] = {}
        for spec in series:
            group = f.create_group(spec.path)
            dtype = np.dtype(spec.dtype)
            value = group.create_dataset(
                "value", shape=(0, *spec.shape), maxshape=(None, *spec.shape), dtype=dtype,
                chunks=_growing_chunks(spec.shape, dtype.itemsize), fletcher32=True,
            )  # fmt: skip
            if spec.unit:
                value.attrs["unit"] = spec.unit
            if spec.description:
                group.attrs["description"] = spec.description
            group.attrs["clock"] = spec.clock
            clock = self._clocks.get(spec.clock)
            if clock is None:  # the first series of a clock owns its step (and time)
                growing = dict(shape=(0,), maxshape=(None,), chunks=_growing_chunks((), 8), fletcher32=True)
                clock = {"step": group.create_dataset("step", dtype=np.int64, **growing)}
                if spec.clock in timed_clocks:
                    clock["time"] = group.create_dataset("time", dtype=np.float64, **growing)
                clock["series"] = []
                self._clocks[spec.clock] = clock
            else:
                group["step"] = clock["step"]  # hard links: sampled together
                if "time" in clock:
                    group["time"] = clock["time"]
            clock["series"].append(spec.path)
            self._series[spec.path] = value
        CommittedRows.create(f, list(self._clocks))
        self._committed = CommittedRows(f)

    @classmethod
    def reopen(cls, path, *, rows: dict[str, int], note: dict) -> "TrajectoryWriter":
        """Continue an existing run file (``--resume``), from the first ``rows[clock]`` samples of
        every clock; whatever a run appended after that (a half-written block of a killed run
        included) is dropped.

        The file is copied to a partial file beside it and cut back there, and the copy is
        moved over the original only once it is whole and locked by this writer: a file that
        a killed SWMR writer left flagged as open (which HDF5 refuses to open for writing
        again) is read in SWMR mode, and a failure at any point leaves the original as it
        was. The status goes back to ``running`` and ``note`` is added to the JSON list in the
        ``parameters`` attribute ``resumed``. A file that a live run still holds is refused.
        """
        path = Path(path)
        try:  # holds the original's lock until the copy replaces it
            target = Replacement(path, overwrite=True)
        except OutputError as error:
            raise _as_run_file_error(error) from None
        self = cls.__new__(cls)
        self.path, self._target, self._file, self._lock, self._write_failed = path, None, None, None, False
        self._layouts, self.status = {}, "running"
        try:
            _check_room(path.parent, path.stat().st_size + _RESERVE_BYTES, path.stat().st_size)
            with _open_for_reading(path) as source:
                libver = _copied_cut(source, target.write_path, rows, note)
            self._file = h5py.File(target.write_path, "r+", libver=libver, rdcc_nbytes=_CACHE_BYTES)
            self._lock = WriterLock(target.write_path)  # the lock moves with the file
            self._clocks, self._series = _declared_clocks(self._file)
            for clock in self._clocks.values():
                steps = clock["step"]
                if steps.shape[0]:
                    clock["last_step"] = int(steps[steps.shape[0] - 1])
            self._committed = CommittedRows(self._file)
            self._file.swmr_mode = True
            self._file.flush()
            with signals_deferred():  # the cut copy takes the original's place whole, or not at all
                target.commit()
        except BaseException as error:
            if target.write_path == path and self._file is not None:  # in place, and then a held signal came
                self.__exit__(type(error), error, error.__traceback__)
                raise
            if self._file is not None:
                self._file.close()
            if self._lock is not None:
                self._lock.release()
            target.abandon()
            if isinstance(error, OSError):
                raise WriteFailed(f"cannot resume {path}: {_os_reason(error)}; {path} is unchanged") from None
            raise
        return self

    def rows(self, clock: str) -> int:
        """Samples appended so far on ``clock``."""
        return self._clocks[clock]["step"].shape[0]

    # ------------------------------------------------------------------ appending
    def append(self, clock: str, *, step, time=None, **values):
        """Append a block of samples to every series of ``clock``.

        ``step`` : [k] ints that grow along the clock (a reader takes a row whose step does not
        follow the one before it for a torn one); ``time`` : [k] floats (timed clocks only);
        ``values``: one ``[k, *shape]`` array per series of the clock, keyed by its path (``/``
        may be given as ``__``, so ``observables__cost=...`` works as a keyword).
        """
        spec = self._clocks.get(clock)
        if spec is None:
            raise KeyError(f"unknown clock {clock!r}; declared: {sorted(self._clocks)}")
        values = {key.replace("__", "/"): np.asarray(v) for key, v in values.items()}
        if set(values) != set(spec["series"]):
            raise KeyError(f"clock {clock!r} needs exactly {sorted(spec['series'])}, got {sorted(values)}")
        step = np.atleast_1d(np.asarray(step, dtype=np.int64))
        k = len(step)
        last = spec.get("last_step")
        if k and (np.any(np.diff(step) <= 0) or (last is not None and step[0] <= last)):
            after = "" if last is None else f" after {last}"
            raise ValueError(f"clock {clock!r}: steps must grow along the clock; got {step[:5].tolist()}{after}")
        if ("time" in spec) != (time is not None):
            raise ValueError(f"clock {clock!r} {'needs' if 'time' in spec else 'takes no'} time")
        columns = [(spec["step"], step)] + (
            [(spec["time"], np.atleast_1d(np.asarray(time, np.float64)))] if time is not None else []
        )
        columns += [(self._series[path], values[path]) for path in spec["series"]]
        layouts = [self._layout(dataset) for dataset, _ in columns]
        for (dataset, block), layout in zip(columns, layouts):
            if block.shape != (k, *layout.row_shape):
                expected = (k, *layout.row_shape)
                raise ValueError(f"{dataset.name}: expected a block of shape {expected}, got {block.shape}")
        # a block lands whole: SIGINT/SIGTERM wait until every series of the clock has it, and
        # readers trust its rows only once the block has reached the file (the second flush)
        with signals_deferred():
            try:
                self._make_room(columns, layouts)
                for (dataset, block), layout in zip(columns, layouts):
                    start = layout.rows
                    dataset.resize(start + k, axis=0)
                    layout.rows = start + k
                    dataset[start:] = block
                self._file.flush()
                self._committed.mark(clock, layouts[0].rows)
                self._file.flush()
                if k:
                    spec["last_step"] = int(step[-1])
            except OSError:
                self._write_failed = True  # the file itself could not take the block (a full disk)
                raise

    def _layout(self, dataset) -> "_Layout":
        """A series' rows, row shape and chunking, read from HDF5 once (h5py asks the library
        each time: that was a third of a run's writing)."""
        layout = self._layouts.get(id(dataset))
        if layout is None:
            shape, chunks = dataset.shape, dataset.chunks
            chunk_bytes = int(np.prod(chunks)) * dataset.dtype.itemsize
            layout = self._layouts[id(dataset)] = _Layout(shape[0], shape[1:], chunks[0], chunk_bytes)
        return layout

    def _make_room(self, columns, layouts) -> None:
        """Refuse a block that the disk (or the process's file size limit) cannot take, before
        HDF5 writes any of it: a write that fails inside HDF5 leaves a file it cannot open again.
        Counted: the chunks the block starts, and ``_RESERVE_BYTES`` for metadata and the final status."""
        need = _RESERVE_BYTES
        for (_, block), layout in zip(columns, layouts):
            rows, have = layout.chunk_rows, layout.rows
            new_chunks = -(-(have + len(block)) // rows) - -(-have // rows)
            need += new_chunks * layout.chunk_bytes
        path = self._target.write_path if self._target is not None else self.path
        _check_room(path.parent, need, path.stat().st_size + need)

    # ------------------------------------------------------------------ status
    def warn(self, text: str) -> None:
        """Record a warning in ``parameters/run_warnings`` (one line each; the first ones kept
        when they outgrow the dataset)."""
        dataset = self._file["parameters/run_warnings"]
        recorded = dataset[()].decode("utf-8", "replace")
        combined = (recorded + "\n" if recorded else "") + text
        with signals_deferred():
            dataset[()] = np.bytes_(combined.encode("utf-8", "replace")[:WARNINGS_BYTES])
            self._file.flush()

    def finish(self, status: str, message: str = "", *, keep_original: bool = False):
        """Record the final status (and an error message), close the file, and (for a
        replacement) move it over the file it replaces, unless ``keep_original``. If the file
        cannot be written any more (a full disk), it is closed as it stands, readable to its
        last flush; a replacement is then dropped, and the ``OSError`` raised."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with signals_deferred():  # the status, the close and the move all happen, or none starts
            self._finish(status, message, keep_original)

    def _finish(self, status: str, message: str, keep_original: bool):
        failure = None
        if self._file.id.valid:
            try:
                parameters = self._file["parameters"]
                parameters["run_status"][()] = np.bytes_(status)
                parameters["run_message"][()] = np.bytes_(message.encode("utf-8", "replace")[:4096])
                self._file.flush()
            except OSError as error:
                failure = error
            try:
                self._file.close()
            except OSError as error:
                failure = failure or error
        self._lock.release()
        self.status = status
        if self._target is not None:
            if failure is None and not keep_original:
                self._target.commit()
            else:
                self._target.abandon()  # a replacement that is not whole goes; the original stays
            self._target = None
        if failure is not None:
            raise failure

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            status, message = "complete", ""
        elif issubclass(kind, (KeyboardInterrupt, SystemExit)):
            status, message = "interrupted", f"{kind.__name__}: {error}" if str(error) else kind.__name__
        else:
            status, message = "failed", f"{kind.__name__}: {error}"
        write_error = self._write_failed and isinstance(error, OSError)
        replacing = self._target is not None and self._target.write_path != self.path
        try:
            self.finish(status, message, keep_original=write_error)
        except OSError as failure:
            raise WriteFailed(_lost_write(self.path, error if write_error else failure, replacing, False)) from None
        if write_error:
            raise WriteFailed(_lost_write(self.path, error, replacing, True)) from None
        return False


def _check_room(folder: Path, need: int, file_size: int) -> None:
    """An ``OSError`` (ENOSPC) unless ``folder``'s disk has ``need`` bytes free and the process
    may write a file of ``file_size`` bytes (``RLIMIT_FSIZE``)."""
    free = shutil.disk_usage(folder).free
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if free < need or (limit != resource.RLIM_INFINITY and file_size > limit):
        where = "its disk is full" if free < need else f"the process may write files of at most {limit} bytes"
        raise OSError(errno.ENOSPC, f"no room for the next {need} bytes: {where}")


def _lost_write(path: Path, error: OSError, replacing: bool, finished: bool) -> str:
    if replacing:
        return f"cannot write {path}: {_os_reason(error)}; {path} is unchanged (the new run was not kept)"
    state = "its status says failed" if finished else "its status still says running"
    return f"cannot write {path}: {_os_reason(error)}; the file is readable up to its last flush ({state})"


def _create_parameters(f: h5py.File, network: Network, config: dict, seed: int, command_line, derived) -> None:
    """``parameters/``: the config, seed, command line and versions, the starting conductances,
    and the run's status, message and warnings (pre-created: SWMR allows no new objects)."""
    parameters = f.create_group("parameters")
    parameters.attrs["config"] = json.dumps(config, sort_keys=True)
    parameters.attrs["command_line"] = json.dumps(command_line or [])
    parameters.attrs["derived"] = json.dumps(derived, sort_keys=True)
    parameters.attrs["seed"] = int(seed)
    parameters.attrs["versions"] = json.dumps(versions(), sort_keys=True)
    parameters.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    resolved = parameters.create_group("config")
    for key, value in config.items():  # one attribute per key, for h5dump / HDFView users
        resolved.attrs[key] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)
    _fixed(parameters, "initial_conductance", network.conductance).attrs["description"] = (
        "pipe conductances the run started from (epoch 0 of observables/edges/conductance, kept here for a "
        "run killed before its first epoch was recorded)"
    )
    parameters.create_dataset("run_status", data=np.bytes_("running"), dtype="S16")
    parameters.create_dataset("run_message", data=np.bytes_(""), dtype="S4096")
    parameters.create_dataset("run_warnings", data=np.bytes_(""), dtype=f"S{WARNINGS_BYTES}")


class CommittedRows:
    """``parameters/committed_rows``: how many rows of each clock (attribute ``clocks``)
    reached the file whole. The writer marks a block after the block's own flush, so a reader
    trusts no row beyond the mark; a file from before the mark has none (:meth:`read` is
    then empty)."""

    def __init__(self, f: h5py.File):
        self._dataset = f[COMMITTED]
        self._rows = self._dataset[()]
        self._index = {clock: i for i, clock in enumerate(json.loads(self._dataset.attrs["clocks"]))}

    @staticmethod
    def create(f: h5py.File, clocks: list[str], rows=None) -> None:
        """Make the mark (anew, for a copy cut back by a resume), every clock at ``rows`` (0)."""
        if COMMITTED in f:
            del f[COMMITTED]
        rows = np.zeros(len(clocks), np.int64) if rows is None else np.asarray(rows, np.int64)
        checked = dict(chunks=rows.shape, fletcher32=True) if len(rows) else {}
        dataset = f.create_dataset(COMMITTED, data=rows, **checked)
        dataset.attrs["clocks"] = json.dumps(clocks)
        dataset.attrs["description"] = (
            "rows of each clock (attribute clocks) whose block reached the file whole; written after the block, so "
            "a reader trusts no row beyond it"
        )

    @staticmethod
    def read(f: h5py.File) -> dict[str, int]:
        """``{clock: rows}`` as marked, or ``{}`` for a file from before the mark."""
        if COMMITTED not in f:
            return {}
        dataset = f[COMMITTED]
        return dict(zip(json.loads(dataset.attrs["clocks"]), dataset[()].tolist()))

    def mark(self, clock: str, rows: int) -> None:
        self._rows[self._index[clock]] = rows
        self._dataset[...] = self._rows


def _declared_clocks(f: h5py.File) -> tuple[dict, dict]:
    """The clocks and series of an existing file, as the writer keeps them."""
    clocks, series = {}, {}

    def visit(name, item):
        if isinstance(item, h5py.Group) and "clock" in item.attrs and "value" in item:
            clock = clocks.setdefault(str(item.attrs["clock"]), {"step": item["step"], "series": []})
            if "time" in item:
                clock["time"] = item["time"]
            clock["series"].append(name)
            series[name] = item["value"]

    f.visititems(visit)
    return clocks, series


def _copied_cut(source: h5py.File, path: Path, rows: dict[str, int], note: dict):
    """:func:`_copy_cut` of ``source`` into a new file at ``path`` in the formats of
    :data:`LIBVER`; the format bounds it was written with. A file that an earlier version
    wrote in HDF5 2.0's formats (``libver="latest"``) cannot be copied down to them, and is
    copied as it is (it stays readable by HDF5 2.0 only)."""

    def copied(libver):
        with h5py.File(path, "w", libver=libver, **_PAGED) as copy:  # (the partial file claimed for it)
            _copy_cut(source, copy, rows, note)
        return libver

    try:
        return copied(LIBVER)
    except RuntimeError as error:  # "layout message version out of bounds"
        if "out of bounds" not in str(error):
            raise
    return copied("latest")


def _copy_cut(source: h5py.File, copy: h5py.File, rows: dict[str, int], note: dict) -> None:
    """Copy a run file, keeping the first ``rows[clock]`` samples of every clock."""
    for key, value in source.attrs.items():
        copy.attrs[key] = value
    for name in source:
        source.copy(source[name], copy, name=name)
    clocks, series = _declared_clocks(copy)
    if set(rows) != set(clocks):
        raise TrajectoryError(f"resume needs rows for clocks {sorted(clocks)}, got {sorted(rows)}")
    for name, clock in clocks.items():
        for dataset in _clock_datasets(clock, series):
            if not 0 <= rows[name] <= dataset.shape[0]:
                raise TrajectoryError(f"{dataset.name} has {dataset.shape[0]} rows, cannot keep {rows[name]}")
            dataset.resize(rows[name], axis=0)
        first, *others = clock["series"]  # sampled together: one step (and time), hard-linked again
        for group in others:
            for key in ("step", "time"):
                if key in copy[first]:
                    del copy[group][key]
                    copy[group][key] = copy[first][key]
    CommittedRows.create(copy, list(clocks), [rows[name] for name in clocks])
    nodes = copy["particles/nodes"]
    for dataset in copy["connectivity"].values():  # object references point into the old file
        dataset.attrs["particles_group"] = nodes.ref
    parameters = copy["parameters"]
    parameters.attrs["resumed"] = json.dumps([*json.loads(parameters.attrs.get("resumed", "[]")), note])
    parameters["run_status"][()] = np.bytes_("running")
    parameters["run_message"][()] = np.bytes_("")


def _clock_datasets(clock: dict, series: dict) -> list:
    return [clock["step"], *([clock["time"]] if "time" in clock else []), *(series[p] for p in clock["series"])]


# ---------------------------------------------------------------------- reading
_READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError)  # what h5py raises on damaged bytes


class NotInFile(KeyError):
    """A series, dataset or field the file does not have (the caller's question, not a read
    that failed). Command-line exit code 2 (bad input)."""


def _open_for_reading(path: Path) -> h5py.File:
    """The run file at ``path``, open for reading: a finished one as it is, one that a live run
    holds in SWMR mode, tried again for up to ``_LIVE_READ_SECONDS`` while the writer is
    between two states."""
    if path.is_dir():
        raise TrajectoryError(f"{path} is a folder, not a run file")
    if not path.is_file():
        raise TrajectoryError(f"{path}: no such file")
    deadline, pause = time.monotonic() + _LIVE_READ_SECONDS, 0.002
    while True:
        live = held(path)
        try:
            return _opened(path, live)
        except TrajectoryError:
            if not live or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.1)


def _opened(path: Path, live: bool) -> h5py.File:
    f = None
    if not live:
        try:
            f = h5py.File(path, "r")  # a finished (complete, interrupted or failed) run
        except OSError as error:
            if "truncated" in str(error) or "signature" in str(error):
                # checked before any SWMR open: an SWMR reader takes a short file for a growing
                # one and retries its metadata reads for a long time
                raise TrajectoryError(f"{path} is not an HDF5 file (or is truncated): {_os_reason(error)}") from None
    if f is None:
        try:
            f = h5py.File(path, "r", libver="latest", swmr=True)  # a run still writing it (or killed while it did)
        except OSError as error:
            if "temporarily unavailable" in str(error) or "unable to lock" in str(error):
                busy = f"{path} is locked by the run that is creating it; try again in a moment"
                raise TrajectoryError(busy) from None
            raise TrajectoryError(f"{path} cannot be read as HDF5 (damaged?): {_os_reason(error)}") from None
    try:
        ours = f"h5md/modules/{MODULE}" in f and "parameters/run_status" in f
    except _READ_ERRORS as error:
        f.close()
        raise DamagedFile(f"{path} is damaged: its top groups cannot be read ({_os_reason(error)})") from None
    if not ours:
        f.close()
        raise TrajectoryError(f"{path} is not a chemsignal trajectory (no h5md/modules/{MODULE} or run status)")
    return f


def _reading(path: Path, work):
    """``work(f)`` on the run file, open for reading. A read of a file that a live run is
    writing can meet HDF5 between two states; it is then made again, whole, for up to
    ``_LIVE_READ_SECONDS``. Errors of a file that no run holds are the file's, at once, and
    so are those of opening it (:func:`_open_for_reading` waits for a live file itself)."""
    deadline, pause = time.monotonic() + _LIVE_READ_SECONDS, 0.002
    while True:
        f = _open_for_reading(path)
        try:
            with f:
                return work(f)
        except NotInFile:
            raise
        except _READ_ERRORS:  # (DamagedFile too: a live file's may be a moment's)
            if time.monotonic() > deadline or not held(path):
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.1)


def _trusted_rows(f: h5py.File) -> tuple[dict[str, int], list[str]]:
    """``({clock: rows}, dropped)``: the rows of each clock that a reader may trust, and one
    line for each block or row left out.

    A row is trusted when every series of its clock has it, it is marked committed
    (``parameters/committed_rows``, in files that have the mark), its step follows the step
    before it, and, on the epoch clock, its epoch number and checkpoint agree with the clocks
    the checkpoint counts. Rows of a running file that are not committed yet are left out
    too (``dropped`` then names a block still being written)."""
    clocks, series = _declared_clocks(f)
    committed = CommittedRows.read(f)
    rows, dropped = {}, []
    for name, clock in clocks.items():
        lengths = [dataset.shape[0] for dataset in _clock_datasets(clock, series)]
        k = min(lengths)
        if name in committed:
            k = min(k, committed[name])
        if k < max(lengths):
            span = f"row {k + 1}" if k + 1 == max(lengths) else f"rows {k + 1}-{max(lengths)}"
            dropped.append(f"clock {name!r}: {span} not whole (a block cut short)")
        step = clock["step"]
        while k >= 2:
            before, last = step[k - 2 : k]
            if last > before:
                break
            dropped.append(f"clock {name!r}: row {k} has step {last}, not after {before}")
            k -= 1
        rows[name] = k
    if rows.get("epoch"):
        rows["epoch"] = _trusted_epochs(clocks, series, rows, dropped)
    return rows, dropped


#: Trusted rows of finished files by ``(device, inode, size, modification time)``: finding them
#: visits every group of the file (~10 ms), and a figure reads a dozen series.
_TRUSTED_CACHE: dict[tuple, tuple[dict, list]] = {}


def _trusted_rows_kept(f: h5py.File) -> tuple[dict[str, int], list[str]]:
    """:func:`_trusted_rows`, kept for a file that no live run holds until it changes (the
    key is the open file's own identity, not its path's: a resume may move another file there)."""
    try:
        stat = os.fstat(f.id.get_vfd_handle())
    except (OSError, TypeError, ValueError):  # a driver without a descriptor: found afresh
        return _trusted_rows(f)
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    found, live = _TRUSTED_CACHE.get(key), held(Path(f.filename))
    if found is None or live:
        found = _trusted_rows(f)
        if not live:
            if len(_TRUSTED_CACHE) > 64:
                _TRUSTED_CACHE.clear()
            _TRUSTED_CACHE[key] = found
    return found[0].copy(), list(found[1])


#: Checkpoint counters that grow every epoch (explicit steps, transport steps, physical time).
_GROWING_COUNTERS = ("explicit_step", "transport_step", "time")
#: Checkpoint vectors that are never all zeros after epoch 0: the advection mode's pipes at its
#: last release (conductances are above their floor) and the gradient there (NaN before any).
_NEVER_ZERO = ("last_conductance", "last_gradient")


def _trusted_epochs(clocks: dict, series: dict, rows: dict, dropped: list) -> int:
    """The epoch rows whose last one agrees with the clocks its checkpoint counts."""
    k, counted = rows["epoch"], CHECKPOINT + "rows"
    if "observables/epoch" not in series or counted not in series:
        return k
    others = sorted(set(clocks) - {"epoch"})  # the order the run's checkpoint counts them in
    counters = {key: series[CHECKPOINT + key] for key in _GROWING_COUNTERS if CHECKPOINT + key in series}
    while k > 0:
        problem = _epoch_row_problem(k - 1, others, clocks, series, rows, counters)
        if problem is None:
            break
        dropped.append(f"clock 'epoch': row {k} {problem}")
        k -= 1
    return k


def _epoch_row_problem(i: int, others: list, clocks: dict, series: dict, rows: dict, counters: dict) -> str | None:
    epoch = int(series["observables/epoch"][i])
    if epoch != i:
        return f"says epoch {epoch}, not {i}"
    window = slice(max(0, i - 1), i + 1)
    counts = np.asarray(series[CHECKPOINT + "rows"][window]).reshape(i + 1 - window.start, -1)
    if counts.shape[1] != len(others):
        return None  # a checkpoint of another shape: nothing to hold it against
    for clock, count in zip(others, counts[-1].tolist()):
        if count > rows[clock]:
            return f"counts {count} rows of clock {clock!r}, which has {rows[clock]}"
    if i and np.any(counts[-1] < counts[0]):
        return f"counts fewer rows than the epoch before ({counts[-1].tolist()} < {counts[0].tolist()})"
    if "example" in others:
        presentations, step = int(counts[-1][others.index("example")]), int(clocks["epoch"]["step"][i])
        if presentations != step:
            return f"counts {presentations} presentations, and its step is {step}"
    for name, dataset in counters.items():
        if i and not dataset[i] > dataset[i - 1]:
            return f"has checkpoint {name} {dataset[i]}, not after {dataset[i - 1]}"
    for name in _NEVER_ZERO:  # HDF5's fill value where the run writes NaN or a nonzero vector
        if i and CHECKPOINT + name in series and not np.any(series[CHECKPOINT + name][i]):
            return f"has checkpoint {name} all zeros, which the run never writes"
    return None


def _series_group(path: Path, f: h5py.File, name: str) -> h5py.Group:
    if name not in f or not isinstance(f[name], h5py.Group) or "value" not in f[name]:
        raise NotInFile(f"{path} has no time series {name!r}")
    return f[name]


def _series_rows(f: h5py.File, group: h5py.Group) -> int:
    """The trusted rows of the series ``group`` (of its clock)."""
    clock = str(group.attrs.get("clock", ""))
    rows = _trusted_rows_kept(f)[0]
    if clock in rows:
        return rows[clock]
    return min(group[name].shape[0] for name in ("step", "time", "value") if name in group)


def _read(path: Path, dataset: h5py.Dataset, selection=()):
    """``dataset[selection]``; bytes that fail their checksum are a :class:`DamagedFile` naming it."""
    try:
        return dataset[selection]
    except _READ_ERRORS as error:
        raise DamagedFile(f"{path} is damaged: {dataset.name} {_damage(error)}") from None


def _damage(error: Exception) -> str:
    text = str(error)
    if "filter returned failure" in text or "checksum" in text.lower():
        return "fails its checksum (bytes changed on disk)"
    return f"cannot be read ({_os_reason(error) if isinstance(error, OSError) else text})"


def _status_of(path: Path, parameters: h5py.Group) -> tuple[str, str]:
    status = _read(path, parameters["run_status"]).decode("utf-8", "replace")
    if status not in STATUSES:
        raise DamagedFile(f"{path} is damaged: /parameters/run_status holds {status[:20]!r}, not a status")
    return status, _read(path, parameters["run_message"]).decode("utf-8", "replace")


def verify(path) -> None:
    """Read every group, attribute and dataset of a run file, checking every checksum; a
    :class:`DamagedFile` names what is damaged (the first few, and how many in all)."""
    path = Path(path)

    def check(f):
        _check_self_contained(path, f)
        damaged: list[tuple[str, str]] = []
        _verify_group(f, damaged, set())
        if damaged:
            (first, reason), others = damaged[0], [name for name, _ in damaged[1:]]
            listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            more = f", and {len(others)} more ({listed})" if others else ""
            raise DamagedFile(f"{path} is damaged: {first} {reason}{more}")
        _status_of(path, f["parameters"])

    _reading(path, check)


def _check_self_contained(path: Path, f: h5py.File) -> None:
    """A ``TrajectoryError`` if the file reaches outside itself: an external link, a virtual
    dataset or a dataset stored in external files (HDF5 would follow them silently, and their
    bytes are not under the file's checksums). Named by the object's path alone."""
    outside: list[str] = []

    def visit(name, link):  # (an exception raised inside h5py's visit breaks it: collected instead)
        if isinstance(link, h5py.ExternalLink):
            outside.append(f"/{name} is an external link")
        elif isinstance(link, h5py.HardLink):
            item = f[name]
            if isinstance(item, h5py.Dataset) and (item.is_virtual or item.external):
                outside.append(f"/{name} is {'a virtual dataset' if item.is_virtual else 'stored in external files'}")

    f.visititems_links(visit)
    if outside:
        reason = f"{outside[0]} (a run file holds its own data only)"
        raise TrajectoryError(f"{path} is not a run file this package wrote: {reason}")


def _verify_group(group: h5py.Group, damaged: list, seen: set) -> None:
    try:
        names = list(group)
        for key in group.attrs:
            group.attrs[key]
    except _READ_ERRORS as error:
        damaged.append((group.name or "/", _damage(error)))
        return
    for name in names:
        try:
            item = group[name]
        except _READ_ERRORS as error:
            damaged.append((f"{group.name.rstrip('/')}/{name}", _damage(error)))
            continue
        if item.id in seen:  # a hard link to an object already read (a shared step or time)
            continue
        seen.add(item.id)
        if isinstance(item, h5py.Group):
            _verify_group(item, damaged, seen)
            continue
        try:
            for key in item.attrs:
                item.attrs[key]
            for selection in item.iter_chunks() if item.chunks and item.size else [()]:
                item[selection]
        except _READ_ERRORS as error:
            damaged.append((item.name, _damage(error)))


# ---------------------------------------------------------------------- labelled arrays (xarray)
#: Dimension names of the clocks whose own names would read as something else: the ``example``
#: clock counts presentations (``example`` is also a series: which training example was shown),
#: the ``field`` clock counts snapshots of the node fields.
CLOCK_DIMENSIONS = {"example": "presentation", "field": "frame"}
#: What a data variable's name leaves out of its series path, and the dimension of the sample's
#: first axis there (per-pipe series are in pipe order, per-node fields in node order).
_SAMPLE_AXES = (("observables/edges/", "edge"), ("particles/nodes/", "node"), ("observables/", None))
#: Series whose sample's first axis is named by the series itself: the output drops and their
#: targets share ``output_pair``, so ``output - target`` subtracts pair by pair, not as an outer
#: difference of two unrelated axes.
_SERIES_AXES = {"observables/output": "output_pair", "observables/target": "output_pair"}


def import_xarray(feature: str):
    """The ``xarray`` module (an optional extra), or an ``ImportError`` that says how to install it."""
    try:
        import xarray
    except ImportError:
        raise ImportError(f"{feature} needs xarray: pip install 'chemsignal-sim[xarray]'") from None
    return xarray


def _variable_name(path: str, reserved: set) -> tuple[str, str | None]:
    """``(name, axis)``: the data variable of the series ``path`` (``accuracy_test``,
    ``conductance``, ``pressure``) and the dimension of its sample's first axis (None: generic).
    A name already taken, or one that is a dimension's, becomes the whole path joined by ``_``."""
    prefix, axis = next(((p, a) for p, a in _SAMPLE_AXES if path.startswith(p)), ("", None))
    name = path.removeprefix(prefix).replace("/", "_")
    axis = _SERIES_AXES.get(path, axis)
    return (path.replace("/", "_"), axis) if name in reserved else (name, axis)


def _series_attrs(group: h5py.Group) -> dict:
    value = group["value"]
    attrs = {"h5md_path": group.name.lstrip("/")}
    if "unit" in value.attrs:
        attrs["unit"] = str(value.attrs["unit"])
    if "description" in group.attrs:
        attrs["description"] = str(group.attrs["description"])
    return attrs


def _clock_arrays(
    path: Path, f: h5py.File, clock: str, declared: dict, reserved: set, trusted: dict
) -> tuple[dict, dict]:
    """``(data variables, coordinates)`` of one clock, every series cut to the clock's trusted
    rows (:meth:`Trajectory.clock_rows`), so a running or torn file gives aligned rows."""
    sampled, values = declared[0][clock], declared[1]
    dimension = CLOCK_DIMENSIONS.get(clock, clock)
    rows = slice(0, trusted[clock])
    coordinates = {f"step_{dimension}": (dimension, _read(path, sampled["step"], rows), {"clock": clock})}
    if "time" in sampled:
        coordinates[f"time_{dimension}"] = (dimension, _read(path, sampled["time"], rows), {"clock": clock})
    variables = {}
    for series in sampled["series"]:
        if series.startswith(CHECKPOINT):  # what resume carries, not results
            continue
        name, axis = _variable_name(series, reserved | variables.keys() | coordinates.keys())
        data = _read(path, values[series], rows)
        if series.removeprefix("observables/") == dimension and data.ndim == 1:
            coordinates[dimension] = (dimension, data, _series_attrs(f[series]))  # e.g. the epoch numbers
            continue
        extra = [axis if i == 1 and axis else f"{name}_dim{i}" for i in range(1, data.ndim)]
        variables[name] = ((dimension, *extra), data, _series_attrs(f[series]))
    return variables, coordinates


def _fixed_coordinates(path: Path, f: h5py.File) -> dict:
    """Node positions and species along ``node``; each pipe's two nodes along ``edge``."""
    position = _read(path, f["particles/nodes/position"])
    species = f["particles/nodes/species"]
    edges = _read(path, f["connectivity/edges"])
    return {
        "x": ("node", position[:, 0], {"unit": "lattice spacing"}),
        "y": ("node", position[:, 1], {"unit": "lattice spacing"}),
        "species": ("node", _read(path, species), {"legend": str(species.attrs.get("legend", ""))}),
        "node_a": ("edge", edges[:, 0], {"description": "first node of each pipe (index along node)"}),
        "node_b": ("edge", edges[:, 1], {"description": "second node of each pipe (index along node)"}),
    }


def _run_attributes(path: Path, f: h5py.File) -> dict:
    """The run's provenance and lifecycle as netCDF-safe attributes (JSON text for the nested ones)."""
    parameters = f["parameters"]
    status, message = _status_of(path, parameters)
    pairs = {name: json.dumps(_read(path, f[f"connectivity/{name}"]).tolist()) for name in
             ("input_pairs", "output_pairs")}  # fmt: skip
    return {
        "path": str(path),
        "status": status,
        "message": message,
        "seed": int(parameters.attrs["seed"]),
        "config": str(parameters.attrs["config"]),
        "versions": str(parameters.attrs["versions"]),
        "created": str(parameters.attrs["created"]),
        "command_line": str(parameters.attrs["command_line"]),
        **pairs,
    }


@dataclass(frozen=True)
class Trajectory:
    """A run file, read on demand (each access opens the file, so a running file can be followed).

    path : the file;  config : the resolved configuration;  seed : the run's seed
    command_line : as typed;  versions : package and library versions;  created : ISO time
    derived : quantities the run computed from its config
    """

    path: Path
    config: dict
    seed: int
    command_line: list
    versions: dict
    created: str
    derived: dict

    @property
    def status(self) -> tuple[str, str]:
        """``(run_status, run_message)`` as of now."""
        return _reading(self.path, lambda f: _status_of(self.path, f["parameters"]))

    def series(self, path: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """``(step, time or None, value)`` of a time series, cut to its clock's trusted rows
        (:meth:`clock_rows`): the same rows for every series of a clock, nothing torn."""

        def read(f):
            group = _series_group(self.path, f, path)
            rows = slice(0, _series_rows(f, group))
            time = _read(self.path, group["time"], rows) if "time" in group else None
            return _read(self.path, group["step"], rows), time, _read(self.path, group["value"], rows)

        return _reading(self.path, read)

    def epoch_metrics(self) -> list[str]:
        """The scalar per-epoch series by name (``accuracy_test``, ``cost_test``, ...): what
        ``inspect`` lists and a sweep's summary and :func:`simulator.sweep.load` gather (not the
        epoch count, not the checkpoint)."""
        shapes = {name.removesuffix("/value"): shape for name, shape, _ in self.datasets()}
        return [
            path.removeprefix("observables/") for path in self.clocks().get("epoch", [])
            if path.startswith("observables/") and not path.startswith(CHECKPOINT) and path != "observables/epoch"
            and len(shapes.get(path, ())) == 1
        ]  # fmt: skip

    def clocks(self) -> dict[str, list[str]]:
        """``{clock: [series paths]}``: the time series of the file, by the clock they share."""
        def read(f):
            return {name: list(clock["series"]) for name, clock in _declared_clocks(f)[0].items()}

        return _reading(self.path, read)

    def clock_rows(self) -> dict[str, int]:
        """The trusted samples of each clock: present in its ``step`` (and ``time``) and in
        every series, marked committed, with steps that grow, and (on the epoch clock) a
        checkpoint that agrees with the clocks it counts. Every reader of this package reads
        these rows and no others; :meth:`torn` says what was left out."""
        return _reading(self.path, lambda f: _trusted_rows_kept(f)[0])

    def torn(self) -> list[str]:
        """One line for each block or row of the file left out of :meth:`clock_rows` (a block
        cut short by a kill, a row that fails its checks; in a running file, the block being
        written)."""
        return _reading(self.path, lambda f: _trusted_rows_kept(f)[1])

    def to_xarray(self):
        """The whole run as one ``xarray.Dataset`` (needs the optional extra ``xarray``).

        Returns
        -------
        xarray.Dataset
            One data variable per time series, named by its path after ``observables/``,
            ``observables/edges/`` or ``particles/nodes/`` (``accuracy_test``, ``conductance``,
            ``pressure``); the resume checkpoint is left out. Its first dimension is its clock:
            ``epoch``, ``presentation`` (the ``example`` clock), ``frame`` (the ``field``
            clock), or the clock's own name; per-pipe samples add ``edge``, per-node ones
            ``node``, ``output`` and ``target`` ``output_pair``, any other axis
            ``<name>_dim<i>``. Coordinates: ``step_<dimension>`` and, when the file has them,
            ``time_<dimension>``; the epoch numbers label ``epoch`` (a series named as its
            clock's dimension labels it); ``x``, ``y``, ``species`` along ``node``;
            ``node_a``, ``node_b`` along ``edge``. Attributes: ``path``, ``status``,
            ``message``, ``seed``, ``config`` and ``versions`` (JSON), ``created``,
            ``command_line``, ``input_pairs``, ``output_pairs``. Values are the file's, bit for
            bit; every series of a clock is cut to the clock's trusted rows (:meth:`clock_rows`).
        """
        xarray = import_xarray("to_xarray")

        def read(f):
            declared = _declared_clocks(f)
            trusted = _trusted_rows_kept(f)[0]
            coordinates = _fixed_coordinates(self.path, f)
            dimensions = {"node", "edge", *_SERIES_AXES.values(), *(CLOCK_DIMENSIONS.get(c, c) for c in declared[0])}
            reserved = dimensions | coordinates.keys()
            variables = {}
            for clock in declared[0]:
                found, labels = _clock_arrays(self.path, f, clock, declared, reserved | variables.keys(), trusted)
                variables.update(found)
                coordinates.update(labels)
            return variables, coordinates, _run_attributes(self.path, f)

        return xarray.Dataset(*_reading(self.path, read))

    @property
    def resumed(self) -> list[dict]:
        """One entry per ``--resume`` of this run (when, from which epoch, with which versions)."""
        return _reading(self.path, lambda f: _json_attribute(self.path, f["parameters"], "resumed", "[]"))

    @property
    def warnings(self) -> list[str]:
        """The run's warnings (a cost explosion, a pipe jumping by orders of magnitude), one per line."""

        def read(f):
            parameters = f["parameters"]
            if "run_warnings" not in parameters:  # a file from before warnings were recorded
                return []
            return _read(self.path, parameters["run_warnings"]).decode("utf-8", "replace").splitlines()

        return _reading(self.path, read)

    def verify(self) -> None:
        """Read the whole file, checking every checksum: a :class:`DamagedFile` names what is damaged."""
        verify(self.path)

    def fixed(self, path: str) -> np.ndarray:
        """A fixed dataset, e.g. ``"particles/nodes/position"``."""

        def read(f):
            if path not in f or not isinstance(f[path], h5py.Dataset):
                raise NotInFile(f"{self.path} has no dataset {path!r}")
            return _read(self.path, f[path])

        return _reading(self.path, read)

    def iter_rows(self, path: str, rows=None):
        """The values of the time series ``path``, one sample at a time (``rows``: which ones,
        default all trusted ones), reading each as it is asked for: memory stays flat however
        long the series. The file stays open while the iterator is alive."""
        rows = range(len(self.steps_of(path)[0])) if rows is None else rows
        with _open_for_reading(self.path) as f:
            values = _series_group(self.path, f, path)["value"]
            for row in rows:
                yield _read(self.path, values, int(row))

    def steps_of(self, path: str) -> tuple[np.ndarray, np.ndarray | None]:
        """``(step, time or None)`` of the time series ``path``, cut to its clock's trusted rows,
        without reading its values."""

        def read(f):
            group = _series_group(self.path, f, path)
            rows = slice(0, _series_rows(f, group))
            time = _read(self.path, group["time"], rows) if "time" in group else None
            return _read(self.path, group["step"], rows), time

        return _reading(self.path, read)

    def network(self, conductance=None) -> Network:
        """The network of the run, with the conductances it started from unless given."""
        if conductance is None:
            recorded = self.series("observables/edges/conductance")[2]
            if len(recorded):
                conductance = recorded[0]
            else:  # killed before its first epoch was recorded: the starting conductances, if the file has them
                try:
                    conductance = self.fixed("parameters/initial_conductance")
                except KeyError:
                    raise TrajectoryError(f"{self.path} holds no conductances yet (an older file)") from None
        return Network(
            self.fixed("particles/nodes/position"),
            self.fixed("connectivity/edges"),
            conductance,
            self.fixed("connectivity/input_pairs"),
            self.fixed("connectivity/output_pairs"),
        )

    def datasets(self) -> list[tuple[str, tuple, str]]:
        """Every dataset in the file: ``(path, shape, dtype)``."""

        def read(f):
            found = []

            def visit(name, link):
                item = f.get(name)
                if isinstance(item, h5py.Dataset):
                    found.append((name, item.shape, str(item.dtype)))

            f.visititems_links(visit)  # every link, so shared step/time appear under each series
            return found

        return _reading(self.path, read)


def _json_attribute(path: Path, group: h5py.Group, name: str, default: str | None = None):
    """The JSON text in attribute ``name`` of ``group``, decoded; a file whose attribute is
    missing or is not JSON is refused in one line that names the attribute, not its text."""
    where = f"{group.name.rstrip('/')}/@{name}"
    if name not in group.attrs:
        if default is not None:
            return json.loads(default)
        raise TrajectoryError(f"{path} is not a complete run file: it has no attribute {where}")
    text = group.attrs[name]
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else str(text))
    except (ValueError, UnicodeDecodeError):
        raise DamagedFile(f"{path} is damaged: attribute {where} is not JSON") from None


def _check_connectivity(path: Path, f: h5py.File) -> None:
    """A ``DamagedFile`` unless the pipes and terminal pairs name nodes the file has."""
    n = f["particles/nodes/position"].shape[0]
    for name in ("edges", "input_pairs", "output_pairs"):
        dataset = f[f"connectivity/{name}"]
        pairs = _read(path, dataset)
        if pairs.size and (pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.min() < 0 or pairs.max() >= n):
            problem = f"{dataset.name} names nodes outside the file's {n} (0..{n - 1}), or is not [k, 2]"
            raise DamagedFile(f"{path} is damaged: {problem}")


def load_trajectory(path) -> Trajectory:
    """Open a run file written by :class:`TrajectoryWriter` (complete, interrupted or running)."""
    path = Path(path)

    def read(f):
        _check_self_contained(path, f)
        parameters = f["parameters"]
        config = _json_attribute(path, parameters, "config")
        if not isinstance(config, dict):
            raise DamagedFile(f"{path} is damaged: attribute /parameters/@config is not a JSON table")
        seed = parameters.attrs.get("seed")
        if not isinstance(seed, (int, np.integer)):
            raise DamagedFile(f"{path} is damaged: attribute /parameters/@seed is not an integer")
        _check_connectivity(path, f)
        return Trajectory(
            path=path,
            config=config,
            seed=int(seed),
            command_line=_json_attribute(path, parameters, "command_line", "[]"),
            versions=_json_attribute(path, parameters, "versions"),
            created=str(parameters.attrs.get("created", "?")),
            derived=_json_attribute(path, parameters, "derived", "{}"),
        )

    return _reading(path, read)
