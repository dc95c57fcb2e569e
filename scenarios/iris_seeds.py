"""The README's Iris table: the default Iris run over several seeds, in each dynamics.

    python scenarios/iris_seeds.py                   # seeds 0-9, quasistatic and time-stepped
    python scenarios/iris_seeds.py --dynamics quasistatic --seeds 0:40
    python scenarios/iris_seeds.py --smoke           # two seeds, two epochs (CI)

One run file per seed and dynamics in ``--out`` (default ``outputs/iris_seeds/``); prints a
Markdown table of test accuracy before training and after the final epoch (mean / min / max)
and the wall time of each dynamics, and the per-seed differences between the dynamics.
Runs in a process pool (``--workers``, default: one per core), one BLAS thread per worker.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import simulator
from simulator.base import parse_seeds, pin_threads
from simulator.commandline import ArgumentParser, positive_int
from simulator.scenario import checked_targets, guarded, output_folder

# each kind: the keys it sets on the default run config (Iris, chemical rule, 150 epochs)
KINDS = {
    "quasistatic": {},
    "timestepped": {"dynamics.name": "timestepped"},
    "implicit": {"dynamics.name": "timestepped", "dynamics.scheme": "implicit"},  # backward-Euler diffusion
    # the physical protocol's limit: the gradient flow over each presentation (64 substeps:
    # within 2% of 1024 after an epoch; scenarios/quasistatic_limit.py)
    "flow": {"dynamics.substeps": 64},
    # the numerical device that was the time-stepped default before the physical protocol
    "deferred": {"dynamics.name": "timestepped", "dynamics.weights": "deferred"},
}
SMOKE = {"run.epochs": 2}


def kinds_of(text: str) -> tuple[str, ...]:
    """``--dynamics``: ``both``, ``all``, or kinds separated by commas."""
    kinds = {"both": ("quasistatic", "timestepped"), "all": tuple(KINDS)}.get(text) or tuple(text.split(","))
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}, both or all")
    return kinds


def config(kind: str, seed: int, smoke: bool) -> simulator.RunConfig:
    values = {**KINDS[kind], "run.seed": seed, **(SMOKE if smoke else {})}
    if smoke and KINDS[kind].get("dynamics.name") == "timestepped":
        values["dynamics.presentation"] = 1.0
        if "dynamics.weights" not in values:  # physical: a presentation is one remodelling time, as in the table
            values["dynamics.remodel_time"] = 1.0
    return simulator.RunConfig.from_dict({}).with_values(values)


def one_run(job) -> tuple[str, int, float, float, float, str]:
    """``(kind, seed, accuracy before, after the last epoch recorded, wall time, how it ended)``:
    a run that the physics or the blow-up watch stopped is kept, and said so, in the table."""
    kind, seed, out, overwrite, smoke = job
    result = simulator.run(config(kind, seed, smoke), out=out / f"{kind}_seed{seed}.h5", overwrite=overwrite,
                           on_failure="return")  # fmt: skip
    accuracy = result.epochs["accuracy_test"]
    ended = "" if result.status == 0 else f"seed {seed} stopped at epoch {len(accuracy) - 1}: {result.message}"
    return kind, seed, float(accuracy[0]), float(accuracy[-1]), result.wall_time, ended


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=list(range(10)), help="START:STOP or a,b,c (0:10)")
    parser.add_argument(
        "--dynamics", type=kinds_of, default="both",
        help=f"a kind or several, comma-separated ({', '.join(KINDS)}; implicit: time-stepped with backward-Euler "
             "diffusion; flow: quasistatic in 64 substeps; deferred: the numerical device), both (quasistatic and "
             "timestepped) or all",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("outputs/iris_seeds"), help="folder for the run files")
    parser.add_argument("--overwrite", action="store_true", help="replace existing run files")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="two seeds, two epochs, short presentations (CI)")
    args = parser.parse_args(argv)
    seeds = args.seeds[:2] if args.smoke else args.seeds
    kinds = args.dynamics
    output_folder(parser, args.out)
    code = checked_targets([args.out / f"{k}_seed{s}.h5" for k in kinds for s in seeds], args.overwrite)
    if code:
        return code
    jobs = [(k, s, args.out, args.overwrite, args.smoke) for k in kinds for s in seeds]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.workers), initializer=pin_threads) as pool:
        results = list(pool.map(one_run, jobs))
    print(f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s with {args.workers} workers; files in {args.out}/")
    table(results, kinds, seeds, config(kinds[0], seeds[0], args.smoke))
    return 0


def table(results, kinds, seeds, first: simulator.RunConfig) -> None:
    print(f"\nseeds {seeds[0]}-{seeds[-1]}, lr {first['rule.lr']:g}, {first['run.epochs']} epochs, final-epoch test "
          "accuracy\n")  # fmt: skip
    print("| dynamics | before: mean (min-max) | after: mean | min | max | wall time per run: mean (max) |")
    print("|---|---|---|---|---|---|")
    final = {}
    for kind in kinds:
        rows = [r for r in results if r[0] == kind]
        before, after, wall = (np.array([r[i] for r in rows]) for i in (2, 3, 4))
        final[kind] = after
        stopped = f" ({sum(bool(r[5]) for r in rows)} stopped)" if any(r[5] for r in rows) else ""
        # one precision per quantity, so that min <= mean <= max as printed too
        print(f"| {kind}{stopped} | {before.mean():.3f} ({before.min():.3f}-{before.max():.3f}) | "
              f"**{after.mean():.3f}** | {after.min():.3f} | {after.max():.3f} | {wall.mean():.1f} s "
              f"({wall.max():.1f} s) |")  # fmt: skip
    for row in results:
        if row[5]:
            print(f"\n{row[0]}: {row[5]} (its accuracy above is that epoch's)")
    for kind in ("timestepped", "implicit", "deferred"):
        for reference in ("quasistatic", "flow"):
            if kind in final and reference in final:
                difference = final[kind] - final[reference]
                print(f"\nper seed, {kind} minus {reference}: " + " ".join(f"{d:+.3f}" for d in difference))
                print(f"within 2 points on {np.sum(np.abs(difference) <= 0.02 + 1e-9)} of {len(seeds)} seeds")


if __name__ == "__main__":
    sys.exit(guarded(main))
