"""Figures drawn from run files alone (never from live objects), so any run can be replotted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .outputs import check_target, figure_format, save_figure
from .trajectory import load_trajectory, verify

__all__ = ["plot_run", "plot_iris_run", "plot_task_run", "plot_comparison", "comparison_figure", "draw_network",
           "draw_terminals", "draw_change", "describe"]  # fmt: skip

INPUT_COLOUR, OUTPUT_COLOUR = "tab:red", "tab:green"


def draw_network(ax, positions, edges, widths, colours, input_pairs, output_pairs, *, outline=False, legend=True):
    """Pipes as segments of the given widths and colours, and the terminals
    (:func:`draw_terminals`). ``outline``: first draw every pipe thin and light, so pipes of
    zero width still show the network. ``legend``: a one-row key of the four markers under the panel."""
    segments = positions[edges]
    if outline:
        ax.add_collection(LineCollection(segments, linewidths=0.4, colors="0.85"))
    ax.add_collection(LineCollection(segments, linewidths=widths, colors=colours, capstyle="round"))
    draw_terminals(ax, positions, input_pairs, output_pairs, legend=legend)
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.set_xticks([])
    ax.set_yticks([])


def draw_terminals(ax, positions, input_pairs, output_pairs, *, size: float = 45, legend=True, fontsize=8):
    """Input nodes as red squares and output nodes as green circles, the ``+`` terminal filled
    and the ``-`` terminal open, so the two read apart in grey print too; ``size`` in points^2.
    ``legend``: a one-row key of the four markers under the panel (only theirs, whatever else
    the caller has labelled on ``ax``)."""
    terminals = [
        ax.scatter(*positions[pairs[:, column]].T, marker=marker, s=size, facecolors=face, edgecolors=colour,
                   linewidths=1.6 * (size / 45) ** 0.25, zorder=3, label=f"{label} {sign}")
        for pairs, colour, marker, label in ((input_pairs, INPUT_COLOUR, "s", "input"),
                                             (output_pairs, OUTPUT_COLOUR, "o", "output"))
        for column, sign, face in ((0, "+", colour), (1, "-", "white"))
    ]  # fmt: skip
    if legend:
        ax.legend(handles=terminals, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4, fontsize=fontsize,
                  frameon=False, handletextpad=0.2, columnspacing=1.2)  # fmt: skip


def draw_change(ax, run, label: str = "conductance change", *, legend: bool = True) -> float:
    """The run's conductance change, first to last record, on ``ax``: red thinner, blue
    thicker, width proportional to the magnitude, over a faint outline (``legend``: the key of
    the terminals' markers, :func:`draw_network`). Returns max |dW|."""
    _, _, conductance = run.series("observables/edges/conductance")
    change = conductance[-1] - conductance[0]
    scale = float(np.abs(change).max())
    widths = 5.0 * np.abs(change) / scale if scale > 0 else np.zeros_like(change)
    draw_network(
        ax, run.fixed("particles/nodes/position"), run.fixed("connectivity/edges"), widths,
        np.where(change < 0, "tab:red", "tab:blue"), run.fixed("connectivity/input_pairs"),
        run.fixed("connectivity/output_pairs"), outline=True, legend=legend,
    )  # fmt: skip
    ax.set_title(f"{label} (red -, blue +; max |dw| = {scale:.3g})")
    return scale


def _figure_target(path, out, overwrite: bool, default: Path | None = None) -> Path:
    """The figure's path (default: the run file with ``.png``), checked before any drawing,
    and the run file read whole once, so that a damaged one is named before it is drawn."""
    out = (default or Path(path).with_suffix(".png")) if out is None else Path(out)
    figure_format(out)
    check_target(out, overwrite)
    verify(path)
    return out


def plot_iris_run(path, out=None, *, dpi: int = 150, overwrite: bool = False) -> Path:
    """The paper's Fig. 2 from a run file: squared error per training step, accuracy per
    epoch (with the response norm), the initial network, and the conductance change.

    ``out`` defaults to the run file with a ``.png`` suffix; an existing figure is replaced
    only with ``overwrite`` (:mod:`simulator.outputs`). Returns the figure's path.
    """
    run = load_trajectory(path)
    out = _figure_target(path, out, overwrite)
    _, _, epoch = run.series("observables/epoch")
    accuracy = {
        k: run.series(f"observables/{k}")[2] for k in ("accuracy_train", "accuracy_test", "accuracy_test_strict")
    }
    response = run.series("observables/response_norm")[2]
    _, _, conductance = run.series("observables/edges/conductance")
    positions = run.fixed("particles/nodes/position")
    edges = run.fixed("connectivity/edges")
    inputs, outputs = run.fixed("connectivity/input_pairs"), run.fixed("connectivity/output_pairs")
    status, _ = run.status
    config = run.config
    task = config.get("task", {}) if isinstance(config.get("task"), Mapping) else {}
    task_name = str(task.get("name", "iris"))
    n_classes = len(outputs)  # the classification tasks read one output pair per class
    moving = task.get("targets", "moving") in ("moving", "rescaled")

    # a fixed grid, not constrained layout: the layout engine took half the figure's time, and a
    # sweep draws one figure per point
    fig = Figure(figsize=(11, 9.5))
    (ax_cost, ax_acc), (ax_net, ax_change) = fig.subplots(
        2, 2, gridspec_kw={"left": 0.07, "right": 0.93, "bottom": 0.07, "top": 0.91, "wspace": 0.32, "hspace": 0.3}
    )

    _cost_panel(ax_cost, run, "error")

    ax_acc.plot(epoch, accuracy["accuracy_train"], color="tab:orange", label="train")
    if moving:
        ax_acc.plot(epoch, accuracy["accuracy_test"], color="tab:blue", lw=2, label="test (test class means, paper)")
        ax_acc.plot(
            epoch, accuracy["accuracy_test_strict"], color="tab:blue", ls="--", lw=1, label="test (train class means)"
        )
    else:  # fixed targets: the two test accuracies are one
        ax_acc.plot(epoch, accuracy["accuracy_test"], color="tab:blue", lw=2, label=f"test ({task['targets']} targets)")
    ax_acc.axhline(1 / n_classes, color="0.6", lw=0.8, ls=":", label=f"chance (1/{n_classes})")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    final = accuracy["accuracy_test"][-1] if len(epoch) else np.nan
    ax_acc.set_title(f"accuracy per epoch (final test {final:.3f})")
    ax_resp = ax_acc.twinx()
    ax_resp.plot(epoch, response, color="0.45", lw=1, ls="-.", label="response norm |R|")
    ax_resp.set_ylabel("response norm |R| (transfer matrix)", color="0.45")
    ax_resp.set_ylim(0, max(1e-12, 1.05 * np.max(response)) if len(response) else 1)
    lines = ax_acc.get_legend_handles_labels()
    more = ax_resp.get_legend_handles_labels()
    ax_acc.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right", fontsize=8)

    w0 = conductance[0]
    thickest = 4.0 * min(1.0, (144 / len(positions)) ** 0.75)  # the paper's 144 nodes at 4 points; more: thinner
    draw_network(ax_net, positions, edges, thickest * w0 / w0.max(), "tab:blue", inputs, outputs)
    ax_net.set_title("initial network (width ~ conductance)")

    draw_change(ax_change, run)
    # each title at a fixed height: matplotlib's automatic placement (clear of top tick labels,
    # which these panels have none of) measured every panel's axes on each draw
    for ax in (ax_cost, ax_acc, ax_net, ax_change):
        ax.set_title(ax.get_title(), y=1.0)

    fig.suptitle(
        f"{'Iris' if task_name == 'iris' else task_name.capitalize()}, {describe(config)}, seed {run.seed}, "
        f"{int(epoch[-1]) if len(epoch) else 0} epochs" + ("" if status == "complete" else f"  [run {status}]")
    )
    return save_figure(fig, out, overwrite, dpi)


def describe(config: dict) -> str:
    """``"chemical rule, quasistatic, lr 0.003"`` (or the advection mode's rates) from a run file's config."""
    rule, dynamics = config.get("rule", {}), config.get("dynamics", {})
    if not isinstance(rule, Mapping):  # a file from before run configs held flat keys
        advection = rule == "advection"
        rule = {"name": rule, "lr": config.get("lr", np.nan)}
        dynamics = {**config, "name": "advection"} if advection else {"name": config.get("dynamics", "?")}
    if dynamics.get("name") == "advection":
        return (f"advection mode, xi {dynamics['xi']:g}, lam {dynamics['lam']:g}, release every "
                f"{dynamics['release_every']}")  # fmt: skip
    return f"{rule.get('name', '?')} rule, {dynamics.get('name', '?')}, lr {rule.get('lr', np.nan):g}"


def plot_run(path, out=None, *, dpi: int = 150, overwrite: bool = False) -> Path:
    """The figure of any run file: the paper's Fig. 2 for Iris runs (:func:`plot_iris_run`),
    else :func:`plot_task_run`."""
    names = load_trajectory(path).clocks().get("epoch", [])
    if "observables/accuracy_test" in names:
        return plot_iris_run(path, out, dpi=dpi, overwrite=overwrite)
    return plot_task_run(path, out, dpi=dpi, overwrite=overwrite)


def _cost_label(config: Mapping, name: str = "cost") -> str:
    """The axis label of a run's cost: the squared error's formula, or its own cost's name."""
    rule = config.get("rule", {})
    cost = rule.get("cost", "squared") if isinstance(rule, Mapping) else "squared"
    if cost == "squared":
        return ("squared error" if name == "error" else name) + r" $\frac{1}{2}|v - v_d|^2$"
    return f"{cost.replace('_', ' ')} cost"


def _cost_panel(ax, run, name: str = "cost") -> None:
    """Cost of each presentation, with the mean of each epoch."""
    cost_step, _, cost = run.series("observables/cost")
    epoch_step, _, _ = run.series("observables/epoch")
    ax.scatter(cost_step, cost, s=2, color="tab:blue", alpha=0.5, linewidths=0, label="each example")
    if len(epoch_step) > 1 and len(cost):
        per_epoch = int(epoch_step[1] - epoch_step[0])
        n_full = len(cost) // per_epoch
        if n_full:
            means = cost[: n_full * per_epoch].reshape(n_full, per_epoch).mean(axis=1)
            ax.plot(epoch_step[1 : n_full + 1], means, color="navy", lw=1.5, label="epoch mean")
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())  # a narrow range's minor labels pushed the axis label off
    ax.set_xlabel("training step (presentations)")
    ax.set_ylabel(_cost_label(run.config, name))
    ax.set_title(f"{name} of each example as it is shown")
    if len(ax.get_lines()):
        ax.legend(loc="upper right", fontsize=8)


