"""The bottom of the package: errors, validation, the version, seeds, threads, deprecations.

Every other module may import this one; it imports nothing of the package, so nothing ever
has to import upward to report an error or check a value.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import os
import signal
import sys
import threading
import types
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from ._start import STOP_SIGNALS

__all__ = [
    "__version__",
    "lazy_module",
    "SimulationError",
    "ChemsignalDeprecationWarning",
    "RunWarning",
    "deprecated",
    "checked_positive",
    "checked_nonnegative",
    "checked_int",
    "checked_choice",
    "registered",
    "Option",
    "checked_options",
    "check_memory",
    "parse_seeds",
    "ONE_THREAD_ENV",
    "pin_threads",
    "interruptible",
    "raise_if_signalled",
    "signals_deferred",
]

try:
    __version__ = version("chemsignal-sim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"


class SimulationError(RuntimeError):
    """The physics cannot go on: a field blew up, a factorisation failed, or the stable time
    step collapsed (conductances running away)."""


class ChemsignalDeprecationWarning(FutureWarning):
    """An old name that still works (shown by default, unlike DeprecationWarning)."""


class RunWarning(UserWarning):
    """A run that goes on but should be looked at: a cost explosion, a pipe remodelled by
    orders of magnitude in one step (recorded in the run file too)."""


def deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """One line saying that ``old`` is now ``new`` (``stacklevel``: of the caller to point at,
    counted from here; 4 from a dataclass's ``__post_init__``)."""
    warnings.warn(f"{old} is deprecated; use {new}", ChemsignalDeprecationWarning, stacklevel=stacklevel)


def one_line_warnings() -> None:
    """Print warnings as one line each (``warning: ...``): for command-line entry points."""
    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"


# ---------------------------------------------------------------------- validation
def _as_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond any float
        raise ValueError(f"{name} must be finite, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _checked_above(name: str, value, strict: bool) -> float:
    bound = "> 0" if strict else ">= 0"
    try:
        value = _as_float(name, value)
    except ValueError:
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}") from None
    if not (value > 0 if strict else value >= 0):
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return value


def checked_positive(name: str, value) -> float:
    """``value`` as a float if it is finite and > 0, else a ``ValueError`` naming ``name``."""
    return _checked_above(name, value, strict=True)


def checked_nonnegative(name: str, value) -> float:
    """``value`` as a float if it is finite and >= 0."""
    return _checked_above(name, value, strict=False)


def registered(kind: str, value, registry: dict, cls: type):
    """``value`` if it is a ``cls``, else the entry it names in ``registry``; an unknown name is
    refused with the names there are."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, str) or value not in registry:
        raise ValueError(f"unknown {kind} {value!r}; choose one of {sorted(registry)}")
    return registry[value]


def checked_int(name: str, value, low: int | None = None) -> int:
    """``value`` as an int if it is a whole number (not a bool) and ``>= low``."""
    whole = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    whole = whole and math.isfinite(value) and int(value) == value
    bound = "" if low is None else f" >= {low}"
    if not whole or (low is not None and value < low):
        raise ValueError(f"{name} must be an integer{bound}, got {value!r}")
    return int(value)


def checked_choice(name: str, value, choices) -> str:
    """``value`` if it is one of ``choices``, else an error listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


# ---------------------------------------------------------------------- config options
INT64_MAX = 2**63 - 1
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}


@dataclass(frozen=True)
class Option:
    """One key of a config table: its type, its default (``None``: the key is required), and
    its range: ``low`` and ``high`` (inclusive), ``positive`` (> 0), ``below`` (exclusive) or
    ``choices``. Lists are stored as tuples (a config cannot change once checked).

    Values are stored as the one type of the key, so equal configs are equal whatever form
    the user wrote them in (``lr = 1`` and ``lr = 1.0`` alike).
    """

    type: type
    default: object = None
    low: float | None = None
    positive: bool = False
    high: float | None = None
    below: float | None = None
    choices: tuple | None = None
    doc: str = ""

    def checked(self, name: str, value):
        """``value`` as this key's type, or a ``ValueError`` that names ``name``."""
        kind = self.type
        if kind is list:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{name} must be a list, got {value!r}")
            return _frozen_list(value)
        if kind is bool or kind is str:
            if not isinstance(value, kind):
                raise ValueError(f"{name} must be {_TYPE_NAMES[kind]}, got {value!r}")
            return self._in_choices(name, value)
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            value = int(value)
            if abs(value) > INT64_MAX:  # what a run file can store
                raise ValueError(f"{name} must be at most {INT64_MAX} in size, got {value!r}")
        else:
            value = _as_float(name, value)
        if self.positive and not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
        if self.low is not None and value < self.low:
            raise ValueError(f"{name} must be >= {self.low:g}, got {value!r}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{name} must be <= {self.high:g}, got {value!r}")
        if self.below is not None and not value < self.below:
            raise ValueError(f"{name} must be < {self.below:g}, got {value!r}")
        return self._in_choices(name, value)

    def _in_choices(self, name, value):
        return value if self.choices is None else checked_choice(name, value, self.choices)


