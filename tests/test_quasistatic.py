"""Direct solves, hand-computed networks, and the exact gradient against finite differences."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import random_task

import simulator


def test_two_node_network():
    w, current = 0.3, 1.7
    net = simulator.Network(positions=[[0, 0], [1, 0]], edges=[[0, 1]], conductance=[w], input_pairs=[[0, 1]])
    v = simulator.steady_state(net, [current])
    np.testing.assert_allclose(v, [current / (2 * w), -current / (2 * w)], rtol=1e-15)


def series_parallel(w1, w2, w3, w4):
    """In at 0, out at 1; series path 0-2-3-1 (output across pipe 2-3) beside pipe 0-1."""
    return simulator.Network(
        positions=[[0, 0], [3, 0], [1, 1], [2, 1]],
        edges=[[0, 2], [2, 3], [3, 1], [0, 1]],
        conductance=[w1, w2, w3, w4],
        input_pairs=[[0, 1]],
        output_pairs=[[2, 3]],
    )


def test_series_parallel_network_by_hand():
    w1, w2, w3, w4, current, target = 0.2, 0.5, 0.25, 0.1, 2.0, 1.0
    net = series_parallel(w1, w2, w3, w4)
    v = simulator.steady_state(net, [current])
    series_resistance = 1 / w1 + 1 / w2 + 1 / w3
    np.testing.assert_allclose(v[0] - v[1], current / (w4 + 1 / series_resistance), rtol=1e-14)
    s = 1 / w1 + 1 / w3 + 1 / w4
    output = current / w4 / (1 + w2 * s)  # series-path current / w2
    np.testing.assert_allclose(net.outputs(v), [output], rtol=1e-14)
    # dC/dw2 and dC/dw4 differentiated by hand
    d_output_dw2 = -current / w4 * s / (1 + w2 * s) ** 2
    k = 1 / w1 + 1 / w3
    d_output_dw4 = -current * (1 + w2 * k) / (w4 + w2 * w4 * k + w2) ** 2
    gradient = simulator.cost_gradient(net, [current], [target])
    np.testing.assert_allclose(gradient[[1, 3]], (output - target) * np.array([d_output_dw2, d_output_dw4]), rtol=1e-13)
    dw = simulator.learning_update(net, [current], [target], alpha=0.3, eta=0.2)
    np.testing.assert_allclose(dw, -0.3 * 0.2 * gradient, rtol=1e-13)


def test_steady_state_solves_the_laplacian_with_mean_zero(any_network):
    inputs, _ = random_task(any_network)
    v = simulator.steady_state(any_network, inputs)
    residual = any_network.laplacian() @ v - any_network.node_currents(inputs)
    assert (
        np.abs(residual).max()
        < 1e-12 * np.abs(inputs).max() * any_network.conductance.max() / any_network.conductance.min()
    )
    assert abs(v.sum()) < 1e-12 * np.abs(v).sum()


def test_cost_gradient_matches_central_finite_differences(any_network):
    inputs, targets = random_task(any_network, seed=1)
    exact = simulator.cost_gradient(any_network, inputs, targets)
    numeric = simulator.finite_difference_gradient(any_network, inputs, targets)
    assert np.linalg.norm(exact - numeric) / np.linalg.norm(exact) < 1e-6


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_dense_and_sparse_factorisations_agree(method):
    net = simulator.lattice_network(side=12, seed=5)
    inputs, _ = random_task(net)
    reference = np.linalg.lstsq(net.laplacian().toarray(), net.node_currents(inputs), rcond=None)[0]
    v = simulator.LaplacianSolver(net, method).solve(net.node_currents(inputs))
    np.testing.assert_allclose(v, reference - reference.mean(), atol=1e-12 * np.abs(reference).max())


def test_solver_refuses_unbalanced_sources_and_bad_shapes():
    net = simulator.lattice_network(side=4, d=3, n_inputs=1, n_outputs=1)
    solver = simulator.LaplacianSolver(net)
    with pytest.raises(ValueError, match="must sum to zero"):
        solver.solve(np.ones(net.n_nodes))
    with pytest.raises(ValueError, match="one per node"):
        solver.solve(np.zeros(3))
    with pytest.raises(ValueError, match=r"inputs must have shape \[1\]"):
        simulator.steady_state(net, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"targets must have shape \[1\]"):
        simulator.cost_gradient(net, [1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="method must be"):
        simulator.LaplacianSolver(net, "cholmod")


@pytest.mark.parametrize("backend", ["ldl", "splu", "pardiso"])
def test_refactoring_laplacian_matches_the_reference_after_every_refactorisation(any_network, backend):
    if backend == "pardiso" and not os.environ.get("CHEMSIGNAL_REQUIRE_PARDISO"):  # .ci/run sets it
        pytest.importorskip("pypardiso", reason="optional extra [pardiso]; CI installs it and runs this test")
    from simulator.quasistatic import LaplacianSolver, RefactoringLaplacian

    rng = np.random.default_rng(3)
    factor = RefactoringLaplacian(any_network, backend)
    sources = np.stack([any_network.node_currents(rng.uniform(0, 5, any_network.n_inputs)) for _ in range(3)], 1)
    for _ in range(3):  # the analysis is reused, only the numbers change
        w = any_network.conductance * rng.uniform(0.2, 5.0, any_network.n_edges)
        factor.refactor(w)
        reference = LaplacianSolver(any_network.with_conductance(w), "dense").solve(sources)
        solution = factor.solve(sources)
        scale = np.abs(reference).max()
        np.testing.assert_allclose(solution, reference, rtol=0, atol=1e-11 * scale)
        np.testing.assert_allclose(factor.solve(sources[:, 0]), reference[:, 0], rtol=0, atol=1e-11 * scale)
    with pytest.raises(ValueError, match="must sum to zero"):
        factor.solve(np.ones(any_network.n_nodes))


@pytest.mark.parametrize("rule", ["chemical", "ep", "coupled", "gradient"])
def test_sparse_training_with_reused_analysis_matches_dense_training(rule):
    network = simulator.lattice_network(side=15, seed=2)
    rng = np.random.default_rng(1)
    inputs, targets = rng.uniform(0, 5, (12, 4)), rng.normal(0, 0.5, (12, 3))
    runs = [
        simulator.train(network, inputs, targets, rule=rule, alpha=0.01, eta=0.3,
                        dynamics=simulator.Quasistatic(solver_method=method, sparse_backend="ldl"))
        for method in ("sparse", "dense")
    ]  # fmt: skip
    np.testing.assert_allclose(runs[0].network.conductance, runs[1].network.conductance, rtol=1e-9)
    np.testing.assert_allclose(runs[0].outputs, runs[1].outputs, rtol=1e-9, atol=1e-12)


def test_pardiso_factor_alive_at_exit_leaves_no_error_behind(tmp_path):
    if not os.environ.get("CHEMSIGNAL_REQUIRE_PARDISO"):  # .ci/run sets it
        pytest.importorskip("pypardiso", reason="optional extra [pardiso]; CI installs it and runs this test")
    script = tmp_path / "script.py"
    script.write_text(
        "import numpy as np, simulator\n"
        "from simulator.quasistatic import RefactoringLaplacian\n"
        "net = simulator.lattice_network(side=8)\n"
        "factor = RefactoringLaplacian(net, 'pardiso')\n"
        "factor.cycle = factor\n"  # in a reference cycle: alive until Python's last collection at shutdown
        "print(factor.solve(net.node_currents(np.ones(4)))[:2])\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip()
    assert done.stderr == ""  # before: "Exception ignored in __del__ ... Python is likely shutting down"


def test_stateless_calls_share_one_analysis_per_topology_and_keep_its_bits():
    """``learning_update`` on copies of one network (and on a network built apart from the same
    pipes) analyses the pattern once and refactorises per call, and a warm cache gives the bits a
    fresh factorisation gives; SuperLU agrees to round-off."""
    from simulator.quasistatic import RefactoringLaplacian, solver_of

    net = simulator.lattice_network(side=20, seed=3)  # 400 nodes: the sparse path
    inputs, targets = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, -0.2, 0.3])
    factor_before = solver_of(net)._shared
    simulator.learning_update(net, inputs, targets, alpha=1e-3)
    analysed = factor_before.factor
    rng = np.random.default_rng(0)
    for _ in range(3):
        net = net.with_conductance(net.conductance * rng.uniform(0.5, 1.5, net.n_edges))
        warm = simulator.learning_update(net, inputs, targets, alpha=1e-3)
        fresh = simulator.learning_update(net, inputs, targets, alpha=1e-3, solver=RefactoringLaplacian(net))
        superlu_solver = simulator.LaplacianSolver(net, "sparse")
        superlu = simulator.learning_update(net, inputs, targets, alpha=1e-3, solver=superlu_solver)
        assert np.array_equal(warm, fresh)
        np.testing.assert_allclose(warm, superlu, rtol=1e-9, atol=1e-12 * np.abs(superlu).max())
    assert solver_of(net)._shared is factor_before
    assert factor_before.factor is analysed  # refactorised, not analysed anew
    apart = simulator.Network(net.positions, net.edges.copy(), net.conductance, net.input_pairs, net.output_pairs)
    assert solver_of(apart)._shared is factor_before
    np.testing.assert_array_equal(simulator.cost_gradient(apart, inputs, targets),
                                  simulator.cost_gradient(net, inputs, targets))  # fmt: skip


def test_shared_analysis_is_dropped_with_the_last_network_of_its_topology():
    import gc

    from simulator.quasistatic import _SHARED_BY_EDGES

    def held_now():
        gc.collect()
        return len(_SHARED_BY_EDGES)

    before = held_now()
    net = simulator.lattice_network(side=17, seed=11)
    copy = net.with_conductance(net.conductance * 2)
    simulator.steady_state(net, np.ones(net.n_inputs))
    simulator.steady_state(copy, np.ones(net.n_inputs))
    assert held_now() == before + 1
    del net
    assert held_now() == before + 1  # the copy still holds the topology
    del copy
    assert held_now() == before


def test_the_batch_gradient_is_the_mean_of_the_per_example_gradients():
    from simulator.quasistatic import batch_cost_gradient

    net = simulator.lattice_network(side=6, seed=3, n_inputs=3, n_outputs=2)
    rng = np.random.default_rng(0)
    inputs, targets = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    value, gradient = batch_cost_gradient(net, inputs, targets)
    each = np.mean([simulator.cost_gradient(net, x, t) for x, t in zip(inputs, targets)], axis=0)
    np.testing.assert_allclose(gradient, each, rtol=1e-10, atol=1e-14 * np.abs(each).max())
    costs = [simulator.cost(net, x, t) for x, t in zip(inputs, targets)]
    assert value == pytest.approx(np.mean(costs), rel=1e-12)