def plot_task_run(path, out=None, *, dpi: int = 150, overwrite: bool = False) -> Path:
    """Any task's run: cost per presentation, train and test cost per epoch, the initial network,
    and the conductance change. ``out`` defaults to the run file with ``.png``."""
    run = load_trajectory(path)
    out = _figure_target(path, out, overwrite)
    fig = Figure(figsize=(11, 9.5), layout="constrained")
    (ax_cost, ax_epoch), (ax_net, ax_change) = fig.subplots(2, 2)
    _cost_panel(ax_cost, run)
    _, _, epoch = run.series("observables/epoch")
    for key, style in (("cost_test", dict(color="tab:blue", lw=2.5, alpha=0.7)),
                       ("cost_train", dict(color="tab:orange", lw=1, ls="--"))):  # fmt: skip
        ax_epoch.plot(epoch, run.series(f"observables/{key}")[2], label=key.replace("_", " "), **style)
    ax_epoch.set_yscale("log")
    ax_epoch.set_xlabel("epoch")
    ax_epoch.set_ylabel("mean cost at steady state")
    test = run.series("observables/cost_test")[2]
    ratio = test[0] / test[-1] if len(test) and test[-1] > 0 else np.nan
    ax_epoch.set_title(f"cost per epoch (test cost fell {ratio:.3g}x)")
    ax_epoch.legend(fontsize=8)
    _, _, conductance = run.series("observables/edges/conductance")
    w0 = conductance[0]
    draw_network(ax_net, run.fixed("particles/nodes/position"), run.fixed("connectivity/edges"), 4.0 * w0 / w0.max(),
                 "tab:blue", run.fixed("connectivity/input_pairs"), run.fixed("connectivity/output_pairs"))  # fmt: skip
    ax_net.set_title("initial network (width ~ conductance)")
    draw_change(ax_change, run)
    status, _ = run.status
    task = run.config.get("task", {}).get("name", "?")
    fig.suptitle(f"task {task}, {describe(run.config)}, seed {run.seed}, {int(epoch[-1]) if len(epoch) else 0} "
                 "epochs" + ("" if status == "complete" else f"  [run {status}]"))  # fmt: skip
    return save_figure(fig, out, overwrite, dpi)


