"""Nonlinear pipes: how far the chemical rule is from the gradient, and how it learns, as the flow law bends.

    python scenarios/nonlinear_pipes.py            # ~2.5 min on one core
    python scenarios/nonlinear_pipes.py --smoke    # seconds (CI)

Our extension: the paper's pipes are linear. Each pipe carries ``q = w g(dv)``, with the cubic
law ``g = dv + beta dv^3`` or a smooth diode (backward conductance ``w / (1 + beta)``, width 1
pressure unit), :mod:`simulator.nonlinear`. The fluid's steady state is solved by Newton's
method; the chemical keeps diffusing by the linear Laplacian ``L(w)`` and every pipe remodels
by the paper's local product ``-alpha du dv`` (the *chemical* rule); the *exact* variant
diffuses the chemical by the Jacobian ``J = L(w g'(dv))``, which makes its update the exact
gradient step. On the paper's 12x12 network and the Iris split of ``--seed``:

* **fidelity** at the start, per training example against its class's desired output (the
  Iris protocol's first-epoch targets, through the nonlinear pipes): the cosine and relative
  error of the chemical update against the exact step ``-alpha eta dC/dw``, mean over the 75
  examples, for both laws, with the drop product (the rule) and the flow product ``du g(dv)``;
* **Iris** test accuracy (the paper's protocol: moving targets, nearest class-mean output;
  every output through Newton) after 150 epochs at lr 3e-3, the chemical rule against the exact;
* **regression**: a teacher with the same flow law (conductances the student's times
  ``exp(0.5 N(0,1))``, inputs uniform in [0, 5]), test cost after 30 epochs at lr 3e-4 (the
  shipped regression config's rate), chemical against exact.

The nonlinearity is reported as ``beta <dv^2>``, with ``<dv^2>`` the mean squared pipe drop of
the linear network over the training examples (a third of the mean excess differential
conductance ``g' - 1`` of the cubic law at those drops). Writes ``outputs/nonlinear_pipes[_smoke]``
``.json`` (every number), ``.md`` (the tables) and ``.png`` (the figure); prints the tables.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.base import SimulationError
from simulator.commandline import ArgumentParser
from simulator.nonlinear import fidelity, flow_law, nonlinear_cost, nonlinear_steady_state, train_nonlinear
from simulator.outputs import save_figure, write_text
from simulator.scenario import checked_targets, default_out, guarded
from simulator.tasks import class_means, classify, iris_task

FULL = {
    "fidelity_betas": {"cubic": [0, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
                       "diode": [0, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]},
    "train_betas": [0, 0.01, 0.03, 0.1, 0.3, 1],
    "fidelity_examples": 75, "iris_epochs": 150, "iris_lr": 3e-3,
    "regression_epochs": 30, "regression_lr": 3e-4, "n_train": 100, "n_test": 50,
}  # fmt: skip
SMOKE = {
    "fidelity_betas": {"cubic": [0, 0.1], "diode": [0, 1]},
    "train_betas": [0, 0.1],
    "fidelity_examples": 6, "iris_epochs": 2, "iris_lr": 3e-3,
    "regression_epochs": 2, "regression_lr": 3e-4, "n_train": 10, "n_test": 5,
}  # fmt: skip
RULES = ("chemical", "exact")


def outputs_of(network, inputs, law) -> np.ndarray:
    """``[N, p]`` steady outputs of every row of ``inputs`` through pipes of law ``law``."""
    return np.stack([network.outputs(nonlinear_steady_state(network, x, law)) for x in inputs])


def drop_scale(network, inputs) -> dict:
    """The linear network's pipe drops over ``inputs``: rms and median ``|dv|``."""
    solver = simulator.LaplacianSolver(network)
    drops = np.abs(np.stack([network.drops(solver.solve(network.node_currents(x))) for x in inputs]))
    return {"rms": float(np.sqrt(np.mean(drops**2))), "median": float(np.median(drops))}


def iris_accuracy(network, split, law) -> float:
    """Test accuracy with the paper's protocol: the nearest of the test class means' outputs."""
    desired = outputs_of(network, class_means(split.x_test, split.y_test), law)
    return float(np.mean(classify(outputs_of(network, split.x_test, law), desired) == split.y_test))


