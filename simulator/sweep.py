"""Sweeps: one run per grid point and seed, on any ``concurrent.futures.Executor``.

``python -m simulator sweep CONFIG.toml --grid rule.eta=0.1,1 --seeds 0:4 --out DIR`` sweeps
any key of a run config (each point is ``python -m simulator run CONFIG --set KEY=VALUE
--set run.seed=S``; ``--set`` given after the sweep's own arguments goes to every point). A
scenario script sweeps its flags:
``python -m simulator sweep scenarios/iris_diffusion.py --grid lr=1e-4,1e-3 --seeds 0:8 --out DIR``
runs the scenario script once per point (``--seed S --lr V --out DIR/<point>.h5`` plus any
other flags given after the sweep's own). The points run in long-lived worker processes, one
BLAS/Numba thread each: a worker imports the package and loads the compiled kernels once and
then runs point after point in-process, as the point's command line would (``main()`` of the
scenario, or ``simulator run``, with that ``sys.argv``), so the files are the same. A point
sent to an executor of your own (Dask) runs as a process of its own instead, since a worker
there may run several points at once in threads of one process.
``python -m simulator sweep sweep.toml`` reads the same from a TOML file
(:func:`read_sweep_file`); flags on the command line beat the file.

What a sweep promises:

* **A point is its resolved config.** Values are written canonically (``1e-3`` and ``0.001``
  are both ``0.001``, in the label and in the run). Each point's identity is the config its
  run resolves to, pass-through flags included (a scenario without a ``parse(argv)`` entry
  point: its full command line). ``DIR/manifest.json`` records it for every point, and a
  rerun checks it against the manifest and against each point's file: a rerun with other
  settings is refused, naming the difference, instead of reporting old runs as new.
* **Nothing destroyed.** A complete point is skipped, an interrupted (or killed) one
  resumed, a failed one run again (its replacement built beside it); a damaged file is moved
  aside (``NAME.damaged-N.h5``), never overwritten. A point held by a live run (another
  sweep on the same folder, or the orphan of a lost worker) is waited for, not run twice:
  each point is claimed (``DIR/.sweep/NAME.claim``, a lock the kernel drops with its
  holder) while it runs.
* **Exit codes kept apart** (:mod:`simulator.commandline`): a run that is refused (3), has
  nothing to resume (4), failed (1) or was interrupted (130) is told apart, never answered
  by replacing its file.

``DIR/summary.md`` and ``DIR/summary.png`` show the final headline metric per grid point
(mean, min, max over seeds). With ``--scheduler ADDRESS`` the same runs go to a Dask cluster
(``distributed.Client(address).get_executor()``; the scenario and the output folder must be
visible to the workers); a worker lost in the middle of a point leaves the point to be
resumed by the task's retry.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .base import ONE_THREAD_ENV, parse_seeds, pin_threads
from .commandline import EXIT_INTERRUPTED
from .outputs import OutputError, held, save_figure, write_text
from .tasks import headline
from .trajectory import DamagedFile, TrajectoryError, import_xarray, load_trajectory

__all__ = ["parse_grid", "parse_seeds", "canonical_value", "read_sweep_file", "sweep_points", "run_sweep",
           "summarise", "check_metric", "load"]  # fmt: skip

#: Flags a sweep sets on every point itself.
OWN_FLAGS = ("--out", "--seed", "--overwrite", "--resume")


def canonical_value(text) -> str:
    """One spelling per value: ``"1e-3"`` and ``"0.001"`` -> ``"0.001"``, ``"1.0"`` -> ``"1"``,
    ``"True"`` -> ``"true"``; text that is not a number is kept as it is."""
    value = str(text).strip()
    if value.lower() in ("true", "false"):
        return value.lower()
    try:
        return str(int(value))
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["lr=1e-4,1e-3", "epochs=50"]`` -> ``{"lr": ["0.0001", "0.001"], "epochs": ["50"]}`` (a run
    config's keys are ``TABLE.KEY``: ``rule.eta=0.1,1``); values canonical."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ValueError(f"--grid wants KEY=V1,V2,...; got {item!r}")
        _flag_name(key)
        grid[key] = [canonical_value(v) for v in values.split(",") if v]
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
            grid[key] = [canonical_value(_flag_value(x)) for x in value]
        elif isinstance(value, bool):
            passthrough += [flag] if value else []
        elif isinstance(value, dict):
            raise ValueError(f"{path}: [sweep] {key} must be a value or a list of values, not a table")
        else:
            passthrough += [flag, canonical_value(_flag_value(value))]
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
        parameters = {key: canonical_value(value) for key, value in zip(keys, values)}
        label = "_".join(f"{k}{v}" for k, v in parameters.items()) or "default"
        for seed in seeds:
            points.append({"parameters": parameters, "seed": seed, "label": label, "file": f"{label}_seed{seed}.h5"})
    return points


def is_run_config(target: str) -> bool:
    """A run config (a TOML file with tables), rather than a scenario script."""
    return str(target).endswith(".toml")


# ---------------------------------------------------------------------- what a point is
def _arguments(target: str, point: dict, passthrough: list[str]) -> list[str]:
    """The point's arguments after the program (without ``--out``)."""
    if is_run_config(target):
        settings = [f"run.seed={point['seed']}", *(f"{k}={v}" for k, v in point["parameters"].items())]
        return [*(arg for text in settings for arg in ("--set", text)), *passthrough]
    flags = ["--seed", str(point["seed"])]
    for key, value in point["parameters"].items():
        flags += [f"--{key.replace('_', '-')}", value]
    return [*flags, *passthrough]


