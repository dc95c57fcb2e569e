"""Iris with the chemical (diffusion) rule on the paper's 12x12, d=4 network (section III, Fig. 2).

    python scenarios/iris_diffusion.py                        # quasistatic, defaults, seed 0
    python scenarios/iris_diffusion.py --dynamics timestepped # explicit relaxation, T = 50 t_relax
    python scenarios/iris_diffusion.py --smoke                # a few seconds (CI)
    python scenarios/iris_diffusion.py --config run.toml      # a run config; flags beat the file
    python scenarios/iris_diffusion.py --preset paper         # the paper's Fig. 2 learning rate (1e-4)

The config is the default run config (``RunConfig.from_dict({})``: Iris, the paper's lattice,
the chemical rule, quasistatic, 150 epochs at lr 3e-3, our tuned rate), or with ``--preset
paper`` ``scenarios/configs/iris_paper.toml`` (the paper's lr 1e-4); the flags set its keys. Writes the
trajectory (H5MD) and the four-panel figure; prints where they are and the final epoch's
accuracy (never the best epoch). Replot or inspect any time with
``python -m simulator plot FILE`` / ``python -m simulator inspect FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator import RunConfig
from simulator.commandline import ArgumentParser
from simulator.scenario import config_from_file_and_flags, default_out, run_and_draw

DEFAULTS = RunConfig.from_dict({})
PRESETS = {"ours": None, "paper": Path(__file__).resolve().parent / "configs" / "iris_paper.toml"}
SMOKE = {"run.epochs": 2, "dynamics.presentation": 1.0, "dynamics.remodel_time": 1.0, "run.fields_every": 500}
FLAGS = {
    "seed": "run.seed", "epochs": "run.epochs", "lr": "rule.lr", "eta": "rule.eta", "dynamics": "dynamics.name",
    "presentation": "dynamics.presentation", "feedback_delay": "dynamics.feedback_delay",
    "field_every": "run.fields_every", "w_min": "run.w_min", "scheme": "dynamics.scheme",
    "implicit_steps": "dynamics.implicit_steps", "weights": "dynamics.weights", "remodel_time": "dynamics.remodel_time",
    "chemical_lifetime": "dynamics.chemical_lifetime",
}  # fmt: skip


def parse(argv=None) -> tuple[argparse.Namespace, RunConfig]:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help=f"network, split and shuffling seed ({DEFAULTS['run.seed']})")
    parser.add_argument("--epochs", type=int, help=f"training epochs ({DEFAULTS['run.epochs']})")
    parser.add_argument("--lr", type=float, help=f"alpha*eta, the step along -dC/dw ({DEFAULTS['rule.lr']})")
    parser.add_argument("--eta", type=float, help=f"nudge: feedback current per unit error ({DEFAULTS['rule.eta']})")
    parser.add_argument("--dynamics", choices=("quasistatic", "timestepped"), help="(quasistatic)")
    parser.add_argument("--presentation", type=float, help="time-stepped: T per example, in relaxation times (50)")
    parser.add_argument("--feedback-delay", type=float, help="time-stepped: feedback from this long into a "
                                                             "presentation, in relaxation times (0)")  # fmt: skip
    parser.add_argument("--tau", type=float, help="the old name of --feedback-delay")
    parser.add_argument("--weights", choices=("auto", "physical", "deferred", "live"), help="time-stepped: how the "
                        "pipes remodel (auto: physical, at the material's rate while the fields evolve)")
    parser.add_argument("--remodel-time", type=float, help="time-stepped, physical: the material's remodelling time, "
                        "in relaxation times (50)")  # fmt: skip
    parser.add_argument("--chemical-lifetime", type=float, help="time-stepped: the chemical decays at 1 / lifetime "
                        "(relaxation times; 0, the default: it does not decay)")  # fmt: skip
    parser.add_argument("--field-every", type=int, help="time-stepped: record v and u every N steps, 0 for never "
                                                        f"({DEFAULTS['run.fields_every']})")  # fmt: skip
    parser.add_argument("--w-min", type=float, help=f"conductance floor ({DEFAULTS['run.w_min']})")
    parser.add_argument("--scheme", choices=("explicit", "implicit"), help="time-stepped: explicit steps, or "
                        "backward-Euler diffusion at --implicit-steps per relaxation time (explicit)")  # fmt: skip
    parser.add_argument("--implicit-steps", type=float, help="steps per relaxation time (10)")
    parser.add_argument("--config", help="a run config (TOML; old flat Iris keys are read too); flags beat it")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="ours", help="ours: the tuned defaults (lr 3e-3); "
                        "paper: the paper's Fig. 2 learning rate, 1e-4 (scenarios/configs/iris_paper.toml)")
    parser.add_argument("--out", help="run file (default outputs/iris_diffusion[_timestepped][_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same flags)")
    parser.add_argument("--smoke", action="store_true", help="a seconds-long run for CI (2 epochs, T = 1 t_relax)")
    args = parser.parse_args(argv)
    if args.preset != "ours" and args.config:
        parser.error("give --preset or --config, not both")
    defaults = DEFAULTS if PRESETS[args.preset] is None else RunConfig.from_file(PRESETS[args.preset])
    config = config_from_file_and_flags(parser, args, defaults, SMOKE, FLAGS, renamed=[("tau", "feedback_delay")])
    return args, config


def main(argv=None) -> int:
    args, config = parse(argv)
    timed = "_timestepped" if config["dynamics.name"] == "timestepped" else ""
    preset = "" if args.preset == "ours" else f"_{args.preset}"
    return run_and_draw(config, default_out(f"iris_diffusion{preset}{timed}", args.out, args.smoke), args, argv)[1]


if __name__ == "__main__":
    sys.exit(main())
