"""Diffusion and advection side by side: the same network, seed, split and shuffles.

    python scenarios/compare_modes.py              # 40 epochs each, seed 0
    python scenarios/compare_modes.py --smoke      # seconds (CI)

Trains Iris once with the feedback chemical that diffuses (the paper's rule, quasistatic)
and once with the s+/s- chemicals carried by the flow (Appendix A), writes the two run files
``outputs/compare_modes/diffusion.h5`` and ``advection.h5`` and one figure
``outputs/compare_modes.png`` (``python -m simulator compare A B`` redraws it from any two
files): error against training step, accuracy per epoch, the alignment of each update with
the gradient, and the two conductance-change maps.
"""

from __future__ import annotations

import sys
from pathlib import Path

import simulator
from simulator.commandline import ArgumentParser
from simulator.plots import plot_comparison
from simulator.scenario import checked_targets, guarded, output_folder

ADVECTION = {  # the settings iris_advection.py found best
    "dynamics.name": "advection", "dynamics.xi": 0.003, "dynamics.release_every": 20,
    "dynamics.transport_steps": 20, "run.fields_every": 1000,
}  # fmt: skip


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("outputs/compare_modes"), help="folder for the two files")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="two epochs each (CI)")
    args = parser.parse_args(argv)
    epochs = 2 if args.smoke else args.epochs
    common = {"run.seed": args.seed, "run.epochs": epochs}
    try:
        base = simulator.RunConfig.from_dict({})
        configs = {"diffusion": base.with_values(common), "advection": base.with_values({**common, **ADVECTION})}
    except ValueError as error:
        parser.error(str(error))
    output_folder(parser, args.out)
    paths = {name: args.out / f"{name}{'_smoke' if args.smoke else ''}.h5" for name in configs}
    figure = args.out.parent / ("compare_modes_smoke.png" if args.smoke else "compare_modes.png")
    code = checked_targets([*paths.values(), figure], args.overwrite)
    if code:
        return code
    for name, config in configs.items():
        run = simulator.run(config, out=paths[name], overwrite=args.overwrite, command_line=sys.argv)
        accuracy = run.epochs["accuracy_test"]
        print(f"{name:>9}: test accuracy {accuracy[0]:.3f} -> {accuracy[-1]:.3f} ({run.wall_time:.1f} s)")
    figure = plot_comparison(paths["diffusion"], paths["advection"], figure, overwrite=args.overwrite)
    print(f"run files: {paths['diffusion']}, {paths['advection']}\nfigure:    {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main))
