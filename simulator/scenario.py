"""What every scenario script shares: flags onto a run config, the default output path, one
run with a progress bar, one-line errors and the figure. Scenarios import this, never each
other.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .base import deprecated, one_line_warnings
from .commands import answered, run_as_command
from .config import DYNAMICS_OPTIONS, RunConfig
from .outputs import OutputError, check_target
from .provenance import PACKAGE_DIR, other_copy
from .tasks import headline

__all__ = ["with_flags", "default_out", "run_and_draw", "config_from_file_and_flags", "checked_targets", "guarded",
           "run_points"]


def with_flags(config: RunConfig, assignments: dict, *, flag_names: dict | None = None) -> RunConfig:
    """``config`` with ``{"table.key": value}`` applied: ``dynamics.name`` first, so a flag of
    a dynamics can follow the flag that chooses it; a key that the chosen dynamics does not
    have is refused, naming the flag (``flag_names``: key -> flag as typed)."""
    assignments = dict(assignments)
    if "dynamics.name" in assignments:
        config = config.with_values({"dynamics.name": assignments.pop("dynamics.name")})
    name = config["dynamics.name"]
    for key in assignments:
        table, _, option = key.partition(".")
        if table == "dynamics" and option not in DYNAMICS_OPTIONS[name]:
            flag = (flag_names or {}).get(key, key)
            raise ValueError(f"{flag} does not apply to dynamics {name!r}")
    return config.with_values(assignments) if assignments else config


def config_from_file_and_flags(parser, args, defaults: RunConfig, smoke: dict, flags: dict, renamed=()) -> RunConfig:
    """Precedence: ``defaults``, then ``--config FILE``, then ``--smoke`` (keys the dynamics has),
    then flags given on the command line (``flags``: attribute -> config key; ``renamed``:
    ``(old flag, new flag)`` pairs still accepted with a notice). Errors go to ``parser``."""
    one_line_warnings()
    for old, new in renamed:
        if getattr(args, old, None) is not None:
            deprecated(f"--{old.replace('_', '-')}", f"--{new.replace('_', '-')}")
            setattr(args, new, getattr(args, old))
    given = {key: getattr(args, attribute) for attribute, key in flags.items() if getattr(args, attribute, None)
             is not None}  # fmt: skip
    names = {key: f"--{attribute.replace('_', '-')}" for attribute, key in flags.items()}
    try:
        config = RunConfig.from_file(args.config) if getattr(args, "config", None) else defaults
        if getattr(args, "smoke", False):
            chosen = given.get("dynamics.name", config["dynamics.name"])
            chosen_smoke = {k: v for k, v in smoke.items() if _applies(k, chosen)}
            try:  # a smoke key that the flags make inapplicable (remodel_time with deferred weights) is left out
                with_flags(with_flags(config, {"dynamics.name": chosen, **chosen_smoke}), given)
            except ValueError as error:
                chosen_smoke = {k: v for k, v in chosen_smoke.items() if f"{k} does not apply" not in str(error)}
            config = with_flags(config, {"dynamics.name": chosen, **chosen_smoke})
        return with_flags(config, given, flag_names=names)
    except ValueError as error:
        parser.error(str(error))


def _applies(key: str, dynamics: str) -> bool:
    table, _, option = key.partition(".")
    return table != "dynamics" or option in DYNAMICS_OPTIONS[dynamics]


def default_out(name: str, out, smoke: bool, suffix: str = ".h5") -> Path:
    """``out`` if given (its folder must exist), else ``outputs/<name>[_smoke].h5`` (created)."""
    if out is not None:
        return Path(out)
    path = Path("outputs") / f"{name}{'_smoke' if smoke else ''}{suffix}"
    path.parent.mkdir(exist_ok=True)
    return path


def checked_targets(paths, overwrite: bool) -> int:
    """0 if every output of a scenario may be written now (before any work), else its exit
    code, with one line: the first refusal and how many more (:mod:`simulator.outputs`)."""
    refusals = []
    for path in paths:
        try:
            check_target(path, overwrite)
        except OutputError as error:
            refusals.append(error)
    if refusals:
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        print(f"error: {refusals[0]}{more}", file=sys.stderr)
        return refusals[0].exit_code
    return 0


def output_folder(parser, folder: Path) -> Path:
    """``folder`` for a scenario's run files, made (with its parents) if missing; a path that is
    a file, or runs through one, is refused through ``parser`` in one line."""
    for path in (folder, *folder.parents):
        if path.exists() and not path.is_dir():
            parser.error(f"--out {folder}: {path} is a file; give a folder for the run files")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_points(work, jobs: list, outputs: list, overwrite: bool, workers: int):
    """``[work(job) for job in jobs]`` in a pool of ``workers`` processes (threads pinned once
    per worker) once every one of ``outputs`` (the run files and figures the points write)
    may be written; else the exit code of the first refusal, with its one line."""
    from concurrent.futures import ProcessPoolExecutor

    from .base import pin_threads

    code = checked_targets(outputs, overwrite)
    if code:
        return code
    with ProcessPoolExecutor(max_workers=workers, initializer=pin_threads) as pool:
        return list(pool.map(work, jobs))


def run_named_points(parser, args, work, jobs: dict):
    """The points ``jobs`` (``{name: values}``) as run files ``args.out/NAME.h5``, each by
    ``work((values, path, overwrite))`` in :func:`run_points`, with the figure
    ``args.out``'s name ``.png`` beside the folder: ``(paths by name, figure)``, or the exit
    code of the first refusal."""
    output_folder(parser, args.out)
    figure = args.out.parent / f"{args.out.name}.png"
    paths = {name: args.out / f"{name}.h5" for name in jobs}
    done = run_points(work, [(values, paths[name], args.overwrite) for name, values in jobs.items()],
                      [*paths.values(), figure], args.overwrite, args.workers)  # fmt: skip
    return done if isinstance(done, int) else (paths, figure)


def guarded(main, argv=None) -> int:
    """``main(argv)`` of a scenario that runs many points itself (a pool of runs): SIGTERM
    handled like Ctrl-C, and what escapes it answered as a single run is (one line and the
    exit codes of :mod:`simulator.commandline`), not with a traceback."""
    one_line_warnings()
    code = 0
    interrupted = "interrupted; the runs so far are in their files (status 'interrupted' where one was cut)"
    with answered(interrupted=lambda: interrupted) as answer:
        code = main(argv)
    return answer.code or code


def run_and_draw(config: RunConfig, out: Path, args: argparse.Namespace, argv=None, *, title=None, draw=None):
    """Run ``config`` into ``out`` as the command line asked (``--overwrite``, ``--resume``),
    draw its figure (``draw(path, overwrite=...) -> figure``, beside the run file with
    ``.png``; default ``simulator.plots.plot_run``) and print where both are (``title``: what
    is run; default from the config). The figure's path is checked before the run starts:
    an existing figure is replaced only with ``--overwrite``; on ``--resume`` one that exists
    is kept, and the command that redraws it is printed. An interrupt at any moment is
    answered by what it left in ``out``. Returns ``(result or None, exit code)``."""
    from .runs import file_identity, interrupted_message

    before = file_identity(out)
    result, code = None, 0
    with answered(interrupted=lambda: interrupted_message(out, before)) as answer:
        result, code = _run_and_draw(config, out, args, argv, title, draw)
    return (result, code) if answer.code == 0 else (None, answer.code)


def _run_and_draw(config: RunConfig, out: Path, args: argparse.Namespace, argv, title, draw):
    from .plots import describe

    one_line_warnings()
    checkout = other_copy()
    if checkout is not None:
        warnings.warn(f"this scenario imports the installed copy of simulator at {PACKAGE_DIR}, whose source differs "
                      f"from {checkout}/simulator/ (two copies of the package); pip install -e {checkout} makes them "
                      "one", stacklevel=2)  # fmt: skip
    if draw is None:
        from .plots import plot_run as draw
    if title is None:
        title = (f"{config['task.name']}, {describe(config.tables)}, seed {config['run.seed']}, "
                 f"{config['run.epochs']} epochs")  # fmt: skip
    resume = getattr(args, "resume", False)
    figure_path = Path(out).with_suffix(".png")
    code = 0 if resume else checked_targets([out], args.overwrite) or checked_targets([figure_path], args.overwrite)
    if code:
        return None, code
    print(f"{title} -> {out}")
    command = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    result, code = run_as_command(config, out, overwrite=args.overwrite, command_line=command, resume=resume)
    if result is None:
        return None, code
    metric, label = headline(config["task.name"])
    print(f"{label} {result.epochs[metric][0]:.4g} before training, {result.final():.4g} after the final epoch; "
          f"{result.wall_time:.1f} s")  # fmt: skip
    if resume and figure_path.exists():
        print(f"trajectory: {out}\nfigure:     {figure_path} exists and is kept; draw the finished run with: "
              f"python -m simulator plot {out} --overwrite")  # fmt: skip
        return result, 0
    interrupted = (f"interrupted while drawing the figure; {out} is complete (draw it with: python -m simulator "
                   f"plot {out})")  # fmt: skip
    figure = None
    with answered(interrupted=lambda: interrupted) as answer:  # e.g. a figure made meanwhile by someone else
        figure = draw(out, overwrite=args.overwrite)
    if answer.code:
        return None, answer.code
    print(f"trajectory: {out}\nfigure:     {figure}")
    return result, 0
