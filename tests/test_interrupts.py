"""Interrupts as users send them: SIGTERM or SIGINT at any moment, from any thread (BLAS
threads at their defaults), during a block append, during the first load of the kernels,
while another process reads the file; and files torn by older versions."""

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import live_writer
from test_resume import CASES, differing_datasets

import simulator
from simulator.base import RunWarning, interruptible, signals_deferred
from simulator.cli import main
from simulator.trajectory import COMMITTED, _declared_clocks, load_trajectory

ROOT = Path(__file__).resolve().parents[1]


def signal_from_another_thread(signum: int) -> None:
    """Send ``signum`` to this process from a new thread, as the kernel may route a signal to a
    BLAS worker: the Python handler then runs in the main thread at its next bytecode."""
    sender = threading.Thread(target=os.kill, args=(os.getpid(), signum))
    sender.start()
    sender.join()


def block_datasets(path) -> dict[str, list[tuple[str, int]]]:
    """``{clock: [(dataset, rows at the end of epoch 1)]}`` of a finished run file: every
    dataset a block append resizes (``step`` and ``time`` by those names: they are shared)."""
    with h5py.File(path, "r") as f:
        clocks, series = _declared_clocks(f)
        checkpoint = f["observables/checkpoint/rows/value"][1]  # the other clocks' rows after epoch 1
        others = sorted(set(clocks) - {"epoch"})
        rows = {"epoch": 2, **dict(zip(others, checkpoint.tolist()))}
        return {name: [(dataset, rows[name]) for dataset in ["step", *(["time"] if "time" in clock else []),
                                                             *(series[p].name for p in clock["series"])]]
                for name, clock in clocks.items()}  # fmt: skip


def is_dataset(dataset: h5py.Dataset, clock: str, name: str) -> bool:
    if name in ("step", "time"):
        return dataset.name.rpartition("/")[2] == name and dataset.parent.attrs.get("clock") == clock
    return dataset.name == name


@pytest.mark.parametrize("case", ["quasistatic", "timestepped", "advection"])
def test_a_signal_inside_a_block_append_waits_for_the_block_and_resume_loses_nothing(tmp_path, monkeypatch, case):
    """For every dataset of every block: SIGTERM (or SIGINT) sent from another thread right
    after HDF5 resizes that dataset. The block still lands whole, the run stops as interrupted
    right after it, and resume finishes a file equal to the uninterrupted run's."""
    config = CASES[case].with_values({"run.epochs": 3, "network.side": 6})  # (the file's mechanics, not the physics)
    simulator.run(config, out=tmp_path / "whole.h5")
    original = h5py.Dataset.resize
    trials = [(clock, name, rows) for clock, found in block_datasets(tmp_path / "whole.h5").items()
              for name, rows in found]  # fmt: skip
    assert len(trials) > 20
    for trial, (clock, name, rows) in enumerate(trials):
        signum = (signal.SIGTERM, signal.SIGINT)[trial % 2]
        fired = []

        def resize(self, size, axis=None, clock=clock, name=name, rows=rows, signum=signum, fired=fired):
            original(self, size, axis)
            if self.shape[0] == rows and not fired and is_dataset(self, clock, name):
                fired.append(name)
                signal_from_another_thread(signum)

        path = tmp_path / f"trial{trial}.h5"
        with monkeypatch.context() as patch:
            patch.setattr(h5py.Dataset, "resize", resize)
            with pytest.raises(KeyboardInterrupt), interruptible():
                simulator.run(config, out=path)
        assert fired == [name], (name, fired)
        run = load_trajectory(path)
        assert run.status[0] == "interrupted" and run.torn() == [], (name, run.torn())
        with h5py.File(path, "r") as f:  # the block is whole: every dataset of the clock has its rows
            clocks, series = _declared_clocks(f)
            block = [clocks[clock]["step"], *(series[p] for p in clocks[clock]["series"])]
            lengths = {d.name: d.shape[0] for d in block}
            assert set(lengths.values()) == {rows}, (name, lengths)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RunWarning)  # nothing torn: nothing to report
            simulator.run(config, out=path, resume=True)
        assert differing_datasets(tmp_path / "whole.h5", path) == [], name


