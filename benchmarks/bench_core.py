"""Physics-core benchmark: relaxation kernel vs a scipy.sparse explicit loop, and the
quasistatic learning step, on the paper's lattices of 144 to 1e6 nodes.

    python benchmarks/bench_core.py                 # all sizes (about 2 minutes)
    python benchmarks/bench_core.py --sizes 12 100  # lattice sides

Every figure is the best of several repeats, measured in this run; the ratio column is
scipy time / kernel time on the same network, state and step count. Compile time is kept
out (every kernel is warmed up on the same shapes first). Results also go to
``benchmarks/results/core.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import simulator
from simulator import kernels


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_size(side: int, budget: float) -> dict:
    net = simulator.lattice_network(side=side, seed=0)
    n = net.n_nodes
    inputs = np.array([1.0, 2.0, 3.0, 4.0])
    targets = np.array([0.1, -0.2, 0.3])
    currents = net.node_currents(inputs)
    gain = 0.9 * simulator.stable_dt(net)
    edges = net.topology.edges
    laplacian = net.laplacian().tocsr()
    steps = int(max(20, min(200_000, budget * 2e8 / (10 * n))))  # ~budget seconds at ~10 ns/entry

    x0 = np.zeros(n)
    scratch = np.empty(n)

    def run_kernel():
        x = x0.copy()
        kernels.relax(edges, net.conductance, x, currents, gain, steps, scratch)
        return x

    def run_scipy():
        x = x0.copy()
        for _ in range(steps):
            x += gain * (currents - laplacian @ x)
        return x

    np.testing.assert_allclose(run_kernel(), run_scipy(), rtol=1e-9, atol=1e-12)  # compiles, and agrees
    repeats = 3
    kernel_step = best_of(run_kernel, repeats) / steps
    scipy_step = best_of(run_scipy, repeats) / steps

    def learning_step():
        solver = simulator.LaplacianSolver(net)
        return simulator.learning_update(net, inputs, targets, alpha=1.0, eta=0.1, solver=solver)

    learning_step()
    quasistatic = best_of(learning_step, 1 if n >= 100_000 else 5)
    return {
        "side": side,
        "nodes": n,
        "edges": net.n_edges,
        "steps_timed": steps,
        "scipy_step_s": scipy_step,
        "kernel_step_s": kernel_step,
        "speedup_vs_scipy": scipy_step / kernel_step,
        "quasistatic_learning_step_s": quasistatic,
        "solver": simulator.LaplacianSolver.choose_method(n),
    }


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 100, 316, 1000], help="lattice sides")
    parser.add_argument("--budget", type=float, default=1.0, help="target seconds per timed loop")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "core.json")
    args = parser.parse_args()

    rows = [bench_size(side, args.budget) for side in args.sizes]
    header = ("nodes", "scipy.sparse step", "kernel step", "kernel speedup", "quasistatic learning step")
    print("| " + " | ".join(f"{h:>{w}}" for h, w in zip(header, (9, 17, 11, 14, 25))) + " |")
    print(f"|{'-' * 11}|{'-' * 19}|{'-' * 13}|{'-' * 16}|{'-' * 27}|")
    for r in rows:
        learning = f"{fmt_time(r['quasistatic_learning_step_s'])} ({r['solver']})"
        print(
            f"| {r['nodes']:>9} | {fmt_time(r['scipy_step_s']):>17} | {fmt_time(r['kernel_step_s']):>11} | "
            f"{r['speedup_vs_scipy']:>13.1f}x | {learning:>25} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "simulator": simulator.__version__,
        "numpy": np.__version__,
        "numba": __import__("numba").__version__,
        "scipy": __import__("scipy").__version__,
    }
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
