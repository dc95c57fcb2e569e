"""The README's digits table: the chemical rule (one-hot, moving and fixed targets), EP and
CL on the same networks, splits and shuffles, beside two classifiers without a network.

    python scenarios/digits_table.py                # seeds 0-4, 100 epochs (about 75 minutes on 2 cores)
    python scenarios/digits_table.py --smoke        # seconds (CI)

Each entry is a set of run-config keys on ``scenarios/configs/digits.toml``; one run file per
entry and seed in ``--out`` (default ``outputs/digits_table/``). Prints a Markdown table of
the final epoch's test accuracy (mean and min over seeds; never the best epoch) with the
ceilings of :func:`simulator.tasks.linear_ceilings`, and writes it with every seed's value
to ``digits_table.json`` beside the folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

import simulator
from simulator.base import parse_seeds
from simulator.commandline import ArgumentParser, positive_int
from simulator.scenario import guarded, output_folder, run_points
from simulator.tasks import digits_task, linear_ceilings

CONFIG = Path(__file__).resolve().parent / "configs" / "digits.toml"
#: entry -> the keys it sets (all but the first at a constant rate). EP and CL nudge by eta = 0.1 at the
#: same lr = alpha * eta (sparse: faster than
#: dense here); the class-mean targets are ~10x smaller than the one-hot codes, so their lr is 10x
ENTRIES = {
    "chemical": {},
    "chemical, constant rate": {"rule.lr_decay_every": 0},
    "chemical, moving targets (paper's)": {"task.targets": "moving", "rule.lr": 1.0, "rule.lr_decay_every": 0},
    "chemical, fixed targets": {"task.targets": "fixed", "rule.lr": 1.0, "rule.lr_decay_every": 0},
    "ep": {"rule.name": "ep", "rule.eta": 0.1, "dynamics.solver_method": "sparse", "rule.lr_decay_every": 0},
    "coupled": {"rule.name": "coupled", "rule.eta": 0.1, "dynamics.solver_method": "sparse", "rule.lr_decay_every": 0},
}
SMOKE = {"run.epochs": 1, "task.n_train": 60, "network.side": 16}


def slug(entry: str) -> str:
    return entry.split(",")[0] + ("" if "," not in entry else "_" + entry.split(", ")[1].split()[0])


def config(entry: str, seed: int, epochs: int, smoke: bool) -> simulator.RunConfig:
    values = {**ENTRIES[entry], "run.seed": seed, "run.epochs": epochs, **(SMOKE if smoke else {})}
    return simulator.RunConfig.from_file(CONFIG).with_values(values)


def one_run(job) -> tuple[str, int, float, float, str]:
    """``(entry, seed, accuracy before, after the final epoch, message)``; a stopped run says why."""
    (entry, seed, epochs, smoke), path, overwrite = job
    result = simulator.run(config(entry, seed, epochs, smoke), out=path, overwrite=overwrite, on_failure="return")
    accuracy = result.epochs["accuracy_test"]
    return entry, seed, float(accuracy[0]), float(accuracy[-1]), result.message


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=list(range(5)), help="START:STOP or a,b,c (default 0:5)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("outputs/digits_table"), help="folder for the run files")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="two seeds, one epoch on 16x16 with 60 digits (CI)")
    args = parser.parse_args(argv)
    seeds = args.seeds[:2] if args.smoke else args.seeds
    output_folder(parser, args.out)
    table = args.out.parent / f"{args.out.name}.json"
    jobs = [((entry, seed, args.epochs, args.smoke), args.out / f"{slug(entry)}_seed{seed}.h5", args.overwrite)
            for entry in ENTRIES for seed in seeds]  # fmt: skip
    done = run_points(one_run, jobs, [path for _, path, _ in jobs] + [table], args.overwrite, args.workers)
    if isinstance(done, int):
        return done
    results = {entry: {} for entry in ENTRIES}
    for entry, seed, _, after, message in done:
        results[entry][seed] = after
        if message:
            print(f"{entry} seed {seed} stopped: {message}", file=sys.stderr)
    # before training, against the class means' outputs (one-hot codes start at chance)
    before = {seed: b for e, seed, b, _, _ in done if e == "chemical, moving targets (paper's)"}
    n_train = config("chemical", 0, 1, args.smoke)["task.n_train"]
    ceilings = {seed: linear_ceilings(digits_task(seed, n_train=n_train)) for seed in seeds}
    rows = {"untrained network (class-mean targets)": before, **results}
    for name in ("nearest_centroid", "least_squares"):
        rows[f"{name.replace('_', ' ')} (no network)"] = {seed: c[name] for seed, c in ceilings.items()}
    print(f"Digits, {args.epochs} epochs, seeds {seeds[0]}-{seeds[-1]}: final-epoch test accuracy\n")
    print("| | mean | min | max |\n|---|---|---|---|")
    for name, values in rows.items():
        a = np.array(list(values.values()))
        print(f"| {name} | {a.mean():.3f} | {a.min():.3f} | {a.max():.3f} |")
    document = {"epochs": args.epochs, "seeds": seeds, "accuracy_test": {k: {str(s): v for s, v in r.items()}
                for k, r in rows.items()}, "version": simulator.__version__}  # fmt: skip
    with open(table, "x" if not args.overwrite else "w") as handle:
        json.dump(document, handle, indent=1)
    print(f"\nrun files: {args.out}/\ntable:     {table}")
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main))
