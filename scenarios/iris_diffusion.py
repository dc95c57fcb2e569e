"""Iris with the chemical (diffusion) rule on the paper's 12x12, d=4 network (section III, Fig. 2).

    python scenarios/iris_diffusion.py                        # quasistatic, defaults, seed 0
    python scenarios/iris_diffusion.py --dynamics timestepped # explicit relaxation, T = 50 t_relax
    python scenarios/iris_diffusion.py --smoke                # a few seconds (CI)
    python scenarios/iris_diffusion.py --config run.toml      # any IrisConfig keys; flags beat the file

Writes the trajectory (H5MD) and the four-panel figure; prints where they are and the final
epoch's accuracy (never the best epoch). Replot or inspect any time with
``python -m simulator plot FILE`` / ``python -m simulator inspect FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.experiment import DYNAMICS, IrisConfig, read_config_file, run_from_command_line
from simulator.plots import plot_iris_run

DEFAULTS = IrisConfig()
SMOKE = {"epochs": 2, "presentation": 1.0, "field_every": 500}
FLAGS = ("seed", "epochs", "lr", "dynamics", "presentation", "tau", "field_every", "w_min", "scheme", "implicit_steps")


def parse(argv=None) -> tuple[argparse.Namespace, IrisConfig, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    given = argparse.SUPPRESS  # a config flag counts only when given: it then beats --config and --smoke
    parser.add_argument("--seed", type=int, default=given, help=f"network, split and shuffling seed ({DEFAULTS.seed})")
    parser.add_argument("--epochs", type=int, default=given, help=f"training epochs ({DEFAULTS.epochs})")
    parser.add_argument("--lr", type=float, default=given, help=f"learning rate alpha*eta ({DEFAULTS.lr})")
    parser.add_argument("--dynamics", choices=DYNAMICS, default=given, help=f"({DEFAULTS.dynamics})")
    parser.add_argument(
        "--presentation", type=float, default=given,
        help=f"time-stepped: presentation time per example in relaxation times ({DEFAULTS.presentation})",
    )  # fmt: skip
    parser.add_argument(
        "--tau", type=float, default=given, help=f"time-stepped: release delay in relaxation times ({DEFAULTS.tau})"
    )
    parser.add_argument(
        "--field-every", type=int, default=given,
        help=f"time-stepped: record v and u every N explicit steps, 0 for never ({DEFAULTS.field_every})",
    )  # fmt: skip
    parser.add_argument("--w-min", type=float, default=given, help=f"conductance floor ({DEFAULTS.w_min})")
    parser.add_argument(
        "--scheme", choices=("explicit", "implicit"), default=given,
        help=f"time-stepped: explicit steps, or backward-Euler diffusion at --implicit-steps per relaxation "
        f"time ({DEFAULTS.scheme})",
    )  # fmt: skip
    parser.add_argument(
        "--implicit-steps", type=float, default=given, help=f"steps per relaxation time ({DEFAULTS.implicit_steps})"
    )
    parser.add_argument(
        "--config", type=Path, help="a TOML file of IrisConfig keys (e.g. from IrisConfig.to_toml()); flags beat it"
    )
    parser.add_argument("--out", type=Path, help="run file (default outputs/iris_diffusion[_timestepped][_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    parser.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --out (give the same flags)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a seconds-long run for CI (2 epochs, T = 1 relaxation time)"
    )
    args = parser.parse_args(argv)
    flags = {key: value for key, value in vars(args).items() if key in FLAGS}
    try:
        values = read_config_file(args.config) if args.config else {}
        values.update(SMOKE if args.smoke else {}, **flags)
        config = IrisConfig.from_dict(values)
    except ValueError as error:
        parser.error(str(error))
    out = args.out
    if out is None:
        name = (
            "iris_diffusion"
            + ("_timestepped" if config.dynamics == "timestepped" else "")
            + ("_smoke" if args.smoke else "")
        )
        out = Path("outputs") / f"{name}.h5"
        out.parent.mkdir(exist_ok=True)  # our default folder; a user's --out folder must exist
    return args, config, out


def main(argv=None) -> int:
    args, config, out = parse(argv)
    command = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    print(
        f"Iris, {config.rule} rule, {config.dynamics}, seed {config.seed}, lr {config.lr:g}, "
        f"{config.epochs} epochs -> {out}"
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
