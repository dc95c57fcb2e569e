"""The performance suite: every kernel and solver beside its baseline, measured in the same run.

    python benchmarks/bench_suite.py                      # 144, 1e4, 1e5, 1e6 nodes (about 5 minutes)
    python benchmarks/bench_suite.py --sides 12 100       # lattice sides
    python benchmarks/bench_suite.py --plot-only          # redraw the scaling figure from the JSON

Per network size (the paper's lattice, d = 4 neighbours, side x side nodes):

* relaxation kernel (explicit steps, many per call) beside a ``scipy.sparse`` step loop
  ``x += gain (s - L x)``: on one core, and as ``simulator.relax`` runs it (split over the
  cores from ``PARALLEL_MIN_NODES`` on, the same bits); its achieved memory traffic beside a
  STREAM-like triad on as many cores, measured in this run (the roofline: compulsory bytes
  per step / triad bandwidth);
* advection kernel (one transport step of s+ and s-) beside a plain numpy version of the same
  step (``np.add.at`` scatters);
* quasistatic learning step (factorise, pressure solve, chemical solve, update), ours
  (banded at 144 nodes; QDLDL or PARDISO with the analysis reused above) beside
  ``scipy.sparse.linalg.splu`` (factorise from scratch each step);
* time-stepped learning (``learn_steps``: pressure, chemical and dw per step) on one core
  and split over the cores as ``train`` runs it from ``PARALLEL_MIN_NODES`` on;
* node order, at the largest size: ``simulator.relax`` on the lattice as built, with its
  nodes and pipes numbered at random, and after ``Network.reordered()`` (reverse
  Cuthill-McKee) of the random one;
* at 144 nodes: 1000 networks relaxed in one compiled call (network-steps per second)
  beside one call per network; the Iris run, quasistatic (200 epochs) beside a plain numpy
  implementation (dense ``np.linalg.solve`` per presentation), and time-stepped (one epoch
  at T = 50 relaxation times, scaled to 150 epochs) beside a plain numpy step loop (timed on
  a few presentations, scaled), and with the implicit scheme (one epoch, scaled).

Every time is the best of a few repeats, compile time excluded (each kernel is warmed up
on the same shapes). Ratios are baseline / ours. Results go to ``benchmarks/results/suite.json``
and the scaling figure to ``benchmarks/results/scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg
from numba import njit, prange

import simulator
from simulator import kernels
from simulator.engine import relax_split, uses_banded
from simulator.quasistatic import RefactoringLaplacian

RESULTS = Path(__file__).parent / "results"


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


# ---------------------------------------------------------------------- memory bandwidth
@njit(cache=True)
def _triad(a, b, c, scalar):
    for i in range(a.shape[0]):
        a[i] = b[i] + scalar * c[i]


@njit(cache=True, parallel=True)
def _triad_parallel(a, b, c, scalar):
    for i in prange(a.shape[0]):
        a[i] = b[i] + scalar * c[i]


def triad_bandwidth(n: int = 1 << 24) -> dict:
    """STREAM triad ``a = b + s c`` over three 128 MiB arrays: bytes moved (24 per element,
    not counting write-allocate, as STREAM reports) per second, one core and all cores."""
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    _triad(a[:8], b[:8], c[:8], 3.0)
    _triad_parallel(a[:8], b[:8], c[:8], 3.0)
    one = best_of(lambda: _triad(a, b, c, 3.0), 5)
    every = best_of(lambda: _triad_parallel(a, b, c, 3.0), 5)
    return {"triad_one_core_GBps": 24 * n / one / 1e9, "triad_all_cores_GBps": 24 * n / every / 1e9}


ROOFLINE_ROUNDS = 5


# ---------------------------------------------------------------------- baselines
def numpy_advect(edges, flow, external_out, s_plus, s_minus):
    """The advection step of ``kernels.advect`` in plain numpy (the baseline)."""
    a, b = edges[:, 0], edges[:, 1]
    source = np.where(flow > 0, a, b)
    target = np.where(flow > 0, b, a)
    outflow = external_out + np.bincount(source, np.abs(flow), minlength=len(s_plus))
    share = np.abs(flow) / np.where(outflow[source] > 0, outflow[source], 1.0)
    stagnant = outflow <= 0
    next_plus, next_minus = np.where(stagnant, s_plus, 0.0), np.where(stagnant, s_minus, 0.0)
    crossed_plus, crossed_minus = s_plus[source] * share, s_minus[source] * share
    np.add.at(next_plus, target, crossed_plus)
    np.add.at(next_minus, target, crossed_minus)
    return next_plus, next_minus


def splu_learning_step(net, inputs, targets, alpha, eta):
    """The chemical rule's quasistatic step with SuperLU from scratch (the baseline)."""
    matrix = net.laplacian().tocsc()[1:, 1:]
    factor = scipy.sparse.linalg.splu(matrix, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                                      options={"SymmetricMode": True})  # fmt: skip
    v = np.zeros(net.n_nodes)
    v[1:] = factor.solve(net.node_currents(inputs)[1:])
    error = eta * (targets - net.outputs(v))
    source = np.zeros(net.n_nodes)
    np.add.at(source, net.output_pairs[:, 0], error)
    np.add.at(source, net.output_pairs[:, 1], -error)
    u = np.zeros(net.n_nodes)
    u[1:] = factor.solve(source[1:])
    return np.maximum(net.conductance - alpha * net.drops(u) * net.drops(v), 1e-4)


