"""Sweeps: one run per grid point and seed, on any ``concurrent.futures.Executor``.

``python -m simulator sweep CONFIG.toml --grid rule.eta=0.1,1 --seeds 0:4 --out DIR`` sweeps
any key of a run config (each point is ``python -m simulator run CONFIG --set KEY=VALUE
--set run.seed=S``; arguments after the sweep's own, such as more ``--set``, go to every
point). A scenario script sweeps its flags:
``python -m simulator sweep scenarios/iris_diffusion.py --grid lr=1e-4,1e-3 --seeds 0:8 --out DIR``
runs the scenario script once per point (``--seed S --lr V --out DIR/<point>.h5`` plus any
other flags given after the sweep's own), each in its own process with one BLAS/Numba
thread, writes ``DIR/manifest.json`` (every point's parameters, file and status), and an
aggregate table (``DIR/summary.md``) and figure (``DIR/summary.png``) of the final-epoch
test accuracy per grid point (mean, min, max over seeds). A point whose file is already
complete is skipped and an interrupted one resumed (where the scenario has ``--resume``),
so rerunning a sweep finishes what is missing. With
``--scheduler ADDRESS`` the same runs go to a Dask cluster
(``distributed.Client(address).get_executor()``; the scenario and the output folder must be
visible to the workers). ``python -m simulator sweep sweep.toml`` reads the same from a TOML
file (:func:`read_sweep_file`); flags on the command line beat the file.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .base import ONE_THREAD_ENV, parse_seeds
from .tasks import headline
from .trajectory import TrajectoryError, load_trajectory

__all__ = ["parse_grid", "parse_seeds", "read_sweep_file", "sweep_points", "run_sweep", "summarise"]


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["lr=1e-4,1e-3", "epochs=50"]`` -> ``{"lr": ["1e-4", "1e-3"], "epochs": ["50"]}`` (a run
    config's keys are ``TABLE.KEY``: ``rule.eta=0.1,1``)."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ValueError(f"--grid wants KEY=V1,V2,...; got {item!r}")
        _flag_name(key)
        grid[key] = [v for v in values.split(",") if v]
    return grid


def read_sweep_file(path) -> dict:
    """A sweep described in TOML::

        scenario = "scenarios/iris_diffusion.py"   # paths are relative to this file's folder
        out = "outputs/sweep_lr"
        seeds = "0:8"                               # or a list: [0, 1, 5]

        [sweep]                 # the scenario's flags, without the dashes
        lr = [1e-4, 1e-3, 3e-3] # a list: sweep over these
        epochs = 50             # one value: the same for every point
        smoke = true            # a flag without a value (false: left out)

    Returns ``{"scenario", "out", "seeds", "grid", "passthrough"}`` (``out``/``seeds`` None
    when absent). Every problem is a ``ValueError`` naming it.
    """
    from .config import parse_toml

    path = Path(path)
    try:
        values = parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read sweep file {path}: {error}") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    unknown = sorted(set(values) - {"scenario", "out", "seeds", "sweep"})
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; known: out, scenario, seeds, [sweep]")
    if not isinstance(values.get("scenario"), str):
        raise ValueError(f'{path}: scenario = "path/to/scenario.py" is required')
    if not isinstance(values.get("sweep", {}), dict):
        raise ValueError(f"{path}: sweep must be a table ([sweep])")
    here = path.parent
    seeds = values.get("seeds")
    if isinstance(seeds, list):
        if not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
            raise ValueError(f'{path}: seeds must be a list of integers or a "START:STOP" string, got {seeds!r}')
        seeds = ",".join(str(x) for x in seeds)
    elif seeds is not None and not isinstance(seeds, str):
        raise ValueError(f'{path}: seeds must be a list of integers or a "START:STOP" string, got {seeds!r}')
    if "out" in values and not isinstance(values["out"], str):
        raise ValueError(f"{path}: out must be a path string, got {values['out']!r}")
    grid, passthrough = {}, []
    for key, value in values.get("sweep", {}).items():
        flag = _flag_name(key)
        if isinstance(value, list):
            if not value or any(isinstance(x, (list, dict)) for x in value):
                raise ValueError(f"{path}: [sweep] {key} must be a non-empty list of values, got {value!r}")
            grid[key] = [_flag_value(x) for x in value]
        elif isinstance(value, bool):
            passthrough += [flag] if value else []
        elif isinstance(value, dict):
            raise ValueError(f"{path}: [sweep] {key} must be a value or a list of values, not a table")
        else:
            passthrough += [flag, _flag_value(value)]
    return {
        "scenario": str(here / values["scenario"]),
        "out": str(here / values["out"]) if "out" in values else None,
        "seeds": seeds,
        "grid": grid,
        "passthrough": passthrough,
    }


def _flag_name(key: str) -> str:
    if not key or not key.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise ValueError(f"sweep key {key!r} is not a flag name (or a config's TABLE.KEY)")
    return f"--{key.replace('_', '-')}"


def _flag_value(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def sweep_points(grid: dict[str, list[str]], seeds: list[int]) -> list[dict]:
    """Every combination of grid values, for every seed; each with a file name of its own."""
    keys = sorted(grid)
    points = []
    for values in itertools.product(*(grid[k] for k in keys)):
        parameters = dict(zip(keys, values))
        label = "_".join(f"{k}{v}" for k, v in parameters.items()) or "default"
        for seed in seeds:
            points.append({"parameters": parameters, "seed": seed, "label": label, "file": f"{label}_seed{seed}.h5"})
    return points


def _status(path: Path) -> str:
    if not path.exists():
        return "missing"
    try:
        return load_trajectory(path).status[0]
    except TrajectoryError:
        return "unreadable"


def is_run_config(target: str) -> bool:
    """A run config (a TOML file with tables), rather than a scenario script."""
    return str(target).endswith(".toml")


def _command(target: str, point: dict, path: Path) -> list[str]:
    """The command of one point: ``python -m simulator run CONFIG --set ...`` or the scenario's flags."""
    if is_run_config(target):
        settings = [f"run.seed={point['seed']}", *(f"{k}={v}" for k, v in point["parameters"].items())]
        return [sys.executable, "-m", "simulator", "run", target, "--out", str(path),
                *(arg for text in settings for arg in ("--set", text))]  # fmt: skip
    command = [sys.executable, target, "--seed", str(point["seed"]), "--out", str(path)]
    for key, value in point["parameters"].items():
        command += [f"--{key.replace('_', '-')}", value]
    return command


