"""Accuracy and time per epoch against network size, and how the learning rate must scale.

    python scenarios/scaling.py --task iris          # sides 8-64, three rates, seeds 0-2
    python scenarios/scaling.py --task digits        # sides 16-64 (148 terminals need 13x13 at least)
    python scenarios/scaling.py --smoke              # seconds (CI)

Every point is the task's own run config (Iris: the default; digits:
``scenarios/configs/digits.toml``) with the lattice's side and the rate ``lr`` changed, one run
file per point in ``--out`` (default ``outputs/scaling_<task>/``). For each side the best rate
is the one with the highest mean final-epoch test accuracy over the seeds (never the best
epoch). Prints a Markdown table and writes ``scaling_<task>.json`` and ``.png`` (accuracy per
side and rate, the best rate against the number of nodes with its power-law fit, and time per
epoch against nodes) beside the folder. Times are wall seconds inside a pool of ``--workers``
processes on a shared machine: compare sides with each other, not with other machines.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

import simulator
from simulator.base import parse_seeds
from simulator.commandline import ArgumentParser, positive_int
from simulator.outputs import save_figure
from simulator.scenario import guarded, output_folder, run_points

CONFIGS = {"iris": None, "digits": Path(__file__).resolve().parent / "configs" / "digits.toml"}
#: per task: sides, rates and epochs (our choices; the rates bracket each task's default)
PLANS = {
    "iris": {"sides": [8, 12, 16, 24, 32, 48, 64], "lrs": [1e-3, 3e-3, 1e-2, 3e-2], "epochs": 150},
    "digits": {"sides": [16, 24, 32, 48, 64], "lrs": [0.03, 0.1, 0.3], "epochs": 15},
}
SMOKE = {"iris": {"sides": [8, 12], "lrs": [3e-3], "epochs": 2}, "digits": {"sides": [14], "lrs": [0.1], "epochs": 1}}


def config(task: str, side: int, lr: float, seed: int, epochs: int, smoke: bool) -> simulator.RunConfig:
    base = simulator.RunConfig.from_dict({}) if CONFIGS[task] is None else simulator.RunConfig.from_file(CONFIGS[task])
    values = {"network.side": side, "rule.lr": lr, "run.seed": seed, "run.epochs": epochs}
    if smoke and task == "digits":
        values["task.n_train"] = 60
    return base.with_values(values)


def one_run(job) -> dict:
    (task, side, lr, seed, epochs, smoke), path, overwrite = job
    result = simulator.run(config(task, side, lr, seed, epochs, smoke), out=path, overwrite=overwrite,
                           on_failure="return")  # fmt: skip
    accuracy = result.epochs["accuracy_test"]
    return {"side": side, "nodes": side * side, "lr": lr, "seed": seed, "before": float(accuracy[0]),
            "final": float(accuracy[-1]), "seconds_per_epoch": result.wall_time / epochs,
            "stopped": result.message}  # fmt: skip


def summarise(points: list[dict]) -> list[dict]:
    """One row per side: each rate's mean and min final accuracy, the best rate, time per epoch."""
    rows = []
    for side in sorted({p["side"] for p in points}):
        here = [p for p in points if p["side"] == side]
        by_lr = {lr: [p["final"] for p in here if p["lr"] == lr] for lr in sorted({p["lr"] for p in here})}
        means = {lr: float(np.mean(v)) for lr, v in by_lr.items()}
        best = max(means, key=lambda lr: (means[lr], -lr))
        rows.append({"side": side, "nodes": side * side, "mean": means, "min": {lr: float(np.min(v)) for lr, v in
                     by_lr.items()}, "best_lr": best, "before": float(np.mean([p["before"] for p in here])),
                     "seconds_per_epoch": float(np.median([p["seconds_per_epoch"] for p in here]))})  # fmt: skip
    return rows


def table(task: str, rows: list[dict], epochs: int, seeds: list) -> str:
    lrs = sorted(rows[0]["mean"])
    lines = [f"{task}, {epochs} epochs, seeds {seeds[0]}-{seeds[-1]}: final-epoch test accuracy, mean (min)\n",
             "| side | nodes | before | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " | best lr | s / epoch |",
             "|---" * (5 + len(lrs)) + "|"]  # fmt: skip
    for row in rows:
        cells = " | ".join(f"{row['mean'][lr]:.3f} ({row['min'][lr]:.3f})" for lr in lrs)
        lines.append(f"| {row['side']} | {row['nodes']} | {row['before']:.3f} | {cells} | {row['best_lr']:g} | "
                     f"{row['seconds_per_epoch']:.3g} |")  # fmt: skip
    return "\n".join(lines)


