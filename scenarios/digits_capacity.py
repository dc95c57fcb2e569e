"""What the digits network *can* do: the conductances fitted full-batch by L-BFGS-B (scipy),
a reference for the chemical rule, against the linear ceiling.

    python scenarios/digits_capacity.py                  # d = 4, 8, 12, 16 on 32x32, seed 0 (about 10 minutes)
    python scenarios/digits_capacity.py --d 12 --seeds 0:3
    python scenarios/digits_capacity.py --smoke          # seconds (CI)

The network and the task are those of ``scenarios/configs/digits.toml`` (one-hot codes fixed
from the starting network) with the connectivity ``d`` changed. The optimiser minimises the
same mean squared error over all 1,000 training digits at once, with the exact gradient
(:func:`simulator.quasistatic.batch_cost_gradient`) and the conductance floor as a bound: no
pipe could learn this way (it needs the whole batch's error), so it measures the network's
expressivity, not a rule. Not converged after ``--iterations``: the accuracy is a lower bound
on what the network can reach. Prints a Markdown table and writes ``digits_capacity.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.optimize

import simulator
from simulator.base import parse_seeds
from simulator.commandline import ArgumentParser
from simulator.outputs import check_target
from simulator.quasistatic import LaplacianSolver, batch_cost_gradient, transfer_matrix
from simulator.runs import build_network
from simulator.scenario import guarded
from simulator.tasks import TASKS, classify, linear_ceilings

CONFIG = Path(__file__).resolve().parent / "configs" / "digits.toml"


def fit(config: simulator.RunConfig, iterations: int) -> dict:
    """Train and test accuracy of the network of ``config`` before and after the full-batch fit."""
    network = build_network(config, TASKS["digits"])
    options = {k: v for k, v in config.tables["task"].items() if k != "name"}
    task = TASKS["digits"].from_config(options, network=network, seed=config["run.seed"],
                                       boundary={"inputs_as": "currents", "outputs_as": "pairs"})  # fmt: skip
    split, codes = task.split, task.fixed_targets
    targets, unit = codes[split.y_train], float(np.mean(codes**2))  # the cost in units of the codes' size

    def cost_and_gradient(w):
        value, gradient = batch_cost_gradient(network.with_conductance(w), split.x_train, targets)
        return value / unit, gradient / unit

    def accuracies(w):
        transfer = transfer_matrix(network.with_conductance(w), LaplacianSolver(network.with_conductance(w)))
        return [float(np.mean(classify(x @ transfer.T, codes) == y)) for x, y in
                ((split.x_train, split.y_train), (split.x_test, split.y_test))]  # fmt: skip

    start, w0 = time.perf_counter(), network.conductance.copy()
    result = scipy.optimize.minimize(cost_and_gradient, w0, jac=True, method="L-BFGS-B",
                                     bounds=[(config["run.w_min"], None)] * len(w0),
                                     options={"maxiter": iterations, "maxfun": 2 * iterations, "ftol": 1e-15,
                                              "gtol": 1e-12})  # fmt: skip
    (train0, test0), (train, test) = accuracies(w0), accuracies(result.x)
    return {"d": config["network.d"], "seed": config["run.seed"], "pipes": network.n_edges, "iterations": result.nit,
            "cost_before": cost_and_gradient(w0)[0], "cost_after": float(result.fun), "train_before": train0,
            "test_before": test0, "train": train, "test": test, "at_floor": float(np.mean(result.x <= config[
            "run.w_min"] * 1.0001)), "seconds": time.perf_counter() - start, **linear_ceilings(split)}  # fmt: skip


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", default="4,8,12,16", help="comma-separated connectivities (default 4,8,12,16)")
    parser.add_argument("--seeds", type=parse_seeds, default=[0], help="START:STOP or a,b,c (default 0)")
    parser.add_argument("--iterations", type=int, default=600, help="L-BFGS-B iterations (600)")
    parser.add_argument(
        "--target-scale",
        type=float,
        help="the one-hot codes' size in starting-output spreads "
        "(default: the config's, 10; with the conductance floor, smaller codes are easier to reach)",
    )
    parser.add_argument("--out", type=Path, help="the JSON table (default outputs/digits_capacity[_smoke].json)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="seconds (CI): 14x14, 60 digits, 10 iterations")
    args = parser.parse_args(argv)
    out = args.out or Path("outputs") / f"digits_capacity{'_smoke' if args.smoke else ''}.json"
    check_target(out, args.overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    base = simulator.RunConfig.from_file(CONFIG)
    if args.smoke:
        base = base.with_values({"network.side": 14, "task.n_train": 60})
    if args.target_scale is not None:
        base = base.with_values({"task.target_scale": args.target_scale})
    iterations = 10 if args.smoke else args.iterations
    rows = []
    for d in (int(x) for x in args.d.split(",")):
        for seed in args.seeds:
            rows.append(fit(base.with_values({"network.d": d, "run.seed": seed}), iterations))
            row = rows[-1]
            print(f"d {d:>2} seed {seed}: test {row['test_before']:.3f} -> {row['test']:.3f} after {row['iterations']} "
                  f"iterations ({row['seconds']:.0f} s)", flush=True)  # fmt: skip
    print(
        f"\n{base['network.side']}x{base['network.side']} lattice, one-hot codes of target_scale "
        f"{base['task.target_scale']:g}, {iterations} L-BFGS-B iterations\n"
    )
    print("| d | pipes | test before | test after the fit | train after | cost after / before | least squares |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['d']} | {row['pipes']} | {row['test_before']:.3f} | {row['test']:.3f} | {row['train']:.3f} | "
              f"{row['cost_after'] / row['cost_before']:.3f} | {row['least_squares']:.3f} |")  # fmt: skip
    with open(out, "w" if args.overwrite else "x") as handle:
        json.dump({"iterations": iterations, "side": base["network.side"], "target_scale": base["task.target_scale"],
                   "rows": rows,
                   "version": simulator.__version__}, handle, indent=1)  # fmt: skip
    print(f"\ntable: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main))
