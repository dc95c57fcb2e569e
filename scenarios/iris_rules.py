"""Iris learning curves of the chemical rule and its relatives on identical networks, seeds and splits.

    python scenarios/iris_rules.py                 # chemical, ep, coupled, gradient; seeds 0-9
    python scenarios/iris_rules.py --eta 0.01 --seeds 0:4
    python scenarios/iris_rules.py --smoke         # seconds (CI)

Every rule runs the default Iris protocol (quasistatic) with the same learning rate
``lr = alpha * eta`` and nudge ``eta``; EP and CL store the free state between their two
phases (recorded in each file as ``stored_floats_per_presentation``), the chemical rule
stores nothing. Writes one run file per rule and seed in ``--out`` (default
``outputs/iris_rules/``), the figure ``outputs/iris_rules.png`` (test accuracy per epoch,
mean over seeds, and the spread) and prints a table of final-epoch test accuracies.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.base import parse_seeds, pin_threads
from simulator.commandline import ArgumentParser, positive_int
from simulator.outputs import save_figure
from simulator.scenario import checked_targets, guarded, output_folder

RULE_ORDER = ("chemical", "ep", "coupled", "gradient")
COLOURS = {"chemical": "tab:green", "ep": "tab:blue", "coupled": "tab:red", "gradient": "black"}


def config(rule: str, seed: int, eta: float, epochs: int, dynamics: str, presentation: float):
    """The default run config (Iris, lr 3e-3) with this rule, nudge, seed and dynamics."""
    values = {"rule.name": rule, "rule.eta": eta, "run.seed": seed, "run.epochs": epochs, "dynamics.name": dynamics}
    if dynamics == "timestepped":
        values["dynamics.presentation"] = presentation
    return simulator.RunConfig.from_dict({}).with_values(values)


def one_run(job) -> tuple[str, int, Path, str]:
    """One run; a run that stops (e.g. conductances running away far from the quasistatic
    limit) is reported with its reason, and its file says ``failed``."""
    rule, seed, eta, epochs, dynamics, presentation, out, overwrite = job
    path = out / f"{rule}_seed{seed}.h5"
    result = simulator.run(config(rule, seed, eta, epochs, dynamics, presentation), out=path, overwrite=overwrite,
                           on_failure="return")  # fmt: skip
    return rule, seed, path, result.message


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=list(range(10)), help="START:STOP or a,b,c (default 0:10)")
    parser.add_argument("--eta", type=float, default=0.1, help="nudge for every rule (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--dynamics", choices=("quasistatic", "timestepped"), default="quasistatic")
    parser.add_argument("--presentation", type=float, default=50.0, help="time-stepped: T in relaxation times")
    parser.add_argument("--out", type=Path, default=Path("outputs/iris_rules"), help="folder for the run files")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="two seeds, three epochs (CI)")
    args = parser.parse_args(argv)
    seeds = args.seeds[:2] if args.smoke else args.seeds
    epochs = 3 if args.smoke else args.epochs
    presentation = 1.0 if args.smoke and args.dynamics == "timestepped" else args.presentation
    try:
        config(RULE_ORDER[0], 0, args.eta, epochs, args.dynamics, presentation)
    except ValueError as error:
        parser.error(str(error))
    output_folder(parser, args.out)
    jobs = [
        (rule, seed, args.eta, epochs, args.dynamics, presentation, args.out, args.overwrite)
        for rule in RULE_ORDER
        for seed in seeds
    ]
    figure = args.out.parent / ("iris_rules_smoke.png" if args.smoke else "iris_rules.png")
    code = checked_targets([*(args.out / f"{r}_seed{s}.h5" for r, s, *_ in jobs), figure], args.overwrite)
    if code:
        return code
    with ProcessPoolExecutor(max_workers=max(1, args.workers), initializer=pin_threads) as pool:
        done = list(pool.map(one_run, jobs))
    curves = {rule: [] for rule in RULE_ORDER}
    stored, failed = {}, {rule: [] for rule in RULE_ORDER}
    for rule, seed, path, error in done:
        run = simulator.load_trajectory(path)
        stored.setdefault(rule, set()).add(run.derived["stored_floats_per_presentation"])
        if error:
            failed[rule].append(seed)
            print(f"{rule} seed {seed} stopped: {error}", file=sys.stderr)
            continue
        curves[rule].append(run.series("observables/accuracy_test")[2])
    lr = config(RULE_ORDER[0], 0, args.eta, epochs, args.dynamics, presentation)["rule.lr"]
    print(f"Iris, {args.dynamics}, lr {lr:g}, eta {args.eta:g}, {epochs} epochs, seeds {seeds[0]}-{seeds[-1]}\n")
    print("| rule | final test accuracy: mean | min | max | stored per presentation | runs stopped |")
    print("|---|---|---|---|---|---|")
    for rule in RULE_ORDER:
        final = np.array([c[-1] for c in curves[rule]]) if curves[rule] else np.full(1, np.nan)
        low, high = min(stored[rule]), max(stored[rule])
        amount = "nothing" if high == 0 else f"{low}-{high} floats (one per pipe)" if low < high else f"{low} floats"
        stopped = f"{len(failed[rule])} (seeds {failed[rule]})" if failed[rule] else "0"
        print(f"| {rule} | {final.mean():.3f} | {final.min():.3f} | {final.max():.3f} | {amount} | {stopped} |")
    figure = plot(curves, figure, args.eta, args.overwrite)
    print(f"\nrun files: {args.out}/\nfigure:    {figure}")
    return 0


def plot(curves: dict, out: Path, eta: float, overwrite: bool) -> Path:
    """Mean test accuracy per epoch (left) and each seed's final accuracy (right) per rule."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax, ax_final = fig.subplots(1, 2, width_ratios=(2, 1))
    style = {"chemical": dict(lw=3, alpha=0.6), "gradient": dict(lw=1, ls="--")}  # equal curves: both visible
    for k, rule in enumerate(RULE_ORDER):
        if not curves[rule]:  # every run of the rule stopped
            continue
        values = np.array(curves[rule])
        ax.plot(values.mean(axis=0), color=COLOURS[rule], label=rule, **style.get(rule, dict(lw=1.5)))
        final = values[:, -1]
        ax_final.scatter(
            np.full(len(final), k) + np.linspace(-0.15, 0.15, len(final)), final, color=COLOURS[rule], s=18
        )
        ax_final.hlines(final.mean(), k - 0.3, k + 0.3, color=COLOURS[rule])
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy, mean over seeds")
    ax.set_title(f"Iris: same networks, splits and shuffles ({len(values)} seeds, eta {eta:g})")
    ax.legend(loc="lower right")
    ax_final.set_xticks(range(len(RULE_ORDER)), RULE_ORDER)
    ax_final.set_ylabel("final-epoch test accuracy")
    ax_final.set_title("each seed (line: mean)")
    return save_figure(fig, out, overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(guarded(main))
