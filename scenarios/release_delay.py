"""Footnote [52] of the paper: without a release delay the outputs oscillate and chemical builds up.

    python scenarios/release_delay.py            # release_every 1..50 at four responses xi, 2000 steps each
    python scenarios/release_delay.py --smoke    # seconds (CI)

Appendix A's tuning process in the appendix's own form (the input a fixed pressure with a
grounded drain, the outputs node pressures asked to halve and to grow by half), for a
fixed number of transport steps, releasing chemical every ``release_every`` steps (the
paper's tau; one presentation per release period). For each response ``xi`` of the pipes
and each delay it reports, over the second half of the run:

* **oscillation**: the fraction of releases at which an output's error changes sign
  (the output crossing its target), and the mean size of the error, relative to the start;
* **build-up**: the largest amount of chemical in the network at once, and its mean;
* the cost at the last release.

Writes one run file per point in ``outputs/release_delay/`` (``--smoke``:
``outputs/release_delay_smoke/``) and the figure beside that folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.commandline import ArgumentParser, positive_int
from simulator.outputs import save_figure
from simulator.scenario import guarded, output_folder, run_points

BASE = {
    "network": {"side": 12, "d": 4},
    "task": {"name": "tuning", "input": 5.0, "factors": [0.5, 1.5]},
    "dynamics": {"name": "advection", "lam": 1.0, "inputs_as": "pressures", "outputs_as": "nodes"},
    "run": {"fields_every": 0},
}
MEASURES = ("crossing_rate", "late_error", "peak_chemical", "mean_chemical", "final_cost")


def config(seed: int, xi: float, every: int, steps: int) -> simulator.RunConfig:
    """The tuning run: ``steps`` transport steps in presentations of one release period."""
    return simulator.RunConfig.from_dict(BASE).with_values({
        "run.seed": seed, "dynamics.xi": xi, "dynamics.release_every": every, "dynamics.transport_steps": every,
        "run.epochs": steps // every,
    })  # fmt: skip


def one_run(job) -> Path:
    values, path, overwrite = job
    simulator.run(config(*values), out=path, overwrite=overwrite)
    return path


def measure(path: Path) -> dict:
    """The footnote's two quantities (and the cost) from one run file, over the second half."""
    run = simulator.load_trajectory(path)
    error = run.series("observables/output")[2] - run.series("observables/target")[2]  # [releases, p]
    inside = run.series("observables/in_network_mass")[2]
    late = error[len(error) // 2 :]
    crossings = np.diff(np.sign(late), axis=0) != 0
    return {
        "crossing_rate": float(crossings.mean()) if crossings.size else np.nan,
        "late_error": float(np.abs(late).mean() / np.abs(error[0]).mean()),
        "peak_chemical": float(inside.max()),
        "mean_chemical": float(inside.mean()),
        "final_cost": float(run.series("observables/release_cost")[2][-1]),
    }


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=positive_int, default=2000, help="transport steps per run (%(default)s)")
    parser.add_argument("--out", type=Path, help="folder for the run files (default outputs/release_delay[_smoke])")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="two responses, three delays, 100 steps (CI)")
    args = parser.parse_args(argv)
    args.out = args.out or Path("outputs") / ("release_delay_smoke" if args.smoke else "release_delay")
    steps = 100 if args.smoke else args.steps
    responses = [0.01, 0.2] if args.smoke else [0.01, 0.05, 0.2, 0.5]
    delays = [1, 5, 20] if args.smoke else [1, 2, 5, 10, 20, 50]
    if any(steps % every for every in delays):
        parser.error(f"--steps ({steps}) must be a whole number of every release period {delays}")
    jobs = [((args.seed, xi, every, steps), args.out / f"xi{xi:g}_every{every}.h5", args.overwrite)
            for xi in responses for every in delays]  # fmt: skip
    output_folder(parser, args.out)
    figure = args.out.with_suffix(".png")
    paths = run_points(one_run, jobs, [*(path for _, path, _ in jobs), figure], args.overwrite, args.workers)
    if isinstance(paths, int):
        return paths
    results = {values[1:3]: measure(path) for (values, _, _), path in zip(jobs, paths)}
    print(f"Appendix A's tuning, appendix form, seed {args.seed}, {steps} transport steps per run\n")
    print("| xi | release every | output crossings per release (2nd half) | mean error / start (2nd half) | "
          "peak chemical in the network | mean chemical | cost at the last release |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (xi, every), row in results.items():
        print(f"| {xi:g} | {every} | {row['crossing_rate']:.3f} | {row['late_error']:.3f} | "
              f"{row['peak_chemical']:.3g} | {row['mean_chemical']:.3g} | {row['final_cost']:.3g} |")  # fmt: skip
    figure = plot(results, responses, delays, figure, args.overwrite)
    print(f"\nrun files: {args.out}/\nfigure:    {figure}")
    return 0


def plot(results: dict, responses, delays, out: Path, overwrite: bool) -> Path:
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    panels = fig.subplots(1, 3)
    titles = {"crossing_rate": "outputs crossing their targets (2nd half)", "peak_chemical": "peak chemical in the "
              "network", "final_cost": "cost at the last release"}  # fmt: skip
    colours = ("tab:blue", "tab:green", "tab:orange", "tab:red", "tab:purple")
    for ax, (key, title) in zip(panels, titles.items()):
        for colour, xi in zip(colours, responses):
            values = [results[(xi, every)][key] for every in delays]
            ax.plot(delays, values, "o-", color=colour, label=f"xi = {xi:g}")
        ax.set_xscale("log")
        if key != "crossing_rate":
            ax.set_yscale("log")
        ax.set_xlabel("release every (transport steps: the paper's tau)")
        ax.set_title(title)
    panels[0].set_ylabel("sign changes of the error per release")
    panels[1].set_ylabel("s+ and s- in the network")
    panels[2].set_ylabel("cost")
    panels[0].legend()
    return save_figure(fig, out, overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(guarded(main))
