"""Command line: ``python -m simulator inspect|plot|resume FILE``, ``compare A B``, ``sweep`` (also ``chemsignal``)."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .trajectory import TrajectoryError, load_trajectory

EPOCH_METRICS = ("accuracy_train", "accuracy_test", "accuracy_test_strict", "response_norm", "clip_fraction")


def inspect(path, stream=None) -> None:
    """Print config, status, final metrics and every dataset with its shape (works on a running file)."""
    stream = sys.stdout if stream is None else stream
    run = load_trajectory(path)
    status, message = run.status
    say = lambda text="": print(text, file=stream)  # noqa: E731
    say(f"file     {run.path}")
    say(f"status   {status}" + (f" ({message})" if message else ""))
    package, git = run.versions.get("chemsignal-sim", "?"), run.versions.get("git", "?")
    say(f"created  {run.created} by chemsignal-sim {package} (git {git})")
    say("versions " + ", ".join(f"{k} {v}" for k, v in run.versions.items() if k not in ("chemsignal-sim", "git")))
    if run.command_line:
        say("command  " + " ".join(run.command_line))
    say(f"seed     {run.seed}")
    say("config")
    for key, value in run.config.items():
        say(f"  {key:<13} {value}")
    for key, value in run.derived.items():
        say(f"  {key:<13} {value:.6g}  (derived)")
    try:
        step, _, epoch = run.series("observables/epoch")
    except KeyError:
        epoch = np.empty(0)
    if len(epoch):
        planned = run.config.get("epochs", "?")
        say(f"final    epoch {int(epoch[-1])} of {planned} (step {int(step[-1])})")
        for key in EPOCH_METRICS:
            try:
                values = run.series(f"observables/{key}")[2]
            except KeyError:
                continue
            if len(values):
                first, last = values[0], values[-1]
                say(f"  {key:<21} {last:.4f}" + ("" if np.isnan(first) else f"   (epoch 0: {first:.4f})"))
        try:
            cost_step, _, cost = run.series("observables/cost")
        except KeyError:
            cost = []
        if len(cost):
            since = cost_step > step[-1] - (step[1] - step[0] if len(step) > 1 else len(cost))
            say(f"  {'mean cost, last epoch':<21} {cost[since].mean():.4g}")
    say("datasets")
    for name, shape, dtype in run.datasets():
        say(f"  {name:<45} {str(shape):<14} {dtype}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="chemsignal", description="Inspect, plot and compare chemsignal-sim run files (H5MD)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect_parser = commands.add_parser("inspect", help="config, status, final metrics and datasets of a run file")
    inspect_parser.add_argument("file")
    plot_parser = commands.add_parser("plot", help="draw the run's figure (the paper's Fig. 2 for Iris runs)")
    plot_parser.add_argument("file")
    plot_parser.add_argument("-o", "--out", help="figure path (default: the run file with .png)")
    compare_parser = commands.add_parser("compare", help="two run files side by side (e.g. diffusion vs advection)")
    compare_parser.add_argument("file")
    compare_parser.add_argument("other")
    compare_parser.add_argument("-o", "--out", help="figure path (default: A_vs_B.png beside A)")
    resume_parser = commands.add_parser(
        "resume", help="continue an interrupted Iris run from its last complete epoch (config from the file)"
    )
    resume_parser.add_argument("file")
    sweep_parser = commands.add_parser(
        "sweep", help="run a scenario over a grid of flag values and seeds (see simulator.sweep)",
        description="Any flag after the sweep's own is passed to every run of the scenario.",
    )  # fmt: skip
    sweep_parser.add_argument(
        "scenario", help="a scenario script (e.g. scenarios/iris_diffusion.py), or a sweep TOML file ([sweep] table)"
    )
    sweep_parser.add_argument("--grid", action="append", default=[], help="FLAG=V1,V2,... (repeatable)")
    sweep_parser.add_argument("--seeds", help="START:STOP or a,b,c (default 0:4)")
    sweep_parser.add_argument("--out", help="folder for the run files and the manifest (required without a TOML)")
    sweep_parser.add_argument("--workers", type=int, help="local processes (default: one per core)")
    sweep_parser.add_argument("--scheduler", help="a Dask scheduler address: run on that cluster instead")
    args, passthrough = parser.parse_known_args(argv)
    if passthrough and args.command != "sweep":
        parser.error(f"unrecognized arguments: {' '.join(passthrough)}")
    try:
        if args.command == "inspect":
            inspect(args.file)
        elif args.command == "plot":
            from .plots import plot_iris_run

            print(f"figure: {plot_iris_run(args.file, args.out)}")
        elif args.command == "sweep":
            return _sweep(args, passthrough)
        elif args.command == "resume":
            return _resume(args.file)
        elif args.command == "compare":
            from .plots import plot_comparison

            print(f"figure: {plot_comparison(args.file, args.other, args.out)}")
    except (TrajectoryError, KeyError) as error:
        print(f"chemsignal {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `chemsignal inspect FILE | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _resume(path) -> int:
    from .experiment import IrisConfig, run_from_command_line
    from .plots import plot_iris_run

    stored = load_trajectory(path).config
    try:
        config = IrisConfig.from_dict(stored)
    except ValueError as error:
        print(f"chemsignal resume: error: {path} is not an Iris run ({error})", file=sys.stderr)
        return 2
    run, code = run_from_command_line(config, path, overwrite=False, command_line=sys.argv, resume=True)
    if run is None:
        return code
    accuracy = run.epochs["accuracy_test"]
    print(f"{path}: complete; test accuracy {accuracy[0]:.3f} before training, {accuracy[-1]:.3f} after epoch "
          f"{config.epochs}\nfigure: {plot_iris_run(path)}")  # fmt: skip
    return 0


def _sweep(args, passthrough) -> int:
    from .sweep import parse_grid, parse_seeds, read_sweep_file, run_sweep, summarise

    try:
        scenario, grid, seeds, out = args.scenario, {}, args.seeds, args.out
        if scenario.endswith(".toml"):
            described = read_sweep_file(scenario)
            scenario, grid = described["scenario"], described["grid"]
            seeds, out = seeds or described["seeds"], out or described["out"]
            passthrough = described["passthrough"] + passthrough
        grid.update(parse_grid(args.grid))
        seeds = parse_seeds(seeds or "0:4")
        if out is None:
            raise ValueError('--out FOLDER is required (or out = "FOLDER" in the sweep file)')
    except ValueError as error:
        print(f"chemsignal sweep: error: {error}", file=sys.stderr)
        return 2
    executor, client = None, None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            print("chemsignal sweep: error: --scheduler needs dask.distributed: pip install '.[dist]'", file=sys.stderr)
            return 2
        client = Client(args.scheduler)
        executor = client.get_executor()
    try:
        manifest = run_sweep(scenario, grid, seeds, out, passthrough=passthrough, executor=executor,
                             workers=args.workers)  # fmt: skip
    except ValueError as error:
        print(f"chemsignal sweep: error: {error}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
    table, figure = summarise(out)
    print(table)
    print(f"manifest: {out}/manifest.json" + (f"\nfigure:   {figure}" if figure else ""))
    failed = [e for e in manifest if e["status"] != "complete"]
    for entry in failed[:5]:
        print(f"  {entry['file']}: {entry['status']} {entry.get('error', '')}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