# ---------------------------------------------------------------------- per size
def bench_size(side: int, budget: float) -> dict:
    """Every per-size measurement on the ``side x side`` lattice, ``budget`` seconds or so each."""
    net = simulator.lattice_network(side=side, seed=0)
    inputs, targets = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, -0.2, 0.3])
    steps = int(max(20, min(200_000, budget * 1e8 / (10 * net.n_nodes))))
    return {
        "side": side, "nodes": net.n_nodes, "edges": net.n_edges, "steps_timed": steps,
        **bench_relax(net, inputs, targets, steps), **bench_advect(net, inputs, steps),
        **bench_learning_step(net, inputs, targets),
    }  # fmt: skip


def bench_relax(net, inputs, targets, steps: int) -> dict:
    """The relaxation kernel (one core, and as ``simulator.relax`` runs it) beside scipy, against
    the bandwidth roofline; the time-stepped learning step on one core and over the cores."""
    n, m = net.n_nodes, net.n_edges
    currents = net.node_currents(inputs)
    gain = 0.9 * simulator.stable_dt(net)
    edges, w = net.topology.edges, net.conductance
    laplacian = net.laplacian().tocsr()
    scratch = np.empty(n)

    def run_kernel():
        x = np.zeros(n)
        kernels.relax(edges, w, x, currents, gain, steps, scratch)
        return x

    def run_scipy():
        x = np.zeros(n)
        for _ in range(steps):
            x += gain * (currents - laplacian @ x)
        return x

    parts = relax_split(net)  # what simulator.relax runs: split over the cores from PARALLEL_MIN_NODES on

    def run_split():
        x = np.zeros(n)
        kernels.relax_parts(edges, w, x, currents, gain, steps, scratch, *parts)
        return x

    serial = run_kernel()
    np.testing.assert_allclose(serial, run_scipy(), rtol=1e-9, atol=1e-12)  # warm-up, and agreement
    kernel_step = best_of(run_kernel, 5) / steps
    scipy_step = best_of(run_scipy) / steps
    if parts is not None:
        assert np.array_equal(run_split(), serial)  # warm-up, and the same bits
    cores = 1 if parts is None else len(parts[0]) - 1
    learning = {} if parts is None else bench_learn_steps(net, currents, targets, gain, steps, parts)
    # compulsory traffic per step: each pipe's two int32 ends and its weight once; each node's
    # old value read, new value written, source term read (the fields themselves stay put);
    # the bound is that traffic at the triad bandwidth of as many cores as the kernel runs on,
    # measured back to back with the kernel in each of several rounds (the machine is shared
    # and its bandwidth drifts within seconds); x roofline is the median round's ratio
    step_bytes = 16 * m + 24 * n
    engine, engine_step = (run_kernel, kernel_step) if parts is None else (run_split, np.inf)
    key = "triad_one_core_GBps" if cores == 1 else "triad_all_cores_GBps"
    triads, ratios = [], []
    for _ in range(ROOFLINE_ROUNDS):
        triads.append(triad_bandwidth()[key])
        step = best_of(engine, 3) / steps
        engine_step = min(engine_step, step)
        ratios.append(step * triads[-1] * 1e9 / step_bytes)
    triad = float(np.median(triads))
    return {
        "relax_one_core_s": kernel_step, "relax_kernel_s": engine_step, "relax_cores": cores,
        "relax_scipy_s": scipy_step, "relax_speedup": scipy_step / engine_step,
        "relax_bytes_per_step": step_bytes, "relax_GBps": step_bytes / engine_step / 1e9,
        "relax_roofline_s": step_bytes / (triad * 1e9), "relax_over_roofline": float(np.median(ratios)),
        "relax_triad_GBps": triad, "relax_over_roofline_rounds": ratios, **learning,
    }  # fmt: skip


