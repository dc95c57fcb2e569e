"""The first and last thing a command of this package does about signals: a Ctrl-C or
SIGTERM that arrives while the command is still importing (about half a second) ends it with
exit code 130 and one line, and one that arrives after its work is done (while the
interpreter shuts down) ends it quietly with the command's own exit code, instead of a
traceback or death by the signal.

Imported first by ``simulator/__init__.py``, before numpy, and only acts for the package's own
command lines: ``python -m simulator ...`` (during whose import ``sys.argv[0]`` is ``"-m"``),
the ``chemsignal`` script, and the scenario scripts beside the package. Nothing has been
written while it imports, so the process may simply end. In between, the command's own
handlers (:func:`simulator.base.interruptible`) answer signals; :func:`ending` takes over when
they are done.
"""

import atexit
import os
import signal
import sys

EXIT_INTERRUPTED = 130  # simulator.commandline.EXIT_INTERRUPTED (this module imports nothing of the package)
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scenarios")
_held = False
_done: list[int] = []  # the command's exit code, once its work is done


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):  # what the command printed still reaches its reader
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _stop(signum, frame):
    if _done:  # the work is done: end with its own code
        _flush()
        os._exit(_done[-1])
    os.write(2, b"interrupted before the command started; nothing was written\n")
    os._exit(EXIT_INTERRUPTED)


def _is_command_line() -> bool:
    first = sys.argv[0] if sys.argv else ""
    if first == "-m" or os.path.basename(first) == "chemsignal":
        return True
    return first.endswith(".py") and os.path.dirname(os.path.abspath(first)) == _SCENARIOS


def hold() -> None:
    """End the process on SIGINT/SIGTERM (exit 130, one line) until the command sets its own
    handlers, if this process is one of the package's command lines and nobody set one yet."""
    global _held
    if not _is_command_line():
        return
    for number in _STOP_SIGNALS:
        if signal.getsignal(number) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(number, _stop)
            _held = True


def ending(code: int) -> int:
    """The command's work is done and ``code`` is its exit code: from now on SIGINT and SIGTERM
    end the process quietly with that code (for a process that :func:`hold` held). Returns
    ``code``.

    Once the interpreter shuts down, it gives every signal that has a Python handler back its
    default action (death by the signal) before it tears its modules down, which takes a
    while; so at exit the two are ignored instead, and the process ends a moment later with
    its own code.

    An interrupted command (``code`` 130) ends at once: CPython ends a ``python -m`` process
    by SIGINT, whatever its exit code, once a KeyboardInterrupt has passed through an
    ``exec()`` of text (scipy's imports run one), even one the command then handled."""
    if _held and code == EXIT_INTERRUPTED:
        _flush()
        os._exit(code)
    if _held:
        if not _done:
            atexit.register(_ignore_stop_signals)
        _done.append(code)
        for number in _STOP_SIGNALS:
            signal.signal(number, _stop)
    return code


def _ignore_stop_signals() -> None:
    for number in _STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


hold()
