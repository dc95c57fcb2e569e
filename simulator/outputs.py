"""One write discipline for every file the package writes: run files, figures, manifests,
summaries and sidecars.

* **Nothing replaced unasked.** A target that exists is replaced only with ``overwrite``.
* **Nothing held is touched.** A target that a live run holds (its writer lock) is refused,
  ``overwrite`` or not.
* **Nothing lost on failure.** A replacement is built beside its target, as
  ``.NAME.partial-PID-THREAD``, and moved over it (``os.replace``: atomic) only once it is whole. If
  the write fails, the target is as it was; if the process is killed, the partial file stays
  beside it and is removed by the next successful write of the same target.
* **No surprises.** A file's folder is never created for the user (a sweep creates the
  folder it is given); a target that is a folder, or lies in a folder that is missing or
  read-only, is refused in one line.

The writer lock is an open-file-description lock (Linux ``F_OFD_SETLK``): the kernel drops
it when the writing process dies, so a killed run is told from a live one, and reading the
file in the writing process does not drop it. Elsewhere it is a POSIX record lock, which the
process drops when it closes any descriptor of the file, its own probes included.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
from pathlib import Path

from .commandline import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_REFUSED

__all__ = ["OutputError", "BusyError", "OutputFailed", "WriterLock", "held", "check_target", "Replacement",
           "write_text", "figure_format", "save_figure", "partial_files", "check_not_source"]  # fmt: skip


class OutputError(ValueError):
    """An output that cannot be written: it exists and replacing it was not asked, it is a
    folder, or its folder is missing or read-only. Command-line exit code 2."""

    exit_code = EXIT_BAD_INPUT


class BusyError(OutputError):
    """The target is held by a live run. Command-line exit code 3 (refused)."""

    exit_code = EXIT_REFUSED


class OutputFailed(OutputError):
    """An output whose writing failed part way (a full disk, a lost volume): what it would have
    replaced is unchanged and nothing half-written is left. Command-line exit code 1 (failed)."""

    exit_code = EXIT_FAILED


class WriterLock:
    """A lock on a file while a writer holds it (non-blocking: ``acquired`` says whether it was
    taken). Released by :meth:`release`, or by the kernel when the process dies.

    Exclusive where the file can be opened for writing; a file that cannot (read-only to
    this user, and so written by nobody here) gets a shared lock, which still conflicts with
    every writer's. A filesystem without locks (some network or FUSE mounts) is not a live
    writer: the lock then counts as taken, and ``supported`` is False.
    """

    def __init__(self, path):
        import fcntl

        self.acquired, self.supported = False, True
        try:
            self._fd, kind = os.open(path, os.O_RDWR), fcntl.F_WRLCK
        except PermissionError:
            self._fd, kind = os.open(path, os.O_RDONLY), fcntl.F_RDLCK
        try:
            if hasattr(fcntl, "F_OFD_SETLK"):  # struct flock: type, whence, start, len, pid (0 for OFD locks)
                fcntl.fcntl(self._fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi", kind, os.SEEK_SET, 0, 0, 0))
            else:
                fcntl.lockf(self._fd, (fcntl.LOCK_EX if kind == fcntl.F_WRLCK else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            self.acquired = True
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):  # no locks here, rather than a holder
                self.acquired, self.supported = True, False

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def held(path) -> bool:
    """Whether a live writer holds ``path`` (False for a file that is not there). Asked without
    taking the lock where the system can (``F_OFD_GETLK``), so that asking never makes a
    writer that locks the file at that moment find it busy."""
    import fcntl

    path = Path(path)
    if not path.is_file():
        return False
    if hasattr(fcntl, "F_OFD_GETLK"):
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:  # cannot be opened at all: the caller's next step says why
            return False
        try:  # struct flock: type, whence, start, len, pid; F_UNLCK comes back when no lock conflicts
            query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
            answer = fcntl.fcntl(descriptor, fcntl.F_OFD_GETLK, query)
            return struct.unpack("hhqqi", answer)[0] != fcntl.F_UNLCK
        except OSError:  # no locks on this filesystem: nobody can be holding one
            return False
        finally:
            os.close(descriptor)
    try:
        probe = WriterLock(path)
    except OSError:  # cannot be opened at all: the caller's next step says why
        return False
    probe.release()
    return not probe.acquired


def check_target(path, overwrite: bool) -> Path:
    """``path`` if it may be written now, else an :class:`OutputError` (or :class:`BusyError`)
    that says why in one line."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file path")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {path.parent} is read-only")
    if held(path):
        raise BusyError(f"{path} is being written by a live run (it holds the file's lock); wait for it to finish, "
                        "or choose another path")  # fmt: skip
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite (overwrite=True) to replace it, or choose another path")
    return path


def check_not_source(target, source) -> Path:
    """``target`` unless it is the file ``source`` itself (a sidecar or movie named like its run
    file): an :class:`OutputError`, which ``overwrite`` does not lift."""
    target, source = Path(target), Path(source)
    same = target.resolve() == source.resolve() or (target.exists() and os.path.samefile(target, source))
    if same:
        raise OutputError(f"cannot write {target}: it is {source}, the file it is made from; choose another path")
    return target