def _program(target: str) -> list[str]:
    """The command that runs ``target``, before the point's arguments."""
    return [sys.executable, "-m", "simulator", "run", target] if is_run_config(target) else [sys.executable, target]


def _check_passthrough(target: str, passthrough: list[str]) -> None:
    for flag in passthrough:
        if flag.split("=", 1)[0] in OWN_FLAGS:
            raise ValueError(f"the sweep sets {', '.join(OWN_FLAGS)} on every point itself; {flag} cannot be passed on")
    if is_run_config(target):
        values = passthrough[1::2]
        if passthrough[::2] != ["--set"] * len(values) or len(passthrough) % 2:
            raise ValueError(f"a config sweep passes only --set TABLE.KEY=VALUE to its runs, got {passthrough}")


def identities(target: str, points: list[dict], passthrough: list[str]) -> list[dict]:
    """Each point's identity: ``{"config": resolved tables}`` (a run config, or a scenario with
    a ``parse(argv)`` entry point), else ``{"command": arguments}``; or ``{"invalid": why}``
    for a point whose settings are refused."""
    parse = _scenario_parse(target)
    found = []
    for point in points:
        arguments = _arguments(target, point, passthrough)
        try:
            config = parse(arguments) if parse is not None else None
        except ValueError as error:
            found.append({"invalid": str(error)})
            continue
        found.append({"config": config.to_dict()} if config is not None else {"command": arguments})
    return found


def _scenario_parse(target: str):
    """``arguments -> RunConfig`` for a run config or a scenario that has ``parse``; else None."""
    from .config import RunConfig, parse_assignment

    if is_run_config(target):
        base = RunConfig.from_file(target)
        return lambda arguments: base.with_values(dict(parse_assignment(text) for text in arguments[1::2]))
    spec = importlib.util.spec_from_file_location(f"_sweep_scenario_{Path(target).stem}", target)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # a script that cannot even be imported: one line, nothing run
        raise ValueError(f"cannot import scenario {target}: {type(error).__name__}: {error}") from None
    if not callable(getattr(module, "parse", None)):
        return None

    def parse(arguments):
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                return module.parse([*arguments, "--out", "unused.h5"])[1]
        except SystemExit:  # argparse's error: its last line says why
            lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
            raise ValueError(lines[-1].split(": error: ", 1)[-1] if lines else "refused by the scenario") from None

    return parse


def _recorded_identity(path: Path, identity: dict) -> dict | None:
    """The identity the point's file records, in the form of ``identity``; None if unreadable."""
    try:
        run = load_trajectory(path)
    except TrajectoryError:
        return None
    if "config" in identity:
        return {"config": run.config}
    recorded, skip = [], False
    for arg in run.command_line[2:] if run.command_line[:1] == [sys.executable] else run.command_line[1:]:
        if skip:
            skip = False
        elif arg in ("--out", "--overwrite", "--resume"):  # OWN_FLAGS but --seed, which is the point's
            skip = arg == "--out"
        else:
            recorded.append(arg)
    return {"command": recorded}