def measure_fidelity(network, split, name: str, beta: float, count: int) -> dict:
    """Mean cosine and relative error over the first ``count`` training examples, both products."""
    law = flow_law(name, beta=beta)
    desired = outputs_of(network, class_means(split.x_train, split.y_train), law)
    row = {"law": name, "beta": beta}
    for local in ("drop", "flow"):
        found = np.array([fidelity(network, x, desired[y], law, local=local)
                          for x, y in zip(split.x_train[:count], split.y_train[:count])])  # fmt: skip
        row[f"cosine_{local}"], row[f"relative_error_{local}"] = np.nanmean(found, axis=0).tolist()
        row[f"cosine_{local}_min"] = float(np.nanmin(found[:, 0]))
    return row


def train_iris(network, split, beta: float, rule: str, plan: dict, seed: int) -> dict:
    law = flow_law("cubic", beta=beta)
    means = class_means(split.x_train, split.y_train)
    row = {"beta": beta, "rule": rule, "accuracy_before": iris_accuracy(network, split, law)}
    start = time.perf_counter()
    try:
        trained = train_nonlinear(network, split.x_train, lambda net: outputs_of(net, means, law)[split.y_train], law,
                                  rule=rule, lr=plan["iris_lr"], epochs=plan["iris_epochs"], seed=seed,
                                  evaluate=lambda net: {})  # fmt: skip
        row.update(accuracy_after=iris_accuracy(trained.network, split, law), floored=trained.floored, failed="")
    except SimulationError as error:  # kept, and said so, in the table
        row.update(accuracy_after=float("nan"), floored=0, failed=str(error))
    row["seconds"] = time.perf_counter() - start
    return row


def teacher_data(network, law, plan: dict, seed: int):
    """``(inputs, targets)``: a teacher with flow law ``law`` on the same pipes (the streams of
    ``simulator.tasks.teacher_student_data``: 3 the teacher, 4 the inputs)."""
    teacher_rng, input_rng = (np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,))) for k in (3, 4))
    teacher = network.with_conductance(network.conductance * np.exp(0.5 * teacher_rng.normal(size=network.n_edges)))
    inputs = input_rng.uniform(0.0, 5.0, (plan["n_train"] + plan["n_test"], network.n_inputs))
    return inputs, outputs_of(teacher, inputs, law)


def train_regression(network, beta: float, rule: str, plan: dict, seed: int) -> dict:
    law = flow_law("cubic", beta=beta)
    inputs, targets = teacher_data(network, law, plan, seed)
    n = plan["n_train"]

    def test_cost(net) -> float:
        return float(np.mean([nonlinear_cost(net, x, y, law) for x, y in zip(inputs[n:], targets[n:])]))

    row = {"beta": beta, "rule": rule, "test_cost_before": test_cost(network)}
    start = time.perf_counter()
    try:
        trained = train_nonlinear(network, inputs[:n], targets[:n], law, rule=rule, lr=plan["regression_lr"],
                                  epochs=plan["regression_epochs"], seed=seed, evaluate=lambda net: {})  # fmt: skip
        row.update(test_cost_after=test_cost(trained.network), failed="")
    except SimulationError as error:
        row.update(test_cost_after=float("nan"), failed=str(error))
    row["seconds"] = time.perf_counter() - start
    return row


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="network, Iris split, shuffle and teacher (default 0)")
    parser.add_argument("--out", type=Path, help="the table as JSON (default outputs/nonlinear_pipes[_smoke].json); "
                        "its .md and .png beside it")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--smoke", action="store_true", help="two betas, two epochs, a few examples (CI)")
    args = parser.parse_args(argv)
    out = default_out("nonlinear_pipes", args.out, args.smoke, suffix=".json")
    paths = {"json": out, "md": out.with_suffix(".md"), "png": out.with_suffix(".png")}
    code = checked_targets(paths.values(), args.overwrite)
    if code:
        return code
    plan, begin = SMOKE if args.smoke else FULL, time.perf_counter()
    network, split = simulator.lattice_network(side=12, d=4, seed=args.seed), iris_task(args.seed)
    scale = drop_scale(network, split.x_train)
    results = {"config": {"seed": args.seed, "smoke": args.smoke, **plan, "diode_width": 1.0, "eta": 1.0,
                          "network": "lattice_network(side=12, d=4, seed)", "w_min": 1e-4},
               "drop_scale": scale, "simulator_version": simulator.__version__}  # fmt: skip
    results["fidelity"] = [measure_fidelity(network, split, name, beta, plan["fidelity_examples"])
                           for name, betas in plan["fidelity_betas"].items() for beta in betas]  # fmt: skip
    print(f"fidelity: {len(results['fidelity'])} points, {time.perf_counter() - begin:.0f} s", flush=True)
    results["iris"] = [train_iris(network, split, beta, rule, plan, args.seed)
                       for beta in plan["train_betas"] for rule in RULES]  # fmt: skip
    print(f"iris: {len(results['iris'])} runs, {time.perf_counter() - begin:.0f} s", flush=True)
    results["regression"] = [train_regression(network, beta, rule, plan, args.seed)
                             for beta in plan["train_betas"] for rule in RULES]  # fmt: skip
    results["wall_time"] = time.perf_counter() - begin
    table = tables(results)
    write_text(paths["json"], json.dumps(results, indent=1) + "\n", args.overwrite)
    write_text(paths["md"], table, args.overwrite)
    plot(results, paths["png"], args.overwrite)
    print(table)
    print(f"{results['wall_time']:.0f} s; table: {paths['json']}, {paths['md']}\nfigure: {paths['png']}")
    return 0