def tear_like_an_older_version(path, whole, dataset: str) -> None:
    """What version 5358820 left after a SIGTERM inside an epoch's append: every dataset of the
    block one row longer, holding what the uninterrupted run ``whole`` recorded there, except
    ``dataset``, resized but never written (HDF5's fill value, zeros); no committed mark."""
    with h5py.File(path, "r+") as f, h5py.File(whole, "r") as reference:
        del f[COMMITTED]
        clocks, series = _declared_clocks(f)
        epoch_rows = clocks["epoch"]["step"].shape[0]
        counted = reference["observables/checkpoint/rows/value"][epoch_rows]
        rows = {"epoch": epoch_rows + 1, **dict(zip(sorted(set(clocks) - {"epoch"}), counted.tolist()))}
        for name, clock in clocks.items():  # the epoch's other blocks came first, whole
            for item in [clock["step"], *([clock["time"]] if "time" in clock else []),
                         *(series[p] for p in clock["series"])]:  # fmt: skip
                had = item.shape[0]
                item.resize(rows[name], axis=0)
                if item != f[dataset]:  # (a shared step is one object under several names)
                    item[had:] = reference[item.name][had : rows[name]]


@pytest.mark.parametrize("dataset", ["observables/checkpoint/rows/value", "observables/epoch/value",
                                     "observables/epoch/step"])  # fmt: skip
