"""Where exact gradient descent breaks down as the flow carries the feedback chemical: the Péclet number.

    python scenarios/peclet.py                # Pe 1e-3..1e4 (7 decades), 150 epochs each; the s+/s- mode
    python scenarios/peclet.py --smoke        # seconds (CI)

The paper assumes that the chemical diffuses fast compared with the flow that carries it.
Here the chemical also drifts with the flow (``Physics(drift=1)``: ``c_u du/dt = E - kappa L u
- (A(q) + D) u``, :mod:`simulator.transport`), and the network's Péclet number ``Pe`` (the
median over pipes and training examples of ``|v_a - v_b| / kappa`` at the start) is swept by
the diffusivity ``kappa``, on Iris (the default network, split and first-epoch targets):

* **fidelity** at the start: the chemical update of each training example against the exact
  step of the diffusion mode at the same ``kappa`` (``-(alpha eta / kappa) dC/dw``): the mean
  cosine per example, and the cosine and relative error of the epoch's summed update;
* **Iris accuracy** after ``--epochs`` quasistatic epochs, at a learning rate scaled so an
  example's update at the start is as long, on average, as the diffusion mode's at lr 3e-3
  and ``kappa = 1`` (the paper's rule): only the direction differs;
* the two ends on the same axis: ``Pe = 0`` is the diffusion mode (the paper's rule), and
  ``Pe = inf`` Appendix A's two-chemical transport (``scenarios/iris_advection.py``'s
  settings), which is also run with a diffusive part (``Advection(diffusion=D)``, pipe Péclet
  number ``1 / (D w)``): its ``grad_cosine`` (median over releases; the cosine of the
  conductance change between releases with the negative gradient) and its accuracy.

Writes one run file per point in ``outputs/peclet/`` (``--smoke``: ``outputs/peclet_smoke/``)
and the figure beside that folder.
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

LR = 3e-3  # the default rate of the diffusion mode (README: how the defaults were chosen)
TRANSPORT = {"name": "advection", "xi": 0.003, "lam": 1.0, "release_every": 20, "transport_steps": 20}


def start(seed: int):
    """The run's starting network and its first-epoch training examples ``(network, X, Y)``."""
    network = simulator.lattice_network(seed=seed)
    task = iris_task(seed)
    return network, task.x_train, evaluate_iris(network, task).desired_output[task.y_train]


def drop_scale(network, inputs) -> float:
    """The median pipe drop ``|v_a - v_b|`` over the training examples: ``Pe = this / kappa``."""
    solver = simulator.LaplacianSolver(network)
    return float(np.median([np.abs(network.drops(solver.solve(network.node_currents(x)))) for x in inputs]))


def fidelity(network, inputs, targets, kappa: float, drift: float) -> dict:
    """The chemical updates (alpha = eta = 1) against the exact steps at ``kappa``."""
    solver = simulator.LaplacianSolver(network)
    updates, exact = (np.array([simulator.learning_update(network, x, y, kappa=kappa, drift=a, solver=solver)
                                for x, y in zip(inputs, targets)]) for a in (drift, 0.0))  # fmt: skip
    norms = np.linalg.norm(updates, axis=1) * np.linalg.norm(exact, axis=1)
    total, total_exact = updates.sum(axis=0), exact.sum(axis=0)
    return {
        "cosine": float(np.mean(np.einsum("ij,ij->i", updates, exact) / norms)),
        "epoch_cosine": float(total @ total_exact / (np.linalg.norm(total) * np.linalg.norm(total_exact))),
        "relative_error": float(np.linalg.norm(total - total_exact) / np.linalg.norm(total_exact)),
        "length": float(np.linalg.norm(updates, axis=1).mean()),  # of an example's update at alpha = eta = 1
    }


def one_run(job) -> Path:
    values, path, overwrite = job
    simulator.run(simulator.RunConfig.from_dict({}).with_values(values), out=path, overwrite=overwrite)
    return path


def final(path: Path) -> tuple[float, float]:
    """``(test accuracy, median grad_cosine or NaN)`` of a run file."""
    run = simulator.load_trajectory(path)
    accuracy = float(run.series("observables/accuracy_test")[2][-1])
    try:
        cosine = float(np.nanmedian(run.series("observables/grad_cosine")[2]))
    except KeyError:
        cosine = np.nan
    return accuracy, cosine


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=positive_int, default=150, help="quasistatic epochs per point (%(default)s)")
    parser.add_argument("--transport-epochs", type=positive_int, default=40, help="s+/s- mode epochs (%(default)s)")
    parser.add_argument("--out", type=Path, help="folder for the run files (default outputs/peclet[_smoke])")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="three Péclet numbers, two epochs (CI)")
    args = parser.parse_args(argv)
    peclets = [1e-2, 1.0, 1e2] if args.smoke else [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4]
    diffusions = [0.0, 1.0] if args.smoke else [0.0, 0.01, 0.1, 1.0, 10.0]
    epochs, transport_epochs = (2, 2) if args.smoke else (args.epochs, args.transport_epochs)
    args.out = args.out or Path("outputs/peclet" + ("_smoke" if args.smoke else ""))
    network, inputs, targets = start(args.seed)
    scale, median_w = drop_scale(network, inputs), float(np.median(network.conductance))
    rows = {0.0: dict(fidelity(network, inputs, targets, 1.0, 0.0), kappa=1.0, lr=LR)}  # the diffusion mode
    reference = rows[0.0]["length"]
    for pe in peclets:
        kappa = scale / pe
        rows[pe] = measured = fidelity(network, inputs, targets, kappa, 1.0)
        measured.update(kappa=kappa, lr=LR * reference / measured["length"])
    base = {"run.seed": args.seed, "run.epochs": epochs}
    jobs = {f"pe{pe:g}": dict(base, **{"dynamics.kappa": row["kappa"], "dynamics.drift": 0.0 if pe == 0 else 1.0,
                                       "rule.lr": row["lr"]}) for pe, row in rows.items()}  # fmt: skip
    for diffusion in diffusions:
        transport = {f"dynamics.{key}": value for key, value in TRANSPORT.items()}
        jobs[f"transport_D{diffusion:g}"] = dict(base, **transport, **{"dynamics.diffusion": diffusion,
                                                 "run.epochs": transport_epochs, "run.fields_every": 0})  # fmt: skip
    done = run_named_points(parser, args, one_run, jobs)
    if isinstance(done, int):
        return done
    paths, figure = done
    for pe, row in rows.items():
        row["accuracy"] = final(paths[f"pe{pe:g}"])[0]
    transport = {d: final(paths[f"transport_D{d:g}"]) for d in diffusions}
    report(rows, transport, scale, median_w, epochs, transport_epochs, args.seed)
    drawn = plot(rows, transport, median_w, figure, args.overwrite)
    print(f"\nrun files: {args.out}/\nfigure:    {drawn}")
    return 0


