"""Command line: ``python -m simulator run|resume|inspect|plot|compare|animate|export|sweep`` (also ``chemsignal``)."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentTypeError
from pathlib import Path

import numpy as np

from .base import one_line_warnings
from .commandline import EXIT_FAILED, ArgumentParser, positive_int
from .commands import answered, run_as_command
from .fields import FIELDS
from .outputs import held
from .tasks import headline
from .trajectory import load_trajectory


def inspect(path, stream=None) -> None:
    """Print config, status, warnings, final metrics and every dataset with its shape (works on
    a running file). The whole file is read first, and nothing is printed until every line is
    made, so a damaged file is named, not half printed."""
    stream = sys.stdout if stream is None else stream
    run = load_trajectory(path)
    run.verify()
    status, message = run.status
    lines: list[str] = []
    say = lambda text="": lines.append(text)  # noqa: E731
    _describe(run, status, message, say)
    print("\n".join(lines), file=stream)


def _describe(run, status: str, message: str, say) -> None:
    say(f"file     {run.path}")
    say(f"status   {status}" + (f" ({message})" if message else ""))
    if not held(run.path):  # (a live run's file has a block in the making, not a torn one)
        for line in run.torn():
            say(f"left out {line} (readers skip it; resume does not continue from it)")
    for warning in run.warnings:
        say(f"warning  {warning}")
    package, git = run.versions.get("chemsignal-sim", "?"), run.versions.get("git", "?")
    say(f"created  {run.created} by chemsignal-sim {package} (git {git})")
    say("versions " + ", ".join(f"{k} {v}" for k, v in run.versions.items() if k not in ("chemsignal-sim", "git")))
    if run.command_line:
        say("command  " + " ".join(run.command_line))
    say(f"seed     {run.seed}")
    say("config")
    for key, value in run.config.items():
        if isinstance(value, dict):
            say(f"  [{key}] " + ", ".join(f"{k} = {v}" for k, v in value.items()))
        else:
            say(f"  {key:<13} {value}")
    for key, value in run.derived.items():
        say(f"  {key:<13} {value:.6g}  (derived)")
    _final_metrics(run, say)
    say("datasets")
    for name, shape, dtype in run.datasets():
        say(f"  {name:<45} {str(shape):<14} {dtype}")


def _final_metrics(run, say) -> None:
    try:
        step, _, epoch = run.series("observables/epoch")
    except KeyError:
        return
    if not len(epoch):
        return
    config = run.config
    planned = config["run"]["epochs"] if isinstance(config.get("run"), dict) else config.get("epochs", "?")
    say(f"final    epoch {int(epoch[-1])} of {planned} (step {int(step[-1])})")
    for key in run.epoch_metrics():
        values = run.series(f"observables/{key}")[2]
        if len(values):
            first, last = values[0], values[-1]
            say(f"  {key:<21} {last:.4g}" + ("" if np.isnan(first) else f"   (epoch 0: {first:.4g})"))
    try:
        cost_step, _, cost = run.series("observables/cost")
    except KeyError:
        return
    if len(cost):
        since = cost_step > step[-1] - (step[1] - step[0] if len(step) > 1 else len(cost))
        say(f"  {'mean cost, last epoch':<21} {cost[since].mean():.4g}")


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="chemsignal", description="Run, inspect, plot and compare chemsignal-sim runs (H5MD files)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="one recorded run from a config file ([network] [task] [rule] "
                                                 "[dynamics] [run] tables)")  # fmt: skip
    run_parser.add_argument("config", help="a TOML run config")
    run_parser.add_argument("--out", help="the run file (default outputs/<config name>.h5)")
    given = run_parser.add_mutually_exclusive_group()
    given.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    given.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    run_parser.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                            help="override a config value (repeatable), e.g. --set rule.lr=1e-3; TABLE.KEY= (nothing "
                                 "after the =) returns the key to its default")  # fmt: skip
    run_parser.add_argument("--unset", action="append", dest="set", type=_unset, metavar="TABLE.KEY",
                            help="return a config key to its default (repeatable): --set TABLE.KEY=")  # fmt: skip
    commands.add_parser("inspect", help="config, status, final metrics and datasets of a run file").add_argument("file")
    plot_parser = commands.add_parser("plot", help="draw the run's figure (the paper's Fig. 2 for Iris runs)")
    plot_parser.add_argument("file")
    plot_parser.add_argument("-o", "--out", help="figure path (default: the run file with .png)")
    plot_parser.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    compare_parser = commands.add_parser("compare", help="two run files side by side (e.g. diffusion vs advection)")
    compare_parser.add_argument("file")
    compare_parser.add_argument("other")
    compare_parser.add_argument("-o", "--out", help="figure path (default: A_vs_B.png beside A)")
    compare_parser.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    animate_parser = commands.add_parser("animate", help="a movie of a run's recorded fields (nodes coloured by the "
                                         "field, pipes by flow, chemical drop or conductance change)")  # fmt: skip
    animate_parser.add_argument("file")
    animate_parser.add_argument("--field", choices=FIELDS, help="default: the first the run recorded of "
                                "pressure, concentration, s_plus, s_minus, else conductance")  # fmt: skip
    animate_parser.add_argument("-o", "--out", help="movie path, .mp4 or .gif (default: <run>_<field>.mp4, or .gif "
                                "without imageio-ffmpeg)")  # fmt: skip
    animate_parser.add_argument("--fps", type=float, default=8.0, help="frames per second (%(default)s; at most 50 "
                                "for a GIF)")  # fmt: skip
    animate_parser.add_argument("--every", type=positive_int, default=1, metavar="K",
                                help="draw every K-th recorded frame, and the last (%(default)s)")  # fmt: skip
    animate_parser.add_argument("--overwrite", action="store_true", help="replace an existing movie")
    export_parser = commands.add_parser("export", help="sidecars that let other tools open a run (--xdmf: ParaView)")
    export_parser.add_argument("file")
    export_parser.add_argument("--xdmf", action="store_true", required=True,
                               help="write <run>.xdmf and <run>.xdmf.h5, which point into the run file")  # fmt: skip
    export_parser.add_argument("-o", "--out", help="the XDMF file (default: the run file with .xdmf)")
    export_parser.add_argument("--overwrite", action="store_true", help="replace existing sidecars")
    commands.add_parser("resume", help="continue an interrupted run from its last complete epoch (config from the "
                                       "file)").add_argument("file")  # fmt: skip
    sweep_parser = commands.add_parser(
        "sweep", help="a run config or a scenario over a grid of values and seeds (see simulator.sweep)",
        description="Any argument after the sweep's own is passed to every run.",
    )  # fmt: skip
    sweep_parser.add_argument(
        "scenario", help="a run config (TOML with tables), a scenario script, or a sweep file (TOML with scenario =)"
    )
    sweep_parser.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,... (repeatable; a config's "
                                                                          "keys as TABLE.KEY)")  # fmt: skip
    sweep_parser.add_argument("--seeds", help="START:STOP or a,b,c (default 0:4)")
    sweep_parser.add_argument("--out", help="folder for the run files and the manifest (required without a TOML)")
    sweep_parser.add_argument("--workers", type=positive_int, help="local processes (default: one per core)")
    sweep_parser.add_argument("--metric", help="the per-epoch series the summary shows, e.g. cost_test (default: the "
                                               "task's headline, accuracy_test for Iris)")  # fmt: skip
    sweep_parser.add_argument("--scheduler", help="a Dask scheduler address: run on that cluster instead")
    sweep_parser.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
                              help="give up on an unreachable scheduler after this long (%(default)s)")  # fmt: skip
    return parser


def _unset(key: str) -> str:
    """``--unset TABLE.KEY`` as the assignment ``TABLE.KEY=`` (the key back at its default)."""
    if "=" in key:
        raise ArgumentTypeError(f"--unset takes TABLE.KEY without a value, got {key!r}")
    return f"{key}="


def main(argv=None) -> int:
    """The command line; returns its exit code (:mod:`simulator.commandline`). SIGINT and SIGTERM
    end any command with one line and exit code 130, whatever it was doing."""
    from . import _start

    one_line_warnings()
    code = 0
    with answered("chemsignal: error", interrupted=lambda: "chemsignal: interrupted") as answer:
        code = _start.ending(_main(argv))  # (inside: no moment is left without a handler of ours)
    return _start.ending(answer.code) if answer.code else code


def _main(argv) -> int:
    parser = _parser()
    args, passthrough = parser.parse_known_args(argv)
    if passthrough and args.command != "sweep":
        parser.error(f"unrecognized arguments: {' '.join(passthrough)}")
    if args.command in ("run", "resume"):
        return _run_or_resume(args, argv)
    if args.command == "sweep":
        return _sweep(args, passthrough)
    with answered(f"chemsignal {args.command}: error") as answer:
        try:
            _read_command(args)
        except BrokenPipeError:  # e.g. `chemsignal inspect FILE | head`: the reader left, not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return answer.code


def _read_command(args) -> None:
    """``inspect``, ``plot``, ``animate``, ``export`` or ``compare``: commands that read a run."""
    if args.command == "inspect":
        inspect(args.file)
    elif args.command == "plot":
        from .plots import plot_run

        print(f"figure: {plot_run(args.file, args.out, overwrite=args.overwrite)}")
    elif args.command == "animate":
        _animate(args)
    elif args.command == "export":
        from .export import export_xdmf

        out = export_xdmf(args.file, args.out, overwrite=args.overwrite)
        print(f"xdmf:   {out}\n        {out}.h5 (virtual datasets: rows of {args.file}, no data copied)")
    elif args.command == "compare":
        from .plots import plot_comparison

        print(f"figure: {plot_comparison(args.file, args.other, args.out, overwrite=args.overwrite)}")


def _animate(args) -> None:
    from .animation import animate
    from .progress import TerminalProgress

    movie = animate(args.file, args.field, args.out, fps=args.fps, every=args.every, overwrite=args.overwrite,
                    progress=TerminalProgress(unit="frame"))  # fmt: skip
    scale = f"nodes {movie.node_range[0]:.4g} .. {movie.node_range[1]:.4g}, " if movie.node_range else ""
    frames = f"{movie.frames} frame{'s' if movie.frames != 1 else ''}"
    print(f"movie: {movie.path} ({frames} of {movie.field}; colour scale {scale}pipes "
          f"{movie.pipe_range[0]:.4g} .. {movie.pipe_range[1]:.4g})")  # fmt: skip


def _report(result, path) -> None:
    """The run's headline, before and after training, and where it is."""
    key, label = headline(result.config["task.name"])
    status = "complete" if result.success else f"failed ({result.message})"
    print(f"{path}: {status}; {label} {result.epochs[key][0]:.4g} before training, {result.final():.4g} after epoch "
          f"{result.config['run.epochs']} ({result.wall_time:.1f} s)")  # fmt: skip


