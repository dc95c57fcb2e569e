"""What every command of the package shares: its exit codes and its argument parser.

Exit codes (``python -m simulator ...``, ``chemsignal ...`` and every scenario script):

====  =====================================================================================
0     done
1     failed: the physics stopped, a blow-up passed its limit, or a write failed (disk full);
      the run file says ``failed`` and holds what was recorded
2     bad input: one line says what; nothing was written or replaced
3     refused: the file is held by a live run, or was made with another config
4     nothing to resume: the file is complete
130   interrupted (Ctrl-C, SIGTERM): the run file says ``interrupted`` and can be resumed
====  =====================================================================================
"""

from __future__ import annotations

import argparse
import sys

from . import _start

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_BAD_INPUT",
    "EXIT_REFUSED",
    "EXIT_NOTHING_TO_RESUME",
    "EXIT_INTERRUPTED",
    "ArgumentParser",
    "positive_int",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_NOTHING_TO_RESUME = 4
EXIT_INTERRUPTED = _start.EXIT_INTERRUPTED  # 130 (the command's first module sets it too)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that takes no abbreviations (``--epoch`` is not
    ``--epochs``) and reads a negative number after an option as its value: ``--lr -1e-3``
    is the value -1e-3 (refused later as "lr must be > 0"), where argparse would take it for
    an option because of the exponent. Subcommands' parsers are of this class too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else [str(a) for a in args]
        return super().parse_known_args(self._values_joined(args), namespace)

    def _values_joined(self, args: list[str]) -> list[str]:
        """``["--lr", "-1e-3"]`` -> ``["--lr=-1e-3"]`` for options that take one value."""
        joined, i = [], 0
        while i < len(args):
            action = self._option_string_actions.get(args[i])
            takes_one = action is not None and action.nargs is None and action.option_strings[0].startswith("--")
            if takes_one and i + 1 < len(args) and args[i + 1].startswith("-") and _is_number(args[i + 1]):
                joined.append(f"{args[i]}={args[i + 1]}")
                i += 2
            else:
                joined.append(args[i])
                i += 1
        return joined


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number >= 1 (a count of workers, networks, ...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value}")
    return value