def _cell(value, fmt: str) -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, fmt)


def tables(results: dict) -> str:
    """The Markdown tables: the cubic law (fidelity, Iris, regression) and the diode (fidelity)."""
    mean_square = results["drop_scale"]["rms"] ** 2
    by = {(r["law"], r["beta"]): r for r in results["fidelity"]}
    iris = {(r["beta"], r["rule"]): r for r in results["iris"]}
    regression = {(r["beta"], r["rule"]): r for r in results["regression"]}
    lines = [f"Cubic pipes `g = dv + beta dv^3` (<dv^2> = {mean_square:.3g}: the linear network's mean squared pipe "
             "drop over the Iris training inputs); fidelity of the chemical update against the exact step, mean over "
             "the training examples; Iris test accuracy and regression test cost after training (chemical rule / "
             "exact variant)", "",
             "| beta | beta <dv^2> | cosine | relative error | cosine, du g(dv) | Iris accuracy: before | chemical "
             "| exact | regression test cost: before | chemical | exact |", "|---" * 11 + "|"]  # fmt: skip
    betas = sorted({beta for law, beta in by if law == "cubic"} | {beta for beta, _ in iris})
    for beta in betas:
        f, i, g = by.get(("cubic", beta), {}), iris.get((beta, "chemical"), {}), regression.get((beta, "chemical"), {})
        ie, ge = iris.get((beta, "exact"), {}), regression.get((beta, "exact"), {})
        lines.append(f"| {beta:g} | {beta * mean_square:.3g} | {_cell(f.get('cosine_drop'), '.4f')} | "
                     f"{_cell(f.get('relative_error_drop'), '.3g')} | {_cell(f.get('cosine_flow'), '.4f')} | "
                     f"{_cell(i.get('accuracy_before'), '.3f')} | {_cell(i.get('accuracy_after'), '.3f')} | "
                     f"{_cell(ie.get('accuracy_after'), '.3f')} | {_cell(g.get('test_cost_before'), '.3g')} | "
                     f"{_cell(g.get('test_cost_after'), '.3g')} | "
                     f"{_cell(ge.get('test_cost_after'), '.3g')} |")  # fmt: skip
    lines += ["", "Diode pipes (backward conductance w / (1 + beta), width 1): fidelity", "",
              "| beta | cosine | relative error | cosine, du g(dv) | relative error, du g(dv) |",
              "|---" * 5 + "|"]  # fmt: skip
    for row in (r for r in results["fidelity"] if r["law"] == "diode"):
        lines.append(f"| {row['beta']:g} | {row['cosine_drop']:.4f} | {row['relative_error_drop']:.3g} | "
                     f"{row['cosine_flow']:.4f} | {row['relative_error_flow']:.3g} |")  # fmt: skip
    failed = [f"{kind} beta={r['beta']:g} {r['rule']}: {r['failed']}" for kind in ("iris", "regression")
              for r in results[kind] if r["failed"]]  # fmt: skip
    return "\n".join(lines + (["", "Stopped runs:", *failed] if failed else [])) + "\n"