def test_a_torn_row_of_an_older_file_is_not_read_and_resume_drops_it(tmp_path, capsys, dataset):
    """The issue's reproductions: a zero row in checkpoint/rows (resume then dropped 1,800
    cost rows and said complete), in epoch/value (``inspect`` said epoch 0)."""
    config = CASES["quasistatic"].with_values({"run.epochs": 5})
    simulator.run(config, out=tmp_path / "whole.h5")
    path = tmp_path / "torn.h5"

    class StopAfterTwo:
        def start(self, total, description=""):
            self.done = 0

        def update(self, n=1, **metrics):
            self.done += n
            if self.done == 2:
                raise KeyboardInterrupt

        def close(self):
            pass

    with pytest.raises(KeyboardInterrupt):
        simulator.run(config, out=path, progress=StopAfterTwo())
    tear_like_an_older_version(path, tmp_path / "whole.h5", dataset)
    run = load_trajectory(path)
    assert run.clock_rows()["epoch"] == 3 and len(run.torn()) == 1, run.torn()
    assert list(run.series("observables/epoch")[2]) == [0, 1, 2]
    assert main(["inspect", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "final    epoch 2 of 5 (step 150)" in shown and "left out" in shown
    with pytest.warns(RunWarning, match=r"left out of the resume: clock 'epoch': row 4 "):
        simulator.run(config, out=path, resume=True)
    assert differing_datasets(tmp_path / "whole.h5", path) == []


def test_a_torn_checkpoint_vector_of_an_advection_file_is_not_trusted(tmp_path):
    """The advection mode's epoch block ends with checkpoint/last_gradient: torn, every length
    agrees and the row is zeros, which the run never writes (NaN before a release)."""
    from test_resume import StopAfter

    config = CASES["advection"].with_values({"run.epochs": 4})
    simulator.run(config, out=tmp_path / "whole.h5")
    path = tmp_path / "torn.h5"
    with pytest.raises(KeyboardInterrupt):
        simulator.run(config, out=path, progress=StopAfter(2))
    tear_like_an_older_version(path, tmp_path / "whole.h5", "observables/checkpoint/last_gradient/value")
    run = load_trajectory(path)
    assert run.clock_rows()["epoch"] == 3 and "checkpoint last_gradient all zeros" in run.torn()[0]
    with pytest.warns(RunWarning, match="left out of the resume"):
        simulator.run(config, out=path, resume=True)
    assert differing_datasets(tmp_path / "whole.h5", path) == []


def test_a_torn_checkpoint_counter_of_a_time_stepped_file_is_not_trusted(tmp_path):
    """The time-stepped tear: a zero row in checkpoint/explicit_step shifted every field step
    after resume by the steps already run."""
    config = CASES["timestepped"].with_values({"run.epochs": 4})
    simulator.run(config, out=tmp_path / "whole.h5")
    path = tmp_path / "torn.h5"
    with pytest.raises(KeyboardInterrupt):
        from test_resume import StopAfter

        simulator.run(config, out=path, progress=StopAfter(2))
    tear_like_an_older_version(path, tmp_path / "whole.h5", "observables/checkpoint/explicit_step/value")
    run = load_trajectory(path)
    assert run.clock_rows()["epoch"] == 3
    assert "checkpoint explicit_step 0" in run.torn()[0]
    with pytest.warns(RunWarning, match="left out of the resume"):
        simulator.run(config, out=path, resume=True)
    assert differing_datasets(tmp_path / "whole.h5", path) == []


def test_signals_deferred_hands_a_held_signal_to_the_handler_in_place_as_the_block_ends():
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        with signals_deferred():
            signal_from_another_thread(signal.SIGTERM)
            signal_from_another_thread(signal.SIGTERM)  # the same signal twice: handed on once
            assert received == []
        assert received == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt, match="received SIGINT"), interruptible():
            with signals_deferred():
                signal_from_another_thread(signal.SIGINT)
                inside = "still running"
            assert inside == "still running"
    finally:
        signal.signal(signal.SIGTERM, previous)


INTERRUPTED_IMPORT = """
import sys, numpy as np
import simulator
net = simulator.lattice_network(side=5, d=3, seed=2, n_inputs=2, n_outputs=2)
X, Y = np.ones((3, 2)), np.zeros((3, 2))
lines = []

def tracer(frame, event, arg):
    if frame.f_code.co_filename.endswith("kernels.py") and frame.f_code.co_name == "<module>":
        def local(frame, event, arg):
            if event == "line":
                lines.append(frame.f_lineno)
                if len(lines) == int(sys.argv[1]):
                    raise KeyboardInterrupt("as if Ctrl-C came here")
            return local
        return local
    return None

sys.settrace(tracer)
try:
    simulator.train(net, X, Y, alpha=1e-3, eta=1.0)
    print("not interrupted; module lines run:", len(lines))
except KeyboardInterrupt:
    print("interrupted at kernels.py line", lines[-1])
sys.settrace(None)
again = simulator.train(net, X, Y, alpha=1e-3, eta=1.0)
print("costs", repr(again.costs.tolist()))
"""


@pytest.fixture(scope="module")
def uninterrupted_kernels_load() -> tuple[int, str]:
    """How many lines the first run of ``simulator.kernels`` executes, and the costs of a train()."""
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, "0"], capture_output=True, text=True, timeout=300)
    first, costs = done.stdout.splitlines()
    return int(first.rpartition(":")[2]), costs


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.7, 1.0])
def test_an_interrupt_during_the_first_load_of_the_kernels_leaves_the_next_train_working(fraction,
                                                                                         uninterrupted_kernels_load):
    """Ctrl-C while ``simulator.kernels`` runs for the first time (at a ``fraction`` of its
    module-level lines) used to leave a half-built module in ``sys.modules``: every later
    ``train()`` failed with ``AttributeError ... 'COST_SQUARED'`` until the interpreter restarted."""
    lines, costs = uninterrupted_kernels_load
    assert lines > 20
    line = max(1, round(fraction * lines))
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, str(line)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("interrupted at kernels.py line"), done.stdout
    assert done.stdout.splitlines()[1] == costs  # the same train(), to the bit


INTERRUPTED_COMPILE = """
import os, signal, sys, numpy as np
import simulator
import simulator.kernels as loaded
net = simulator.lattice_network(side=5, d=3, seed=2, n_inputs=2, n_outputs=2)
X, Y = np.ones((3, 2)), np.zeros((3, 2))
kernel = getattr(loaded, sys.argv[1])
compile_for_real = kernel.compile

def compile_interrupted(signature):  # Ctrl-C as Numba compiles the kernel (or loads it from its cache)
    os.kill(os.getpid(), signal.SIGINT)
    return compile_for_real(signature)

dynamics = {"banded": simulator.Quasistatic(solver_method="banded"),
            "timestepped": simulator.TimeStepped(T=simulator.RelaxationTimes(2))}[sys.argv[2]]
kernel.compile = compile_interrupted
try:
    simulator.train(net, X, Y, alpha=1e-3, eta=1.0, dynamics=dynamics)
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted; compiled signatures:", len(kernel.overloads))
kernel.compile = compile_for_real
again = simulator.train(net, X, Y, alpha=1e-3, eta=1.0, dynamics=dynamics)
print("costs", repr(again.costs.tolist()))
"""


