"""Iris with the advection mode of Appendix A: s+/s- chemicals carried by the flow.

    python scenarios/iris_advection.py                 # the settings found best (see README)
    python scenarios/iris_advection.py --xi 0.03 --release-every 20 --epochs 60
    python scenarios/iris_advection.py --smoke         # seconds (CI)

Same network, split, normalisation, moving desired outputs and test protocol as
``iris_diffusion.py``; each example is shown for ``--transport-steps`` steps, the outputs
release ``lam * |error|`` of chemical every ``--release-every`` steps, and each pipe changes
by ``xi (S+ - S-)``. Writes the trajectory (with grad_cosine and the chemical balance per
release, s+ and s- fields) and the Fig. 2-style figure; prints the final-epoch accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.experiment import IrisConfig, run_from_command_line
from simulator.plots import plot_iris_run

# chosen on held-out seeds 10-17 (README: "Iris with advection")
DEFAULTS = IrisConfig(rule="advection", epochs=40, xi=0.003, lam=1.0, release_every=20, transport_steps=20,
                      field_every=1000)  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="default %(default)s")
    parser.add_argument("--xi", type=float, default=DEFAULTS.xi, help="conductance change per unit chemical")
    parser.add_argument("--lam", type=float, default=DEFAULTS.lam, help="chemical released per unit error")
    parser.add_argument("--release-every", type=int, default=DEFAULTS.release_every, help="transport steps")
    parser.add_argument("--transport-steps", type=int, default=DEFAULTS.transport_steps, help="per example")
    parser.add_argument("--field-every", type=int, default=DEFAULTS.field_every, help="s+/s- snapshots, 0: never")
    parser.add_argument("--out", type=Path, help="run file (default outputs/iris_advection[_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same flags)")
    parser.add_argument("--smoke", action="store_true", help="two epochs (CI)")
    args = parser.parse_args(argv)
    try:
        config = IrisConfig(
            rule="advection", seed=args.seed, epochs=2 if args.smoke else args.epochs, xi=args.xi, lam=args.lam,
            release_every=args.release_every, transport_steps=args.transport_steps, field_every=args.field_every,
        )  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    out = args.out or Path("outputs") / ("iris_advection_smoke.h5" if args.smoke else "iris_advection.h5")
    if args.out is None:
        out.parent.mkdir(exist_ok=True)
    print(f"Iris, advection, seed {config.seed}, xi {config.xi:g}, lam {config.lam:g}, {config.epochs} epochs -> {out}")
    run, code = run_from_command_line(config, out, overwrite=args.overwrite, command_line=sys.argv, resume=args.resume)
    if run is None:
        return code
    accuracy = run.epochs["accuracy_test"]
    figure = plot_iris_run(out)
    print(f"test accuracy {accuracy[0]:.3f} before training, {accuracy[-1]:.3f} after the final epoch; "
          f"{run.wall_time:.1f} s")  # fmt: skip
    print(f"trajectory: {out}\nfigure:     {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
