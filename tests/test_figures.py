"""Figures a reader trusts at a glance (simulator.plots and the scenarios' own): every network
panel keys its terminals, ``+`` filled and ``-`` open; the chance line is named; a comparison
draws only the panels both files can fill; exact zeros on a log axis are marked as such; a
printed table's mean lies between its printed min and max."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgba

import simulator
from simulator import plots
from simulator.trajectory import load_trajectory

ROOT = Path(__file__).resolve().parents[1]
TERMINALS = ["input +", "input -", "output +", "output -"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One-epoch runs: two Iris diffusion runs (the first named after its rule), an Iris
    advection run (which records grad_cosine) and a regression run (no accuracy)."""
    folder = tmp_path_factory.mktemp("runs")
    configs = {
        "chemical_a": {"run": {"epochs": 1}},
        "diffusion_b": {"run": {"epochs": 1, "seed": 1}},
        "advection_c": {"dynamics": {"name": "advection", "release_every": 5, "transport_steps": 5},
                        "run": {"epochs": 1}},
        "regression_d": {"task": {"name": "regression", "n_train": 20, "n_test": 10}, "network": {"side": 6},
                         "run": {"epochs": 1}},
        "regression_e": {"task": {"name": "regression", "n_train": 20, "n_test": 10}, "network": {"side": 6},
                         "run": {"epochs": 1, "seed": 1}},
    }  # fmt: skip
    for name, config in configs.items():
        simulator.run(config, out=folder / f"{name}.h5")
    return {name: folder / f"{name}.h5" for name in configs}


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The figures that simulator.plots hands to save_figure, kept instead of written."""
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, out, overwrite, dpi: figures.append(fig) or Path(out))
    return figures


def compare(runs, a: str, b: str):
    return plots.comparison_figure(load_trajectory(runs[a]), load_trajectory(runs[b]))


def panels(fig) -> list:
    """The axes drawn (not the hidden summary panel, not twins), left to right, top to bottom."""
    return [ax for ax in fig.axes if ax.axison and ax.get_title()]


def assert_terminals_keyed(ax) -> None:
    legend = ax.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == TERMINALS, ax.get_title()
    faces = {c.get_label(): to_rgba(c.get_facecolor()[0]) for c in ax.collections if c.get_label() in TERMINALS}
    edges = {c.get_label(): to_rgba(c.get_edgecolor()[0]) for c in ax.collections if c.get_label() in TERMINALS}
    for kind in ("input", "output"):
        assert faces[f"{kind} +"] == edges[f"{kind} +"]  # filled
        assert faces[f"{kind} -"] == to_rgba("white") != edges[f"{kind} -"]  # open
    assert edges["input +"] != edges["output +"]


def test_two_diffusion_runs_compare_without_an_empty_alignment_panel(runs):
    fig = compare(runs, "chemical_a", "diffusion_b")
    titles = [ax.get_title() for ax in panels(fig)]
    assert titles[:2] == ["cost of each example as it is shown", "accuracy per epoch"]
    assert len(titles) == 4 and not any("alignment" in t for t in titles), titles
    assert [len(ax.get_subplotspec().colspan) for ax in panels(fig)] == [3, 3, 2, 2]  # top row in halves
    labels = [line.get_label() for line in panels(fig)[1].get_lines()]
    assert labels[0] == "chemical_a test"  # the stem says the rule: no "(chemical rule)"
    assert labels[2] == "diffusion_b (chemical rule) test"
    for ax in panels(fig)[2:]:
        assert_terminals_keyed(ax)


def test_an_advection_file_adds_the_alignment_panel_with_the_gradient_rule_at_one(runs):
    fig = compare(runs, "chemical_a", "advection_c")
    titles = [ax.get_title() for ax in panels(fig)]
    assert titles[:3] == ["cost of each example as it is shown", "accuracy per epoch", "alignment with the gradient"]
    cosine = panels(fig)[2]
    labels = [line.get_label() for line in cosine.get_lines()]
    assert labels[0] == "chemical_a: gradient step (cosine 1, tested)" and labels[1].startswith("advection_c: mean ")
    assert np.all(np.asarray(cosine.get_lines()[0].get_ydata()) == 1.0)


def test_runs_without_accuracy_compare_by_cost_per_epoch(runs):
    fig = compare(runs, "regression_d", "regression_e")
    top = panels(fig)[:2]
    assert [ax.get_title() for ax in top] == ["cost of each example as it is shown", "cost per epoch"]
    assert top[1].get_yscale() == "log" and len(panels(fig)) == 4
    summary = [ax for ax in fig.axes if not ax.axison][0].texts[0].get_text()
    assert "test cost" in summary and "accuracy" not in summary


def test_plot_comparison_draws_and_returns_the_path(runs, tmp_path):
    out = plots.plot_comparison(runs["regression_d"], runs["regression_e"], tmp_path / "cmp.png")
    assert out == tmp_path / "cmp.png" and out.stat().st_size > 20_000


def test_every_network_panel_keys_its_terminals_and_the_chance_line_is_named(runs, drawn, tmp_path):
    plots.plot_iris_run(runs["chemical_a"], tmp_path / "iris.png")
    plots.plot_task_run(runs["regression_d"], tmp_path / "task.png")
    iris, task = drawn
    for fig in (iris, task):
        networks = [ax for ax in fig.axes if ax.get_aspect() == 1.0]
        assert len(networks) == 2
        for ax in networks:
            assert_terminals_keyed(ax)
    accuracy = [ax for ax in iris.axes if ax.get_ylabel() == "accuracy"][0]
    assert "chance (1/3)" in [t.get_text() for t in accuracy.get_legend().get_texts()]


def load_scenario(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scenarios" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exact_zeros_on_the_log_axis_are_marked(tmp_path, monkeypatch):
    scenario = load_scenario("gradient_fidelity")
    figures = []
    monkeypatch.setattr(scenario, "save_figure", lambda fig, out, overwrite, dpi: figures.append(fig) or out)
    assert scenario.main(["--smoke", "--out", str(tmp_path / "gf.h5")]) == 0
    chemical = load_trajectory(tmp_path / "gf.h5").series("observables/chemical")[2]
    ax = figures[0].axes[0]
    marked = [line for line in ax.get_lines() if line.get_label() == "exact 0 (below the axis)"]
    assert np.sum(chemical == 0) > 0  # eta = 1 is among the smoke etas, and there the rule is exact
    assert len(marked) == 1 and len(marked[0].get_xdata()) == np.sum(chemical == 0)
    assert np.all(marked[0].get_ydata() == ax.get_ylim()[0])  # on the floor of the axis


def test_the_seeds_table_prints_min_mean_max_in_order(capsys):
    scenario = load_scenario("iris_seeds")
    results = [("quasistatic", 0, 0.6667, 0.8, 0.44, ""), ("quasistatic", 1, 0.8133, 0.8667, 0.36, "")]
    scenario.table(results, ["quasistatic"], [0, 1], scenario.config("quasistatic", 0, True))
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| quasistatic")][0]
    cells = [cell.strip().replace("*", "") for cell in row.strip("|").split("|")]
    before_mean, before_range = cells[1].split(" ", 1)
    low, high = (float(x) for x in before_range.strip("()").split("-"))
    assert low <= float(before_mean) <= high
    mean, low, high = (float(cells[i]) for i in (2, 3, 4))
    assert low <= mean <= high
    wall_mean, wall_max = (float(x) for x in cells[5].replace("s", "").replace("(", "").replace(")", "").split())
    assert wall_mean <= wall_max == 0.4  # was "0.4 s (0 s)": the max below the mean
