"""How far each rule's update is from the exact gradient step, as the nudge eta varies.

    python scenarios/gradient_fidelity.py                # eta 1e-4..10, 8 random networks
    python scenarios/gradient_fidelity.py --cost huber   # the same for another cost
    python scenarios/gradient_fidelity.py --smoke        # seconds (CI)

For every eta and network (perturbed lattices of several sizes, random terminals and task):
the relative error ``|dw - step| / |step|`` of the chemical, EP and CL updates against the
gradient step ``-alpha eta dC/dw``; for CL also against the step on the cost it descends,
``C_G = 1/2 err^T G^{-1} err`` (``G``: the output pairs' mutual resistance, held fixed), and
its cosine with ``-dC/dw``; and the chemical update against central finite differences of
the cost. ``--cost`` takes any shipped cost (the feedback is ``-eta dC/dy``; the softmax
cross-entropy's targets are random class probabilities; ``C_G`` is the squared error's
only, so that column is NaN for the others). Writes ``outputs/gradient_fidelity[_COST].h5``
and ``.png`` and prints the fitted log-log slopes (EP and CL near 1; the chemical rule at
round-off for every eta).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.commandline import ArgumentParser
from simulator.costs import COSTS
from simulator.outputs import save_figure
from simulator.rules import coupled_cost_gradient
from simulator.scenario import checked_targets, guarded
from simulator.trajectory import Series, TrajectoryWriter, load_trajectory

MEASURES = ("chemical", "ep", "coupled", "coupled_vs_weighted", "coupled_cosine", "chemical_vs_finite_differences")


def networks(count: int, seed: int) -> list[simulator.Network]:
    sides = (6, 8, 10, 12)
    return [simulator.lattice_network(side=sides[k % len(sides)], d=4, seed=seed + k) for k in range(count)]


def measure(net: simulator.Network, etas, seed: int, cost: str = "squared") -> np.ndarray:
    """``[len(etas), len(MEASURES)]`` errors (and CL's cosine) on one network and random task."""
    rng = np.random.default_rng(seed)
    inputs, targets = rng.uniform(0, 5, net.n_inputs), rng.normal(0, 1, net.n_outputs)
    if cost == "softmax_cross_entropy":  # class probabilities
        targets = rng.uniform(0.1, 1.0, net.n_outputs)
        targets /= targets.sum()
    solver = simulator.LaplacianSolver(net)
    gradient = simulator.cost_gradient(net, inputs, targets, solver=solver, cost=cost)
    numeric = simulator.finite_difference_gradient(net, inputs, targets, cost=cost)
    weighted = coupled_cost_gradient(net, inputs, targets, solver=solver) if cost == "squared" else None
    rows = []
    for eta in etas:
        step = -eta * gradient
        update = {
            rule: simulator.learning_update(net, inputs, targets, rule=rule, alpha=1.0, eta=eta, solver=solver,
                                            cost=cost)  # fmt: skip
            for rule in ("chemical", "ep", "coupled")
        }
        relative = lambda dw, reference: np.linalg.norm(dw - reference) / np.linalg.norm(reference)  # noqa: E731
        cl = update["coupled"]
        rows.append([
            relative(update["chemical"], step),
            relative(update["ep"], step),
            relative(cl, step),
            relative(cl, -eta * weighted) if weighted is not None else np.nan,
            float(cl @ step / (np.linalg.norm(cl) * np.linalg.norm(step))),
            relative(update["chemical"], -eta * numeric),
        ])  # fmt: skip
    return np.array(rows)


def slope(etas, errors) -> float:
    """Log-log slope over the small-eta half (where the leading order dominates)."""
    small = etas <= np.sqrt(etas.min() * etas.max())
    return float(np.polyfit(np.log(etas[small]), np.log(errors[small]), 1)[0])


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--networks", type=int, default=8, help="random networks (default %(default)s)")
    parser.add_argument("--out", type=Path, help="run file (default outputs/gradient_fidelity[_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--cost", choices=sorted(COSTS), default="squared", help="what the feedback descends")
    parser.add_argument("--smoke", action="store_true", help="two networks, six etas (CI)")
    args = parser.parse_args(argv)
    if args.networks < 1:
        parser.error("--networks must be >= 1")
    etas = np.logspace(-4, 1, 6 if args.smoke else 21)  # both hold eta = 1, where the chemical rule is exact
    nets = networks(2 if args.smoke else args.networks, args.seed)
    name = "gradient_fidelity" + ("" if args.cost == "squared" else f"_{args.cost}") + ("_smoke" if args.smoke else "")
    out = args.out or Path("outputs") / f"{name}.h5"
    if args.out is None:
        out.parent.mkdir(exist_ok=True)
    code = checked_targets([out, out.with_suffix(".png")], args.overwrite)
    if code:
        return code
    results = np.stack([measure(net, etas, args.seed + 1000 + k, args.cost) for k, net in enumerate(nets)], axis=1)
    # results: [eta, network, measure]
    config = {
        "seed": args.seed,
        "networks": len(nets),
        "etas": etas.tolist(),
        "sides": [int(np.sqrt(n.n_nodes)) for n in nets],
        "cost": args.cost,
    }
    series = [Series("observables/eta", (), "eta", description="nudge eta")] + [
        Series(f"observables/{name}", (len(nets),), "eta", description=f"per network: {name}") for name in MEASURES
    ]
    with TrajectoryWriter(out, network=nets[0], config=config, seed=args.seed, series=series, command_line=sys.argv,
                          overwrite=args.overwrite) as file:  # fmt: skip
        file.append("eta", step=np.arange(len(etas)), **{"observables/eta": etas},
                    **{f"observables/{name}": results[:, :, i] for i, name in enumerate(MEASURES)})  # fmt: skip
    figure = plot(out, overwrite=args.overwrite)
    worst_chemical = results[:, :, 0].max()
    print(f"{len(nets)} networks, eta {etas[0]:g}..{etas[-1]:g}, cost {args.cost}")
    print(f"chemical rule: largest relative error {worst_chemical:.1e} (round-off) over every eta")
    print(f"chemical rule against central finite differences: largest relative error {results[:, :, 5].max():.1e}")
    for i, name in ((1, "EP vs gradient of C"), (3, "CL vs gradient of C_G"))[: 2 if args.cost == "squared" else 1]:
        slopes = [slope(etas, results[:, k, i]) for k in range(len(nets))]
        print(f"{name}: fitted slope {np.mean(slopes):.3f} (min {np.min(slopes):.3f}, max {np.max(slopes):.3f})")
    cosine = results[:, :, 4]
    print(f"CL cosine with -dC/dw at eta={etas[0]:g}: mean {cosine[0].mean():.3f} (min {cosine[0].min():.3f})")
    print(f"trajectory: {out}\nfigure:     {figure}")
    return 0


def plot(path, overwrite: bool = False) -> Path:
    """Relative error against eta, one line per network, from the run file."""
    run = load_trajectory(path)
    _, _, etas = run.series("observables/eta")
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax_error, ax_cosine = fig.subplots(1, 2)
    styles = {
        "chemical": ("tab:green", "chemical vs -dC/dw"),
        "ep": ("tab:blue", "EP vs -dC/dw"),
        "coupled": ("tab:red", "CL vs -dC/dw"),
        "coupled_vs_weighted": ("tab:orange", "CL vs -dC_G/dw"),
    }
    recorded = [run.series(f"observables/{name}")[2] for name in styles]
    smallest = min((np.nanmin(v[v > 0]) for v in recorded if np.any(v > 0)), default=1e-16)
    floor, zero_label = min(1e-17, 0.1 * smallest), "exact 0 (below the axis)"  # below every nonzero error
    for name, (colour, label) in styles.items():
        values = run.series(f"observables/{name}")[2]
        if np.all(np.isnan(values)):
            continue  # C_G: the squared error's only
        zero = values == 0  # no place on a log axis: the line drops to the floor, marked as exact 0
        for k in range(values.shape[1]):
            ax_error.plot(etas, np.where(zero[:, k], floor, values[:, k]), color=colour, lw=1, alpha=0.7,
                          label=label if k == 0 else None)  # fmt: skip
        if zero.any():
            ax_error.plot(np.broadcast_to(etas[:, None], zero.shape)[zero], np.full(zero.sum(), floor), "v",
                          color=colour, mec="k", mew=0.6, ms=7, clip_on=False, zorder=3, label=zero_label)  # fmt: skip
            zero_label = None  # one legend entry for every rule's zeros
    ax_error.set_xscale("log")
    ax_error.set_yscale("log")
    if zero_label is None:
        ax_error.set_ylim(bottom=floor)
    ax_error.set_xlabel("nudge eta")
    ax_error.set_ylabel("|dw - reference step| / |reference step|")
    ax_error.set_title(f"update error against the gradient step ({run.config.get('cost', 'squared')} cost)")
    ax_error.legend(fontsize=8)
    cosine = run.series("observables/coupled_cosine")[2]
    ax_cosine.plot(etas, cosine, color="tab:red", lw=1, alpha=0.7)
    ax_cosine.set_xscale("log")
    ax_cosine.set_xlabel("nudge eta")
    ax_cosine.set_ylabel("cosine(CL update, -dC/dw)")
    squared = run.config.get("cost", "squared") == "squared"
    ax_cosine.set_title("CL follows C_G, not C" if squared else "CL against the gradient of C")
    return save_figure(fig, Path(path).with_suffix(".png"), overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(guarded(main))