def plot_comparison(path_a, path_b, out=None, *, dpi: int = 130, overwrite: bool = False) -> Path:
    """Two run files side by side (e.g. diffusion and advection on the same network, seed and
    task): the panels of :func:`comparison_figure`.

    ``out`` defaults to ``<a>_vs_<b>.png`` beside the first file. Returns the figure's path.
    """
    beside = Path(path_a).with_name(f"{Path(path_a).stem}_vs_{Path(path_b).stem}.png")
    out = _figure_target(path_a, out, overwrite, beside)
    verify(path_b)
    return save_figure(comparison_figure(load_trajectory(path_a), load_trajectory(path_b)), out, overwrite, dpi)


def _has(run, series: str) -> bool:
    return any(series in names for names in run.clocks().values())


def _comparison_label(run) -> str:
    """The file's stem, and its rule or mode unless the stem says so already (``advection_smoke``,
    not ``advection_smoke (advection mode)``)."""
    stem, kind = Path(run.path).stem, describe(run.config).split(",")[0]
    words = set(re.split(r"[^a-z0-9]+", stem.lower()))
    return stem if kind.split()[0].lower() in words else f"{stem} ({kind})"


def comparison_figure(run_a, run_b) -> Figure:
    """Two loaded runs side by side, only in panels both can fill: the cost of each example;
    test and train accuracy per epoch when both are Iris runs, else test and train cost per
    epoch; ``grad_cosine`` when either file has it (a file without it is the exact-gradient
    rule: the line at cosine 1), so two diffusion runs get no empty panel; the two
    conductance-change maps, and a summary of each run."""
    runs = [run_a, run_b]
    labels = [_comparison_label(r) for r in runs]
    colours = ("tab:blue", "tab:red")
    cosine = any(_has(r, "observables/grad_cosine") for r in runs)
    iris = all(_has(r, "observables/accuracy_test") for r in runs)
    fig = Figure(figsize=(13, 9) if cosine else (12, 9), layout="constrained")
    grid = fig.add_gridspec(2, 6)  # the top row in two or three panels, the bottom row in three
    top = [fig.add_subplot(grid[0, k : k + (2 if cosine else 3)]) for k in ((0, 2, 4) if cosine else (0, 3))]
    bottom = [fig.add_subplot(grid[1, k : k + 2]) for k in (0, 2, 4)]
    _comparison_costs(top[0], runs, labels, colours)
    _comparison_epochs(top[1], runs, labels, colours, iris)
    if cosine:
        _comparison_cosine(top[2], runs, labels, colours)
    for ax, run, label in zip(bottom[:2], runs, labels):
        draw_change(ax, run, f"{label}\nconductance change")  # two lines: three panels to a row
        ax.title.set_fontsize(9)
    metric, fmt = ("accuracy", ".3f") if iris else ("cost", ".3g")
    lines = []
    for run, label in zip(runs, labels):
        values = run.series(f"observables/{metric}_test")[2]
        lines.append(f"{label}\n  test {metric} {values[0]:{fmt}} -> {values[-1]:{fmt}}\n  status {run.status[0]}")
    bottom[2].axis("off")
    bottom[2].text(0.0, 0.9, "\n\n".join(lines), va="top", fontsize=9, family="monospace")
    fig.suptitle(
        f"seed {runs[0].seed} vs seed {runs[1].seed}" if runs[0].seed != runs[1].seed else f"seed {runs[0].seed}"
    )
    return fig


