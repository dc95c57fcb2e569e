"""Faults injected on purpose, with figures: kill -9 at random moments, a full disk, a
read-only folder, two sweeps on one folder.

    python benchmarks/faults.py                # 200 kill trials and the other faults (a few minutes)
    python benchmarks/faults.py --trials 20 --append-trials 20   # quicker

* **SIGKILL.** Small runs of four kinds (Iris quasistatic, Iris time-stepped with the
  implicit scheme, Iris in the advection mode with field snapshots, a time-stepped
  teacher-student regression with explicit steps) are killed at a random moment of their run
  (uniform from just before its file appears to just after it ends, so a few finish first). Each run is a forked copy of
  this process (so a trial costs milliseconds, not an interpreter start). After each kill:
  the file must be readable with every checksum intact (or absent, if the kill came before
  it appeared), and ``resume`` must finish it equal to the uninterrupted run, dataset for
  dataset (``parameters``, which say when and how it was resumed, aside).
* **SIGKILL of a bare writer** appending blocks as fast as it can: most kills land inside
  a write, so this is the trial for torn writes (a kill splits a ``write()`` between memory
  pages; see ``simulator/trajectory.py``). Every file must read back with its checksums intact.
* **A full disk**: a run on a 2 MB filesystem (a tmpfs in a mount namespace of its own)
  and under ``RLIMIT_FSIZE``, fresh and as an ``--overwrite`` of a finished run.
* **A read-only folder** (a read-only tmpfs).
* **Two sweeps on one folder at once** (two ``python -m simulator sweep`` processes).

Nothing pins the BLAS or Numba threads: the runs start as a user's do. SIGTERM and SIGINT at
random moments, on a loaded machine, are ``benchmarks/interrupts.py``.

Prints a table of trials, faults and losses and writes ``benchmarks/results/faults.json``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

import simulator
from simulator.commandline import ArgumentParser, positive_int
from simulator.outputs import partial_files

ROOT = Path(__file__).resolve().parents[1]
KINDS = {
    "iris quasistatic": {"run": {"epochs": 20}},
    "iris time-stepped (implicit)": {"run": {"epochs": 3, "fields_every": 200},
                                     "dynamics": {"name": "timestepped", "presentation": 5.0, "scheme": "implicit"}},
    "iris advection": {"run": {"epochs": 3, "fields_every": 50},
                       "dynamics": {"name": "advection", "xi": 0.003, "release_every": 20, "transport_steps": 20}},
    "regression time-stepped (explicit)": {"task": {"name": "regression", "n_train": 20}, "rule": {"lr": 3e-4},
                                           "run": {"epochs": 10, "fields_every": 500},
                                           "dynamics": {"name": "timestepped", "presentation": 5.0}},
}  # fmt: skip


def forked(work) -> int:
    """Start ``work()`` in a forked copy of this process; its pid. Nothing the child does
    reaches the parent but its files and its exit code (0, or 1 if ``work`` raised)."""
    pid = os.fork()
    if pid == 0:
        try:
            work()
            os._exit(0)
        except BaseException:
            os._exit(1)
    return pid


def in_child(work) -> int:
    """``work()`` in a forked copy of this process; its exit status (or -signal)."""
    return _wait(forked(work))


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def datasets(path: Path) -> dict[str, bytes]:
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()].tobytes())
                     if isinstance(item, h5py.Dataset) and not name.startswith("parameters") else None)  # fmt: skip
    return found


def kill_trials(folder: Path, trials: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    references, windows = {}, {}
    for kind, config in KINDS.items():  # the uninterrupted runs, timed: when the file appears, when it ends
        path = folder / f"reference_{len(references)}.h5"
        start = time.perf_counter()
        pid = forked(lambda config=config, path=path: simulator.run(config, out=path))
        while not path.exists() and os.waitpid(pid, os.WNOHANG) == (0, 0):
            time.sleep(0.001)
        appeared = time.perf_counter() - start
        assert path.exists() and _wait(pid) == 0, kind
        windows[kind], references[kind] = (0.9 * appeared, 1.1 * (time.perf_counter() - start)), datasets(path)
    tally = {kind: dict(trials=0, killed=0, finished_first=0, before_file=0, readable=0, resumed_equal=0, lost=0)
             for kind in KINDS}  # fmt: skip
    problems = []
    for trial in range(trials):
        kind = list(KINDS)[trial % len(KINDS)]
        config, row, path = KINDS[kind], tally[kind], folder / f"trial_{trial}.h5"
        row["trials"] += 1
        pid = forked(lambda config=config, path=path: simulator.run(config, out=path))
        time.sleep(rng.uniform(*windows[kind]))
        os.kill(pid, signal.SIGKILL)
        killed = _wait(pid) == -signal.SIGKILL
        row["killed"] += killed
        row["finished_first"] += not killed
        if not path.exists():
            row["before_file"] += 1  # nothing appeared: nothing to lose; run it afresh
            ok = in_child(lambda config=config, path=path: simulator.run(config, out=path)) == 0
            ok = ok and not partial_files(path)
        else:
            try:
                simulator.load_trajectory(path).verify()
                row["readable"] += 1
            except simulator.TrajectoryError as error:
                problems.append(f"trial {trial} ({kind}): unreadable after the kill: {error}")
                row["lost"] += 1
                continue
            if simulator.load_trajectory(path).status[0] != "complete":
                ok = in_child(lambda config=config, path=path: simulator.run(config, out=path, resume=True)) == 0
            else:
                ok = True
        if ok and datasets(path) == references[kind]:
            row["resumed_equal"] += 1
        else:
            row["lost"] += 1
            problems.append(f"trial {trial} ({kind}): the finished file differs from the uninterrupted run")
        path.unlink(missing_ok=True)
    return {"kinds": tally, "problems": problems, "kill_window_seconds": windows}


def _append_forever(path: Path) -> None:
    """A writer that appends blocks of the shapes a run writes (per presentation, per epoch,
    field snapshots) and flushes, as fast as it can: the most kills land inside a write."""
    from simulator.trajectory import Series, TrajectoryWriter

    network = simulator.lattice_network(side=12, d=4, delta=0.25, seed=0)
    n, m = len(network.positions), len(network.topology.edges)
    series = [Series("observables/cost", (), "example"), Series("observables/output", (3,), "example"),
              Series("observables/edges/conductance", (m,), "epoch"), Series("particles/nodes/pressure", (n,), "field")]
    with TrajectoryWriter(path, network=network, config={}, seed=0, series=series, timed_clocks=("field",)) as out:
        for k in range(10**9):
            out.append("example", step=np.arange(5 * k, 5 * k + 5), observables__cost=np.full(5, k, float),
                       observables__output=np.full((5, 3), k, float))
            out.append("epoch", step=[k], observables__edges__conductance=np.full((1, m), k, float))
            out.append("field", step=[k], time=[k], particles__nodes__pressure=np.full((1, n), k, float))


def append_trials(folder: Path, trials: int, seed: int) -> dict:
    """kill -9 a writer in a tight append loop; every file must read back whole, checksums intact.
    (kill -9 can split a write() between memory pages: the trial for torn chunk rewrites.)"""
    rng = np.random.default_rng(seed)
    row, problems = dict(trials=trials, readable=0, before_file=0, lost=0), []
    for trial in range(trials):
        path = folder / f"append_{trial}.h5"
        pid = forked(lambda path=path: _append_forever(path))
        time.sleep(rng.uniform(0.1, 0.6))
        os.kill(pid, signal.SIGKILL)
        _wait(pid)
        if not path.exists():
            row["before_file"] += 1
            continue
        try:
            simulator.load_trajectory(path).verify()
            row["readable"] += 1
        except simulator.TrajectoryError as error:
            row["lost"] += 1
            problems.append(f"append trial {trial}: {error}")
        path.unlink(missing_ok=True)
    return {**row, "problems": problems}


def _own_mount(folder: Path, options: str, command: list[str]) -> subprocess.CompletedProcess | None:
    script = f'mount -t tmpfs -o {options} tmpfs "{folder}" && exec "$@"'
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", *command],
                          capture_output=True, text=True)  # fmt: skip
    return None if done.returncode and ("unshare:" in done.stderr or "mount:" in done.stderr) else done


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(("usage:", " "))]


def disk_and_folder_faults(folder: Path) -> list[dict]:
    iris = [sys.executable, str(ROOT / "scenarios" / "iris_diffusion.py")]
    rows = []
    small = folder / "small"
    small.mkdir()
    out = small / "run.h5"
    check = (f"import simulator; r = simulator.load_trajectory({str(out)!r}); r.verify(); "
             "print(r.status[0], r.clock_rows()['epoch'])")  # fmt: skip
    # another process fills the disk to 300 kB short of full once the run has started (a run
    # that would not fit from the start is refused up front)
    fill = (f'while [ ! -e "{out}" ]; do sleep 0.01; done; sleep 0.3; '
            f'free=$(df --output=avail -B1 "{small}" | tail -1); '
            f'head -c $((free - 300000)) /dev/zero > "{small}/filler"')  # fmt: skip
    done = _own_mount(small, "size=4m", ["sh", "-c", f'"$0" "$@" & {fill}; wait $!; echo "exit $?"; '
                                         f'"$0" -c "{check}"', *iris, "--out", str(out)])  # fmt: skip
    if done is not None:
        lines = done.stdout.strip().splitlines()
        rows.append({"fault": "disk full (a 4 MB filesystem, filled meanwhile)", "exit": lines[-2],
                     "lines": len(_errors(done.stderr)),
                     "file": lines[-1], "lost": 0 if lines[-1].startswith("failed") else 1})  # fmt: skip
    limited = folder / "limited.h5"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_500_000, 1_500_000))

    done = subprocess.run([*iris, "--out", str(limited)], capture_output=True, text=True, preexec_fn=limit)
    try:
        recorded = simulator.load_trajectory(limited)
        recorded.verify()
        readable, lost = f"{recorded.status[0]}, {recorded.clock_rows()['epoch']} epochs readable", 0
    except simulator.TrajectoryError as error:
        readable, lost = f"UNREADABLE: {error}", 1
    rows.append({"fault": "disk full (RLIMIT_FSIZE 1.5 MB)", "exit": done.returncode,
                 "lines": len(_errors(done.stderr)), "file": readable, "lost": lost})  # fmt: skip
    original = limited.read_bytes()
    done = subprocess.run([*iris, "--out", str(limited), "--overwrite", "--seed", "1"], capture_output=True,
                          text=True, preexec_fn=limit)  # fmt: skip
    kept = limited.read_bytes() == original and not partial_files(limited)
    rows.append({"fault": "disk full during an --overwrite", "exit": done.returncode,
                 "lines": len(_errors(done.stderr)), "file": "original kept" if kept else "ORIGINAL LOST",
                 "lost": 0 if kept else 1})  # fmt: skip
    locked = folder / "read-only"
    locked.mkdir()
    done = _own_mount(locked, "ro", [*iris, "--smoke", "--out", str(locked / "run.h5")])
    if done is not None:  # (the read-only mount is gone with its namespace: the folder is empty again)
        refused = done.returncode == 2 and "is read-only" in done.stderr
        rows.append({"fault": "read-only folder", "exit": done.returncode, "lines": len(_errors(done.stderr)),
                     "file": "refused, nothing written" if refused else "NOT REFUSED", "lost": 0 if refused else 1})
    return rows


def two_sweeps(folder: Path) -> dict:
    config = folder / "point.toml"
    config.write_text('[task]\nname = "regression"\nn_train = 20\n[rule]\nlr = 0.0003\n[dynamics]\n'
                      'name = "timestepped"\npresentation = 20.0\n[run]\nepochs = 10\nfields_every = 0\n')  # fmt: skip
    out = folder / "sweep"
    command = [sys.executable, "-m", "simulator", "sweep", str(config), "--grid", "rule.eta=0.25,0.5,1",
               "--seeds", "0:2", "--out", str(out), "--workers", "1"]  # fmt: skip
    both = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = [process.wait(timeout=900) for process in both]
    files = sorted(out.glob("*.h5"))
    runs = [simulator.load_trajectory(path) for path in files]
    complete = sum(run.status[0] == "complete" for run in runs)
    once = sum(run.resumed == [] for run in runs)
    return {"fault": "two sweeps on one folder", "exit": codes, "points": len(files), "complete": complete,
            "each run once": once, "lost": len(files) - complete}  # fmt: skip


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=positive_int, default=200)
    parser.add_argument("--append-trials", type=positive_int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "faults.json")
    args = parser.parse_args(argv)  # (threads left as a user's: BLAS and Numba choose their own)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        kills = kill_trials(folder, args.trials, args.seed)
        print(f"SIGKILL at random moments: {args.trials} trials in {time.perf_counter() - start:.0f} s\n")
        print("| run | trials | killed mid-run | finished first | killed before its file appeared | file readable "
              "after the kill | resumed equal to the uninterrupted run | lost |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for kind, row in kills["kinds"].items():
            print(f"| {kind} | {row['trials']} | {row['killed']} | {row['finished_first']} | {row['before_file']} | "
                  f"{row['readable']} | {row['resumed_equal']} | {row['lost']} |")  # fmt: skip
        for problem in kills["problems"]:
            print("  " + problem)
        start = time.perf_counter()
        appends = append_trials(folder, args.append_trials, args.seed)
        print(f"\nSIGKILL of a writer appending as fast as it can: {appends['trials']} trials in "
              f"{time.perf_counter() - start:.0f} s: {appends['readable']} readable with every checksum intact, "
              f"{appends['before_file']} killed before the file appeared, {appends['lost']} lost")
        for problem in appends["problems"]:
            print("  " + problem)
        others = disk_and_folder_faults(folder) + [two_sweeps(folder)]
        print("\n| fault | exit code | error lines | the file | lost |\n|---|---|---|---|---|")
        for row in others:
            detail = row.get("file") or (f"{row['complete']} of {row['points']} complete, {row['each run once']} run "
                                         "once")
            print(f"| {row['fault']} | {row['exit']} | {row.get('lines', '-')} | {detail} | {row['lost']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {"kill_trials": kills, "append_trials": appends, "other_faults": others}
    args.out.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {args.out}")
    lost = sum(row["lost"] for row in kills["kinds"].values()) + sum(row["lost"] for row in others) + appends["lost"]
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