def _frozen_list(value) -> tuple:
    return tuple(_frozen_list(item) if isinstance(item, (list, tuple)) else item for item in value)


def checked_options(table: str, values: dict, options: dict[str, Option]) -> dict:
    """The keys of config table ``table`` checked against ``options``: unknown keys refused
    by name, required keys asked for, defaults filled in, every value typed."""
    prefix = f"{table}." if table else ""
    unknown = sorted(set(values) - set(options))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {[prefix + key for key in unknown]}; known in [{table}]: {sorted(options)}"
        )
    checked = {}
    for key, option in options.items():
        if key in values:
            checked[key] = option.checked(prefix + key, values[key])
        elif option.default is None:
            raise ValueError(f"{prefix}{key} is required ({option.doc or _TYPE_NAMES[option.type]})")
        else:
            checked[key] = option.checked(prefix + key, option.default)
    return checked


# ---------------------------------------------------------------------- memory
def available_memory() -> int | None:
    """Bytes of memory this process could still take (Linux ``MemAvailable``, else the
    physical memory), or None when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(what: str, need: float, hint: str = "") -> None:
    """A ``ValueError`` in one line if ``what`` needs more than the memory available (``need``
    bytes, an estimate), before anything is allocated."""
    have = available_memory()
    if have is not None and need > have:
        raise ValueError(f"{what} needs about {need / 2**30:.3g} GiB of memory, and {have / 2**30:.3g} GiB is "
                         f"available{'; ' + hint if hint else ''}")  # fmt: skip


# ---------------------------------------------------------------------- seeds and threads
def parse_seeds(text: str) -> list[int]:
    """``"0:8"`` (start:stop, stop excluded) or ``"1,4,9"`` to a list of seeds >= 0."""
    text = str(text)
    try:
        if ":" in text:
            start, stop = (int(x) for x in text.split(":"))
            seeds = list(range(start, stop))
        else:
            seeds = [int(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--seeds wants START:STOP or a,b,c; got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--seeds must give at least one seed >= 0; got {text!r}")
    return seeds


#: Environment for a worker process that shares the cores with others: one thread for every
#: BLAS (numpy's and scipy's OpenBLAS each load their own pool) and for Numba.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def pin_threads(count: int = 1) -> None:
    """Limit this process to ``count`` BLAS threads and ``count`` Numba threads (a pool worker's
    initializer: workers that each spin up every core's worth of threads fight for them)."""
    import numba
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count)
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    os.environ.update({key: str(count) for key in ONE_THREAD_ENV if key != "NUMBA_NUM_THREADS"})


# ---------------------------------------------------------------------- signals
# Signals received inside an ``interruptible`` block. The handler raises KeyboardInterrupt at
# once, but Python swallows an exception raised while it runs a weakref or GC callback (and
# would print "Exception ignored ..." with a traceback; seen with h5py's object registry, once
# in about five Ctrl-C). So the signal is also kept here, the message of a swallowed one is
# not printed, and the loops look here (:func:`raise_if_signalled`) between chunks of steps
# and after every epoch: a signal is never lost.
_received_signals: list[str] = []


def _quiet_swallowed_interrupt(previous):
    def hook(unraisable):
        if issubclass(unraisable.exc_type, KeyboardInterrupt) and _received_signals:
            return  # raised again by raise_if_signalled
        previous(unraisable)

    return hook


@contextlib.contextmanager
def interruptible():
    """Turn SIGTERM and SIGINT into KeyboardInterrupt for the block, so run files close as
    interrupted; a signal whose exception Python swallowed is raised again at the next
    :func:`raise_if_signalled`. Inside a :func:`signals_deferred` block the signal waits for
    the block's end. A signal that the process was started with ignored (a shell ignores
    SIGINT for its background jobs, ``nohup`` SIGHUP) stays ignored, as Python itself leaves it."""

    def stop(signum, frame):
        name = signal.Signals(signum).name
        _received_signals.append(name)
        raise KeyboardInterrupt(f"received {name}")

    if threading.current_thread() is not threading.main_thread():  # only the main thread sets handlers
        yield
        return
    _received_signals.clear()
    hook, sys.unraisablehook = sys.unraisablehook, _quiet_swallowed_interrupt(sys.unraisablehook)
    previous = {}
    try:
        for number in STOP_SIGNALS:
            handler = signal.getsignal(number)
            if handler == signal.SIG_IGN:  # ignored by whoever started us (a shell's background job): so it stays
                continue
            signal.signal(number, stop)  # (a pending signal's handler runs first, and may raise: then no swap)
            previous[number] = signal.SIG_DFL if handler is None else handler
        yield
    finally:
        raised = _put_back(previous)
        sys.unraisablehook = hook
        _received_signals.clear()
        if raised is not None:
            raise raised


