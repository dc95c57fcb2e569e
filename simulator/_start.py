"""The first and last thing the package's command line does about signals.

A Ctrl-C or SIGTERM that arrives while ``python -m simulator`` (or ``chemsignal``) is still
importing, before its ``main`` sets its own handlers, ends it with exit code 130 and one line,
instead of a traceback or death by the signal: nothing has been written yet, so the process
may simply end. One that arrives after the command's work is done (while the interpreter
shuts down, which takes a second with Numba and h5py loaded) ends it quietly with the
command's own exit code (:func:`ending`).

Imported first by ``simulator/__init__.py``, before numpy, and it acts only in the process of
the package's own command line, told by how the interpreter was started (``sys.orig_argv``):
a user's program that imports the package keeps Python's own handling of its signals, and so
do processes forked from the command (a sweep's workers).
"""

import atexit
import os
import signal
import sys

#: The command line's exit code after an interrupt (:mod:`simulator.commandline`).
EXIT_INTERRUPTED = 130
#: The signals that stop a run (Ctrl-C and ``kill``); SIGKILL cannot be handled at all.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_COMMAND_MODULES = ("simulator", "simulator.cli", "simulator.__main__")
_held_in: list[int] = []  # the process id of the command that hold() took the signals for
_done: list[int] = []  # the command's exit code, once its work is done


def _stop(signum, frame):
    if os.getpid() not in _held_in:  # a process forked from the command: Python's own handling
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
        return
    if _done:  # the work is done: end with its own code
        _flush()
        os._exit(_done[-1])
    os.write(2, b"interrupted before the command started; nothing was written\n")
    os._exit(EXIT_INTERRUPTED)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):  # what the command printed still reaches its reader
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def is_command_line() -> bool:
    """Whether this process is the package's command line: ``python [options] -m simulator``
    (``simulator.cli``), while its package is being imported, or the ``chemsignal`` script."""
    if sys.argv[:1] == ["-m"]:  # runpy sets it while it imports the package of the module to run
        started = list(getattr(sys, "orig_argv", []))
        at = started.index("-m", 1) if "-m" in started[1:] else len(started)
        return started[at + 1 : at + 2] in ([name] for name in _COMMAND_MODULES)
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    return bool(sys.argv) and os.path.basename(sys.argv[0]) == "chemsignal" and script == sys.argv[0]


def hold() -> None:
    """End the process on SIGINT/SIGTERM (exit 130, one line) until the command sets its own
    handlers, if this process is the package's command line and nobody set one yet."""
    if not is_command_line():
        return
    for number in STOP_SIGNALS:
        if signal.getsignal(number) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(number, _stop)
            _held_in[:] = [os.getpid()]


def ending(code: int) -> int:
    """The command's work is done and ``code`` is its exit code: from now on SIGINT and SIGTERM
    end the process quietly with that code (only in the process :func:`hold` held). Returns
    ``code``.

    An interrupted command (``code`` 130) ends at once: CPython ends a ``python -m`` process
    by SIGINT, whatever its exit code, once a KeyboardInterrupt has passed through an
    ``exec()`` of text (scipy's imports run one), even one the command then handled.
    Otherwise, when the interpreter shuts down it gives every signal that has a Python handler
    its default action back (death by the signal) before its long teardown, so at exit the two
    are ignored instead, and the process ends a moment later with its own code."""
    if os.getpid() not in _held_in:
        return code
    if code == EXIT_INTERRUPTED:
        _flush()
        os._exit(code)
    if not _done:
        atexit.register(_ignore_stop_signals)
    _done.append(code)
    for number in STOP_SIGNALS:
        signal.signal(number, _stop)
    return code


def _ignore_stop_signals() -> None:
    if os.getpid() in _held_in:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)


hold()
