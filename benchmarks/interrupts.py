"""Interrupts as users send them, counted: SIGTERM and SIGINT at random moments of real runs
on a loaded machine, Ctrl-C during the first ``train()``, and ``inspect`` of a file that is
being written.

    python benchmarks/interrupts.py                       # 300 signal trials, 60 + 20 train trials, 1000 reads
    python benchmarks/interrupts.py --signal-trials 40 --train-trials 10 --cold-trials 2 --inspect-cycles 100

Nothing pins the BLAS or Numba threads: the runs start as a user starts them, so a signal
may reach any of their threads. While the trials run, one busy process per core loads the
machine (``--no-load`` to leave it idle).

* **Signal trials.** ``python -m simulator run CONFIG --out FILE`` (Iris quasistatic, Iris
  time-stepped with explicit steps and field snapshots, Iris in the advection mode), sent
  SIGTERM or SIGINT at a moment drawn uniformly from its start (the imports included) to just
  after its end. Each must end with exit code 130 (or 0 if it finished first), never by the
  signal and never with a traceback, in one line that is true of what is on disk: no file,
  the file as it was, a partial run (and then ``resume`` names it), or a complete one. A file
  that is there must read whole (every checksum), ``inspect`` must show no row that the
  uninterrupted run does not have (its final epoch and step agree with the file's rows), and
  ``python -m simulator resume FILE`` must finish it equal to the uninterrupted run, dataset by
  dataset, bit for bit (NaN included; ``parameters``, which say how the run was made, aside).
* **Train trials.** A fresh interpreter calls ``train()``; a thread sends SIGINT at a moment
  drawn from the first call's whole length (the first load of the kernels from Numba's cache
  included); the next ``train()`` in the same interpreter must return the reference costs
  bit for bit. ``--cold-trials`` do the same with an empty Numba cache, so that the signal
  lands while the kernels compile.
* **Live reads.** ``inspect`` (the command's own function, in this process) of a run file
  while another process writes it, ``--inspect-cycles`` times; none may fail.

Prints a table per part and writes ``benchmarks/results/interrupts.json``.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simulator  # noqa: E402
from simulator.cli import inspect  # noqa: E402
from simulator.commandline import ArgumentParser, positive_int  # noqa: E402

#: Run configs of the signal trials (``--set`` assignments on scenarios/configs/iris.toml).
KINDS = {
    "iris quasistatic": ["run.epochs=60"],
    "iris time-stepped (explicit)": ["run.epochs=4", "dynamics.name=timestepped", "dynamics.presentation=5.0",
                                     "run.fields_every=400"],
    "iris advection": ["run.epochs=4", "dynamics.name=advection", "dynamics.xi=0.003", "dynamics.release_every=20",
                       "run.fields_every=50"],
}  # fmt: skip
CONFIG = ROOT / "scenarios" / "configs" / "iris.toml"
#: A signal this soon after the process starts may come before Python has run a line of the
#: package (the interpreter, its site packages and runpy come first: 30-50 ms idle here); no
#: handler of ours exists yet, and the process ends by the signal, or in Python's own
#: start-up error, having written nothing. Counted apart, only when it left no file and said
#: nothing of ours.
EARLY_SECONDS = 0.5
#: A user's environment: whatever threads BLAS and Numba choose for themselves.
USER_ENV = {key: value for key, value in os.environ.items() if key not in
            ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}  # fmt: skip


def command(kind: str, out: Path) -> list[str]:
    sets = [part for assignment in KINDS[kind] for part in ("--set", assignment)]
    return [sys.executable, "-m", "simulator", "run", str(CONFIG), *sets, "--out", str(out)]


def datasets(path: Path) -> dict[str, bytes]:
    """Every dataset outside ``parameters``, as its shape and bytes (NaN compared bit for bit)."""
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, (item.shape, item[()].tobytes()))
                     if isinstance(item, h5py.Dataset) and not name.startswith("parameters") else None)  # fmt: skip
    return found


def cpu_load(cores: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]


def inspect_text(path: Path) -> tuple[int, str]:
    """``(exit code, output)`` of ``inspect``, run in this process (its own function: the
    command's ``main`` would take a signal sent to this process for its own)."""
    stream = io.StringIO()
    try:
        inspect(path, stream)
    except (simulator.TrajectoryError, KeyError) as error:
        return 2, f"{type(error).__name__}: {error}"
    return 0, stream.getvalue()


def _check_message(stderr: str, out: Path, existed_before: bool) -> str | None:
    """None if the interrupt's one line is true of ``out``, else what is wrong."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if "Traceback" in stderr or len(lines) != 1:
        return f"not one line: {stderr.strip()[-300:]!r}"
    line = lines[0]
    if not out.exists():
        if "nothing was written" in line or f"before {out} was written" in line:
            return None
        return f"no file, but it said {line!r}"
    status = run_status(out)
    if "partial run is in" in line:
        return None if status == "interrupted" and f"resume {out}" in line else f"{status} file, said {line!r}"
    if "is complete" in line:
        return None if status == "complete" else f"{status} file, said {line!r}"
    if "nothing was written" in line or "before the command started" in line:
        return None if existed_before else f"a file appeared, but it said {line!r}"
    return f"unexpected line {line!r} ({status} file)"


def run_status(path: Path) -> str:
    with h5py.File(path, "r") as f:
        return f["parameters/run_status"][()].decode()


def _check_inspect(out: Path, per_epoch: int) -> str | None:
    """None if ``inspect`` shows only rows an uninterrupted run has: epochs 0..E, its last at
    step E x ``per_epoch`` (the presentations of an epoch)."""
    code, text = inspect_text(out)
    if code != 0:
        return f"inspect exit {code}"
    final = re.search(r"final    epoch (\d+) of \d+ \(step (\d+)\)", text)
    if final is None:
        return None if "observables/epoch/value" in text else "inspect shows no final epoch"
    epoch, step = int(final.group(1)), int(final.group(2))
    if step != per_epoch * epoch:
        return f"inspect shows epoch {epoch} at step {step}"
    return None


def _references(folder: Path, kinds: list[str]) -> dict[str, dict]:
    """Each kind's uninterrupted run: its datasets, its length (seconds, with the kernels
    cached) and its presentations per epoch."""
    found = {}
    for i, kind in enumerate(kinds):
        path, warm = folder / f"reference_{i}.h5", folder / "warm.h5"
        subprocess.run(command(kind, warm), env=USER_ENV, check=True, capture_output=True)  # compiles and caches
        warm.unlink()
        start = time.perf_counter()
        subprocess.run(command(kind, path), env=USER_ENV, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        with h5py.File(path, "r") as f:
            per_epoch = int(f["observables/epoch/step"][1])
        found[kind] = {"datasets": datasets(path), "seconds": seconds, "per_epoch": per_epoch}
    return found


def _ended_before_python_ran_it(code: int, stderr: str, out: Path, delay: float) -> bool:
    """Killed by the signal saying nothing, or Python's own start-up failing ("Fatal Python
    error", a traceback with no frame of the package's), having written nothing, early."""
    said = stderr.strip()
    quiet = not said or "Fatal Python error" in said or ("Traceback" in said and "simulator" not in said)
    return (code < 0 or code == 1) and quiet and not out.exists() and delay < EARLY_SECONDS


