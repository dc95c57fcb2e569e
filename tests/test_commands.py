"""The one map from what went wrong to an exit code and a line (simulator/commands.py)."""

import signal
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from simulator import SimulationError
from simulator.commands import answered, exit_code, one_line
from simulator.outputs import BusyError, OutputError, OutputFailed
from simulator.trajectory import ConfigDiffers, DamagedFile, FileBusy, NothingToResume, NotInFile


@pytest.mark.parametrize(
    "error, code",
    [
        (KeyboardInterrupt(), 130),
        (OutputError("x"), 2),
        (DamagedFile("x"), 2),
        (BusyError("x"), 3),
        (FileBusy("x"), 3),
        (ConfigDiffers("x"), 3),
        (NothingToResume("x"), 4),
        (OutputFailed("x"), 1),
        (ValueError("x"), 2),
        (NotInFile("x"), 2),
        (SimulationError("x"), 1),
        (OSError(28, "No space left on device"), 1),
        (BrokenProcessPool("x"), 1),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_every_kind_of_error_has_its_exit_code(error, code):
    assert exit_code(error) == code


@pytest.mark.parametrize("error", [ZeroDivisionError(), KeyError("T"), AttributeError("x"), RuntimeError("numba"),
                                   NotImplementedError()], ids=repr)
def test_an_error_of_ours_has_no_exit_code(error):
    with pytest.raises(TypeError, match=f"no exit code answers {type(error).__name__}"):
        exit_code(error)


def test_one_line_names_what_went_wrong():
    missing = NotInFile("observables/nope")
    assert one_line(missing, "chemsignal plot: error") == "chemsignal plot: error: observables/nope"
    disk = OSError(28, "No space left on device", "run.h5")
    assert one_line(disk) == "error: run.h5: No space left on device"
    unnamed = OSError(28, "No space left on device")
    assert one_line(unnamed, path="r.h5") == "error: r.h5: No space left on device"
    assert one_line(unnamed) == "error: No space left on device"
    assert one_line(BrokenProcessPool("a worker died")) == "error: BrokenProcessPool: a worker died"
    assert one_line(SimulationError("dt fell 100x")) == "error: dt fell 100x"


def test_answered_ends_an_error_in_one_line_and_its_code(capsys):
    with answered("chemsignal run: error") as answer:
        raise ValueError("lr must be > 0, got -0.001")
    assert answer.code == 2
    assert capsys.readouterr().err == "chemsignal run: error: lr must be > 0, got -0.001\n"


def test_answered_adds_where_a_failed_run_is_kept(capsys):
    with answered(failure_note=lambda: "; the run so far is in r.h5 (status 'failed')") as answer:
        raise SimulationError("the conductances ran away")
    assert answer.code == 1
    assert capsys.readouterr().err == "error: the conductances ran away; the run so far is in r.h5 (status 'failed')\n"


def test_answered_keeps_the_traceback_of_a_bug():
    with pytest.raises(ZeroDivisionError), answered():
        1 / 0  # noqa: B018


def test_answered_takes_sigterm_as_an_interrupt_and_says_what_it_left(capsys):
    before = signal.getsignal(signal.SIGTERM)
    with answered(interrupted=lambda: "interrupted; the partial run is in r.h5") as answer:
        signal.raise_signal(signal.SIGTERM)
        time.sleep(5)  # (the handler raises at the next bytecode; never reached)
    assert answer.code == 130
    assert capsys.readouterr().err == "interrupted; the partial run is in r.h5\n"
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back


@pytest.mark.parametrize("prefix, line", [("chemsignal plot: error", "chemsignal plot: interrupted"),
                                          ("error", "interrupted")])
def test_an_interrupt_is_named_after_the_command_by_default(prefix, line, capsys):
    with answered(prefix) as answer:
        raise KeyboardInterrupt
    assert answer.code == 130 and capsys.readouterr().err == line + "\n"


def test_answered_leaves_code_zero_when_nothing_went_wrong(capsys):
    with answered() as answer:
        pass
    assert answer.code == 0
    assert capsys.readouterr().err == ""
