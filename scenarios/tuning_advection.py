"""Appendix A's tuning process with the advection mode: one input, desired outputs, s+/s- in the flow.

    python scenarios/tuning_advection.py            # 12x12 lattice, 2000 transport steps
    python scenarios/tuning_advection.py --smoke    # seconds (CI)

One input pair drives the network; the two output drops are asked to move to half and to
one and a half times their starting values. Every ``tau`` steps the outputs release
``lam * |error|`` of s+ and s-, which the flow carries through the pipes it thickens or
thins (``xi``). Writes ``outputs/tuning_advection.h5`` (cost, grad_cosine and the chemical
balance per release; s+, s- and conductances every ``--record-every`` steps) and the figure
``outputs/tuning_advection.png``; prints how far the cost fell and how well the updates
lined up with the gradient.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.advection import Advection, _PressureInputs, advect_train
from simulator.plots import draw_change
from simulator.trajectory import Series, TrajectoryError, TrajectoryWriter, load_trajectory

DEFAULTS = Advection(xi=0.01, lam=1.0, tau=20, steps=2000)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=DEFAULTS.steps, help="transport steps (default %(default)s)")
    parser.add_argument("--xi", type=float, default=DEFAULTS.xi, help="conductance change per unit chemical")
    parser.add_argument("--lam", type=float, default=DEFAULTS.lam, help="chemical released per unit error")
    parser.add_argument("--tau", type=int, default=DEFAULTS.tau, help="steps between releases")
    parser.add_argument("--input", type=float, default=5.0, help="input current (default %(default)s)")
    parser.add_argument(
        "--appendix-form", action="store_true",
        help="the appendix's setup: the input as a fixed pressure with a grounded drain, outputs as node pressures",
    )  # fmt: skip
    parser.add_argument("--record-every", type=int, default=100, help="steps between s+/s- snapshots")
    parser.add_argument("--out", type=Path, help="run file (default outputs/tuning_advection[_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="200 steps (CI)")
    args = parser.parse_args(argv)
    try:
        mode = Advection(xi=args.xi, lam=args.lam, tau=args.tau, steps=200 if args.smoke else args.steps)
        if args.record_every < 1:
            raise ValueError(f"--record-every must be >= 1, got {args.record_every}")
    except ValueError as error:
        parser.error(str(error))
    name = "tuning_advection" + ("_appendix" if args.appendix_form else "") + ("_smoke" if args.smoke else "")
    out = args.out or Path("outputs") / f"{name}.h5"
    if args.out is None:
        out.parent.mkdir(exist_ok=True)

    network = simulator.lattice_network(side=12, d=4, seed=args.seed, n_inputs=1, n_outputs=2)
    inputs = np.array([[args.input]])
    kinds = {"inputs_as": "pressures", "outputs_as": "nodes"} if args.appendix_form else {}
    if args.appendix_form:  # node pressures, with the input's b- grounded
        start = _PressureInputs(network, network.conductance, inputs[0]).v[network.output_pairs[:, 0]]
    else:
        start = network.outputs(simulator.steady_state(network, inputs[0]))
    targets = start[None] * np.array([0.5, 1.5])
    config = {"seed": args.seed, "input": args.input, "appendix_form": args.appendix_form,
              "targets": targets[0].tolist(), "xi": mode.xi, "lam": mode.lam, "tau": mode.tau, "steps": mode.steps,
              "w_min": 1e-4, "record_every": args.record_every}  # fmt: skip
    n, m = network.n_nodes, network.n_edges
    series = [
        Series("observables/cost", (), "release", "", "1/2 |output - target|^2 at each release"),
        Series("observables/grad_cosine", (), "release", "", "cos(dW since last release, -dC/dw there)"),
        Series("observables/released_mass", (), "release", "", "chemical released so far (s+ and s-)"),
        Series("observables/drained_mass", (), "release", "", "chemical drained so far"),
        Series("observables/in_network_mass", (), "release", "", "chemical in the network"),
        Series("particles/nodes/s_plus", (n,), "field", "", "s+ at the nodes"),
        Series("particles/nodes/s_minus", (n,), "field", "", "s- at the nodes"),
        Series("observables/edges/conductance", (m,), "field", "conductance", "pipe conductances"),
    ]
    try:
        writer = TrajectoryWriter(out, network=network, config=config, seed=args.seed, series=series,
                                  command_line=sys.argv, overwrite=args.overwrite)  # fmt: skip
    except TrajectoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with writer as file:
        zeros = np.zeros((1, n))
        file.append("field", step=[0], **{"particles/nodes/s_plus": zeros, "particles/nodes/s_minus": zeros,
                                          "observables/edges/conductance": network.conductance[None]})  # fmt: skip
        result = advect_train(network, inputs, targets, mode=mode, w_min=1e-4, record_every=args.record_every, **kinds)
        file.append("release", step=result.release_step, **{
            "observables/cost": result.cost, "observables/grad_cosine": result.grad_cosine,
            "observables/released_mass": result.released, "observables/drained_mass": result.drained,
            "observables/in_network_mass": result.in_network,
        })  # fmt: skip
        if len(result.frame_step):
            file.append("field", step=result.frame_step, **{
                "particles/nodes/s_plus": result.s_plus_frames, "particles/nodes/s_minus": result.s_minus_frames,
                "observables/edges/conductance": result.conductance_frames,
            })  # fmt: skip
    balance = abs(result.state.in_network + result.state.drained - result.state.released) / result.state.released
    figure = plot(out)
    print(f"cost {result.cost[0]:.4g} -> {result.cost[-1]:.3g} (fell {result.cost[0] / result.cost[-1]:.3g}x) "
          f"in {mode.steps} steps; mean grad_cosine {np.nanmean(result.grad_cosine):.3f}; "
          f"released = in network + drained to {balance:.1e}")  # fmt: skip
    print(f"trajectory: {out}\nfigure:     {figure}")
    return 0


def plot(path) -> Path:
    run = load_trajectory(path)
    step, _, cost = run.series("observables/cost")
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
    out = Path(path).with_suffix(".png")
    fig.savefig(out, dpi=130)
    return out


if __name__ == "__main__":
    sys.exit(main())