def _run_point(target: str, point: dict, out: str, passthrough: list[str]) -> tuple[str, int, str]:
    """One run in a subprocess; returns ``(file, exit code, last stderr line)``. An
    interrupted point is resumed where it can be (``--resume``), else run afresh."""
    path = Path(out) / point["file"]
    command = _command(target, point, path) + passthrough
    environment = {**os.environ, **ONE_THREAD_ENV}
    done = None
    if _status(path) in ("interrupted", "running"):
        done = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=environment)
    if done is None or done.returncode == 2:  # nothing to resume, or the scenario cannot
        done = subprocess.run([*command, "--overwrite"], capture_output=True, text=True, env=environment)
    tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    return point["file"], done.returncode, tail


def run_sweep(
    scenario: str,
    grid: dict[str, list[str]],
    seeds: list[int],
    out,
    *,
    passthrough: list[str] = (),
    executor: Executor | None = None,
    workers: int | None = None,
    say=print,
) -> list[dict]:
    """Run every missing or unfinished point of ``scenario`` (a script, or a run config); write
    the manifest; return it."""
    scenario_path = Path(scenario)
    if not scenario_path.is_file():
        raise ValueError(f"scenario {scenario!r} is not a file")
    if is_run_config(scenario):
        _check_config_grid(scenario_path, grid)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    points = sweep_points(grid, seeds)
    todo = [p for p in points if _status(out / p["file"]) != "complete"]
    say(f"{len(points)} points, {len(points) - len(todo)} already complete, {len(todo)} to run -> {out}/")
    failures = {}
    if todo:
        # compile the kernels once (Numba caches them on disk) before fanning out
        first_file, code, tail = _run_point(str(scenario_path), todo[0], str(out), list(passthrough))
        if code:
            failures[first_file] = tail
        own = executor is None
        executor = executor or ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
        try:
            futures = [
                executor.submit(_run_point, str(scenario_path), p, str(out), list(passthrough)) for p in todo[1:]
            ]
            for future in futures:
                file, code, tail = future.result()
                if code:
                    failures[file] = tail
        finally:
            if own:
                executor.shutdown()
    manifest = []
    for p in points:
        status = _status(out / p["file"])
        entry = {**p, "status": status}
        if p["file"] in failures:
            entry["error"] = failures[p["file"]]
        manifest.append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _check_config_grid(path: Path, grid: dict) -> None:
    """Every grid key must be a key of the config (checked with the grid's first values)."""
    from .config import RunConfig, parse_assignment

    config = RunConfig.from_file(path)
    for key, values in grid.items():
        for value in values[:1]:
            config.with_values(dict([parse_assignment(f"{key}={value}")]))  # paths: as --set reads them


def summarise(out, metric: str | None = None) -> tuple[str, Path | None]:
    """Markdown table and figure of the final ``metric`` per grid point (mean, min, max over
    seeds); by default ``accuracy_test`` where the runs have it, else ``cost_test``."""
    from matplotlib.figure import Figure

    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    groups: dict[str, list[float]] = {}
    for entry in manifest:
        if entry["status"] == "complete":
            run = load_trajectory(out / entry["file"])
            if metric is None:
                metric = headline(run.config.get("task", {}).get("name", "iris"))[0]  # older files: Iris
            values = run.series(f"observables/{metric}")[2]
            groups.setdefault(entry["label"], []).append(float(values[-1]))
    metric = metric or "accuracy_test"
    lines = [f"| point | seeds | final {metric}: mean | min | max |", "|---|---|---|---|---|"]
    for label, values in groups.items():
        lines.append(
            f"| {label} | {len(values)} | {np.mean(values):.3f} | {np.min(values):.3f} | {np.max(values):.3f} |"
        )
    incomplete = [e["file"] for e in manifest if e["status"] != "complete"]
    if incomplete:
        lines.append(f"\n{len(incomplete)} point(s) not complete: {', '.join(incomplete[:5])}")
    table = "\n".join(lines)
    (out / "summary.md").write_text(table + "\n")
    figure = None
    if groups:
        fig = Figure(figsize=(max(5, 1.2 * len(groups)), 4), layout="constrained")
        ax = fig.subplots()
        for i, values in enumerate(groups.values()):
            ax.scatter(np.full(len(values), i), values, s=14, color="tab:blue", alpha=0.6)
            ax.hlines(np.mean(values), i - 0.3, i + 0.3, color="k")
        ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
        ax.set_ylabel(f"final {metric}")
        if metric.startswith("cost"):
            ax.set_yscale("log")
        ax.set_title("sweep: each seed (dots) and the mean (line)")
        figure = out / "summary.png"
        fig.savefig(figure, dpi=120)
    return table, figure
