"""What a command answers: the one map from what went wrong to an exit code and a line.

The library raises (:class:`~simulator.outputs.OutputError` and its kinds carry their own
exit code; a bad value is a ``ValueError``; the physics stopping a
:class:`~simulator.base.SimulationError`); every command of the package and every scenario
script meets those errors here, in :func:`answered`: no other module picks a code for an
error (the architecture test checks it). An error that carries its code is passed on with
it (``scenario.checked_targets``); the sweep's in-process point runner does what Python
does with an uncaught exception or ``SystemExit`` of the program it stands in for. The codes
are :mod:`simulator.commandline`'s.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass

from .base import SimulationError, interruptible
from .commandline import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED
from .outputs import OutputError
from .trajectory import NotInFile

__all__ = ["ANSWERED", "exit_code", "one_line", "answered", "Answer", "run_as_command"]

#: What a command answers with one line and an exit code; anything else (a ``TypeError``, a
#: ``KeyError``, a ``RuntimeError`` of a library) is a bug of ours and keeps its traceback.
ANSWERED = (KeyboardInterrupt, OutputError, ValueError, NotInFile, SimulationError, OSError, BrokenExecutor)


def exit_code(error: BaseException) -> int:
    """The exit code that answers ``error``: the one an :class:`OutputError` carries, 130 for an
    interrupt, 2 for a bad value (``ValueError``, a series a file lacks: ``NotInFile``), 1 for
    the physics stopping or the system failing (``SimulationError``, ``OSError``, a worker
    pool that broke: ``BrokenExecutor``)."""
    if isinstance(error, OutputError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, (ValueError, NotInFile)):
        return EXIT_BAD_INPUT
    if isinstance(error, (SimulationError, OSError, BrokenExecutor)):
        return EXIT_FAILED
    raise TypeError(f"no exit code answers {type(error).__name__}") from error


def one_line(error: BaseException, prefix: str = "error", path=None) -> str:
    """``error`` as the one line a command prints (``prefix``: e.g. ``chemsignal run: error``;
    ``path``: the file an ``OSError`` that names none is about)."""
    if isinstance(error, NotInFile):
        text = str(error.args[0]) if error.args else str(error)
    elif isinstance(error, OSError) and not isinstance(error, OutputError) and error.strerror:
        where = error.filename or path
        text = f"{where}: {error.strerror}" if where else error.strerror
    elif isinstance(error, (OSError, BrokenExecutor)) and not isinstance(error, OutputError):
        text = f"{type(error).__name__}: {error}"  # a worker pool that broke: its kind says most
    else:
        text = str(error)
    return f"{prefix}: {text}"


@dataclass
class Answer:
    """How a command ended: ``code`` (0 until something answered says otherwise)."""

    code: int = 0


@contextlib.contextmanager
def answered(prefix: str = "error", *, interrupted: Callable[[], str] | None = None,
             failure_note: Callable[[], str] = str, path=None) -> Iterator[Answer]:  # fmt: skip
    """The block as a command: SIGTERM handled as Ctrl-C, and an error of :data:`ANSWERED`
    ended with one line on stderr and its :func:`exit_code` in the yielded :class:`Answer`,
    not a traceback. ``interrupted()`` says what an interrupt left (default: the prefix's
    command and ``interrupted``, e.g. ``chemsignal plot: interrupted``); ``failure_note()``
    adds to a ``SimulationError``'s line where the run so far is kept; ``path``: the file an
    ``OSError`` that names none is about."""
    answer = Answer()
    try:
        with interruptible():
            yield answer
    except ANSWERED as error:
        answer.code = exit_code(error)
        if isinstance(error, KeyboardInterrupt):
            line = interrupted() if interrupted is not None else _interrupted_line(prefix)
        else:
            note = failure_note() if isinstance(error, SimulationError) else ""
            line = one_line(error, prefix, path) + note
        print(line, file=sys.stderr)


def _interrupted_line(prefix: str) -> str:
    """``chemsignal plot: error`` -> ``chemsignal plot: interrupted``; ``error`` -> ``interrupted``."""
    command = prefix.removesuffix("error").rstrip(": ")
    return f"{command}: interrupted" if command else "interrupted"


def run_as_command(config, out, *, overwrite: bool, command_line: list[str], resume=False, network=None):
    """:func:`simulator.runs.run` as a command wants it: a progress bar on a terminal, SIGTERM
    handled like Ctrl-C, one line instead of a traceback, and an interrupt answered by what it
    left in ``out``. Returns ``(result, 0)``, or ``(None, code)``."""
    from .progress import TerminalProgress
    from .runs import file_identity, interrupted_message, run

    if resume and overwrite:
        print("error: --resume continues the file and --overwrite replaces it; give one", file=sys.stderr)
        return None, EXIT_BAD_INPUT
    before = file_identity(out)

    def kept() -> str:
        changed = file_identity(out) not in (None, before)
        return f"; the run so far is in {out} (status 'failed')" if changed else ""

    result = None
    with answered(interrupted=lambda: interrupted_message(out, before), failure_note=kept, path=out) as answer:
        result = run(config, network=network, out=out, overwrite=overwrite, progress=TerminalProgress(),
                     command_line=command_line, resume=resume)  # fmt: skip
    return (result, 0) if answer.code == 0 else (None, answer.code)
