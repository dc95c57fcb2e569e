"""Handwritten digits (10 classes) with the chemical rule on a 32x32, d=8 lattice: our task
beyond the paper's Iris (64 input pairs for the 8x8 pixels, 10 output pairs).

    python scenarios/digits.py                      # quasistatic, our defaults, seed 0 (about a minute)
    python scenarios/digits.py --targets moving     # the paper's moving class-mean targets (they collapse)
    python scenarios/digits.py --rule ep            # equilibrium propagation on the same network
    python scenarios/digits.py --smoke              # seconds (CI)

The config is ``scenarios/configs/digits.toml`` (every value our choice; README, "Digits");
the flags set its keys. Writes the trajectory (H5MD) and the four-panel figure and prints
the final epoch's test accuracy (never the best epoch). The table of rules and ceilings over
seeds is ``scenarios/digits_table.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator import RunConfig
from simulator.commandline import ArgumentParser
from simulator.scenario import config_from_file_and_flags, default_out, run_and_draw
from simulator.tasks import TARGET_PROTOCOLS

CONFIG = Path(__file__).resolve().parent / "configs" / "digits.toml"
DEFAULTS = RunConfig.from_file(CONFIG)
SMOKE = {"run.epochs": 1, "task.n_train": 60, "network.side": 16}
FLAGS = {
    "seed": "run.seed", "epochs": "run.epochs", "lr": "rule.lr", "eta": "rule.eta", "rule": "rule.name",
    "targets": "task.targets", "target_scale": "task.target_scale", "side": "network.side", "d": "network.d",
    "n_train": "task.n_train", "lr_decay": "rule.lr_decay", "lr_decay_every": "rule.lr_decay_every",
}  # fmt: skip


def parse(argv=None) -> tuple[argparse.Namespace, RunConfig]:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help=f"network, split and shuffling seed ({DEFAULTS['run.seed']})")
    parser.add_argument("--epochs", type=int, help=f"training epochs ({DEFAULTS['run.epochs']})")
    parser.add_argument("--lr", type=float, help=f"alpha*eta, the step along -dC/dw ({DEFAULTS['rule.lr']})")
    parser.add_argument("--eta", type=float, help=f"nudge: feedback current per unit error ({DEFAULTS['rule.eta']})")
    parser.add_argument("--lr-decay", type=float, help=f"the rate's factor every --lr-decay-every epochs "
                        f"({DEFAULTS['rule.lr_decay']})")  # fmt: skip
    parser.add_argument("--lr-decay-every", type=int, help=f"epochs between decays, 0: a constant rate "
                        f"({DEFAULTS['rule.lr_decay_every']})")  # fmt: skip
    parser.add_argument("--rule", choices=("chemical", "ep", "coupled", "gradient"), help="(chemical)")
    parser.add_argument("--targets", choices=tuple(TARGET_PROTOCOLS), help=f"({DEFAULTS['task.targets']})")
    parser.add_argument("--target-scale", type=float, help="onehot: the code's size in starting-output spreads (1)")
    parser.add_argument("--side", type=int, help=f"lattice nodes per side ({DEFAULTS['network.side']})")
    parser.add_argument("--d", type=int, help=f"links to the d nearest neighbours ({DEFAULTS['network.d']})")
    parser.add_argument("--n-train", type=int, help=f"training examples ({DEFAULTS['task.n_train']})")
    parser.add_argument("--config", help="a run config (TOML); flags beat it")
    parser.add_argument("--out", help="run file (default outputs/digits[_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same flags)")
    parser.add_argument("--smoke", action="store_true", help="a seconds-long run for CI (16x16, 60 digits, 1 epoch)")
    args = parser.parse_args(argv)
    return args, config_from_file_and_flags(parser, args, DEFAULTS, SMOKE, FLAGS)


def main(argv=None) -> int:
    args, config = parse(argv)
    return run_and_draw(config, default_out("digits", args.out, args.smoke), args, argv)[1]


if __name__ == "__main__":
    sys.exit(main())
