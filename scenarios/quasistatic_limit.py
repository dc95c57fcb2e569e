"""The quasistatic limit as a separation of timescales: the physical protocol against the timescale ratio.

    python scenarios/quasistatic_limit.py              # ratios 1..300, 3 epochs; interference grid
    python scenarios/quasistatic_limit.py --smoke      # seconds (CI)

Iris with the chemical rule, time-stepped under the physical protocol (the default): the
pipes remodel at the material's rate ``alpha / remodel_time`` while the fields evolve, each
presentation as long as one remodelling time (so it moves the pipes about one step of
``alpha``). The timescale ratio is ``remodel_time / relaxation time``.

1. **The ratio.** For each ratio it reports the distance of the conductances after the last
   epoch from two quasistatic references with the same network, split and shuffles:
   the gradient flow over each presentation (``dynamics.substeps``, the protocol's limit),
   and the paper's one step per presentation. Beside it, the numerical device (``weights =
   "deferred"``: ``-(alpha / T) u v`` summed and applied at the end) against the one step.
   The slope of the distance to the flow against the ratio is fitted (log-log, ratios >= 10).
2. **Interference from leftover chemical.** At one ratio, for feedback delays and chemical
   lifetimes: the distance from the flow after one epoch, and the interference itself,
   ``|w_carried - w_washed| / |w_washed - w_0|``, where ``w_washed`` is the same epoch with
   the chemical removed between presentations (what a perfect washout would give).
3. **Field speeds.** At one ratio, the chemical's compliance ``c_u / c_v`` and diffusivity
   ``kappa`` (against a flow reference with the same ``kappa``).

Writes one run file per run of parts 1 and 3 in ``outputs/quasistatic_limit/`` and the
figure ``outputs/quasistatic_limit.png``. Fast learning (small ratios) is the
out-of-equilibrium regime studied for coupled learning by Stern et al., "Physical learning
beyond the quasistatic limit" (2021).
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
from simulator.scenario import guarded, run_named_points
from simulator.tasks import evaluate_iris, iris_task

FLOW_SUBSTEPS = 1024  # the gradient flow's reference: its own error falls as 1 / substeps


def config(values: dict) -> simulator.RunConfig:
    """The default run config (Iris, chemical rule) with ``{"table.key": value}`` set."""
    return simulator.RunConfig.from_dict({}).with_values(values)


def one_run(job) -> Path:
    values, path, overwrite = job
    simulator.run(config(values), out=path, overwrite=overwrite)
    return path


def final_weights_and_accuracy(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    run = simulator.load_trajectory(path)
    conductance = run.series("observables/edges/conductance")[2]
    return conductance[0], conductance[-1], float(run.series("observables/accuracy_test")[2][-1])


def jobs_of(args, epochs: int, ratios, speeds) -> dict[str, dict]:
    """Every run of parts 1 and 3, by name: ``{name: {"table.key": value}}``."""
    base = {"run.seed": args.seed, "run.epochs": epochs, "run.fields_every": 0}
    stepped = dict(base, **{"dynamics.name": "timestepped"})
    jobs = {"step": dict(base), "flow": dict(base, **{"dynamics.substeps": args.flow_substeps})}
    for ratio in ratios:
        timing = {"dynamics.presentation": ratio}
        jobs[f"physical_R{ratio:g}"] = dict(stepped, **timing, **{"dynamics.remodel_time": ratio})
        jobs[f"deferred_R{ratio:g}"] = dict(stepped, **timing, **{"dynamics.weights": "deferred"})
    for c_u, kappa in speeds:
        point = {"dynamics.presentation": args.at, "dynamics.remodel_time": args.at, "dynamics.c_u": c_u,
                 "dynamics.kappa": kappa}  # fmt: skip
        jobs[f"cu{c_u:g}_kappa{kappa:g}"] = dict(stepped, **point)
        if kappa != 1.0:
            jobs[f"flow_kappa{kappa:g}"] = dict(base, **{"dynamics.substeps": args.flow_substeps,
                                                         "dynamics.kappa": kappa})  # fmt: skip
    return jobs


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=positive_int, default=3)
    parser.add_argument("--at", type=float, default=10.0, help="the ratio of parts 2 and 3 (%(default)s)")
    parser.add_argument("--flow-substeps", type=positive_int, default=FLOW_SUBSTEPS)
    parser.add_argument("--out", type=Path, help="folder for the run files (default outputs/quasistatic_limit[_smoke])")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="one epoch, three ratios, a 2x2 grid (CI)")
    args = parser.parse_args(argv)
    epochs = 1 if args.smoke else args.epochs
    ratios = [1.0, 10.0, 30.0] if args.smoke else [1.0, 3.0, 10.0, 30.0, 100.0, 300.0]
    speeds = [(1.0, 1.0)] if args.smoke else [(0.1, 1.0), (1.0, 1.0), (10.0, 1.0), (1.0, 0.5), (1.0, 2.0)]
    delays, lifetimes = ([0.0, 2.0], [None, 3.0]) if args.smoke else ([0.0, 0.5, 1.0, 2.0, 4.0],
                                                                        [None, 30.0, 10.0, 3.0, 1.0])  # fmt: skip
    args.out = args.out or Path("outputs/quasistatic_limit" + ("_smoke" if args.smoke else ""))
    jobs = jobs_of(args, epochs, ratios, speeds)
    try:
        for values in jobs.values():
            config(values)
    except ValueError as error:
        parser.error(str(error))
    done = run_named_points(parser, args, one_run, jobs)
    if isinstance(done, int):
        return done
    paths, figure = done

    def distance(name: str, reference: str) -> tuple[float, float]:
        w0, w, accuracy = final_weights_and_accuracy(paths[name])
        _, w_ref, _ = final_weights_and_accuracy(paths[reference])
        return float(np.linalg.norm(w - w_ref) / np.linalg.norm(w_ref - w0)), accuracy

    step_accuracy = final_weights_and_accuracy(paths["step"])[2]
    flow_accuracy = final_weights_and_accuracy(paths["flow"])[2]
    flow_from_step = distance("flow", "step")[0]
    rows = [(R, *distance(f"physical_R{R:g}", "flow"), distance(f"physical_R{R:g}", "step")[0],
             *distance(f"deferred_R{R:g}", "step")) for R in ratios]  # fmt: skip
    fitted = np.array([row for row in rows if row[0] >= 10.0])
    slope = float(np.polyfit(np.log10(fitted[:, 0]), np.log10(fitted[:, 1]), 1)[0]) if len(fitted) > 1 else np.nan
    print(f"Iris, chemical rule, seed {args.seed}, {epochs} epochs, lr {config({})['rule.lr']:g}. Test accuracy: one "
          f"quasistatic step "
          f"{step_accuracy:.3f}, gradient flow ({args.flow_substeps} substeps) {flow_accuracy:.3f}; the flow is "
          f"{flow_from_step:.3g} from the one step\n")  # fmt: skip
    print("| ratio remodel_time / relaxation time | physical: distance from the flow | from the one step | "
          "accuracy | deferred device: distance from the one step | accuracy |")
    print("|---|---|---|---|---|---|")
    for R, d_flow, acc, d_step, d_deferred, acc_deferred in rows:
        print(f"| {R:g} | {d_flow:.3g} | {d_step:.3g} | {acc:.3f} | {d_deferred:.3g} | {acc_deferred:.3f} |")
    print(f"\nfitted slope of log(distance from the flow) against log(ratio), ratios >= 10: {slope:.3f}")
    n_train = len(iris_task(args.seed).x_train)
    first_order = simulator.load_trajectory(paths["step"]).series("observables/example")[2][:n_train]
    grid = interference(args.seed, first_order, args.at, delays, lifetimes, args.flow_substeps)
    print(f"\nat ratio {args.at:g}, one epoch: distance from the flow / interference from leftover chemical\n")
    print("| feedback delay \\ chemical lifetime (relaxation times) | " + " | ".join(
        "none" if t is None else f"{t:g}" for t in lifetimes) + " |")  # fmt: skip
    print("|---|" + "---|" * len(lifetimes))
    for i, delay in enumerate(delays):
        cells = " | ".join(f"{grid[0][i, j]:.3g} / {grid[1][i, j]:.3g}" for j in range(len(lifetimes)))
        print(f"| {delay:g} | {cells} |")
    speed_rows = []
    for c_u, kappa in speeds:
        reference = "flow" if kappa == 1.0 else f"flow_kappa{kappa:g}"
        speed_rows.append((c_u, kappa, *distance(f"cu{c_u:g}_kappa{kappa:g}", reference)))
    print(f"\nat ratio {args.at:g}:\n")
    print("| c_u / c_v | kappa | distance from the flow (same kappa) | test accuracy |")
    print("|---|---|---|---|")
    for c_u, kappa, d, accuracy in speed_rows:
        print(f"| {c_u:g} | {kappa:g} | {d:.3g} | {accuracy:.3f} |")
    study = (delays, lifetimes, grid, args.at)
    drawn = plot(rows, slope, study, (flow_accuracy, step_accuracy), figure, args.overwrite)
    print(f"\nrun files: {args.out}/\nfigure:    {drawn}")
    return 0


def interference(seed: int, order, ratio: float, delays, lifetimes, flow_substeps: int):
    """``(distance from the flow, interference)`` ``[delays, lifetimes]`` after the first epoch of
    Iris (the runs' network, split, targets and example ``order``) at ``ratio``; durations in
    relaxation times."""
    network = simulator.lattice_network(seed=seed)
    task = iris_task(seed)
    inputs = task.x_train[order]
    targets = evaluate_iris(network, task).desired_output[task.y_train[order]]
    t_relax = simulator.relaxation_time(network)
    alpha = config({})["rule.lr"] / config({})["rule.eta"]
    limit = simulator.Quasistatic(substeps=flow_substeps)
    flow = simulator.train(network, inputs, targets, alpha=alpha, dynamics=limit)
    w0, w_flow = network.conductance, flow.network.conductance
    distances, interferences = np.empty((2, len(delays), len(lifetimes)))
    weights = simulator.Physical(remodel_time=ratio * t_relax)
    for i, delay in enumerate(delays):
        for j, lifetime in enumerate(lifetimes):
            dynamics = simulator.TimeStepped(T=ratio * t_relax, feedback_delay=delay * t_relax,
                                             chemical_lifetime=None if lifetime is None else lifetime * t_relax)
            carried = simulator.train(network, inputs, targets, alpha=alpha, dynamics=dynamics, weights=weights)
            washed, state = network, None
            for x, y in zip(inputs, targets):  # the chemical removed before every presentation
                state = None if state is None else simulator.FieldState(state.v, np.zeros_like(state.u))
                result = simulator.train(washed, x, y, alpha=alpha, dynamics=dynamics, weights=weights, state=state)
                washed, state = result.network, result.state
            w = carried.network.conductance
            distances[i, j] = np.linalg.norm(w - w_flow) / np.linalg.norm(w_flow - w0)
            interferences[i, j] = np.linalg.norm(w - washed.conductance) / np.linalg.norm(washed.conductance - w0)
    return distances, interferences


def plot(rows, slope: float, study, references, out: Path, overwrite: bool) -> Path:
    R, d_flow, accuracy, d_step, d_deferred, acc_deferred = (np.array(column) for column in zip(*rows))
    delays, lifetimes, (distances, interferences), _ = study
    fig = Figure(figsize=(14, 4.2), layout="constrained")
    ax_distance, ax_accuracy, ax_interference = fig.subplots(1, 3)
    ax_distance.loglog(R, d_flow, "o-", color="tab:purple", label=f"physical, from the flow (slope {slope:.2f})")
    ax_distance.loglog(R, d_step, "s--", color="tab:purple", alpha=0.5, label="physical, from the one step")
    ax_distance.loglog(R, d_deferred, "^:", color="tab:gray", label="deferred device, from the one step")
    ax_distance.set_xlabel("timescale ratio remodel_time / relaxation time")
    ax_distance.set_ylabel("|w - w_ref| / |w_ref - w_0|")
    ax_distance.set_title("distance from the quasistatic trajectory")
    ax_distance.legend(fontsize=8)
    ax_accuracy.semilogx(R, accuracy, "o-", color="tab:purple", label="physical")
    ax_accuracy.semilogx(R, acc_deferred, "^:", color="tab:gray", label="deferred device")
    ax_accuracy.axhline(references[0], color="k", ls="--", lw=1, label="quasistatic flow")
    ax_accuracy.axhline(references[1], color="k", ls=":", lw=1, label="quasistatic, one step")
    ax_accuracy.set_xlabel("timescale ratio remodel_time / relaxation time")
    ax_accuracy.set_ylabel("final test accuracy")
    ax_accuracy.set_ylim(0, 1.02)
    ax_accuracy.legend(loc="lower right")
    ax_accuracy.set_title("Iris accuracy")
    for j, lifetime in enumerate(lifetimes):
        label = "no decay" if lifetime is None else f"lifetime {lifetime:g}"
        ax_interference.plot(delays, interferences[:, j], "o-", label=label)
    ax_interference.set_yscale("log")
    ax_interference.set_xlabel("feedback delay (relaxation times)")
    ax_interference.set_ylabel("|w_carried - w_washed| / |w_washed - w_0|")
    ax_interference.set_title(f"leftover chemical, ratio {study[3]:g}, one epoch")
    ax_interference.legend(fontsize=8)
    return save_figure(fig, out, overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(guarded(main))