def raise_if_signalled():
    """Raise the KeyboardInterrupt of a signal received in an ``interruptible`` block, if any."""
    if _received_signals:
        raise KeyboardInterrupt(f"received {_received_signals[-1]}")


@contextlib.contextmanager
def signals_deferred():
    """A critical section (a block appended to a run file, a status written): SIGINT and
    SIGTERM that arrive inside it are held, and handed to the handler that was in place (which
    may raise KeyboardInterrupt, or end the process) as the block ends.

    The handler is swapped, not the signal mask: a mask covers only the calling thread, so the
    kernel hands a process-directed signal to another thread (a BLAS worker), and CPython
    still runs the Python handler in the main thread, at its next bytecode, inside h5py's
    ``resize`` or ``__setitem__``. Outside the main thread no Python handler runs in this
    thread, and the block needs nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum, frame):
        held.append(signum)

    previous = {}
    try:
        for number in STOP_SIGNALS:
            handler = signal.getsignal(number)
            if handler not in (None, signal.SIG_IGN):  # None: set outside Python, which this cannot put back
                signal.signal(number, hold)  # (a pending signal's handler runs first, and may raise: then no swap)
                previous[number] = handler
        yield
    finally:
        raised = _put_back(previous)
        for number in dict.fromkeys(held):  # each signal once, in the order they came
            _deliver(number, previous[number])
        if raised is not None:
            raise raised


def _put_back(previous: dict):
    """Every handler in ``previous`` back in place, even if a pending signal's handler raises
    on the way (``signal.signal`` runs pending handlers before it swaps): the first exception
    so raised is returned, to be raised once all are back."""
    raised = None
    for number, handler in previous.items():
        while True:
            try:
                signal.signal(number, handler)
                break
            except KeyboardInterrupt as error:
                raised = raised or error
    return raised


def _deliver(number: int, handler) -> None:
    """Act on a held signal as ``handler`` would have on its arrival."""
    if callable(handler):
        handler(number, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(number)  # the default action: for SIGTERM and SIGINT, the process ends


class _LazyModule(types.ModuleType):
    """A module that is imported on the first use of one of its attributes."""

    def __init__(self, name: str):
        super().__init__(name, f"{name}, imported at first use")
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attribute: str):
        # a look-up in sys.modules once loaded (under a microsecond); after an interrupted
        # first import, a fresh import
        name = self.__dict__["_lazy_target"]
        if name in sys.modules:
            return getattr(sys.modules[name], attribute)
        with signals_deferred():  # the first load whole: an interrupt is acted on once it is done
            return getattr(importlib.import_module(name), attribute)


def hold_compiles(namespace: dict) -> None:
    """Every Numba dispatcher in ``namespace`` (a module's globals) compiles a signature, or
    loads it from its cache, with SIGINT and SIGTERM held until it is done: Numba builds the
    compiled library and sets up its own typing in Python there, and an interrupt inside left
    it half-built ("no compiled object yet for <Library 'band_cholesky'>", "duplicate
    registration for <class ...UnicodeType>") and every later call failing until the
    interpreter restarted (2 of 70 trials of ``benchmarks/interrupts.py``). Calls of a
    signature already compiled do not pass here: Numba's dispatcher calls
    ``_compile_for_args`` only for argument types it has not compiled, so the hold costs
    nothing after the first call of each. (The compiled code itself cannot be interrupted in
    any case: a signal is acted on when the call returns.)"""
    for value in list(namespace.values()):
        compile_for_args = getattr(value, "_compile_for_args", None)
        if compile_for_args is None or not hasattr(value, "overloads"):
            continue

        def held(*args, _compile=compile_for_args, **kwargs):
            with signals_deferred():
                return _compile(*args, **kwargs)

        value._compile_for_args = held


def lazy_module(name: str) -> types.ModuleType:
    """``name``, imported on the first use of an attribute: ``import simulator`` stays short,
    and a run that never opens a file never loads h5py.

    The import is a plain one: a module whose first run raises (Ctrl-C while the kernels
    load) is taken out of ``sys.modules`` again by the import system, and the next use
    imports it afresh. ``importlib.util.LazyLoader`` left the half-built module there, and
    every later use failed until the interpreter restarted."""
    if importlib.util.find_spec(name) is None:
        raise ImportError(f"no module named {name!r}")
    return _LazyModule(name)