def _comparison_costs(ax, runs, labels, colours) -> None:
    """Each run's cost of each example against training step, with its epoch means."""
    for run, label, colour in zip(runs, labels, colours):
        step, _, cost = run.series("observables/cost")
        epoch_step, _, _ = run.series("observables/epoch")
        per_epoch = int(epoch_step[1] - epoch_step[0]) if len(epoch_step) > 1 else max(1, len(cost))
        n_full = len(cost) // per_epoch
        ax.scatter(step, cost, s=1, color=colour, alpha=0.25, linewidths=0)
        if n_full:
            means = cost[: n_full * per_epoch].reshape(n_full, per_epoch).mean(axis=1)
            ax.plot(epoch_step[1 : n_full + 1], means, color=colour, lw=1.5, label=f"{label}, epoch mean")
    ax.set_yscale("log")
    ax.set_xlabel("training step (presentations)")
    costs = {_cost_label(r.config) for r in runs}
    ax.set_ylabel(costs.pop() if len(costs) == 1 else "cost (each run's own)")
    ax.set_title("cost of each example as it is shown")
    ax.legend(fontsize=7)


def _comparison_epochs(ax, runs, labels, colours, iris: bool) -> None:
    """Test (thick) and train (dotted) accuracy per epoch, or cost per epoch for other tasks."""
    metric = "accuracy" if iris else "cost"
    for run, label, colour in zip(runs, labels, colours):
        _, _, epoch = run.series("observables/epoch")
        ax.plot(epoch, run.series(f"observables/{metric}_test")[2], color=colour, lw=2, label=f"{label} test")
        ax.plot(epoch, run.series(f"observables/{metric}_train")[2], color=colour, lw=1, ls=":", label="train")
    ax.set_xlabel("epoch")
    if iris:
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("accuracy")
        ax.set_title("accuracy per epoch")
    else:
        ax.set_yscale("log")
        ax.set_ylabel("mean cost at steady state")
        ax.set_title("cost per epoch")
    ax.legend(fontsize=7, loc="lower right" if iris else "upper right")


def _comparison_cosine(ax, runs, labels, colours) -> None:
    """``grad_cosine`` on each file's release clock; a file without it drawn at cosine 1."""
    for run, label, colour in zip(runs, labels, colours):
        if _has(run, "observables/grad_cosine"):
            release, _, cosine = run.series("observables/grad_cosine")
            ax.plot(release, cosine, ".", ms=1.5, color=colour, label=f"{label}: mean {np.nanmean(cosine):.2f}")
        else:
            ax.axhline(1.0, color=colour, lw=1.5, label=f"{label}: gradient step (cosine 1, tested)")
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("step of the file's release clock")
    ax.set_ylabel("cos(dW, -dC/dw)")
    ax.set_title("alignment with the gradient")
    ax.legend(fontsize=7, loc="lower right")