def _difference(recorded: dict, wanted: dict) -> str:
    """The first keys that differ between two identities, as ``key (there A, here B)``."""
    if "config" in recorded and "config" in wanted:
        from .config import config_differences

        differing = config_differences(recorded["config"], wanted["config"])
        return ", ".join(f"{key} (there {a!r}, here {b!r})" for key, a, b in differing[:3])
    return f"command {' '.join(recorded.get('command', []))!r} there, {' '.join(wanted.get('command', []))!r} here"


def _differs(recorded: dict, wanted: dict) -> bool:
    """Whether two identities name different runs (configs compared as this version reads
    them, so a file made before a key was added is not refused for lacking it)."""
    if "config" in recorded and "config" in wanted:
        from .config import config_differences

        try:
            return bool(config_differences(recorded["config"], wanted["config"]))
        except ValueError:  # a config this version cannot read: another run
            return True
    return recorded != wanted


def _check_same_sweep(out: Path, points: list[dict], wanted: list[dict]) -> None:
    """Refuse a rerun into ``out`` whose points were made with other settings."""
    manifest = out / "manifest.json"
    recorded = {}
    if manifest.is_file():
        try:
            recorded = {e["file"]: e.get("identity") for e in json.loads(manifest.read_text())}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError(f"{manifest} cannot be read as a sweep manifest; choose another --out") from None
    for point, identity in zip(points, wanted):
        if "invalid" in identity:
            continue
        there = recorded.get(point["file"])
        if there is None and (out / point["file"]).is_file():
            there = _recorded_identity(out / point["file"], identity)
        if there is not None and "invalid" not in there and _differs(there, identity):
            raise ValueError(
                f"{out / point['file']} was made with other settings: {_difference(there, identity)}; rerun with the "
                "same settings to finish that sweep, or give another --out"
            )


# ---------------------------------------------------------------------- running a point
def _status(path: Path) -> str:
    """``missing``, ``damaged`` (its status cannot be read), ``unreadable`` (not a run file),
    or the run file's status. Damage deeper in a file is found by ``--resume``, which reads
    the whole file first, and by :func:`summarise`."""
    if not path.exists():
        return "missing"
    try:
        return load_trajectory(path).status[0]
    except DamagedFile:
        return "damaged"
    except TrajectoryError:
        return "unreadable"