@pytest.mark.parametrize(
    "kernel, dynamics",
    [("quasistatic_chemical_steps", "banded"), ("laplacian_bound", "timestepped"), ("learn_steps", "timestepped")],
)
def test_an_interrupt_while_numba_compiles_a_kernel_is_acted_on_once_it_has_compiled(kernel, dynamics):
    """Ctrl-C during a kernel's first call, while Numba compiles it or loads it from its cache,
    left Numba half-built ("no compiled object yet for <Library 'band_cholesky'>") and the next
    ``train()`` failing: the compile is now held whole, and the interrupt comes after it."""
    reference = subprocess.run([sys.executable, "-c", INTERRUPTED_COMPILE, "relax", dynamics], capture_output=True,
                               text=True, timeout=300)  # fmt: skip  (a kernel these runs never call: no interrupt)
    assert reference.stdout.splitlines()[0] == "not interrupted", reference.stderr
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_COMPILE, kernel, dynamics], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, again = done.stdout.splitlines()
    assert first == "interrupted; compiled signatures: 1"  # raised once the call had compiled the kernel
    assert again == reference.stdout.splitlines()[1]  # the next train(), to the bit


SECOND_SIGNATURE = """
import os, signal, numpy as np
import simulator
import simulator.kernels as kernels
net = simulator.lattice_network(side=5, d=3, seed=2)
edges, n = net.topology.edges, net.n_nodes
frozen = np.ones(net.n_edges)
frozen.flags.writeable = False
kernels.laplacian_bound(edges, frozen, n)  # a network's own (read-only) conductances: the first signature
compile_for_real = kernels.laplacian_bound.compile

def compile_interrupted(signature):
    os.kill(os.getpid(), signal.SIGINT)
    return compile_for_real(signature)

kernels.laplacian_bound.compile = compile_interrupted
try:
    kernels.laplacian_bound(edges, np.ones(net.n_edges), n)  # a writeable copy, as a run's: a second one
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted; compiled signatures:", len(kernels.laplacian_bound.overloads))
kernels.laplacian_bound.compile = compile_for_real
print("bound", kernels.laplacian_bound(edges, np.ones(net.n_edges), n), 2.0 * np.bincount(edges.ravel()).max())
"""