def _run_file(args) -> Path:
    """The run file of ``run`` (``--out``, or ``outputs/<config name>.h5``) or ``resume``."""
    if args.command == "resume":
        return Path(args.file)
    return Path(args.out) if args.out else Path("outputs") / f"{Path(args.config).stem}.h5"


def _run_or_resume(args, argv) -> int:
    """``run`` or ``resume``; an interrupt at any moment is answered by what it left in the run
    file (:func:`simulator.runs.interrupted_message`)."""
    from .runs import file_identity, interrupted_message

    out = _run_file(args)
    before = file_identity(out)
    code = 0
    with answered(f"chemsignal {args.command}: error", interrupted=lambda: interrupted_message(out, before)) as answer:
        code = _run(args, argv) if args.command == "run" else _resume(args.file)
    return answer.code or code


def _run(args, argv) -> int:
    from .config import RunConfig, parse_assignment

    config = RunConfig.from_file(args.config)
    config = config.with_values(dict(parse_assignment(text) for text in args.set))
    out = _run_file(args)
    if not args.out:
        out.parent.mkdir(exist_ok=True)  # our default folder; a user's --out folder must exist
    command = ["chemsignal", *(sys.argv[1:] if argv is None else argv)]
    result, code = run_as_command(config, out, overwrite=args.overwrite, command_line=command, resume=args.resume)
    if result is not None:
        _report(result, out)
        print(f"draw it: python -m simulator plot {out}")
    return code