def _after_the_signal(out: Path, reference: dict, row: dict, problem) -> None:
    """What a trial's file must be: readable, shown without a bogus row, and resumed equal to
    the uninterrupted run."""
    if not out.exists():
        row["no_file"] += 1
        return
    check = subprocess.run([sys.executable, "-c", "import sys, simulator; simulator.load_trajectory(sys.argv[1])"
                            ".verify()", str(out)], capture_output=True, text=True)  # fmt: skip
    if check.returncode:
        return problem(f"unreadable: {check.stderr.strip()[-300:]}")
    row["readable"] += 1
    wrong = _check_inspect(out, reference["per_epoch"])
    if wrong:
        problem(wrong, "bogus_row")
    if run_status(out) != "complete":
        done = subprocess.run([sys.executable, "-m", "simulator", "resume", str(out)], env=USER_ENV,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            return problem(f"resume exit {done.returncode}: {done.stderr.strip()[-300:]}")
    if datasets(out) == reference["datasets"]:
        row["resumed_equal"] += 1
    else:
        problem("the finished file differs from the uninterrupted run")


def signal_trials(folder: Path, trials: int, seed: int, kinds: list[str]) -> dict:
    rng = np.random.default_rng(seed)
    references = _references(folder, kinds)
    columns = ("trials", "finished_first", "before_python_ran_it", "exit_130", "by_signal", "no_file", "readable",
               "false_message", "bogus_row", "resumed_equal", "lost")  # fmt: skip
    tally = {(kind, name): dict.fromkeys(columns, 0) for kind in kinds for name in ("SIGTERM", "SIGINT")}
    problems, early_ends = [], []
    for trial in range(trials):
        kind = kinds[trial % len(kinds)]
        name = ("SIGTERM", "SIGINT")[(trial // len(kinds)) % 2]
        row, out = tally[(kind, name)], folder / f"trial_{trial}.h5"
        row["trials"] += 1
        process = subprocess.Popen(command(kind, out), env=USER_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        delay = rng.uniform(0.0, 1.1 * references[kind]["seconds"])
        time.sleep(delay)
        process.send_signal(getattr(signal, name))
        _, stderr = process.communicate(timeout=600)
        code = process.returncode
        where = f"trial {trial} ({kind}, {name} {delay:.3f} s after the start, exit {code})"

        def problem(text, counter="lost", row=row, where=where):
            row[counter] += 1
            problems.append(f"{where}: {text}")

        if code == 0:
            row["finished_first"] += 1
        elif _ended_before_python_ran_it(code, stderr, out, delay):
            row["before_python_ran_it"] += 1  # no handler of the package's existed yet
            early_ends.append(f"{delay * 1000:.0f} ms: exit {code}")
            continue
        elif code == 130:
            row["exit_130"] += 1
            wrong = _check_message(stderr, out, existed_before=False)
            if wrong:
                problem(wrong, "false_message")
        else:
            problem(f"ended by {'signal ' + str(-code) if code < 0 else 'exit code ' + str(code)}: {stderr[-300:]!r}",
                    "by_signal" if code < 0 else "lost")  # fmt: skip
        _after_the_signal(out, references[kind], row, problem)
        out.unlink(missing_ok=True)
        out.with_suffix(".png").unlink(missing_ok=True)
        if (trial + 1) % 25 == 0 or trial + 1 == trials:
            print(f"  signal trials: {trial + 1}/{trials}, {len(problems)} problems", file=sys.stderr, flush=True)
    seconds = {kind: reference["seconds"] for kind, reference in references.items()}
    return {"tally": {f"{kind} / {name}": row for (kind, name), row in tally.items()}, "problems": problems,
            "before_python_ran_it": early_ends, "run_seconds": seconds}  # fmt: skip


TRAIN = """
import sys, threading, os, signal, time
import numpy as np
import simulator
net = simulator.lattice_network(side=12, d=4, seed=0)
X = np.random.default_rng(0).uniform(0, 5, (20, net.n_inputs))
Y = np.random.default_rng(1).normal(0, 1, (20, net.n_outputs))
delay = float(sys.argv[1])
dynamics = simulator.TimeStepped(T=simulator.RelaxationTimes(5)) if sys.argv[2] == "timestepped" else None
kwargs = {} if dynamics is None else {"dynamics": dynamics}
called = threading.Event()
def send_later():
    called.wait()
    time.sleep(delay)
    os.kill(os.getpid(), signal.SIGINT)

if delay >= 0:  # the signal's thread counts from the call (a signal in Thread.start is this script's)
    timer = threading.Thread(target=send_later)
    timer.start()
start = time.perf_counter()
try:
    called.set()
    first = simulator.train(net, X, Y, alpha=1e-3, eta=1.0, **kwargs)
    print("first", time.perf_counter() - start, flush=True)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, flush=True)
if delay >= 0:
    try:
        timer.join()
        time.sleep(0.01)
    except KeyboardInterrupt:  # it came after the call: handled here, not in the next train()
        pass
again = simulator.train(net, X, Y, alpha=1e-3, eta=1.0, **kwargs)
print("costs", again.costs.tobytes().hex())
"""


def train_trials(trials: int, cold: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rows, problems = [], []
    for dynamics in ("quasistatic", "timestepped"):
        for cache, count in (("warm", trials), ("cold", cold)):
            env = dict(USER_ENV)
            scratch = tempfile.mkdtemp() if cache == "cold" else None
            if scratch:
                env["NUMBA_CACHE_DIR"] = scratch
            reference = subprocess.run([sys.executable, "-c", TRAIN, "-1", dynamics], env=env, capture_output=True,
                                       text=True, check=True).stdout.splitlines()  # fmt: skip
            length, costs = float(reference[0].split()[1]), reference[1]
            row = dict(dynamics=dynamics, cache=cache, trials=count, interrupted=0, next_train_equal=0, failed=0,
                       first_train_seconds=round(length, 2))  # fmt: skip
            for trial in range(count):
                if scratch:
                    for entry in Path(scratch).rglob("*"):  # cold again: the kernels compile in this trial
                        if entry.is_file():
                            entry.unlink()
                delay = rng.uniform(0.0, length)
                done = subprocess.run([sys.executable, "-c", TRAIN, str(delay), dynamics], env=env, capture_output=True,
                                      text=True, timeout=900)  # fmt: skip
                lines = done.stdout.splitlines()
                row["interrupted"] += bool(lines) and lines[0].startswith("interrupted")
                if done.returncode == 0 and lines[-1:] == [costs]:
                    row["next_train_equal"] += 1
                else:
                    row["failed"] += 1
                    problems.append(f"{dynamics} {cache} trial {trial} (signal at {delay:.3f} s): exit "
                                    f"{done.returncode}, {done.stderr.strip()[-300:]!r}")  # fmt: skip
            rows.append(row)
            print(f"  train trials: {dynamics}, {cache} cache: {count} done, {row['failed']} failed", file=sys.stderr,
                  flush=True)  # fmt: skip
    return {"rows": rows, "problems": problems}


def live_reads(folder: Path, cycles: int) -> dict:
    out = folder / "live.h5"
    writer = None
    failures, reads, restarts = [], 0, 0
    try:
        while reads < cycles:
            if writer is None or writer.poll() is not None:
                if restarts > 10 + cycles // 20:  # a writer that keeps dying is a failure of its own
                    failures.append(f"the writer ended {restarts} times (exit {writer.returncode})")
                    break
                out.unlink(missing_ok=True)
                long_run = command("iris time-stepped (explicit)", out) + ["--set", "run.epochs=400"]
                writer = subprocess.Popen(long_run, env=USER_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                restarts += 1
                while not out.exists() and writer.poll() is None:
                    time.sleep(0.01)
                continue
            try:
                code, text = inspect_text(out)
            except Exception as error:  # counted, whatever it is
                code, text = -1, f"{type(error).__name__}: {error}"
            reads += 1
            if code != 0:
                failures.append(f"read {reads}: exit {code} {text[-200:]!r}")
    finally:
        if writer is not None:
            writer.terminate()
            writer.wait()
    return {"cycles": reads, "failed": len(failures), "writers_started": restarts, "failures": failures[:20]}


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signal-trials", type=positive_int, default=300)
    parser.add_argument("--train-trials", type=positive_int, default=30, help="per dynamics, warm cache")
    parser.add_argument("--cold-trials", type=positive_int, default=5, help="per dynamics, empty Numba cache")
    parser.add_argument("--inspect-cycles", type=positive_int, default=1000)
    parser.add_argument("--only", choices=("signals", "train", "reads"), action="append")
    parser.add_argument("--kind", choices=sorted(KINDS), action="append", help="signal trials of these runs only")
    parser.add_argument("--no-load", action="store_true", help="leave the machine idle")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "interrupts.json")
    args = parser.parse_args(argv)
    # the runs get SIGINT as a terminal's foreground program does: a shell starts its background
    # jobs (this benchmark under nohup or &) with SIGINT ignored, and their children inherit that
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parts = args.only or ["signals", "train", "reads"]
    results = {}
    load = [] if args.no_load else cpu_load(os.cpu_count() or 1)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            if "signals" in parts:
                start = time.perf_counter()
                kinds = args.kind or list(KINDS)
                results["signals"] = found = signal_trials(folder, args.signal_trials, args.seed, kinds)
                print(f"SIGTERM / SIGINT at random moments under load: {args.signal_trials} trials in "
                      f"{time.perf_counter() - start:.0f} s\n")  # fmt: skip
                columns = list(next(iter(found["tally"].values())))
                print("| run / signal | " + " | ".join(c.replace("_", " ") for c in columns) + " |")
                print("|---" * (len(columns) + 1) + "|")
                for name, row in found["tally"].items():
                    print(f"| {name} | " + " | ".join(str(row[c]) for c in columns) + " |")
                for problem in found["problems"]:
                    print("  " + problem)
                if found["before_python_ran_it"]:
                    print("  signals before Python ran the package: " + "; ".join(found["before_python_ran_it"]))
            if "train" in parts:
                start = time.perf_counter()
                results["train"] = found = train_trials(args.train_trials, args.cold_trials, args.seed)
                print(f"\nSIGINT during the first train(): {time.perf_counter() - start:.0f} s\n")
                print("| dynamics | Numba cache | trials | interrupted inside train() | next train() equal | failed | "
                      "first train() (s) |\n|---|---|---|---|---|---|---|")  # fmt: skip
                for row in found["rows"]:
                    print(f"| {row['dynamics']} | {row['cache']} | {row['trials']} | {row['interrupted']} | "
                          f"{row['next_train_equal']} | {row['failed']} | {row['first_train_seconds']} |")
                for problem in found["problems"]:
                    print("  " + problem)
            if "reads" in parts:
                start = time.perf_counter()
                results["reads"] = found = live_reads(folder, args.inspect_cycles)
                took = time.perf_counter() - start
                print(f"\ninspect of a file being written: {found['cycles']} cycles in {took:.0f} s, {found['failed']} "
                      f"failed ({found['writers_started']} runs written meanwhile)")  # fmt: skip
                for failure in found["failures"]:
                    print("  " + failure)
    finally:
        for process in load:
            process.kill()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {args.out}")
    lost = sum(row["lost"] + row["false_message"] + row["bogus_row"] + row["by_signal"] for row in
               results.get("signals", {}).get("tally", {}).values())  # fmt: skip
    lost += len(results.get("train", {}).get("problems", [])) + results.get("reads", {}).get("failed", 0)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
