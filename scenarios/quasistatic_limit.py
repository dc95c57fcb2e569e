"""Where time-stepped chemical learning stops tracking the gradient: presentation time and field speeds.

    python scenarios/quasistatic_limit.py              # T = 1e-2..1e3 relaxation times, 5 epochs
    python scenarios/quasistatic_limit.py --smoke      # seconds (CI)

Iris with the chemical rule, time-stepped, on the same network, split and shuffles as a
quasistatic reference run. For each presentation time T (in relaxation times c_v/lambda_2)
it reports the distance of the conductances from the quasistatic trajectory,
``|w_T - w_qs| / |w_qs - w_0|`` after the last epoch, and the final test accuracy. Then, at
a fixed T, it varies the chemical's speed against the pressure's: its compliance ratio
``c_u / c_v`` and its diffusivity ``kappa`` (the quasistatic reference uses the same kappa).
Fast learning (small T) is the out-of-equilibrium regime studied for coupled learning by
Stern et al., "Physical learning beyond the quasistatic limit" (2021).
Writes one run file per point in ``outputs/quasistatic_limit/`` and the figure
``outputs/quasistatic_limit.png``.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.base import pin_threads
from simulator.commandline import ArgumentParser, positive_int
from simulator.outputs import save_figure
from simulator.scenario import checked_targets, guarded


def config(values: dict) -> simulator.RunConfig:
    """The default run config (Iris, chemical rule) with ``{"table.key": value}`` set."""
    return simulator.RunConfig.from_dict({}).with_values(values)


def one_run(job) -> Path:
    name, values, out, overwrite = job
    path = out / f"{name}.h5"
    simulator.run(config(values), out=path, overwrite=overwrite)
    return path


def final_weights_and_accuracy(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    run = simulator.load_trajectory(path)
    conductance = run.series("observables/edges/conductance")[2]
    return conductance[0], conductance[-1], float(run.series("observables/accuracy_test")[2][-1])


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--speeds-at", type=float, default=10.0, help="T (relaxation times) of the speed study")
    parser.add_argument("--out", type=Path, default=Path("outputs/quasistatic_limit"))
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="one epoch, three presentation times, one speed (CI)")
    args = parser.parse_args(argv)
    epochs = 1 if args.smoke else args.epochs
    times = [1e-2, 1.0, 10.0] if args.smoke else [1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
    speeds = [(1.0, 1.0)] if args.smoke else [(0.1, 1.0), (1.0, 1.0), (10.0, 1.0), (1.0, 0.5), (1.0, 2.0)]
    base = {"run.seed": args.seed, "run.epochs": epochs, "run.fields_every": 0}
    stepped = dict(base, **{"dynamics.name": "timestepped"})
    jobs = [("quasistatic", dict(base), args.out, args.overwrite)]
    jobs += [(f"T{T:g}", dict(stepped, **{"dynamics.presentation": T}), args.out, args.overwrite) for T in times]
    for ratio, kappa in speeds:
        point = {**stepped, "dynamics.presentation": args.speeds_at, "dynamics.c_u": ratio, "dynamics.kappa": kappa}
        jobs.append((f"cu{ratio:g}_kappa{kappa:g}", point, args.out, args.overwrite))
        if kappa != 1.0:
            reference = {**base, "dynamics.kappa": kappa}
            jobs.append((f"quasistatic_kappa{kappa:g}", reference, args.out, args.overwrite))
    try:
        for _, values, _, _ in jobs:
            config(values)
    except ValueError as error:
        parser.error(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    figure = args.out.parent / ("quasistatic_limit_smoke.png" if args.smoke else "quasistatic_limit.png")
    code = checked_targets([*(args.out / f"{name}.h5" for name, *_ in jobs), figure], args.overwrite)
    if code:
        return code
    with ProcessPoolExecutor(max_workers=max(1, args.workers), initializer=pin_threads) as pool:
        paths = dict(zip([name for name, *_ in jobs], pool.map(one_run, jobs)))

    def distance(name: str, reference: str) -> tuple[float, float]:
        w0, w, accuracy = final_weights_and_accuracy(paths[name])
        _, w_ref, _ = final_weights_and_accuracy(paths[reference])
        return float(np.linalg.norm(w - w_ref) / np.linalg.norm(w_ref - w0)), accuracy

    _, _, reference_accuracy = final_weights_and_accuracy(paths["quasistatic"])
    rows = [(T, *distance(f"T{T:g}", "quasistatic")) for T in times]
    print(
        f"Iris, chemical rule, seed {args.seed}, {epochs} epochs; quasistatic test accuracy {reference_accuracy:.3f}\n"
    )
    print("| T (relaxation times) | distance from the quasistatic weights | test accuracy |")
    print("|---|---|---|")
    for T, d, accuracy in rows:
        print(f"| {T:g} | {d:.3g} | {accuracy:.3f} |")
    speed_rows = []
    for ratio, kappa in speeds:
        reference = "quasistatic" if kappa == 1.0 else f"quasistatic_kappa{kappa:g}"
        speed_rows.append((ratio, kappa, *distance(f"cu{ratio:g}_kappa{kappa:g}", reference)))
    print(f"\nat T = {args.speeds_at:g} relaxation times:\n")
    print("| c_u / c_v | kappa | distance from the quasistatic weights (same kappa) | test accuracy |")
    print("|---|---|---|---|")
    for ratio, kappa, d, accuracy in speed_rows:
        print(f"| {ratio:g} | {kappa:g} | {d:.3g} | {accuracy:.3f} |")
    figure = plot(rows, reference_accuracy, figure, args.overwrite)
    print(f"\nrun files: {args.out}/\nfigure:    {figure}")
    return 0


def plot(rows, reference_accuracy: float, out: Path, overwrite: bool) -> Path:
    T, distance, accuracy = (np.array(column) for column in zip(*rows))
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_distance, ax_accuracy = fig.subplots(1, 2)
    ax_distance.loglog(T, distance, "o-", color="tab:purple")
    slow = T >= 1.0
    ax_distance.loglog(T[slow], distance[-1] * T[-1] / T[slow], ":", color="0.5", label="~ 1/T")
    ax_distance.set_xlabel("presentation time T / relaxation time")
    ax_distance.set_ylabel("|w_T - w_qs| / |w_qs - w_0|")
    ax_distance.set_title("distance from the quasistatic trajectory")
    ax_distance.legend()
    ax_accuracy.semilogx(T, accuracy, "o-", color="tab:blue", label="time-stepped")
    ax_accuracy.axhline(reference_accuracy, color="k", ls="--", lw=1, label="quasistatic")
    ax_accuracy.set_xlabel("presentation time T / relaxation time")
    ax_accuracy.set_ylabel("final test accuracy")
    ax_accuracy.set_ylim(0, 1.02)
    ax_accuracy.legend(loc="lower right")
    ax_accuracy.set_title("Iris accuracy")
    return save_figure(fig, out, overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(guarded(main))
