"""Iris with the chemical (diffusion) rule on the paper's 12x12, d=4 network (section III, Fig. 2).

    python scenarios/iris_diffusion.py                        # quasistatic, defaults, seed 0
    python scenarios/iris_diffusion.py --dynamics timestepped # explicit relaxation, T = 50 t_relax
    python scenarios/iris_diffusion.py --smoke                # a few seconds (CI)

Writes the trajectory (H5MD) and the four-panel figure; prints where they are and the final
epoch's accuracy (never the best epoch). Replot or inspect any time with
``python -m simulator plot FILE`` / ``python -m simulator inspect FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.experiment import DYNAMICS, IrisConfig, run_from_command_line
from simulator.plots import plot_iris_run

DEFAULTS = IrisConfig()
SMOKE = {"epochs": 2, "presentation": 1.0, "field_every": 500}


def parse(argv=None) -> tuple[argparse.Namespace, IrisConfig, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed", type=int, default=DEFAULTS.seed, help="network, split and shuffling seed (default %(default)s)"
    )
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="training epochs (default %(default)s)")
    parser.add_argument("--lr", type=float, default=DEFAULTS.lr, help="learning rate alpha*eta (default %(default)s)")
    parser.add_argument("--dynamics", choices=DYNAMICS, default=DEFAULTS.dynamics)
    parser.add_argument(
        "--presentation", type=float, default=DEFAULTS.presentation,
        help="time-stepped: presentation time per example in relaxation times (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--tau", type=float, default=DEFAULTS.tau, help="time-stepped: release delay in relaxation times"
    )
    parser.add_argument(
        "--field-every", type=int, default=DEFAULTS.field_every,
        help="time-stepped: record v and u every N explicit steps, 0 for never (default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--w-min", type=float, default=DEFAULTS.w_min, help="conductance floor (default %(default)s)")
    parser.add_argument("--out", type=Path, help="run file (default outputs/iris_diffusion[_timestepped][_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    parser.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --out (give the same flags)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a seconds-long run for CI (2 epochs, T = 1 relaxation time)"
    )
    args = parser.parse_args(argv)
    values = dict(
        seed=args.seed, epochs=args.epochs, lr=args.lr, dynamics=args.dynamics, presentation=args.presentation,
        tau=args.tau, field_every=args.field_every, w_min=args.w_min,
    )  # fmt: skip
    if args.smoke:
        values.update(SMOKE)
    try:
        config = IrisConfig(**values)
    except ValueError as error:
        parser.error(str(error))
    out = args.out
    if out is None:
        name = (
            "iris_diffusion"
            + ("_timestepped" if args.dynamics == "timestepped" else "")
            + ("_smoke" if args.smoke else "")
        )
        out = Path("outputs") / f"{name}.h5"
        out.parent.mkdir(exist_ok=True)  # our default folder; a user's --out folder must exist
    return args, config, out


def main(argv=None) -> int:
    args, config, out = parse(argv)
    command = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    print(
        f"Iris, chemical rule, {config.dynamics}, seed {config.seed}, lr {config.lr:g}, {config.epochs} epochs -> {out}"
    )
    run, code = run_from_command_line(config, out, overwrite=args.overwrite, command_line=command, resume=args.resume)
    if run is None:
        return code
    accuracy = run.epochs["accuracy_test"]
    figure = plot_iris_run(out)
    print(
        f"test accuracy {accuracy[0]:.3f} before training, {accuracy[-1]:.3f} after the final epoch "
        f"(train {run.epochs['accuracy_train'][-1]:.3f}, response norm {run.epochs['response_norm'][0]:.2f} -> "
        f"{run.epochs['response_norm'][-1]:.2f}); {run.wall_time:.1f} s"
    )
    print(f"trajectory: {out}\nfigure:     {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