@contextlib.contextmanager
def _claimed(out: Path, name: str):
    """Hold ``DIR/.sweep/NAME.claim`` for the block, waiting while another sweep holds it: a
    point while it runs, or the folder's manifest and summary while they are rewritten."""
    import fcntl

    folder = out / ".sweep"
    folder.mkdir(exist_ok=True)
    descriptor = os.open(folder / f"{name}.claim", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _moved_aside(path: Path) -> Path:
    for n in itertools.count(1):
        aside = path.with_name(f"{path.stem}.damaged-{n}{path.suffix}")
        if not aside.exists():
            os.replace(path, aside)
            return aside


_entry_points: dict[str, object] = {}  # a worker's scenario modules, loaded once each
_in_process = threading.Lock()  # sys.argv and the standard streams belong to the whole process


def _entry_point(target: str):
    """``run(target, arguments) -> exit code`` of the point's program: the scenario's ``main()``
    (which reads ``sys.argv``), or a config run; None for a script without ``main()``."""
    if target not in _entry_points:
        if is_run_config(target):
            main = _run_config_point
        else:
            spec = importlib.util.spec_from_file_location(f"_sweep_point_{Path(target).stem}", target)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            main = getattr(module, "main", None)  # a script without one: its points run as processes
            main = (lambda _target, _arguments: module.main()) if callable(main) else None
        _entry_points[target] = main
    return _entry_points[target]


def _run_config_point(config_path: str, arguments: list[str]) -> int:
    """``chemsignal run CONFIG --out PATH [--set KEY=VALUE ...] [--overwrite | --resume]``, a
    config sweep's point, run here as ``simulator run`` would; its exit code."""
    from .commands import answered, run_as_command
    from .config import RunConfig, parse_assignment

    out = Path(arguments[arguments.index("--out") + 1])
    settings = [arguments[i + 1] for i, arg in enumerate(arguments) if arg == "--set"]
    config = None
    with answered("chemsignal run: error") as answer:  # as simulator run answers it
        config = RunConfig.from_file(config_path).with_values(dict(parse_assignment(text) for text in settings))
    if answer.code:
        return answer.code
    command = ["chemsignal", "run", config_path, *arguments]
    return run_as_command(config, out, overwrite="--overwrite" in arguments, command_line=command,
                          resume="--resume" in arguments)[1]  # fmt: skip


def _run_in_process(target: str, arguments: list[str]) -> tuple[int, str]:
    """``(exit code, last stderr line)`` of the point's program with ``arguments``, run in this
    process: a scenario's ``main()`` sees the ``sys.argv`` its own process would have."""
    stderr = io.StringIO()
    with _in_process, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        saved, sys.argv = sys.argv, [target, *arguments]
        try:
            code = _entry_point(target)(target, arguments) or 0
        except SystemExit as done:  # argparse's refusal, or a script's sys.exit
            if done.code is None or isinstance(done.code, int):
                code = done.code or 0
            else:  # sys.exit("message"): Python prints it and exits with 1
                code = 1
                print(done.code, file=sys.stderr)
        except Exception as error:  # what would have been a traceback and exit code 1
            code = 1
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
        finally:
            sys.argv = saved
    lines = stderr.getvalue().strip().splitlines()
    return code, lines[-1] if lines else ""


def _run_point(target: str, point: dict, out: str, passthrough: list[str], in_process: bool = False):
    """Bring one point to an end; returns ``(file, exit code, last stderr line)``. In this
    process (``in_process``: a long-lived worker) or in subprocesses. Claimed while it runs; a
    file held by a live run is waited for; an interrupted or killed one resumed; a failed one
    run again; a damaged one moved aside first."""
    path = Path(out) / point["file"]
    environment = {**os.environ, **ONE_THREAD_ENV}
    code, tail = 0, ""
    with _claimed(Path(out), point["file"]):
        for _ in range(4):  # each pass ends the point, or finds that someone else is at it
            while held(path):  # the orphan of a lost worker, finishing the point
                time.sleep(0.2)
            status = _status(path)
            if status == "complete":
                return point["file"], 0, ""
            flags = {"interrupted": ["--resume"], "running": ["--resume"], "failed": ["--overwrite"]}.get(status, [])
            if status in ("damaged", "unreadable"):
                tail = f"{status}: moved aside to {_moved_aside(path).name}; run again"
            arguments = ["--out", str(path), *_arguments(target, point, passthrough), *flags]
            if in_process and _entry_point(target) is not None:
                code, last = _run_in_process(target, arguments)
            else:
                done = subprocess.run([*_program(target), *arguments], capture_output=True, text=True, env=environment)
                code, last = done.returncode, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
            tail = last or tail
            someone_else_at_it = held(path) or _status(path) == "complete"  # (another sweep, a lost worker)
            if code in (0, EXIT_INTERRUPTED) or not someone_else_at_it:
                return point["file"], code, tail
    return point["file"], code, tail


# ---------------------------------------------------------------------- the sweep
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
    the manifest; return it. Settings that differ from those of the points already in
    ``out`` are refused (``ValueError``) before anything runs."""
    scenario_path = Path(scenario)
    if not scenario_path.is_file():
        raise ValueError(f"scenario {scenario!r} is not a file")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; a sweep writes a folder of run files")
    passthrough = list(passthrough)
    _check_passthrough(scenario, passthrough)
    points = sweep_points(grid, seeds)
    wanted = identities(str(scenario_path), points, list(passthrough))
    bad = [identity["invalid"] for identity in wanted if "invalid" in identity]
    if bad and (is_run_config(scenario) or len(bad) == len(points)):
        raise ValueError(bad[0])  # checked here, not run into a wall of failed points
    out.mkdir(parents=True, exist_ok=True)
    _check_same_sweep(out, points, wanted)
    for point, identity in zip(points, wanted):
        point["identity"] = identity
    _write_manifest(out, points, {})
    valid = [p for p in points if "invalid" not in p["identity"]]
    todo = [p for p in valid if _status(out / p["file"]) != "complete"]
    say(f"{len(points)} points, {len(valid) - len(todo)} already complete, {len(todo)} to run -> {out}/")
    failures = {p["file"]: p["identity"]["invalid"] for p in points if p not in valid}
    try:
        _run_points(str(scenario_path), todo, out, list(passthrough), executor, workers, failures)
    finally:
        manifest = _write_manifest(out, points, failures)
    return manifest


def _run_points(target, todo, out, passthrough, executor, workers, failures) -> None:
    if not todo:
        return
    strip = lambda p: {k: v for k, v in p.items() if k != "identity"}  # noqa: E731 (what a worker needs)
    own = executor is None
    if own:  # long-lived workers, each pinned to one thread once, that run points in-process
        executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, initializer=pin_threads)
    try:
        # on an executor of yours (a cluster) the first point compiles the kernels (Numba caches
        # them on disk) before the others fan out; our own workers start together: with a warm
        # cache that saves a point's wait, with a cold one each compiles at once on its own core
        first = 0 if own else 1
        for p in todo[:first]:
            file, code, tail = executor.submit(_run_point, target, strip(p), str(out), passthrough, own).result()
            if code:
                failures[file] = tail
            if code == EXIT_INTERRUPTED:
                raise KeyboardInterrupt(f"point {file} was interrupted")
        futures = [executor.submit(_run_point, target, strip(p), str(out), passthrough, own) for p in todo[first:]]
        for future in futures:
            file, code, tail = future.result()
            if code:
                failures[file] = tail
    finally:
        if own:
            executor.shutdown(cancel_futures=True)


def _write_manifest(out: Path, points: list[dict], failures: dict) -> list[dict]:
    """The manifest of this sweep's points (returned), written with the entries of any other
    points the folder's manifest lists (another sweep's, or seeds not asked for this time),
    which are kept as they were."""
    manifest = []
    for point in points:
        status = "invalid" if "invalid" in point["identity"] else _status(out / point["file"])
        entry = {**point, "status": status}
        if point["file"] in failures:
            entry["error"] = failures[point["file"]]
        manifest.append(entry)
    ours = {entry["file"] for entry in manifest}
    with _claimed(out, "manifest.json"):  # read, merged and written by one sweep at a time
        kept = [entry for entry in _manifest_entries(out) if entry.get("file") not in ours]
        write_text(out / "manifest.json", json.dumps(manifest + kept, indent=1), overwrite=True)
    return manifest


def _manifest_entries(out: Path) -> list[dict]:
    try:
        entries = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return []
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []


def summarise(out, metric: str | None = None) -> tuple[str, Path | None]:
    """Markdown table and figure of the final ``metric`` per grid point (mean, min, max over
    seeds); by default ``accuracy_test`` where the runs have it, else ``cost_test``. A ``metric``
    the runs do not record per epoch is a ``ValueError`` naming those they do (:func:`check_metric`)."""
    out = Path(out)
    if metric is not None:
        check_metric(out, metric)
    manifest = json.loads((out / "manifest.json").read_text())
    groups: dict[str, list[float]] = {}
    seeds: dict[str, list[int]] = {}  # each group's seeds, in the order of its values
    for entry in manifest:
        if entry["status"] == "complete":
            try:
                run = load_trajectory(out / entry["file"])
            except TrajectoryError:  # moved or removed since the manifest was written
                continue
            if metric is None:
                metric = headline(run.config.get("task", {}).get("name", "iris"))[0]  # older files: Iris
            try:
                values = run.series(f"observables/{metric}")[2]
            except DamagedFile as error:
                entry["status"], entry["error"] = "damaged", str(error)
                continue
            except KeyError:  # another task's point, in a folder the first point passed check_metric for
                raise ValueError(f"{entry['file']} does not record {metric!r} per epoch") from None
            groups.setdefault(entry["label"], []).append(float(values[-1]))
            seeds.setdefault(entry["label"], []).append(int(entry["seed"]))
    metric = metric or "accuracy_test"
    lines = [f"| point | seeds | final {metric}: mean | min | max |", "|---|---|---|---|---|"]
    digits = ".3f" if metric.startswith("accuracy") else ".4g"  # fractions of a test set; costs span decades
    for label, values in groups.items():
        mean, low, high = (format(float(f(values)), digits) for f in (np.mean, np.min, np.max))
        lines.append(f"| {label} | {len(values)} | {mean} | {low} | {high} |")
    incomplete = [e["file"] for e in manifest if e["status"] != "complete"]
    if incomplete:
        lines.append(f"\n{len(incomplete)} point(s) not complete: {', '.join(incomplete[:5])}")
    table = "\n".join(lines)
    with _claimed(out, "summary"):  # the sweep's own summary, as of now; one writer at a time
        write_text(out / "summary.md", table + "\n", overwrite=True)
        figure = _summary_figure(out, groups, metric, seeds) if groups else None
    return table, figure


def _seed_offsets(seeds: list[int], spread: float = 0.15) -> dict[int, float]:
    """Where each seed's dot sits beside its grid point's column: evenly spaced within
    ``+-spread`` in seed order, the same in every column, so seeds that end on one value (an
    accuracy of 1.0) stay apart, and a seed can be followed from column to column."""
    ordered = sorted(set(seeds))
    return dict(zip(ordered, np.linspace(-spread, spread, len(ordered)) if len(ordered) > 1 else [0.0]))


def _summary_figure(out: Path, groups: dict, metric: str, seeds: dict) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(5, 1.2 * len(groups)), 4), layout="constrained")
    ax = fig.subplots()
    offsets = _seed_offsets([seed for group in seeds.values() for seed in group])
    for i, (label, values) in enumerate(groups.items()):
        ax.scatter([i + offsets[seed] for seed in seeds[label]], values, s=14, color="tab:blue", alpha=0.6)
        ax.hlines(np.mean(values), i - 0.3, i + 0.3, color="k")
    ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
    ax.set_ylabel(f"final {metric}")
    if metric.startswith("cost"):
        ax.set_yscale("log")
    ax.set_title("sweep: each seed (dots) and the mean (line)")
    return save_figure(fig, out / "summary.png", overwrite=True, dpi=120)


# ---------------------------------------------------------------------- labelled data
def check_metric(out, metric: str) -> None:
    """Refuse (``ValueError``) a ``metric`` that the first readable complete point of the sweep
    in ``out`` does not record per epoch, naming those it does. Nothing to check (no complete
    point yet) passes: the points will tell once they have run."""
    out = Path(out)
    for entry in _manifest_entries(out):
        if entry.get("status") != "complete":
            continue
        try:
            known = load_trajectory(out / entry["file"]).epoch_metrics()
        except (TrajectoryError, KeyError):  # moved or damaged since: ask the next point
            continue
        if metric not in known:
            raise ValueError(f"metric {metric!r} is not a per-epoch series of the runs in {out}; they record: "
                             f"{', '.join(known)}")  # fmt: skip
        return


def _loadable_manifest(out: Path) -> list[dict]:
    """The manifest's point entries, or the error that says why ``out`` is not a sweep folder."""
    if not out.is_dir():
        raise FileNotFoundError(f"{out} is not a folder; give the --out folder of a sweep")
    if not (out / "manifest.json").is_file():
        raise FileNotFoundError(f"{out} has no manifest.json: not a sweep's folder (a sweep writes it at its start)")
    try:
        entries = json.loads((out / "manifest.json").read_text())
        points = [(dict(e.get("parameters", {})), int(e["seed"]), str(e["file"])) for e in entries]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{out / 'manifest.json'} cannot be read as a sweep manifest") from None
    keys = {tuple(sorted(parameters)) for parameters, _, _ in points}
    if len(keys) > 1:
        raise ValueError(f"{out} holds sweeps over different grid keys {sorted(keys)}; one Dataset needs one grid")
    return entries