def plot(results: dict, path: Path, overwrite: bool) -> Path:
    """(a) fidelity against the nonlinearity, (b) Iris accuracy, (c) regression test cost."""
    mean_square = results["drop_scale"]["rms"] ** 2
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    ax_fid, ax_iris, ax_reg = fig.subplots(1, 3)
    styles = {("cubic", "drop"): ("tab:blue", "-", "cubic: du dv (the rule)"),
              ("cubic", "flow"): ("tab:blue", "--", "cubic: du g(dv)"),
              ("diode", "drop"): ("tab:orange", "-", "diode: du dv (the rule)"),
              ("diode", "flow"): ("tab:orange", "--", "diode: du g(dv)")}  # fmt: skip
    for (law, local), (colour, line, label) in styles.items():
        rows = [r for r in results["fidelity"] if r["law"] == law and r["beta"] > 0]
        x = [r["beta"] * (mean_square if law == "cubic" else 1.0) for r in rows]
        ax_fid.plot(x, [r[f"cosine_{local}"] for r in rows], line, color=colour, marker="o", ms=4, label=label)
    ax_fid.axhline(1.0, color="grey", lw=0.8, ls=":", label="linear pipes (beta = 0): exactly 1")
    ax_fid.set_xscale("log")
    ax_fid.set_xlabel("nonlinearity (dimensionless): cubic beta <dv^2>, diode beta")
    ax_fid.set_ylabel("cosine(chemical update, -dC/dw), mean over examples")
    ax_fid.set_title("(a) fidelity at the start (Iris network)")
    ax_fid.legend(fontsize=8)
    _trained(ax_iris, results["iris"], "accuracy_after", "accuracy_before", mean_square)
    ax_iris.set_ylabel("Iris test accuracy (fraction)")
    ax_iris.set_title(f"(b) Iris, cubic pipes, {results['config']['iris_epochs']} epochs")
    _trained(ax_reg, results["regression"], "test_cost_after", "test_cost_before", mean_square)
    ax_reg.set_yscale("log")
    ax_reg.set_ylabel("regression test cost (pressure^2)")
    ax_reg.set_title(f"(c) teacher-student, cubic pipes, {results['config']['regression_epochs']} epochs")
    return save_figure(fig, path, overwrite, dpi=130)


def _trained(ax, rows, after: str, before: str, mean_square: float) -> None:
    """After training for each rule against beta <dv^2> (log axis), before training in grey;
    beta = 0 (the linear pipes, where the two rules are one) as dotted lines."""
    colours = {"chemical": "tab:green", "exact": "tab:purple"}
    for rule, colour in colours.items():
        positive = [r for r in rows if r["rule"] == rule and r["beta"] > 0]
        how = "(du dv, chemical by L)" if rule == "chemical" else "(chemical by J)"
        ax.plot([r["beta"] * mean_square for r in positive], [r[after] for r in positive], "-o", color=colour,
                ms=4, label=f"{rule} {how}")  # fmt: skip
    positive = [r for r in rows if r["rule"] == "chemical" and r["beta"] > 0]
    ax.plot([r["beta"] * mean_square for r in positive], [r[before] for r in positive], "-s", color="grey",
            ms=3, label="before training")  # fmt: skip
    for r in (r for r in rows if r["rule"] == "chemical" and r["beta"] == 0):
        ax.axhline(r[after], color="black", ls=":", lw=1, label="linear pipes (beta = 0), after: both rules")
        ax.axhline(r[before], color="grey", ls=":", lw=1, label="linear pipes (beta = 0), before")
    ax.set_xscale("log")
    ax.set_xlabel("nonlinearity beta <dv^2> (dimensionless)")
    ax.legend(fontsize=8)


if __name__ == "__main__":
    sys.exit(guarded(main))
