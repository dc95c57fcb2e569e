"""Appendix A's tuning process with the advection mode: one input, desired outputs, s+/s- in the flow.

    python scenarios/tuning_advection.py            # 12x12 lattice, 2000 transport steps
    python scenarios/tuning_advection.py --smoke    # seconds (CI)

One input pair drives the network (``[task] name = "tuning"``); the two output drops are asked
to move to half and to one and a half times their starting values. Every ``--release-every``
steps (the paper's tau) the outputs release ``lam * |error|`` of s+ and s-, which the flow
carries through the pipes it thickens or thins (``xi``). One presentation is one release
period, so the run has ``steps / release_every`` epochs. Writes ``outputs/tuning_advection.h5``
(cost, grad_cosine and the chemical balance per release; s+, s- every ``--record-every``
steps; conductances per epoch) and the figure ``outputs/tuning_advection.png``; prints how
far the cost fell and how well the updates lined up with the gradient.
"""

from __future__ import annotations

import sys

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.commandline import ArgumentParser
from simulator.outputs import save_figure
from simulator.plots import draw_change
from simulator.scenario import default_out, run_and_draw, with_flags

DEFAULTS = simulator.RunConfig.from_dict({
    "network": {"side": 12, "d": 4},
    "task": {"name": "tuning", "input": 5.0, "factors": [0.5, 1.5]},
    "dynamics": {"name": "advection", "xi": 0.01, "lam": 1.0, "release_every": 20, "transport_steps": 20},
    "run": {"epochs": 100, "fields_every": 100},
})  # fmt: skip
APPENDIX_FORM = {"dynamics.inputs_as": "pressures", "dynamics.outputs_as": "nodes"}


def parse(argv=None):
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000, help="transport steps (default %(default)s)")
    parser.add_argument("--xi", type=float, default=0.01, help="conductance change per unit chemical")
    parser.add_argument("--lam", type=float, default=1.0, help="chemical released per unit error")
    parser.add_argument("--release-every", type=int, help="steps between releases, the paper's tau (20)")
    parser.add_argument("--tau", type=int, help="the old name of --release-every")
    parser.add_argument("--input", type=float, default=5.0, help="input current (default %(default)s)")
    parser.add_argument(
        "--appendix-form", action="store_true",
        help="the appendix's setup: the input as a fixed pressure with a grounded drain, outputs as node pressures",
    )  # fmt: skip
    parser.add_argument("--record-every", type=int, default=100, help="steps between s+/s- snapshots")
    parser.add_argument("--out", help="run file (default outputs/tuning_advection[_appendix][_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same flags)")
    parser.add_argument("--smoke", action="store_true", help="200 steps (CI)")
    args = parser.parse_args(argv)
    if args.tau is not None:
        simulator.base.deprecated("--tau", "--release-every")
        args.release_every = args.tau
    every = 20 if args.release_every is None else args.release_every
    steps = 200 if args.smoke else args.steps
    values = {"run.seed": args.seed, "dynamics.xi": args.xi, "dynamics.lam": args.lam,
              "dynamics.release_every": every, "dynamics.transport_steps": every, "task.input": args.input,
              "run.fields_every": args.record_every, **(APPENDIX_FORM if args.appendix_form else {})}  # fmt: skip
    try:
        config = with_flags(DEFAULTS, values)
        if steps % every:
            raise ValueError(f"--steps ({steps}) must be a whole number of release periods ({every})")
        config = config.with_values({"run.epochs": steps // every})
    except ValueError as error:
        parser.error(str(error))
    return args, config


def main(argv=None) -> int:
    simulator.base.one_line_warnings()
    args, config = parse(argv)
    name = "tuning_advection" + ("_appendix" if args.appendix_form else "")
    out = default_out(name, args.out, args.smoke)
    steps = config["run.epochs"] * config["dynamics.transport_steps"]
    result, code = run_and_draw(config, out, args, argv, title=f"tuning, advection, {steps} transport steps", draw=plot)
    if result is None:
        return code
    run = simulator.load_trajectory(out)
    cost, cosine = (run.series(f"observables/{key}")[2] for key in ("release_cost", "grad_cosine"))
    released, drained, inside = (run.series(f"observables/{key}_mass")[2][-1] for key in ("released", "drained",
                                                                                          "in_network"))  # fmt: skip
    balance = abs(inside + drained - released) / released
    print(f"cost {cost[0]:.4g} -> {cost[-1]:.3g} (fell {cost[0] / cost[-1]:.3g}x) in {steps} steps; mean grad_cosine "
          f"{np.nanmean(cosine):.3f}; released = in network + drained to {balance:.1e}")  # fmt: skip
    return 0


def plot(path, overwrite: bool = False):
    run = simulator.load_trajectory(path)
    step, _, cost = run.series("observables/release_cost")
    _, _, cosine = run.series("observables/grad_cosine")
    _, _, released = run.series("observables/released_mass")
    _, _, drained = run.series("observables/drained_mass")
    _, _, inside = run.series("observables/in_network_mass")
    fig = Figure(figsize=(11, 8), layout="constrained")
    (ax_cost, ax_cos), (ax_mass, ax_change) = fig.subplots(2, 2)
    ax_cost.semilogy(step, np.maximum(cost, 1e-30), color="tab:blue")
    ax_cost.set_xlabel("transport step")
    ax_cost.set_ylabel("cost at release")
    ax_cost.set_title("cost")
    ax_cos.plot(step, cosine, ".", color="tab:purple", ms=3)
    ax_cos.axhline(0, color="0.6", lw=0.8)
    ax_cos.set_ylim(-1.05, 1.05)
    ax_cos.set_xlabel("transport step")
    ax_cos.set_ylabel("cos(dW, -dC/dw)")
    ax_cos.set_title(f"not gradient descent: mean cosine {np.nanmean(cosine):.2f}")
    ax_mass.plot(step, released, color="k", label="released")
    ax_mass.plot(step, drained, color="tab:orange", label="drained")
    ax_mass.plot(step, inside, color="tab:green", label="in the network")
    ax_mass.set_xlabel("transport step")
    ax_mass.set_ylabel("chemical (s+ and s-)")
    ax_mass.legend()
    ax_mass.set_title("chemical balance")
    draw_change(ax_change, run)
    return save_figure(fig, path.with_suffix(".png"), overwrite, dpi=130)


if __name__ == "__main__":
    sys.exit(main())