def _coordinate(values) -> tuple[list[str], np.ndarray]:
    """``(texts, coordinate)``: sorted distinct grid values as the manifest writes them, and as
    the coordinate holds them: numbers as numbers (ints when all are), else text."""
    texts = sorted(set(values))
    for kind in (int, float):
        try:
            numbers = [kind(text) for text in texts]
        except ValueError:
            continue
        order = np.argsort(numbers, kind="stable")
        return [texts[i] for i in order], np.array(numbers)[order]
    return texts, np.array(texts)


def _grid(entries: list[dict], keys: list[str]) -> tuple[dict, list[tuple]]:
    """The coordinates of the grid keys and ``seed``, and each entry's cell (its index along each)."""
    coordinates, positions = {}, {}
    for key in keys:
        texts, coordinates[key] = _coordinate(str(entry["parameters"][key]) for entry in entries)
        positions[key] = {text: i for i, text in enumerate(texts)}
    seeds = sorted({int(entry["seed"]) for entry in entries})
    coordinates["seed"] = np.array(seeds, dtype=np.int64)
    positions["seed"] = {seed: i for i, seed in enumerate(seeds)}
    cells = []
    for entry in entries:
        where = {**{key: str(entry["parameters"][key]) for key in keys}, "seed": int(entry["seed"])}
        cells.append(tuple(positions[dim][value] for dim, value in where.items()))
    return coordinates, cells


