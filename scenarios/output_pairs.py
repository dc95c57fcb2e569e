"""The paper's remark on output pairs: "for pairs of output nodes that are not neighbouring
nodes, the training error decreased less smoothly", measured over seeds.

    python scenarios/output_pairs.py            # seeds 0-9, Iris, the defaults
    python scenarios/output_pairs.py --smoke    # seconds (CI)

Iris with the chemical rule (the default config at the paper's learning rate, 1e-4, unless
``--lr``) on the same lattices, inputs, splits and shuffles, once with each output pair two
nodes a pipe joins (the paper's choice and ours) and once with two nodes no pipe joins
(``[network] adjacent_outputs = false``). From each run's training cost (each
presentation's, as in the paper's Fig. 2), per epoch:

* **rises**: the fraction of epochs whose mean cost is above the epoch before;
* **roughness**: the path length of the log epoch-mean cost over its net fall
  (``sum |d log c| / |log c_last - log c_first|``: 1 for a steady fall);
* and the final test accuracy; a run the blow-up watch stops is counted as such.

Writes one run file per point in ``outputs/output_pairs/`` and the figure beside it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.base import parse_seeds
from simulator.commandline import ArgumentParser, positive_int
from simulator.outputs import save_figure
from simulator.scenario import guarded, output_folder, run_points

KINDS = {"neighbours": True, "not neighbours": False}  # adjacent_outputs


def one_run(job) -> Path:
    values, path, overwrite = job
    config = simulator.RunConfig.from_dict({}).with_values(values)
    simulator.run(config, out=path, overwrite=overwrite, on_failure="return")  # a blow-up is a result here
    return path


def measure(path: Path) -> dict:
    run = simulator.load_trajectory(path)
    if run.status[0] != "complete":  # stopped by the blow-up watch
        return {"failed": 1.0, "rises": np.nan, "roughness": np.nan, "accuracy": np.nan}
    cost = run.series("observables/cost")[2]
    per_epoch = len(cost) // (run.clock_rows()["epoch"] - 1)
    means = np.log(cost[: len(cost) // per_epoch * per_epoch].reshape(-1, per_epoch).mean(axis=1))
    steps = np.diff(means)
    return {
        "failed": 0.0,
        "rises": float(np.mean(steps > 0)),
        "roughness": float(np.abs(steps).sum() / abs(means[-1] - means[0])),
        "accuracy": float(run.series("observables/accuracy_test")[2][-1]),
    }


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0:10", help="START:STOP or a,b,c (%(default)s)")
    parser.add_argument("--epochs", type=positive_int, default=150)
    parser.add_argument("--lr", type=float, default=1e-4, help="the step alpha*eta (default: the paper's, %(default)s)")
    parser.add_argument("--out", type=Path, help="folder for the run files (default outputs/output_pairs[_smoke])")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="two seeds, three epochs (CI)")
    args = parser.parse_args(argv)
    try:
        seeds = [0, 1] if args.smoke else parse_seeds(args.seeds)
    except ValueError as error:
        parser.error(str(error))
    epochs = 3 if args.smoke else args.epochs
    args.out = args.out or Path("outputs") / ("output_pairs_smoke" if args.smoke else "output_pairs")
    jobs = [({"run.seed": seed, "run.epochs": epochs, "rule.lr": args.lr, "network.adjacent_outputs": adjacent},
             args.out / f"{'adjacent' if adjacent else 'apart'}_seed{seed}.h5", args.overwrite)
            for adjacent in KINDS.values() for seed in seeds]  # fmt: skip
    output_folder(parser, args.out)
    figure = args.out.with_suffix(".png")
    paths = run_points(one_run, jobs, [*(path for _, path, _ in jobs), figure], args.overwrite, args.workers)
    if isinstance(paths, int):
        return paths
    rows = {kind: [measure(path) for (values, _, _), path in zip(jobs, paths)
                   if values["network.adjacent_outputs"] == adjacent] for kind, adjacent in KINDS.items()}  # fmt: skip
    print(f"Iris, chemical rule, quasistatic, lr {args.lr:g}, {epochs} epochs, seeds {seeds[0]}-{seeds[-1]}\n")
    print("| output pairs | runs stopped by a blow-up | epochs the cost rose: mean (min-max) | roughness: mean "
          "(min-max) | final test accuracy: mean (min-max) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for kind, measured in rows.items():
        cells = [f"{int(sum(row['failed'] for row in measured))} of {len(measured)}"]
        for key in ("rises", "roughness", "accuracy"):
            values = np.array([row[key] for row in measured if not row["failed"]])
            cells.append(f"{values.mean():.3f} ({values.min():.3f}-{values.max():.3f})" if len(values) else "-")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    figure = plot(args.out, seeds, figure, args.overwrite)
    print(f"\nrun files: {args.out}/\nfigure:    {figure}")
    return 0


def plot(folder: Path, seeds, out: Path, overwrite: bool) -> Path:
    """Each seed's epoch-mean training cost, the two kinds of output pair side by side."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    panels = fig.subplots(1, 2, sharey=True)
    for ax, (kind, adjacent) in zip(panels, KINDS.items()):
        for seed in seeds:
            run = simulator.load_trajectory(folder / f"{'adjacent' if adjacent else 'apart'}_seed{seed}.h5")
            if run.status[0] != "complete":
                continue
            cost = run.series("observables/cost")[2]
            per_epoch = len(cost) // max(1, run.clock_rows()["epoch"] - 1)
            means = cost[: len(cost) // per_epoch * per_epoch].reshape(-1, per_epoch).mean(axis=1)
            ax.semilogy(np.arange(1, len(means) + 1), means, lw=1, label=f"seed {seed}")
        ax.set_xlabel("epoch")
        ax.set_title(f"output pairs: {kind}")
    panels[0].set_ylabel("epoch-mean training cost")
    panels[1].legend(fontsize=7, ncol=2)
    return save_figure(fig, out, overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(guarded(main))
