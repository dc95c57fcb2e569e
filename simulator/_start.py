"""The first thing a command of this package does: a Ctrl-C or SIGTERM that arrives while
the command is still importing (about half a second) ends it with exit code 130 and one
line, instead of a traceback or death by the signal.

Imported first by ``simulator/__init__.py``, before numpy, and only acts for the package's own
command lines (``python -m simulator ...``, during whose import ``sys.argv[0]`` is ``"-m"``,
and the ``chemsignal`` script). Nothing has been written at that point, so the process may
simply end. The command's ``main`` takes the signals over (:func:`simulator.base.interruptible`)
and gives them back with :func:`release`.
"""

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # simulator.commandline.EXIT_INTERRUPTED (this module imports nothing of the package)


def _ended_at_start(signum, frame):
    os.write(2, b"interrupted before the command started; nothing was written\n")
    os._exit(EXIT_INTERRUPTED)


def _is_command_line() -> bool:
    first = sys.argv[0] if sys.argv else ""
    return first == "-m" or os.path.basename(first) == "chemsignal"


def hold() -> None:
    """End the process on SIGINT/SIGTERM (exit 130, one line) until :func:`release`, if this
    process is one of the package's command lines and nobody has set a handler yet."""
    if not _is_command_line():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(number, _ended_at_start)


def release() -> None:
    """Give SIGINT and SIGTERM back their usual handlers, if :func:`hold` took them."""
    for number, usual in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(number) is _ended_at_start:
            signal.signal(number, usual)


hold()