def bench_learn_steps(net, currents, targets, gain, steps: int, parts) -> dict:
    """Time-stepped learning (pressure, chemical and dw per step): one core, and over the cores."""
    n, m, edges, w = net.n_nodes, net.n_edges, net.topology.edges, net.conductance
    plus, minus = net.output_pairs[:, 0].astype(np.int32), net.output_pairs[:, 1].astype(np.int32)

    def run_learning(split):
        v, u, dw = np.zeros(n), np.zeros(n), np.zeros(m)
        head = (edges, w.copy(), v, u, currents, plus, minus, targets, 1.0, 0, 0.0, True, gain, gain, 1.0, 1.0)
        if split:
            kernels.learn_steps_parts(*head, 1e-3, 1e-4, dw, steps, np.empty(n), np.empty(n), *parts)
        else:
            kernels.learn_steps(*head, 0.0, np.zeros(n), 1e-3, False, 1e-4, dw, steps, np.empty(n), np.empty(n))
        return dw

    assert np.array_equal(run_learning(True), run_learning(False))  # warm-up, and the same bits
    return {
        "learn_one_core_s": best_of(lambda: run_learning(False), 5) / steps,
        "learn_cores_s": best_of(lambda: run_learning(True), 5) / steps,
    }


def bench_advect(net, inputs, steps: int) -> dict:
    """One advection transport step on the steady flow of ``net``, beside numpy."""
    n, m, edges = net.n_nodes, net.n_edges, net.topology.edges
    currents = net.node_currents(inputs)
    v = RefactoringLaplacian(net).solve(currents)  # the steady flow (a transient one is mostly zero)
    flow = net.conductance * net.drops(v)
    external_out = np.maximum(-currents, 0.0)
    rng = np.random.default_rng(0)
    s_plus, s_minus = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    buffers = [np.empty(n), np.empty(n), np.empty(m), np.empty(m)]
    transport = max(1, int(steps // 20))

    def run_advect():
        for _ in range(transport):
            kernels.advect(edges, flow, external_out, s_plus, s_minus, *buffers)

    def run_numpy_advect():
        for _ in range(transport):
            numpy_advect(edges, flow, external_out, s_plus, s_minus)

    run_advect()
    reference = numpy_advect(edges, flow, external_out, s_plus, s_minus)
    np.testing.assert_allclose(buffers[0], reference[0], rtol=1e-12, atol=1e-15)
    advect_step = best_of(run_advect) / transport
    numpy_advect_step = best_of(run_numpy_advect, 2) / transport
    return {"advect_kernel_s": advect_step, "advect_numpy_s": numpy_advect_step,
            "advect_speedup": numpy_advect_step / advect_step}  # fmt: skip


def bench_learning_step(net, inputs, targets) -> dict:
    """The quasistatic learning step: ours (what train uses) and SuperLU from scratch. A run pays
    the analysis once and then one refactorisation per step: time a short and a long batch,
    and take the difference per extra step (the analysis is reported apart)."""
    n = net.n_nodes
    short, long = (1, 21) if n < 1e5 else (1, 4)
    xs, ys = np.tile(inputs, (long, 1)), np.tile(targets, (long, 1))
    dynamics = simulator.Quasistatic()

    def batch(size):
        return simulator.train(net, xs[:size], ys[:size], alpha=1e-3, eta=1.0, dynamics=dynamics, w_min=1e-4)

    batch(2)  # warm-up
    repeats = 3 if n < 1e5 else 2
    short_time, long_time = best_of(lambda: batch(short), repeats), best_of(lambda: batch(long), repeats)
    ours = (long_time - short_time) / (long - short)
    analysis = max(0.0, short_time - short * ours)
    backend = "banded" if uses_banded(net, "chemical") else RefactoringLaplacian.choose_backend(n)
    splu = best_of(lambda: splu_learning_step(net, inputs, targets, 1e-3, 1.0), 1 if n >= 1e5 else 3)
    return {"learning_step_s": ours, "learning_backend": backend, "learning_splu_s": splu,
            "learning_analysis_s": analysis, "learning_speedup": splu / ours,
            **bench_stateless(net, inputs, targets, repeats, splu)}  # fmt: skip


def bench_stateless(net, inputs, targets, repeats: int, splu: float) -> dict:
    """``learning_update`` called in a user's own loop: a new network (``with_conductance``)
    every call, so every call refactorises; the topology's analysis is found by the first."""
    state = {"net": net}

    def step():
        current = state["net"]
        dw = simulator.learning_update(current, inputs, targets, alpha=1e-3)
        state["net"] = current.with_conductance(np.maximum(current.conductance + dw, 1e-4))

    step()  # the analysis, and the warm-up
    stateless = best_of(step, repeats)
    return {"stateless_step_s": stateless, "stateless_speedup": splu / stateless}


# ---------------------------------------------------------------------- node order
def bench_order(side: int, budget: float) -> dict:
    """``simulator.relax`` per step on the lattice as built, with its nodes and pipes numbered
    at random, and after ``Network.reordered()`` (reverse Cuthill-McKee) of the random one."""
    built = simulator.lattice_network(side=side, seed=0)
    rng = np.random.default_rng(0)  # as a graph read from a file in no particular order would be
    scrambled = built.renumbered(rng.permutation(built.n_nodes), rng.permutation(built.n_edges)).network
    start = time.perf_counter()
    reordered = scrambled.reordered().network
    reorder_time = time.perf_counter() - start
    inputs = np.array([1.0, 2.0, 3.0, 4.0])
    steps = int(max(20, min(200_000, budget * 1e8 / (10 * built.n_nodes))))
    times = {}
    for name, net in (("built", built), ("random", scrambled), ("reordered", reordered)):
        source = net.node_currents(inputs)
        simulator.relax(net, source, n_steps=2)
        times[name] = best_of(lambda net=net, source=source: simulator.relax(net, source, n_steps=steps)) / steps
    return {
        "order_nodes": built.n_nodes, "order_built_s": times["built"], "order_random_s": times["random"],
        "order_reordered_s": times["reordered"], "order_reorder_once_s": reorder_time,
        "order_speedup": times["random"] / times["reordered"],
    }  # fmt: skip


# ---------------------------------------------------------------------- ensembles and Iris
def bench_ensemble(count: int = 1000, steps: int = 2000) -> dict:
    networks = [simulator.lattice_network(side=12, seed=seed) for seed in range(count)]
    sources = [net.node_currents(np.array([1.0, 2.0, 3.0, 4.0])) for net in networks]
    simulator.relax_ensemble(networks[:2], sources[:2], n_steps=2)
    together = best_of(lambda: simulator.relax_ensemble(networks, sources, n_steps=steps), 2)

    def one_by_one():
        for net, source in zip(networks, sources):
            simulator.relax(net, source, n_steps=steps)

    alone = best_of(one_by_one, 2)
    return {
        "ensemble_networks": count, "ensemble_steps": steps,
        "ensemble_network_steps_per_s": count * steps / together,
        "one_call_per_network_network_steps_per_s": count * steps / alone,
        "ensemble_speedup": alone / together,
    }  # fmt: skip


def numpy_iris(config, epochs):
    """The quasistatic Iris run (chemical rule) in plain numpy: a dense solve per presentation."""
    from simulator.tasks import evaluate_iris, iris_task

    seed, network = config["run.seed"], config.tables["network"]
    net = simulator.lattice_network(side=network["side"], d=network["d"], delta=network["delta"], seed=seed)
    task = iris_task(seed)
    shuffle = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    eta, kappa, lr, w_min = config["rule.eta"], config["dynamics.kappa"], config["rule.lr"], config["run.w_min"]
    a, b = net.edges[:, 0], net.edges[:, 1]
    o_plus, o_minus = net.output_pairs[:, 0], net.output_pairs[:, 1]
    w = net.conductance.copy()
    for _ in range(epochs):
        desired = evaluate_iris(net.with_conductance(w), task).desired_output
        order = shuffle.permutation(len(task.y_train))
        for k in order:
            laplacian = np.zeros((net.n_nodes, net.n_nodes))
            np.add.at(laplacian, (a, b), -w)
            np.add.at(laplacian, (b, a), -w)
            laplacian[np.diag_indices(net.n_nodes)] = -laplacian.sum(axis=1)
            grounded = laplacian[1:, 1:]
            v = np.zeros(net.n_nodes)
            v[1:] = np.linalg.solve(grounded, net.node_currents(task.x_train[k])[1:])
            error = eta * (desired[task.y_train[k]] - (v[o_plus] - v[o_minus]))
            source = np.zeros(net.n_nodes)
            np.add.at(source, o_plus, error)
            np.add.at(source, o_minus, -error)
            u = np.zeros(net.n_nodes)
            u[1:] = np.linalg.solve(grounded, source[1:]) / kappa
            w = np.maximum(w - lr / eta * (u[a] - u[b]) * (v[a] - v[b]), w_min)
    return evaluate_iris(net.with_conductance(w), task).accuracy_test


def numpy_timestepped_presentation(net, inputs, targets, dt, n_steps, alpha, eta):
    """One time-stepped presentation (pressure, chemical, learning) in plain numpy sparse."""
    laplacian = net.laplacian().tocsr()
    currents = net.node_currents(inputs)
    v, u, dw = np.zeros(net.n_nodes), np.zeros(net.n_nodes), np.zeros(net.n_edges)
    a, b = net.edges[:, 0], net.edges[:, 1]
    for _ in range(n_steps):
        error = eta * (targets - (v[net.output_pairs[:, 0]] - v[net.output_pairs[:, 1]]))
        source = np.zeros(net.n_nodes)
        np.add.at(source, net.output_pairs[:, 0], error)
        np.add.at(source, net.output_pairs[:, 1], -error)
        v_new = v + dt * (currents - laplacian @ v)
        u = u + dt * (source - laplacian @ u)
        dw -= dt * alpha * (u[a] - u[b]) * (v[a] - v[b])
        v = v_new
    return dw


def bench_iris() -> dict:
    iris = simulator.RunConfig.from_dict({})
    config = iris.with_values({"run.epochs": 200})
    simulator.run(iris.with_values({"run.epochs": 1}))  # warm-up
    start = time.perf_counter()
    ours = simulator.run(config)
    quasistatic = time.perf_counter() - start
    plain_epochs = 5
    start = time.perf_counter()
    numpy_iris(config, plain_epochs)
    plain = (time.perf_counter() - start) / plain_epochs * config["run.epochs"]
    ts_config = iris.with_values({"run.epochs": 1, "dynamics.name": "timestepped", "run.fields_every": 0})
    simulator.run(ts_config)  # warm-up
    start = time.perf_counter()
    simulator.run(ts_config)
    timestepped_epoch = time.perf_counter() - start
    implicit_config = ts_config.with_values({"dynamics.scheme": "implicit"})
    simulator.run(implicit_config)  # warm-up
    start = time.perf_counter()
    simulator.run(implicit_config)
    implicit_epoch = time.perf_counter() - start
    net = simulator.lattice_network(side=12, seed=0)
    dt = 0.9 * simulator.stable_dt(net)
    n_steps = int(np.ceil(50 * simulator.relaxation_time(net) / dt))
    presentations = 2
    start = time.perf_counter()
    for _ in range(presentations):
        numpy_timestepped_presentation(net, np.ones(4), np.zeros(3), dt, n_steps, 3e-3, 1.0)
    plain_epoch = (time.perf_counter() - start) / presentations * 75
    return {
        "iris_quasistatic_200_epochs_s": quasistatic, "iris_quasistatic_accuracy": ours.final("accuracy_test"),
        "iris_numpy_200_epochs_s_scaled": plain, "iris_quasistatic_speedup": plain / quasistatic,
        "iris_timestepped_epoch_s": timestepped_epoch, "iris_timestepped_150_epochs_s_scaled": 150 * timestepped_epoch,
        "iris_numpy_timestepped_epoch_s_scaled": plain_epoch,
        "iris_timestepped_speedup": plain_epoch / timestepped_epoch,
        "iris_timestepped_steps_per_presentation": n_steps,
        "iris_implicit_epoch_s": implicit_epoch, "iris_implicit_150_epochs_s_scaled": 150 * implicit_epoch,
    }  # fmt: skip


#: The two scenarios' own runs: iris_advection.py (Appendix A's mode, 40 epochs) and iris_diffusion.py (150).
ADVECTION_RUN = {"dynamics": {"name": "advection", "xi": 0.003, "lam": 1.0, "release_every": 20,
                              "transport_steps": 20}, "run": {"epochs": 40, "fields_every": 1000}}  # fmt: skip


def bench_modes(repeats: int = 3) -> dict:
    """The advection scenario's run against the diffusion scenario's, each recorded to a file
    as the scenarios do; best of ``repeats``, taken in turns (the machine is shared)."""
    import tempfile

    configs = {name: simulator.RunConfig.from_dict(tables) for name, tables in (("advection", ADVECTION_RUN),
                                                                                 ("diffusion", {}))}  # fmt: skip
    best = dict.fromkeys(configs, np.inf)
    with tempfile.TemporaryDirectory() as folder:
        for name, config in configs.items():  # warm-up: compiled kernels loaded
            simulator.run(config.with_values({"run.epochs": 1}), out=Path(folder) / f"warm_{name}.h5")
        for k in range(repeats):
            for name, config in configs.items():
                start = time.perf_counter()
                simulator.run(config, out=Path(folder) / f"{name}_{k}.h5")
                best[name] = min(best[name], time.perf_counter() - start)
    return {"advection_run_s": best["advection"], "diffusion_run_s": best["diffusion"],
            "advection_over_diffusion": best["advection"] / best["diffusion"]}  # fmt: skip


# ---------------------------------------------------------------------- report
def process_seconds(args: list[str], repeats: int = 5) -> float:
    """Best wall time of ``python ARGS`` as a new process, as a user starts it: bytecode cached
    (``PYTHONDONTWRITEBYTECODE`` unset; a shell that sets it compiles every module anew each time)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)  # caches warm
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def bench_startup() -> dict:
    """What a user waits for around the kernels, each process beside its baseline in this run."""
    scenario = str(Path(__file__).parents[1] / "scenarios" / "iris_diffusion.py")
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "iris.h5")
        results = {
            "import_numba_s": process_seconds(["-c", "import numba"]),
            "import_simulator_s": process_seconds(["-c", "import simulator"]),
            "python_s": process_seconds(["-c", "pass"]),
            "iris_1_epoch_process_s": process_seconds([scenario, "--epochs", "1", "--out", out, "--overwrite"]),
            "iris_200_epochs_process_s": process_seconds([scenario, "--epochs", "200", "--out", out, "--overwrite"], 2),
            "iris_200_epochs_numpy_process_s": process_seconds([__file__, "--numpy-iris", "200"], 1),
        }
    results["import_ratio"] = results["import_simulator_s"] / results["import_numba_s"]
    results["iris_process_speedup"] = results["iris_200_epochs_numpy_process_s"] / results["iris_200_epochs_process_s"]
    return {**results, **bench_sweep()}


def bench_sweep(lrs=("1e-3", "3e-3"), seeds: int = 10) -> dict:
    """The 20-point Iris sweep (``--grid lr=1e-3,3e-3 --seeds 0:10``) beside the same 20 runs
    started as separate processes, two at a time (one thread each, as the sweep pins them)."""
    from concurrent.futures import ThreadPoolExecutor

    scenario = str(Path(__file__).parents[1] / "scenarios" / "iris_diffusion.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "simulator", "sweep", scenario, "--grid", f"lr={','.join(lrs)}",
                        "--seeds", f"0:{seeds}", "--out", f"{folder}/sweep"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        swept = time.perf_counter() - start
        one_thread = {**env, **simulator.base.ONE_THREAD_ENV}
        commands = [[sys.executable, scenario, "--lr", lr, "--seed", str(seed), "--out", f"{folder}/lr{lr}_{seed}.h5"]
                    for lr in lrs for seed in range(seeds)]  # fmt: skip
        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda c: subprocess.run(c, env=one_thread, check=True, capture_output=True), commands))
        separate = time.perf_counter() - start
    return {"sweep_points": len(commands), "sweep_s": swept, "sweep_separate_processes_s": separate,
            "sweep_speedup": separate / swept}  # fmt: skip


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def report(results: dict) -> str:
    lines = report_startup(results["startup"]) if "startup" in results else []
    if "bandwidth" not in results:
        return "\n".join(lines)
    lines += [
        f"triad bandwidth: {results['bandwidth']['triad_one_core_GBps']:.1f} GB/s one core, "
        f"{results['bandwidth']['triad_all_cores_GBps']:.1f} GB/s all cores",
        "",
        "| nodes | relax: scipy | kernel, 1 core | kernel (cores) | speedup | GB/s of triad | x roofline "
        "| advect: numpy | kernel | speedup | learning step: splu | ours | speedup "
        "| learning_update (stateless) | speedup |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["sizes"]:
        lines.append(
            f"| {r['nodes']} | {fmt(r['relax_scipy_s'])} | {fmt(r['relax_one_core_s'])} "
            f"| {fmt(r['relax_kernel_s'])} ({r['relax_cores']}) | {r['relax_speedup']:.1f}x "
            f"| {r['relax_GBps']:.1f} of {r.get('relax_triad_GBps', float('nan')):.1f} "
            f"| {r['relax_over_roofline']:.2f} | {fmt(r['advect_numpy_s'])} "
            f"| {fmt(r['advect_kernel_s'])} | {r['advect_speedup']:.1f}x | {fmt(r['learning_splu_s'])} "
            f"| {fmt(r['learning_step_s'])} ({r['learning_backend']}) | {r['learning_speedup']:.1f}x "
            f"| {fmt(r.get('stateless_step_s', float('nan')))} | {r.get('stateless_speedup', float('nan')):.1f}x |"
        )
    learned = [r for r in results["sizes"] if "learn_cores_s" in r]
    if learned:
        lines += ["", "time-stepped learning step (pressure, chemical, dw), one core / over the cores: " + "; ".join(
            f"{r['nodes']} nodes {fmt(r['learn_one_core_s'])} / {fmt(r['learn_cores_s'])} "
            f"({r['learn_one_core_s'] / r['learn_cores_s']:.2f}x)" for r in learned)]  # fmt: skip
    if "order" in results:
        o = results["order"]
        lines += [
            "",
            f"node order, relax at {o['order_nodes']} nodes: as built {fmt(o['order_built_s'])} per step; nodes and "
            f"pipes numbered at random {fmt(o['order_random_s'])}; after Network.reordered() (RCM, "
            f"{o['order_reorder_once_s']:.2f} s once) {fmt(o['order_reordered_s'])} ({o['order_speedup']:.1f}x)",
        ]
    if "ensemble" in results:
        e = results["ensemble"]
        lines += ["", f"ensemble: {e['ensemble_networks']} networks of 144 nodes in one call: "
                  f"{e['ensemble_network_steps_per_s']:.3g} network-steps/s; one call per network: "
                  f"{e['one_call_per_network_network_steps_per_s']:.3g} ({e['ensemble_speedup']:.2f}x)"]  # fmt: skip
    if "iris" in results:
        i = results["iris"]
        lines += [
            "",
            f"Iris quasistatic, 200 epochs: {i['iris_quasistatic_200_epochs_s']:.2f} s (plain numpy, scaled from 5 "
            f"epochs: {i['iris_numpy_200_epochs_s_scaled']:.1f} s; {i['iris_quasistatic_speedup']:.0f}x)",
            f"Iris time-stepped, T = 50 relaxation times ({i['iris_timestepped_steps_per_presentation']} steps per "
            f"presentation): {i['iris_timestepped_epoch_s']:.2f} s per epoch, "
            f"{i['iris_timestepped_150_epochs_s_scaled']:.0f} s for 150 (plain numpy, scaled from 2 presentations: "
            f"{i['iris_numpy_timestepped_epoch_s_scaled']:.0f} s per epoch; {i['iris_timestepped_speedup']:.0f}x)",
        ]
        if "advection_run_s" in i:
            lines.append(report_modes(i))
        if "iris_implicit_epoch_s" in i:
            lines.append(
                f"Iris time-stepped, implicit scheme (10 steps per relaxation time): "
                f"{i['iris_implicit_epoch_s']:.2f} s per epoch, {i['iris_implicit_150_epochs_s_scaled']:.0f} s for 150"
            )
    return "\n".join(lines)


def report_modes(r: dict) -> str:
    return (f"Iris, the scenarios' runs recorded to files: advection mode (40 epochs) {r['advection_run_s']:.2f} s, "
            f"diffusion (150 epochs) {r['diffusion_run_s']:.2f} s ({r['advection_over_diffusion']:.2f}x)")


def report_startup(r: dict) -> list[str]:
    return [
        f"start-up (new processes, best of 5): import numba {fmt(r['import_numba_s'])}, import simulator "
        f"{fmt(r['import_simulator_s'])} ({r['import_ratio']:.2f}x numba); python alone {fmt(r['python_s'])}",
        f"iris_diffusion.py --epochs 1: {fmt(r['iris_1_epoch_process_s'])}; --epochs 200: "
        f"{fmt(r['iris_200_epochs_process_s'])}, plain numpy process {fmt(r['iris_200_epochs_numpy_process_s'])} "
        f"({r['iris_process_speedup']:.1f}x)",
        f"sweep of {r['sweep_points']} Iris points (--grid lr=1e-3,3e-3 --seeds 0:10, 2 workers): "
        f"{r['sweep_s']:.1f} s; as separate processes two at a time {r['sweep_separate_processes_s']:.1f} s "
        f"({r['sweep_speedup']:.2f}x)",
        "",
    ]


def plot(results: dict, out: Path) -> Path:
    from matplotlib.figure import Figure

    rows = results["sizes"]
    nodes = np.array([r["nodes"] for r in rows])
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    for key, label, style in (
        ("relax_scipy_s", "scipy.sparse step", "o--"), ("relax_one_core_s", "relaxation kernel, 1 core", "o-"),
        ("relax_kernel_s", "relaxation kernel, all cores", "o-"),
        ("relax_roofline_s", "bandwidth roofline", ":"), ("advect_numpy_s", "advection, numpy", "s--"),
        ("advect_kernel_s", "advection kernel", "s-"),
    ):  # fmt: skip
        left.loglog(nodes, [r[key] for r in rows], style, label=label)
    left.set_xlabel("nodes")
    left.set_ylabel("seconds per explicit step")
    left.set_title("explicit steps")
    left.legend(fontsize=8)
    right.loglog(nodes, [r["learning_splu_s"] for r in rows], "o--", label="SuperLU, from scratch")
    right.loglog(nodes, [r["learning_step_s"] for r in rows], "o-", label="ours (analysis reused)")
    for r in rows:
        right.annotate(r["learning_backend"], (r["nodes"], r["learning_step_s"]), fontsize=7,
                       textcoords="offset points", xytext=(4, -10))  # fmt: skip
    right.axhline(1.0, color="grey", lw=0.8, ls=":")
    right.set_xlabel("nodes")
    right.set_ylabel("seconds per learning step")
    right.set_title("quasistatic learning step (factorise + 2 solves + update)")
    right.legend(fontsize=8)
    fig.savefig(out, dpi=120)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[12, 100, 316, 1000], help="lattice sides")
    parser.add_argument("--budget", type=float, default=1.0, help="target seconds per timed loop")
    parser.add_argument("--out", type=Path, default=RESULTS / "suite.json")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from --out")
    parser.add_argument("--numpy-iris", type=int, metavar="EPOCHS", help="only run the plain numpy Iris reference")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up and whole-process figures")
    parser.add_argument("--modes-only", action="store_true", help="only Iris in advection mode against diffusion")
    args = parser.parse_args(argv)
    if args.numpy_iris:
        config = simulator.RunConfig.from_dict({}).with_values({"run.epochs": args.numpy_iris})
        print(numpy_iris(config, args.numpy_iris))
        return
    if args.modes_only:
        print(report_modes(bench_modes()))
        return
    if args.startup_only:
        print(report({"startup": bench_startup()}))
        return
    if args.plot_only:
        results = json.loads(args.out.read_text())
    else:
        bandwidth = triad_bandwidth()
        results = {"bandwidth": bandwidth, "sizes": []}
        for side in args.sides:
            results["sizes"].append(bench_size(side, args.budget))
            print(f"  side {side}: done", flush=True)
        results["order"] = bench_order(max(args.sides), args.budget)
        if 12 in args.sides:
            results["ensemble"] = bench_ensemble()
            results["iris"] = {**bench_iris(), **bench_modes()}
        results["startup"] = bench_startup()
        results["meta"] = {
            "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "simulator": simulator.__version__, "numpy": np.__version__, "numba": __import__("numba").__version__,
            "scipy": scipy.__version__, "backends": RefactoringLaplacian.available(),
            "date": time.strftime("%Y-%m-%d"),
        }  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"wrote {args.out}\nfigure {plot(results, args.out.with_name('scaling.png'))}")


if __name__ == "__main__":
    main()
