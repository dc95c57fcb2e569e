"""Progress meters: a bar on a terminal, nothing otherwise.

A meter is any object with ``start(total, description)``, ``update(advance, **postfix)`` and
``close()``. Runs take one by keyword; the default prints nothing.
"""

from __future__ import annotations

import sys

__all__ = ["NoProgress", "TerminalProgress"]


class NoProgress:
    """Prints nothing."""

    def start(self, total: int, description: str = ""):
        pass

    def update(self, advance: int = 1, **postfix):
        pass

    def close(self):
        pass


class TerminalProgress(NoProgress):
    """A tqdm bar on stderr when stderr is a terminal; silent otherwise (logs, CI, pipes)."""

    def __init__(self, stream=None, unit: str = "epoch"):
        self._stream = sys.stderr if stream is None else stream
        self._unit = unit
        self._bar = None

    def start(self, total: int, description: str = ""):
        if not (hasattr(self._stream, "isatty") and self._stream.isatty()):
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=description, file=self._stream, unit=self._unit, dynamic_ncols=True)

    def update(self, advance: int = 1, **postfix):
        if self._bar is not None:
            self._bar.set_postfix(
                {k: f"{v:.3f}" if isinstance(v, float) else v for k, v in postfix.items()}, refresh=False
            )
            self._bar.update(advance)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