def _point_data(out: Path, entry: dict) -> tuple[str, np.ndarray, dict]:
    """``(status now, epochs, {metric: values})`` of one point; no epochs when it has none to give."""
    nothing = np.array([], dtype=np.int64), {}
    status = "invalid" if entry.get("status") == "invalid" else _status(out / entry["file"])
    if status in ("invalid", "missing", "damaged", "unreadable"):
        return (status, *nothing)
    try:
        run = load_trajectory(out / entry["file"])
        rows = run.clock_rows().get("epoch", 0)
        if not rows:
            return (status, *nothing)
        epochs = run.series("observables/epoch")[2][:rows]
        return status, epochs, {name: run.series(f"observables/{name}")[2][:rows] for name in run.epoch_metrics()}
    except DamagedFile:
        return ("damaged", *nothing)
    except (TrajectoryError, KeyError):  # removed since, or a file without an epoch count
        return (status, *nothing)


def load(out):
    """Every point of the sweep in folder ``out`` as one ``xarray.Dataset`` (needs the optional
    extra ``xarray``; it is imported here, not with the module).

    Parameters
    ----------
    out : the sweep's ``--out`` folder (its ``manifest.json`` lists the points)

    Returns
    -------
    xarray.Dataset
        Dimensions: each grid key (its coordinate: the distinct values, sorted, numbers as
        numbers), ``seed``, and ``epoch`` (every epoch number any point recorded). One float64
        variable ``[*grid, seed, epoch]`` per scalar per-epoch series of the runs
        (``accuracy_test``, ``cost_test``, ...), the files' values where a point has them and
        NaN elsewhere: a point missing, failed before an epoch, interrupted or still running
        (shorter), or a grid cell no point fills. Over ``[*grid, seed]``: ``status`` (the
        file's status now: ``complete``, ``running``, ``interrupted``, ``failed``, or
        ``missing``, ``damaged``, ``unreadable``, ``invalid``; ``absent`` for a cell no manifest
        entry names), ``file`` and ``error`` (the manifest's). Attribute ``path``.

    Raises
    ------
    FileNotFoundError
        ``out`` is not a folder, or has no ``manifest.json``.
    ValueError
        The manifest cannot be read, or lists points over different grid keys.
    """
    xarray = import_xarray("simulator.sweep.load")
    out = Path(out)
    entries = _loadable_manifest(out)
    keys = sorted(entries[0].get("parameters", {})) if entries else []
    coordinates, cells = _grid(entries, keys)
    data = [_point_data(out, entry) for entry in entries]
    epochs = np.unique(np.concatenate([np.array([], dtype=np.int64), *(epochs for _, epochs, _ in data)]))
    names = list(dict.fromkeys(name for _, _, metrics in data for name in metrics))
    _check_names(keys, names)
    dims = (*keys, "seed")
    shape = tuple(len(coordinates[dim]) for dim in dims)
    status, file, error = (np.full(shape, fill, dtype=object) for fill in ("absent", "", ""))
    values = {name: np.full((*shape, len(epochs)), np.nan) for name in names}  # NaN: no value recorded there
    for cell, entry, (point_status, point_epochs, metrics) in zip(cells, entries, data):
        status[cell], file[cell], error[cell] = point_status, entry["file"], entry.get("error", "")
        at = np.searchsorted(epochs, point_epochs)
        for name, series in metrics.items():
            values[name][cell][at] = series
    variables = {name: ((*dims, "epoch"), array) for name, array in values.items()}
    variables.update(status=(dims, status.astype(str)), file=(dims, file.astype(str)), error=(dims, error.astype(str)))
    return xarray.Dataset(variables, {**coordinates, "epoch": epochs}, {"path": str(out)})


def _check_names(keys: list[str], metrics: list[str]) -> None:
    """A grid key must not share a name with the other dimensions or variables of :func:`load`."""
    taken = {"seed", "epoch", "status", "file", "error", *metrics}
    clash = sorted(taken.intersection(keys))
    if clash:
        raise ValueError(f"grid key(s) {clash} clash with a dimension or variable of the loaded sweep")
