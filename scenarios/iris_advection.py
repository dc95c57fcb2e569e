"""Iris with the advection mode of Appendix A: s+/s- chemicals carried by the flow.

    python scenarios/iris_advection.py                 # the settings found best (see README)
    python scenarios/iris_advection.py --xi 0.03 --release-every 20 --epochs 60
    python scenarios/iris_advection.py --smoke         # seconds (CI)

Same network, split, normalisation, moving desired outputs and test protocol as
``iris_diffusion.py``, with ``[dynamics] name = "advection"``: each example is shown for
``--transport-steps`` steps, the outputs release ``lam * |error|`` of chemical every
``--release-every`` steps (the paper's tau), and each pipe changes by ``xi (S+ - S-)``.
Writes the trajectory (with grad_cosine and the chemical balance per release, s+ and s-
fields) and the Fig. 2-style figure; prints the final-epoch accuracy.
"""

from __future__ import annotations

import sys

from simulator import RunConfig
from simulator.commandline import ArgumentParser
from simulator.scenario import config_from_file_and_flags, default_out, run_and_draw

# chosen on held-out seeds 10-17 (README: "Iris with advection")
DEFAULTS = RunConfig.from_dict({
    "dynamics": {"name": "advection", "xi": 0.003, "lam": 1.0, "release_every": 20, "transport_steps": 20},
    "run": {"epochs": 40, "fields_every": 1000},
})  # fmt: skip
FLAGS = {
    "seed": "run.seed", "epochs": "run.epochs", "xi": "dynamics.xi", "lam": "dynamics.lam",
    "release_every": "dynamics.release_every", "transport_steps": "dynamics.transport_steps",
    "field_every": "run.fields_every",
}  # fmt: skip


def parse(argv=None):
    """``(args, config)`` from the command line (a sweep resolves its points with this)."""
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="network, split and shuffling seed (0)")
    parser.add_argument("--epochs", type=int, help=f"({DEFAULTS['run.epochs']})")
    parser.add_argument("--xi", type=float, help=f"conductance change per unit chemical ({DEFAULTS['dynamics.xi']})")
    parser.add_argument("--lam", type=float, help=f"chemical released per unit error ({DEFAULTS['dynamics.lam']})")
    parser.add_argument("--release-every", type=int, help=f"transport steps between releases, the paper's tau "
                                                          f"({DEFAULTS['dynamics.release_every']})")  # fmt: skip
    parser.add_argument("--transport-steps", type=int, help=f"per example ({DEFAULTS['dynamics.transport_steps']})")
    parser.add_argument("--field-every", type=int, help=f"s+/s- snapshots, 0: never ({DEFAULTS['run.fields_every']})")
    parser.add_argument("--out", help="run file (default outputs/iris_advection[_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same flags)")
    parser.add_argument("--smoke", action="store_true", help="two epochs (CI)")
    args = parser.parse_args(argv)
    return args, config_from_file_and_flags(parser, args, DEFAULTS, {"run.epochs": 2}, FLAGS)


def main(argv=None) -> int:
    args, config = parse(argv)
    return run_and_draw(config, default_out("iris_advection", args.out, args.smoke), args, argv)[1]


if __name__ == "__main__":
    sys.exit(main())