def test_an_interrupt_while_numba_compiles_a_second_signature_waits_for_it_too():
    """Numba compiles once per argument types (a read-only array and a writeable one are two):
    every such compile is held, not only a kernel's first."""
    done = subprocess.run([sys.executable, "-c", SECOND_SIGNATURE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first, bound = done.stdout.splitlines()
    assert first == "interrupted; compiled signatures: 2"
    computed, gershgorin = bound.split()[1:]
    assert computed == gershgorin  # 2 x the largest weighted degree (conductances 1): the kernel works


def test_resume_of_a_file_a_live_run_writes_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    path = tmp_path / "live.h5"
    read = []
    monkeypatch.setattr(simulator.runs, "verify", lambda path: read.append(path))
    with live_writer(path):
        assert main(["run", str(ROOT / "scenarios/configs/iris.toml"), "--out", str(path), "--resume"]) == 3
        assert "is being written by a live run" in capsys.readouterr().err
    assert read == []


def test_interrupt_messages_say_what_is_on_disk(tmp_path):
    from simulator.runs import file_identity, interrupted_message

    missing = tmp_path / "none.h5"
    assert interrupted_message(missing, None) == (f"interrupted before {missing} was written; nothing to resume "
                                                  "(run the command again)")  # fmt: skip
    done = tmp_path / "done.h5"
    simulator.run({"run": {"epochs": 1}}, out=done)
    unchanged = interrupted_message(done, file_identity(done))
    assert unchanged == f"interrupted before the run changed {done}; it is as it was"
    assert interrupted_message(done, None) == f"interrupted as the run ended; {done} is complete"
    from test_resume import StopAfter

    with pytest.raises(KeyboardInterrupt):
        simulator.run({"run": {"epochs": 3}}, out=tmp_path / "part.h5", progress=StopAfter(1))
    assert interrupted_message(tmp_path / "part.h5", None).endswith(
        f"(status 'interrupted'); continue it with: python -m simulator resume {tmp_path / 'part.h5'}"
    )


TRIP = """
import os, signal, sys

class Trip:  # at the first import of the module named in TRIP_MODULE: a signal, or an exec() that raises
    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("TRIP_MODULE"):
            os.environ["TRIP_MODULE"] = ""
            if os.environ["TRIP"] == "exec":
                exec("raise KeyboardInterrupt('through exec() of text, as in scipy.array_api_compat')")
            os.kill(os.getpid(), getattr(signal, os.environ["TRIP"]))
        return None

sys.meta_path.insert(0, Trip())
if os.environ.get("TRIP_AT_EXIT"):  # registered first, so it runs last
    import atexit
    atexit.register(lambda: os.kill(os.getpid(), getattr(signal, os.environ["TRIP_AT_EXIT"])))
"""


def tripped(tmp_path, command: list[str], **trip) -> subprocess.CompletedProcess:
    """``command`` with a ``sitecustomize`` that trips at an import or at exit (``trip``: the
    environment it reads)."""
    (tmp_path / "sitecustomize.py").write_text(TRIP)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **trip}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_command_interrupted_while_it_imports_ends_with_one_line_and_exit_130(tmp_path, name):
    """The first half second of ``python -m simulator``: the signal arrives while numpy loads,
    before main() runs."""
    out = tmp_path / "run.h5"
    done = tripped(tmp_path, [sys.executable, "-m", "simulator", "run", str(ROOT / "scenarios/configs/iris.toml"),
                              "--out", str(out)], TRIP=name, TRIP_MODULE="numpy")  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (
        130, "", "interrupted before the command started; nothing was written\n")
    assert not out.exists()


def test_a_users_own_program_that_imports_the_package_keeps_pythons_handling_of_signals(tmp_path):
    """Only the package's own command line is held: ``python -m probe``, whose package imports
    simulator, dies of SIGTERM as Python would have it, not with our line."""
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "__init__.py").write_text("import simulator\n")
    (tmp_path / "probe" / "__main__.py").write_text("print('ran')\n")
    done = tripped(tmp_path, [sys.executable, "-m", "probe"], TRIP="SIGTERM", TRIP_MODULE="numpy")
    assert done.returncode == -signal.SIGTERM and done.stderr == "", done


def test_an_interrupted_command_ends_with_130_even_after_an_interrupt_passed_through_exec_of_text(tmp_path):
    """Seen in 18 of 60 SIGTERMs at 0.3-0.6 s: the KeyboardInterrupt went through scipy's
    ``exec("from numpy import *")`` during an import; the command said what it left and
    returned 130, and CPython then ended the ``python -m`` process by SIGINT all the same."""
    out = tmp_path / "run.h5"
    done = tripped(tmp_path, [sys.executable, "-m", "simulator", "run", str(ROOT / "scenarios/configs/iris.toml"),
                              "--out", str(out)], TRIP="exec", TRIP_MODULE="scipy.sparse")  # fmt: skip
    assert (done.returncode, done.stderr) == (130, f"interrupted before {out} was written; nothing to resume (run the "
                                                   "command again)\n")  # fmt: skip


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_while_the_interpreter_shuts_down_leaves_the_commands_exit_code(tmp_path, name):
    """A second or so of teardown after the work (Numba, h5py): the interpreter gives signals
    their default action back, and a run that had completed ended by the signal."""
    run = tmp_path / "run.h5"
    simulator.run({"run": {"epochs": 1}}, out=run)
    done = tripped(tmp_path, [sys.executable, "-m", "simulator", "inspect", str(run)], TRIP_AT_EXIT=name)
    assert done.returncode == 0 and "status   complete" in done.stdout and done.stderr == "", done