def _resume(path) -> int:
    from .config import RunConfig
    from .plots import plot_run

    stored = load_trajectory(path).config
    if not isinstance(stored.get("run"), dict):
        raise ValueError(f"{path} was written by an earlier version (a flat Iris config); it can be inspected and "
                         "plotted, not resumed")  # fmt: skip
    try:
        config = RunConfig.from_dict(stored)
    except ValueError as error:
        raise ValueError(f"{path} holds a config this version cannot read ({error})") from None
    result, code = run_as_command(config, path, overwrite=False, command_line=sys.argv, resume=True)
    if result is None:
        return code
    _report(result, path)
    figure = Path(path).with_suffix(".png")
    if figure.exists():  # drawn from the partial run, or another: replaced only when asked
        print(f"figure: {figure} exists and is kept; draw the finished run with: python -m simulator plot {path} "
              "--overwrite")  # fmt: skip
        return 0
    interrupted = (f"interrupted while drawing the figure; {path} is complete (draw it with: python -m simulator plot "
                   f"{path})")  # fmt: skip
    with answered("chemsignal resume: error", interrupted=lambda: interrupted) as answer:
        print(f"figure: {plot_run(path, figure)}")
    return answer.code


def _sweep(args, passthrough) -> int:
    from .base import parse_seeds
    from .sweep import check_metric, parse_grid, read_sweep_file, run_sweep, summarise

    prefix = "chemsignal sweep: error"
    scenario, grid, seeds, out = args.scenario, {}, args.seeds, args.out
    with answered(prefix) as answer:
        if scenario.endswith(".toml") and _is_sweep_file(scenario):
            described = read_sweep_file(scenario)
            scenario, grid = described["scenario"], described["grid"]
            seeds, out = seeds or described["seeds"], out or described["out"]
            passthrough = described["passthrough"] + passthrough
        grid.update(parse_grid(args.grid))
        seeds = parse_seeds(seeds or "0:4")
        if out is None:
            raise ValueError('--out FOLDER is required (or out = "FOLDER" in the sweep file)')
        if args.metric is not None:  # against the points already run, before running more
            check_metric(out, args.metric)
    if answer.code:
        return answer.code
    interrupted = f"chemsignal sweep: interrupted; rerun the same command to finish it (manifest: {out}/manifest.json)"
    client, manifest = None, []
    with answered(prefix, interrupted=lambda: interrupted) as answer:  # the manifest is written on the way out
        try:
            client = _dask_client(args.scheduler, args.scheduler_timeout) if args.scheduler else None
            manifest = run_sweep(scenario, grid, seeds, out, passthrough=passthrough, workers=args.workers,
                                 executor=client.get_executor() if client is not None else None)  # fmt: skip
        finally:
            if client is not None:
                client.close()
    if answer.code:
        return answer.code
    with answered(prefix) as answer:  # a --metric the points that have now run do not record
        table, figure = summarise(out, args.metric)
    if answer.code:
        return answer.code
    print(table)
    print(f"manifest: {out}/manifest.json" + (f"\nfigure:   {figure}" if figure else ""))
    failed = [e for e in manifest if e["status"] != "complete"]
    for entry in failed[:5]:
        print(f"  {entry['file']}: {entry['status']} {entry.get('error', '')}", file=sys.stderr)
    return EXIT_FAILED if failed else 0