def report(rows, transport, scale, median_w, epochs, transport_epochs, seed) -> None:
    print(f"Iris, seed {seed}: median pipe drop {scale:.3g} at the start (Pe = that / kappa, drift 1); "
          f"{epochs} quasistatic epochs per point\n")  # fmt: skip
    print("| network Péclet number | kappa | cosine per example | cosine of the epoch's update | relative error | "
          "lr (matched) | test accuracy |")
    print("|---|---|---|---|---|---|---|")
    for pe, row in rows.items():
        label = "0 (diffusion mode)" if pe == 0 else f"{pe:g}"
        print(f"| {label} | {row['kappa']:.3g} | {row['cosine']:.4f} | {row['epoch_cosine']:.4f} | "
              f"{row['relative_error']:.3g} | {row['lr']:.3g} | {row['accuracy']:.3f} |")  # fmt: skip
    print(f"\nAppendix A's s+/s- transport with a diffusive part ({transport_epochs} epochs; median conductance "
          f"{median_w:.3g}):\n")  # fmt: skip
    print("| diffusion D | pipe Péclet number 1 / (D w) | median grad_cosine | test accuracy |")
    print("|---|---|---|---|")
    for diffusion, (accuracy, cosine) in transport.items():
        pe = "inf (Appendix A)" if diffusion == 0 else f"{1.0 / (diffusion * median_w):.3g}"
        print(f"| {diffusion:g} | {pe} | {cosine:.3f} | {accuracy:.3f} |")


def plot(rows, transport, median_w: float, out: Path, overwrite: bool) -> Path:
    peclets = np.array([pe for pe in rows if pe > 0])
    column = {key: np.array([rows[pe][key] for pe in peclets]) for key in rows[peclets[0]]}
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_fidelity, ax_accuracy = fig.subplots(1, 2)
    left, right = peclets.min() / 30, peclets.max() * 30  # where Pe = 0 and Pe = inf are drawn
    ax_fidelity.semilogx(peclets, column["cosine"], "o-", color="tab:blue", label="one chemical, Pe = a|dv|/kappa: "
                         "cosine per example")
    ax_fidelity.semilogx(peclets, column["epoch_cosine"], "s-", color="tab:cyan", label="cosine of the epoch")
    ax_fidelity.semilogx(peclets, column["relative_error"], "^-", color="tab:red", label="relative error")
    ax_fidelity.plot([left], [rows[0.0]["cosine"]], "D", color="k", label="Pe = 0: diffusion mode")
    pure = [(1.0 / (d * median_w) if d else right, cosine) for d, (_, cosine) in transport.items()]
    ax_fidelity.plot(*zip(*pure), "v--", color="tab:orange", label="s+/s- mode, Pe = 1/(D w): median grad_cosine")
    ax_fidelity.set_xlabel("network Péclet number (left edge: 0; right edge: pure transport)")
    ax_fidelity.set_ylabel("against the exact gradient step")
    ax_fidelity.set_title("the update departs from the gradient")
    ax_fidelity.legend(fontsize=8)
    ax_accuracy.semilogx(peclets, column["accuracy"], "o-", color="tab:blue", label="one chemical, drifting")
    ax_accuracy.plot([left], [rows[0.0]["accuracy"]], "D", color="k", label="diffusion mode")
    pure_accuracy = [(1.0 / (d * median_w) if d else right, accuracy) for d, (accuracy, _) in transport.items()]
    ax_accuracy.plot(*zip(*pure_accuracy), "v--", color="tab:orange", label="s+/s- mode, Pe = 1/(D w)")
    ax_accuracy.set_ylim(0, 1.02)
    ax_accuracy.set_xlabel("network Péclet number")
    ax_accuracy.set_ylabel("final test accuracy")
    ax_accuracy.set_title("Iris accuracy")
    ax_accuracy.legend(fontsize=8, loc="lower left")
    for ax in (ax_fidelity, ax_accuracy):
        ax.set_xlim(left / 3, right * 3)
        for edge, label in ((left, "Pe = 0"), (right, "Pe = inf")):
            ax.axvline(edge, color="0.8", lw=0.8, zorder=0)
            ax.text(edge, 0.02, label, rotation=90, ha="right", va="bottom", fontsize=7, color="0.4")
    return save_figure(fig, out, overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(guarded(main))
