"""Side by side with OpenPNM: time to steady state from rest on the same cubic network.

    pip install openpnm                     # an optional benchmark dependency, never a runtime one
    python benchmarks/bench_openpnm.py      # 22 x 22 x 22 pores (10,648), about 2 minutes
    python benchmarks/bench_openpnm.py --shape 12

The problem, identical for both: a cubic network (OpenPNM's ``Cubic``, 6 neighbours), throat
conductances drawn uniformly from [0.5, 1.5] (seeded), pore capacities (volumes) 1, from rest;
a unit current enters spread over the pores of the left face and leaves spread over the
right face (rate boundary conditions on both: what enters leaves, so the mean of the field
stays 0 and the steady state is the mean-zero solution). "Steady" means every pore within
``--rtol`` (1e-6) of that solution, relative to its largest value. OpenPNM's steady solver
needs a pore held at a value (we hold one at 0 and shift its answer to mean zero; no current
flows through that pore at steady state).

* OpenPNM: ``TransientFickianDiffusion.run`` over ``[0, t_end]`` (its default integrator:
  scipy's implicit BDF) and ``FickianDiffusion.run`` (its steady solver).
* ours: the explicit relaxation kernel (``simulator.relax``: time-stepped physics at 0.9 of
  the stability bound) and ``RefactoringLaplacian`` (the quasistatic limit).

Both integrate to the same ``t_end = log(1/rtol) / lambda_2`` (``lambda_2``: the slowest
non-zero rate of the Laplacian), when the slowest mode has decayed by ``rtol``; the table
reports each one's distance from the steady solution there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

RESULTS = Path(__file__).parent / "results"


def build(shape: int, seed: int = 0):
    import openpnm as op

    network = op.network.Cubic(shape=[shape] * 3, spacing=1.0)
    phase = op.phase.Phase(network=network)
    rng = np.random.default_rng(seed)
    phase["throat.diffusive_conductance"] = rng.uniform(0.5, 1.5, network.Nt)
    network["pore.volume"] = np.ones(network.Np)
    left, right = network.pores("left"), network.pores("right")
    ground = int(np.argmin(np.linalg.norm(network.coords - network.coords.mean(axis=0), axis=1)))
    rates = np.zeros(network.Np)
    rates[left], rates[right] = 1.0 / len(left), -1.0 / len(right)
    return op, network, phase, rates, ground


def grounded_laplacian(conns, conductance, n, ground):
    a, b = conns[:, 0], conns[:, 1]
    laplacian = scipy.sparse.coo_matrix(
        (np.concatenate([-conductance, -conductance]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    ).tocsr()
    laplacian = laplacian - scipy.sparse.diags(np.asarray(laplacian.sum(axis=1)).ravel())
    keep = np.setdiff1d(np.arange(n), [ground])
    return laplacian, keep


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, default=22, help="pores per side (default 22: 10,648 pores)")
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--out", type=Path, default=RESULTS / "openpnm.json")
    args = parser.parse_args(argv)
    import simulator
    from simulator.quasistatic import RefactoringLaplacian

    op, network, phase, rates, ground = build(args.shape)
    conns, conductance, n = network.conns, phase["throat.diffusive_conductance"], network.Np
    laplacian, keep = grounded_laplacian(conns, conductance, n, ground)
    steady = np.zeros(n)
    steady[keep] = scipy.sparse.linalg.spsolve(laplacian[keep][:, keep].tocsc(), rates[keep])
    steady -= steady.mean()
    scale = np.abs(steady).max()
    rates_of_decay = scipy.sparse.linalg.eigsh(laplacian.tocsc(), k=2, sigma=-1e-3, which="LM")[0]
    lambda_2 = float(np.sort(rates_of_decay)[1])
    t_end = np.log(1.0 / args.rtol) / lambda_2
    print(f"{n} pores, {len(conns)} throats; slowest rate lambda_2 = {lambda_2:.4g}, t_end = {t_end:.4g}")

    def error(x):
        return np.abs(x - steady).max() / scale

    # OpenPNM, steady
    start = time.perf_counter()
    fickian = op.algorithms.FickianDiffusion(network=network, phase=phase)
    fickian.set_rate_BC(pores=np.flatnonzero(rates), rates=rates[rates != 0])
    fickian.set_value_BC(pores=[ground], values=0.0)
    fickian.run()
    openpnm_steady = time.perf_counter() - start
    openpnm_steady_error = error(fickian["pore.concentration"] - fickian["pore.concentration"].mean())
    # OpenPNM, transient from rest
    start = time.perf_counter()
    transient = op.algorithms.TransientFickianDiffusion(network=network, phase=phase)
    transient.set_rate_BC(pores=np.flatnonzero(rates), rates=rates[rates != 0])
    transient.run(x0=np.zeros(n), tspan=(0.0, t_end))
    openpnm_transient = time.perf_counter() - start
    openpnm_transient_error = error(transient["pore.concentration"])
    print(f"OpenPNM: transient {openpnm_transient:.2f} s (error {openpnm_transient_error:.1e}), "
          f"steady {openpnm_steady:.3f} s (error {openpnm_steady_error:.1e})", flush=True)  # fmt: skip

    # ours, the same network
    ours = simulator.Network(
        positions=network.coords[:, :2], edges=conns, conductance=conductance,
        input_pairs=[[int(np.flatnonzero(rates > 0)[0]), int(np.flatnonzero(rates < 0)[0])]],
    )  # fmt: skip
    dt = 0.9 * simulator.stable_dt(ours)
    n_steps = int(np.ceil(t_end / dt))
    simulator.relax(ours, rates, n_steps=2)  # compile outside the timing
    RefactoringLaplacian(simulator.lattice_network(side=4, seed=0)).solve(np.zeros(16))
    start = time.perf_counter()
    x, _ = simulator.relax(ours, rates, n_steps=n_steps, dt=t_end / n_steps)
    ours_transient = time.perf_counter() - start
    ours_transient_error = error(x)
    start = time.perf_counter()
    factor = RefactoringLaplacian(ours)
    solution = factor.solve(rates)
    ours_steady = time.perf_counter() - start
    ours_steady_error = error(solution)
    print(f"ours: explicit {ours_transient:.2f} s ({n_steps} steps, error {ours_transient_error:.1e}), "
          f"quasistatic {ours_steady:.3f} s ({factor.backend}, error {ours_steady_error:.1e})")  # fmt: skip
    print(f"transient: {openpnm_transient / ours_transient:.1f}x; steady: {openpnm_steady / ours_steady:.1f}x "
          "(OpenPNM time / ours, same run)")  # fmt: skip
    results = {
        "pores": n, "throats": len(conns), "rtol": args.rtol, "t_end": t_end, "lambda_2": lambda_2,
        "openpnm_transient_s": openpnm_transient, "openpnm_transient_error": openpnm_transient_error,
        "openpnm_steady_s": openpnm_steady, "openpnm_steady_error": openpnm_steady_error,
        "ours_explicit_s": ours_transient, "ours_explicit_steps": n_steps, "ours_explicit_error": ours_transient_error,
        "ours_quasistatic_s": ours_steady, "ours_quasistatic_backend": factor.backend,
        "ours_quasistatic_error": ours_steady_error, "openpnm": op.__version__,
        "transient_speedup": openpnm_transient / ours_transient, "steady_speedup": openpnm_steady / ours_steady,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
