"""Soak test: a time-stepped Iris run of at least a million explicit steps with every log on
(per-example series, per-epoch metrics and checkpoints, v and u snapshots), sampling the
process's resident memory after every epoch. Memory must stay flat: everything a run keeps
goes to the file, not to RAM.

    python benchmarks/soak.py                  # 1e6 explicit steps (about half a minute)
    python benchmarks/soak.py --steps 1e7      # longer

Prints the resident set size over the run and exits 1 if it grew by more than ``--tolerance``
MiB after the first epochs (allocator warm-up, Numba's first calls), else 0.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import simulator
from simulator import RunConfig
from simulator.trajectory import load_trajectory

PAGE = 4096


def resident_mib() -> float:
    """Current (not peak) resident set size of this process."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


class MemoryLog:
    """A progress meter that samples resident memory after every epoch."""

    def __init__(self):
        self.samples = []

    def start(self, total, description=""):
        self.total, self.started = total, time.perf_counter()

    def update(self, n=1, **metrics):
        self.samples.append(resident_mib())
        done = len(self.samples)
        if done % max(1, self.total // 10) == 0 or done == self.total:
            print(f"  epoch {done:>4}/{self.total}: {self.samples[-1]:7.1f} MiB resident, "
                  f"{time.perf_counter() - self.started:6.1f} s", flush=True)  # fmt: skip

    def close(self):
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=float, default=1e6, help="explicit time steps at least (default 1e6)")
    parser.add_argument("--presentation", type=float, default=10.0, help="relaxation times per example")
    parser.add_argument("--field-every", type=int, default=1000, help="v and u snapshot cadence (explicit steps)")
    parser.add_argument("--tolerance", type=float, default=8.0, help="allowed growth in MiB (default 8)")
    args = parser.parse_args(argv)
    base = RunConfig.from_dict({"dynamics": {"name": "timestepped", "presentation": args.presentation},
                                "run": {"fields_every": args.field_every}})  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        pilot = Path(folder) / "pilot.h5"
        simulator.run(base.with_values({"run.epochs": 1}), out=pilot)
        per_epoch = int(load_trajectory(pilot).series("observables/checkpoint/explicit_step")[2][-1])
        epochs = max(5, math.ceil(args.steps / per_epoch))
        print(f"soak: {epochs} epochs of ~{per_epoch} explicit steps (144 nodes), logging everything")
        memory, out = MemoryLog(), Path(folder) / "soak.h5"
        start = time.perf_counter()
        simulator.run(base.with_values({"run.epochs": epochs}), out=out, progress=memory)
        elapsed = time.perf_counter() - start
        run = load_trajectory(out)
        steps = int(run.series("observables/checkpoint/explicit_step")[2][-1])
        data = sum(np.prod(shape) * np.dtype(dtype).itemsize for _, shape, dtype in run.datasets())
        size, status = out.stat().st_size, run.status[0]
    samples = np.array(memory.samples)
    settled = samples[max(1, len(samples) // 5) :]  # after warm-up
    growth = settled.max() - settled[0]
    print(f"{steps:.3g} explicit steps in {elapsed:.1f} s ({elapsed / steps * 1e6:.2f} us per step, all in)")
    print(f"resident memory: {samples[0]:.1f} MiB after epoch 1, {settled[0]:.1f} after warm-up, "
          f"max {settled.max():.1f}, last {samples[-1]:.1f}: growth {growth:.2f} MiB "
          f"(tolerance {args.tolerance})")  # fmt: skip
    print(f"file: {size / 2**20:.1f} MiB for {data / 2**20:.1f} MiB of data; status {status}")
    if steps < args.steps:
        print(f"FAIL: only {steps} steps", file=sys.stderr)
        return 1
    if growth > args.tolerance:
        print("FAIL: memory grew during the run", file=sys.stderr)
        return 1
    print("PASS: memory flat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