def forked(work) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            work()
        finally:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_the_command_lines_handler_by_phase():
    """Before main: 130 and one line; after the work: the command's own code, quietly; in a
    process forked from the command (a sweep's worker): Python's own handling."""
    from simulator import _start

    def as_command(done=None, pid=None):
        def work():
            _start._held_in[:] = [os.getpid() if pid is None else pid]
            if done is not None:
                _start._done.append(done)
            try:
                _start._stop(signal.SIGINT, None)
            except KeyboardInterrupt:
                os._exit(42)

        return work

    assert forked(as_command()) == 130
    assert forked(as_command(done=4)) == 4
    assert forked(as_command(pid=os.getpid())) == 42  # the parent held, the child was forked: KeyboardInterrupt


def test_a_run_file_that_reaches_outside_itself_is_refused(tmp_path):
    path = tmp_path / "run.h5"
    simulator.run({"run": {"epochs": 1}}, out=path)
    with h5py.File(tmp_path / "elsewhere.h5", "w") as other:
        other["data"] = np.arange(3.0)
    with h5py.File(path, "r+") as f:
        f["observables/extra"] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "/data")
    with pytest.raises(simulator.TrajectoryError, match=r"/observables/extra is an external link \(a run file holds "
                                                         "its own data only"):  # fmt: skip
        load_trajectory(path)
    with h5py.File(path, "r+") as f:
        del f["observables/extra"]
        layout = h5py.VirtualLayout(shape=(3,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(tmp_path / "elsewhere.h5"), "data", shape=(3,))
        f.create_virtual_dataset("observables/virtual", layout)
    with pytest.raises(simulator.TrajectoryError, match="/observables/virtual is a virtual dataset"):
        load_trajectory(path)


def test_sigterm_and_sigint_at_random_moments_of_a_real_command_under_load(tmp_path):
    """A few of benchmarks/interrupts.py's trials (it runs 300): ``python -m simulator run`` with
    BLAS and Numba threads at their defaults, two busy processes loading the cores, a signal at
    a random moment. The command ends with 130 (or 0) in one true line; the file reads whole
    and resume finishes it equal to the uninterrupted run."""
    config = ROOT / "scenarios" / "configs" / "iris.toml"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    command = [sys.executable, "-m", "simulator", "run", str(config), "--set", "run.epochs=30", "--out"]
    start = time.perf_counter()
    subprocess.run([*command, str(tmp_path / "whole.h5")], env=env, check=True, capture_output=True)
    duration = time.perf_counter() - start
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    rng, outcomes = np.random.default_rng(11), []
    try:
        for trial in range(6):
            out = tmp_path / f"trial{trial}.h5"
            process = subprocess.Popen([*command, str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)  # fmt: skip
            time.sleep(rng.uniform(0.3, 1.0) * duration)
            process.send_signal((signal.SIGTERM, signal.SIGINT)[trial % 2])
            _, stderr = process.communicate(timeout=300)
            assert process.returncode in (0, 130) and "Traceback" not in stderr, (process.returncode, stderr)
            if process.returncode == 130:
                line = stderr.strip()
                assert "\n" not in line, line
                if not out.exists():
                    assert "nothing" in line, line
                    continue
                status = load_trajectory(out).status[0]
                assert (status == "complete") == ("is complete" in line), line
                assert status == "complete" or f"continue it with: python -m simulator resume {out}" in line, line
            load_trajectory(out).verify()
            outcomes.append(load_trajectory(out).status[0])
            if outcomes[-1] != "complete":
                done = subprocess.run([sys.executable, "-m", "simulator", "resume", str(out)], env=env,
                                      capture_output=True, text=True)  # fmt: skip
                assert done.returncode == 0, done.stderr
            assert differing_datasets(tmp_path / "whole.h5", out) == [], trial
    finally:
        for process in load:
            process.kill()


def test_signals_deferred_nests_holds_through_an_exception_and_gives_default_actions_their_due(tmp_path):
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        with signals_deferred():
            with signals_deferred():  # the inner block hands the signal to the outer one's holder
                signal_from_another_thread(signal.SIGTERM)
            assert received == []
        assert received == [signal.SIGTERM]
        with pytest.raises(ZeroDivisionError), signals_deferred():  # the block's own error, then the signal
            signal_from_another_thread(signal.SIGTERM)
            raise ZeroDivisionError("the block's own error")
        assert received == [signal.SIGTERM] * 2
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # the handler in place is the one it was
        assert received == [signal.SIGTERM] * 3
    finally:
        signal.signal(signal.SIGTERM, previous)

    def default_action():  # SIG_DFL: the block ends, then the process ends by the signal
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            (tmp_path / "block ended").write_text("")

    assert forked(default_action) == -signal.SIGTERM and (tmp_path / "block ended").exists()

    def ignored():  # SIG_IGN: nothing
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
        os._exit(7)

    assert forked(ignored) == 7


def test_rows_kept_for_a_file_are_not_served_for_the_file_that_replaces_it(tmp_path):
    path = tmp_path / "run.h5"
    simulator.run({"run": {"epochs": 2}}, out=path)
    assert load_trajectory(path).clock_rows()["epoch"] == 3
    simulator.run({"run": {"epochs": 4}}, out=path, overwrite=True)  # another file, moved to the same path
    assert load_trajectory(path).clock_rows()["epoch"] == 5
    assert len(load_trajectory(path).series("observables/epoch")[2]) == 5


def test_a_damaged_file_is_named_at_once_and_a_live_one_after_a_bounded_wait(tmp_path, monkeypatch):
    """A read that fails is made again only while a live run holds the file (it may be between
    two states), and then for a bounded time; a file nobody holds is answered at once."""
    from simulator import trajectory
    from simulator.outputs import WriterLock

    path = tmp_path / "run.h5"
    simulator.run({"run": {"epochs": 1}}, out=path)
    with h5py.File(path, "r") as f:
        offset = f["observables/edges/conductance/value"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as raw:  # bytes changed on disk: the checksum fails
        raw.seek(offset + 8)
        raw.write(b"\xff" * 8)
    opened = []
    original = trajectory._open_for_reading
    monkeypatch.setattr(trajectory, "_open_for_reading", lambda p: opened.append(p) or original(p))
    monkeypatch.setattr(trajectory, "_LIVE_READ_SECONDS", 0.3)
    with pytest.raises(trajectory.DamagedFile, match="fails its checksum"):
        trajectory.verify(path)
    assert len(opened) == 1
    lock = WriterLock(path)  # as a live run holds its file
    try:
        assert lock.acquired
        opened.clear()
        with pytest.raises(trajectory.DamagedFile, match="fails its checksum"):
            trajectory.verify(path)
        assert len(opened) > 1  # read again while the file was held, and then given up
    finally:
        lock.release()


def test_a_file_an_earlier_version_wrote_in_hdf5_2_formats_is_resumed_in_them(tmp_path, monkeypatch):
    """Run files were written with libver="latest" before; HDF5 will not copy their objects
    down to the 1.10-1.14 formats, so resume keeps theirs (a traceback before)."""
    from test_resume import StopAfter

    from simulator import trajectory

    config = CASES["quasistatic"].with_values({"run.epochs": 3})
    simulator.run(config, out=tmp_path / "whole.h5")
    with monkeypatch.context() as patch:
        patch.setattr(trajectory, "LIBVER", "latest")
        with pytest.raises(KeyboardInterrupt):
            simulator.run(config, out=tmp_path / "old.h5", progress=StopAfter(1))
    simulator.run(config, out=tmp_path / "old.h5", resume=True)
    assert differing_datasets(tmp_path / "whole.h5", tmp_path / "old.h5") == []


def test_a_signal_the_process_was_started_with_ignored_stays_ignored():
    """A shell starts its background jobs with SIGINT ignored; Python leaves it so, and so do
    the run's handlers (a run under ``nohup ... &`` is not stopped by a stray SIGINT)."""

    def work():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with interruptible(), signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
        with interruptible():
            os.kill(os.getpid(), signal.SIGINT)
        os._exit(5 if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else 6)

    assert forked(work) == 5