def _dask_client(address: str, timeout: float):
    """A ``distributed.Client`` of the scheduler at ``address``, or a ``ValueError`` in one line
    once ``timeout`` seconds have passed without reaching it."""
    import logging

    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed: pip install '.[dist]'") from None
    if not timeout > 0:
        raise ValueError(f"--scheduler-timeout must be > 0, got {timeout}")
    quiet = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:  # a failed connection logs a page of retries and tracebacks
        logger.setLevel(logging.CRITICAL)
    late = ("no answer in Dask's protocol: if something accepted the connection, it is not a scheduler (a web "
            "server, the dashboard's port?); the scheduler's address is tcp://HOST:8786 by default")
    try:  # Dask's own timeout, with a grace for its retries, before ours
        client = _within(timeout + max(2.0, timeout / 2), lambda: Client(address, timeout=timeout), late)
    except (OSError, TimeoutError, ValueError) as error:  # (the loggers stay quiet: an abandoned attempt may retry)
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise ValueError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({reason})") from None
    except Exception as error:  # e.g. a reply that is not Dask's: a huge frame length read from an HTTP header
        raise ValueError(
            f"{address} did not answer as a Dask scheduler ({type(error).__name__}: {str(error)[:80]}); give the "
            "scheduler's address (tcp://HOST:8786 by default), not its dashboard's"
        ) from None
    for logger, level in zip(quiet, levels):
        logger.setLevel(level)
    return client


def _within(seconds: float, work, late: str):
    """``work()``, or a ``TimeoutError(late)`` once ``seconds`` have passed. Dask's own timeout
    does not cover its handshake, so a server that accepts and then waits (a web server, a
    dashboard port) would hold the sweep for ever; the abandoned call ends with the process."""
    import threading

    outcome = {}

    def attempt():
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    worker = threading.Thread(target=attempt, name="dask-connect", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(late)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _is_sweep_file(path) -> bool:
    """A sweep file names a scenario; a run config has tables."""
    from .config import parse_toml

    try:
        return "scenario" in parse_toml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return True  # let the sweep-file reader report what is wrong


if __name__ == "__main__":
    sys.exit(main())