def partial_files(path) -> list[Path]:
    """Partial replacements of ``path`` left by killed processes."""
    path = Path(path)
    left = []
    for candidate in path.parent.glob(f".{path.name}.partial-*"):
        pid = candidate.name.rpartition(".partial-")[2].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            left.append(candidate)
    return sorted(left)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: A partial file is made afresh, never through a link: O_EXCL refuses any name that exists
#: (a symbolic link included, even a dangling one), O_NOFOLLOW says so twice.
_NEW_FILE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _claim(path: Path) -> None:
    """Create ``path`` as a new, empty regular file of this process. Whatever already has the
    name (left by a dead process of the same id, or planted: a symbolic link to somewhere
    else) is removed, never followed; if it cannot be, the write is refused in one line."""
    for attempt in range(2):
        try:
            os.close(os.open(path, _NEW_FILE, 0o666))
            return
        except FileExistsError:
            if attempt:
                break
            try:
                os.unlink(path)  # the name itself, whatever it points to
            except OSError:
                break
        except OSError as error:
            raise OutputError(f"cannot write {path.parent / path.name.split('.partial-')[0][1:]}: "
                              f"{error.strerror or error}") from None  # fmt: skip
    raise OutputError(f"cannot write beside {path.parent}: {path.name} is in the way and cannot be removed")


class Replacement:
    """A target being written under the discipline above.

    ``write_path`` is where to write: a partial file beside the target. :meth:`commit` moves
    it over the target once it is whole; :meth:`abandon` removes it and leaves the target
    alone. While a replacement is built, the old file's lock is held, so no second writer
    starts on the same target. A file that replaces nothing may appear at its own path before
    it is finished (:meth:`appear`: a new run file, readable while it grows), but never
    before it is a readable file. As a context manager it yields ``write_path`` and commits
    unless the block raises.
    """

    def __init__(self, path, overwrite: bool):
        self.path = check_target(path, overwrite)
        self.replacing = self.path.exists()
        self._guard = None
        if self.replacing:
            try:
                self._guard = WriterLock(self.path)
            except OSError as error:
                raise OutputError(f"cannot replace {self.path}: {error.strerror or error}") from None
            if not self._guard.acquired:  # taken between the check and now
                self._guard.release()
                raise BusyError(f"{self.path} is being written by a live run; wait for it to finish, or choose "
                                "another path")  # fmt: skip
        # the process's id (stale when it is dead) and the thread's (two writers in one process)
        self.write_path = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}-{threading.get_native_id()}")
        try:
            _claim(self.write_path)
        except BaseException:
            self._release()
            raise

    def appear(self) -> Path:
        """Put a new file (one that replaces nothing) at its target now, as it stands; where the
        file is written from then on. A target that appeared meanwhile is not replaced."""
        if self.replacing or self.write_path == self.path:
            return self.write_path
        try:
            os.link(self.write_path, self.path)  # fails if the target exists: never replaces
        except FileExistsError:
            raise OutputError(f"{self.path} exists; pass --overwrite (overwrite=True) to replace it, or choose "
                              "another path") from None  # fmt: skip
        except OSError:  # a filesystem without hard links
            if self.path.exists():
                raise OutputError(f"{self.path} exists; pass --overwrite to replace it") from None
            os.rename(self.write_path, self.path)
        else:
            self.write_path.unlink()
        self.write_path = self.path
        return self.path

    def commit(self) -> Path:
        if not self.replacing:
            try:
                self.appear()  # never over a file that appeared meanwhile
            except OutputError:
                self.abandon()
                raise
        elif self.write_path != self.path:
            os.replace(self.write_path, self.path)
            self.write_path = self.path
        for stale in partial_files(self.path):
            stale.unlink(missing_ok=True)
        self._release()
        return self.path

    def abandon(self) -> None:
        """Drop what was written, unless it has already appeared as the target."""
        if self.write_path != self.path:
            self.write_path.unlink(missing_ok=True)
        self._release()

    def _release(self):
        if self._guard is not None:
            self._guard.release()
            self._guard = None

    def __enter__(self) -> Path:
        return self.write_path

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.commit()
            return False
        self.abandon()
        if issubclass(kind, OSError):  # the write itself failed: one line, not the writer's traceback
            kept = f"{self.path} is unchanged" if self.replacing else "nothing was written"
            raise OutputFailed(f"cannot write {self.path}: {error.strerror or error}; {kept}") from None
        return False


def write_text(path, text: str, overwrite: bool) -> Path:
    """Write ``text`` to ``path`` under the discipline (a manifest, a summary, a sidecar)."""
    with Replacement(path, overwrite) as scratch:
        Path(scratch).write_text(text, encoding="utf-8")
    return Path(path)


def figure_format(path) -> str:
    """The format matplotlib writes for ``path``'s suffix; an unknown or missing suffix is an
    :class:`OutputError` that lists the known ones."""
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lstrip(".").lower()
    known = FigureCanvasBase.get_supported_filetypes()
    if suffix not in known:
        raise OutputError(f"cannot write figure {path}: give a suffix matplotlib writes ({', '.join(sorted(known))})")
    return suffix


def save_figure(figure, path, overwrite: bool, dpi: int = 150) -> Path:
    """``figure.savefig`` under the discipline: checked, built beside the target, moved into place."""
    fmt = figure_format(path)
    with Replacement(path, overwrite) as scratch:
        figure.savefig(scratch, format=fmt, dpi=dpi)
    return Path(path)