def power_law(x, y) -> float:
    """The exponent of the least-squares fit ``y ~ x^k`` in log-log (nan with fewer than 2 points)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0]) if len(x) > 1 else float("nan")


def plot(task: str, rows: list[dict], out: Path, overwrite: bool) -> Path:
    fig = Figure(figsize=(14, 4.3), layout="constrained")
    ax_acc, ax_lr, ax_time = fig.subplots(1, 3)
    nodes = np.array([r["nodes"] for r in rows])
    for lr in sorted(rows[0]["mean"]):
        mean = np.array([r["mean"][lr] for r in rows])
        low = np.array([r["min"][lr] for r in rows])
        ax_acc.errorbar(nodes, mean, yerr=[mean - low, 0 * mean], marker="o", capsize=3, label=f"lr {lr:g}")
    ax_acc.set_xscale("log")
    ax_acc.set_xlabel("nodes (side^2)")
    ax_acc.set_ylabel("final test accuracy (mean; bar down to min)")
    ax_acc.set_title(f"{task}: accuracy against size")
    ax_acc.legend(fontsize=8)
    best = np.array([r["best_lr"] for r in rows])
    ax_lr.loglog(nodes, best, "o-", color="tab:purple", label=f"best lr ~ nodes^{power_law(nodes, best):.2f}")
    ax_lr.set_xlabel("nodes")
    ax_lr.set_ylabel("best learning rate (of the grid)")
    ax_lr.set_title("the rate that does best at each size")
    ax_lr.legend(fontsize=8)
    seconds = np.array([r["seconds_per_epoch"] for r in rows])
    ax_time.loglog(nodes, seconds, "s-", color="0.3", label=f"~ nodes^{power_law(nodes, seconds):.2f}")
    ax_time.set_xlabel("nodes")
    ax_time.set_ylabel("wall seconds per epoch (median)")
    ax_time.set_title("time per epoch")
    ax_time.legend(fontsize=8)
    for ax in (ax_acc, ax_lr, ax_time):  # the sizes themselves as ticks: log axes' minor labels collide
        ax.set_xticks(nodes, [f"{n:,}" for n in nodes], fontsize=8)
        ax.xaxis.set_minor_locator(NullLocator())
    ax_lr.yaxis.set_minor_locator(NullLocator())
    ax_lr.set_yticks(sorted(rows[0]["mean"]), [f"{lr:g}" for lr in sorted(rows[0]["mean"])])
    return save_figure(fig, out, overwrite, dpi=130)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=tuple(CONFIGS), default="iris")
    parser.add_argument("--seeds", type=parse_seeds, default=list(range(3)), help="START:STOP or a,b,c (default 0:3)")
    parser.add_argument("--sides", help="comma-separated lattice sides (default: the task's plan)")
    parser.add_argument("--lrs", help="comma-separated learning rates (default: the task's plan)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the task's plan)")
    parser.add_argument("--out", type=Path, help="folder for the run files (default outputs/scaling_<task>)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="seconds (CI): two small sides, one rate, two seeds")
    args = parser.parse_args(argv)
    plan = dict((SMOKE if args.smoke else PLANS)[args.task])
    if args.sides:
        plan["sides"] = [int(s) for s in args.sides.split(",")]
    if args.lrs:
        plan["lrs"] = [float(s) for s in args.lrs.split(",")]
    epochs = args.epochs or plan["epochs"]
    seeds = args.seeds[:2] if args.smoke else args.seeds
    out = args.out or Path("outputs") / f"scaling_{args.task}{'_smoke' if args.smoke else ''}"
    try:
        config(args.task, plan["sides"][0], plan["lrs"][0], 0, epochs, args.smoke)
    except ValueError as error:
        parser.error(str(error))
    output_folder(parser, out)
    jobs = [((args.task, side, lr, seed, epochs, args.smoke), out / f"side{side}_lr{lr:g}_seed{seed}.h5",
             args.overwrite) for side in plan["sides"] for lr in plan["lrs"] for seed in seeds]  # fmt: skip
    summary, figure = out.parent / f"{out.name}.json", out.parent / f"{out.name}.png"
    jobs.sort(key=lambda job: -job[0][1])  # the largest first: the pool ends evenly
    points = run_points(one_run, jobs, [path for _, path, _ in jobs] + [summary, figure], args.overwrite, args.workers)
    if isinstance(points, int):
        return points
    rows = summarise(points)
    text = table(args.task, rows, epochs, seeds)
    print(text)
    with open(summary, "w" if args.overwrite else "x") as handle:
        json.dump({"task": args.task, "epochs": epochs, "seeds": seeds, "points": points, "version":
                   simulator.__version__}, handle, indent=1)  # fmt: skip
    print(f"\nrun files: {out}/\ntable:     {summary}\nfigure:    {plot(args.task, rows, figure, args.overwrite)}")
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main))
