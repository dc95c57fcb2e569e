"""Any differentiable cost: the feedback ``E = -eta dC/dy`` makes the chemical update the exact
gradient step of that cost, in the quasistatic solve, the compiled kernels and recorded runs."""

import numpy as np
import pytest
from conftest import random_task

import simulator
from simulator import kernels
from simulator.costs import COSTS, FunctionCost, Huber, SoftmaxCrossEntropy, SquaredError, checked_cost, kernel_code


def log_cosh(outputs, targets):  # a user's smooth cost, given as a plain function
    return float(np.sum(np.log(np.cosh(outputs - targets))))


def probabilities(rng, p):
    weights = rng.uniform(0.1, 1.0, p)
    return weights / weights.sum()


# Huber with a threshold below the errors of this task, so that some outputs are clipped
COST_CASES = {
    "squared": "squared",
    "huber": Huber(threshold=2.0),
    "softmax_cross_entropy": "softmax_cross_entropy",
    "function": log_cosh,
}


def task_for(cost, network, seed):
    inputs, targets = random_task(network, seed=seed)
    if cost == "softmax_cross_entropy":
        targets = probabilities(np.random.default_rng(seed), network.n_outputs)
    return inputs, targets


@pytest.mark.parametrize("case", sorted(COST_CASES))
def test_chemical_update_is_the_finite_difference_step_of_every_cost(case):
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=3)
    cost = COST_CASES[case]
    inputs, targets = task_for(cost, net, seed=5)
    alpha, eta = 0.4, 0.05
    dw = simulator.learning_update(net, inputs, targets, rule="chemical", alpha=alpha, eta=eta, cost=cost)
    numeric = -alpha * eta * simulator.finite_difference_gradient(net, inputs, targets, cost=cost)
    assert np.linalg.norm(dw - numeric) / np.linalg.norm(numeric) < 1e-6
    exact = simulator.cost_gradient(net, inputs, targets, cost=cost)
    np.testing.assert_allclose(dw, -alpha * eta * exact, rtol=1e-12, atol=1e-14 * np.abs(exact).max())


def test_the_huber_case_clips_some_outputs_and_not_others():
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=3)
    inputs, targets = task_for("huber", net, seed=5)
    error = np.abs(net.outputs(simulator.steady_state(net, inputs)) - targets)
    assert np.any(error > 2.0) and np.any(error < 2.0), error  # both branches of the cost are exercised


@pytest.mark.parametrize("cost", [COSTS["squared"], Huber(0.5), SoftmaxCrossEntropy(), FunctionCost(log_cosh)])
def test_each_cost_gradient_is_the_derivative_of_its_value(cost):
    rng = np.random.default_rng(0)
    outputs, targets = rng.normal(0, 2, (4, 5)), np.stack([probabilities(rng, 5) for _ in range(4)])
    h = 1e-6
    numeric = np.stack([(cost.value(outputs + h * e, targets) - cost.value(outputs - h * e, targets)) / (2 * h)
                        for e in np.eye(5)], axis=-1)  # fmt: skip
    np.testing.assert_allclose(cost.gradient(outputs, targets), numeric, rtol=1e-6, atol=1e-8)


def test_the_shipped_costs_have_their_textbook_values():
    outputs, targets = np.array([0.5, 3.0]), np.array([0.0, 0.0])
    assert COSTS["squared"].value(outputs, targets) == pytest.approx(0.5 * (0.25 + 9.0))
    assert COSTS["huber"].value(outputs, targets) == pytest.approx(0.125 + (3.0 - 0.5))  # e^2/2, |e| - 1/2
    logits, label = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, 0.0])
    softmax = np.exp(logits) / np.exp(logits).sum()
    assert COSTS["softmax_cross_entropy"].value(logits, label) == pytest.approx(-np.log(softmax[1]))
    large = np.array([1000.0, 0.0])  # no overflow
    assert COSTS["softmax_cross_entropy"].value(large, np.array([0.0, 1.0])) == pytest.approx(1000.0)


@pytest.mark.parametrize("cost", [COSTS["squared"], Huber(0.5), SoftmaxCrossEntropy()])
def test_the_kernels_feedback_is_the_costs_own(cost):
    rng = np.random.default_rng(1)
    outputs, targets = rng.normal(0, 2, 6), probabilities(rng, 6)
    error = np.empty(6)
    kernels.negative_cost_gradient(kernel_code(cost), cost.parameter, targets, outputs, error)
    np.testing.assert_allclose(error, -cost.gradient(outputs, targets), rtol=1e-14, atol=1e-15)


def test_an_unknown_kernel_code_gives_nan_not_another_cost():
    error = np.zeros(3)
    kernels.negative_cost_gradient(7, 0.0, np.ones(3), np.zeros(3), error)
    assert np.all(np.isnan(error))


def test_a_subclass_of_a_shipped_cost_is_not_compiled_as_its_parent():
    class Halved(SquaredError):  # another gradient: the kernels' squared error would ignore it
        def gradient(self, outputs, targets):
            return 0.5 * super().gradient(outputs, targets)

    assert kernel_code(Halved()) is None and kernel_code(SquaredError()) == kernels.COST_SQUARED
    net = simulator.lattice_network(side=4, seed=0, n_inputs=1, n_outputs=1)
    inputs, targets = random_task(net)
    halved = simulator.learning_update(net, inputs, targets, cost=Halved())
    np.testing.assert_allclose(halved, 0.5 * simulator.learning_update(net, inputs, targets), rtol=1e-12)
    fit = simulator.train(net, inputs, targets, alpha=1e-3, cost=Halved())  # the direct path, not the banded kernel
    np.testing.assert_allclose(fit.network.conductance - net.conductance, 1e-3 * halved, rtol=1e-9)


@pytest.mark.parametrize("case", ["huber", "softmax_cross_entropy"])
def test_compiled_and_python_quasistatic_paths_agree_for_each_cost(case):
    net = simulator.lattice_network(side=6, seed=2, n_inputs=2, n_outputs=3)
    cost = COST_CASES[case]
    rng = np.random.default_rng(3)
    inputs = rng.uniform(0, 5, (20, 2))
    targets = np.stack([task_for(cost, net, seed)[1] for seed in range(20)])
    run = lambda method: simulator.train(net, inputs, targets, alpha=0.05, eta=1.0, cost=cost,  # noqa: E731
                                         dynamics=simulator.Quasistatic(solver_method=method))  # fmt: skip
    banded, dense = run("banded"), run("dense")
    np.testing.assert_allclose(banded.network.conductance, dense.network.conductance, rtol=1e-11)
    np.testing.assert_allclose(banded.costs, textbook_value(case, banded.outputs, targets), rtol=1e-12)


def textbook_value(case, outputs, targets):
    """The cost written out here, independently of simulator.costs."""
    if case == "huber":
        size = np.abs(outputs - targets)
        return np.where(size <= 2.0, size**2 / 2, 2.0 * (size - 1.0)).sum(axis=-1)
    logits = outputs - outputs.max(axis=-1, keepdims=True)
    return -(targets * (logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True)))).sum(axis=-1)


@pytest.mark.parametrize("scheme", [simulator.Explicit(), simulator.Implicit(steps_per_relaxation_time=10)])
@pytest.mark.parametrize("case", ["huber", "softmax_cross_entropy"])
def test_time_stepped_learning_of_each_cost_approaches_its_quasistatic_step(case, scheme):
    net = simulator.lattice_network(side=5, seed=2, n_inputs=1, n_outputs=2)
    cost = Huber(threshold=0.05) if case == "huber" else COST_CASES[case]  # below this task's errors
    inputs, targets = task_for(cost, net, seed=7)
    # the physical protocol (pipes remodelling while the fields evolve) against its limit: the
    # gradient flow over each presentation (quasistatic substeps)
    quasistatic = simulator.train(net, inputs, targets, alpha=0.01, eta=1.0, cost=cost,
                                  dynamics=simulator.Quasistatic(substeps=256))  # fmt: skip
    timed = simulator.train(net, inputs, targets, alpha=0.01, eta=1.0, cost=cost, integrator=scheme,
                            dynamics=simulator.TimeStepped(T=simulator.RelaxationTimes(60.0)),
                            weights=simulator.Physical(simulator.RelaxationTimes(60.0)))  # fmt: skip
    step = quasistatic.network.conductance - net.conductance
    gap = timed.network.conductance - quasistatic.network.conductance
    assert np.linalg.norm(gap) < 0.05 * np.linalg.norm(step)
    squared = simulator.train(net, inputs, targets, alpha=0.01, eta=1.0)
    assert np.linalg.norm(squared.network.conductance - quasistatic.network.conductance) > 0.2 * np.linalg.norm(step)


def test_ep_descends_any_cost_to_first_order_in_eta():
    net = simulator.lattice_network(side=6, seed=1, n_inputs=2, n_outputs=3)
    inputs, targets = task_for("softmax_cross_entropy", net, seed=5)
    chemical = simulator.learning_update(net, inputs, targets, rule="chemical", alpha=1.0, eta=1e-4,
                                         cost="softmax_cross_entropy")  # fmt: skip
    ep = simulator.learning_update(net, inputs, targets, rule="ep", alpha=1.0, eta=1e-4, cost="softmax_cross_entropy")
    assert np.linalg.norm(ep - chemical) < 1e-3 * np.linalg.norm(chemical)


def test_a_recorded_run_learns_with_another_cost_and_says_so(tmp_path):
    config = {"rule": {"cost": "huber", "huber_threshold": 0.5}, "run": {"epochs": 5}}
    result = simulator.run(config, out=tmp_path / "huber.h5")
    recorded = simulator.load_trajectory(tmp_path / "huber.h5")
    assert recorded.config["rule"]["cost"] == "huber" and recorded.config["rule"]["huber_threshold"] == 0.5
    outputs, targets = recorded.series("observables/output")[2], recorded.series("observables/target")[2]
    np.testing.assert_allclose(recorded.series("observables/cost")[2], Huber(0.5).value(outputs, targets), rtol=1e-14)
    assert result.epochs["accuracy_test"][-1] > result.epochs["accuracy_test"][0]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: simulator.RunConfig.from_dict({"rule": {"cost": "hinge"}}), "rule.cost must be one of"),
        (lambda: simulator.RunConfig.from_dict({"rule": {"huber_threshold": 2.0}}),
         "rule.huber_threshold does not apply"),
        (lambda: simulator.RunConfig.from_dict({"rule": {"cost": "huber", "huber_threshold": -1.0}}),
         "huber_threshold"),
        (lambda: Huber(threshold=0.0), "the Huber threshold must be finite and > 0"),
        (lambda: checked_cost("hinge"), "unknown cost 'hinge'"),
        (lambda: checked_cost(3), "cost must be a name"),
        (lambda: checked_cost(Huber), r"cost must be an instance, not the class Huber: give Huber\(\)"),
        (lambda: simulator.learning_update(simulator.lattice_network(side=3, n_inputs=1, n_outputs=2), [1.0],
                                           [0.5, -0.5], cost="softmax_cross_entropy"),
         r"needs targets that are class probabilities \(>= 0\), got -0.5"),
        (lambda: simulator.RunConfig.from_dict({"rule": {"cost": "softmax_cross_entropy"}, "run": {"epochs": 1}}),
         None),
        (lambda: simulator.train(simulator.lattice_network(side=3, n_inputs=1, n_outputs=1), [1.0], [0.0],
                                 cost=log_cosh, dynamics=simulator.TimeStepped(T=10.0)),
         "which know the costs squared, huber and softmax_cross_entropy, not 'log_cosh'; this cost runs in the "
         "quasistatic dynamics"),
        (lambda: simulator.train(simulator.lattice_network(side=3, n_inputs=1, n_outputs=1), [1.0], [0.0],
                                 cost=log_cosh, dynamics=simulator.Quasistatic(solver_method="banded")),
         "solver_method='banded' computes the costs it compiles"),
    ],
)  # fmt: skip
def test_bad_costs_are_refused_by_name(build, message):
    if message is None:  # a valid config: refused when the run meets the task's targets
        with pytest.raises(ValueError, match="the iris task's targets are output drops that move with the network"):
            simulator.run(build())
        return
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_a_rule_without_a_cost_keyword_runs_the_squared_error_only():
    class Legacy(simulator.Rule):
        name = "legacy"

        def update(self, network, v, targets, *, alpha, eta, kappa, solver):
            return simulator.RULES["chemical"].update(network, v, targets, alpha=alpha, eta=eta, kappa=kappa,
                                                      solver=solver)  # fmt: skip

    net = simulator.lattice_network(side=4, seed=0, n_inputs=1, n_outputs=1)
    inputs, targets = random_task(net)
    np.testing.assert_array_equal(simulator.learning_update(net, inputs, targets, rule=Legacy()),
                                  simulator.learning_update(net, inputs, targets))  # fmt: skip
    with pytest.raises(ValueError, match="rule 'legacy' takes no cost"):
        simulator.learning_update(net, inputs, targets, rule=Legacy(), cost="huber")
    with pytest.raises(ValueError, match="rule 'legacy' takes no cost"):
        simulator.train(net, inputs, targets, rule=Legacy(), cost="huber")


def test_a_two_phase_rule_of_ones_own_without_a_cost_keyword_still_runs():
    class Halfway(simulator.rules.NudgedRule):  # a nudged state of a user's, written before costs
        name = "halfway"

        def nudged(self, network, v, targets, *, eta, solver):
            return simulator.rules.nudged_state(network, v, targets, eta=eta / 2, solver=solver)

    net = simulator.lattice_network(side=4, seed=0, n_inputs=1, n_outputs=1)
    inputs, targets = random_task(net)
    ep_half = simulator.learning_update(net, inputs, targets, rule="ep", alpha=1.0, eta=0.5)
    np.testing.assert_allclose(simulator.learning_update(net, inputs, targets, rule=Halfway(), alpha=1.0, eta=1.0),
                               ep_half, rtol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match="rule 'halfway' takes no cost"):
        simulator.learning_update(net, inputs, targets, rule=Halfway(), cost="huber")


def test_public_functions_take_a_cost_by_name():
    net = simulator.lattice_network(side=4, seed=0, n_inputs=1, n_outputs=2)
    inputs, targets = random_task(net)
    v, solver = simulator.steady_state(net, inputs), simulator.LaplacianSolver(net)
    for function in (simulator.rules.clamped_state, simulator.rules.nudged_state):
        np.testing.assert_array_equal(function(net, v, targets, eta=0.1, solver=solver, cost="huber"),
                                      function(net, v, targets, eta=0.1, solver=solver, cost=Huber()))  # fmt: skip
    np.testing.assert_array_equal(simulator.rules.clamped_outputs(net.outputs(v), targets, 0.1, "huber"),
                                  simulator.rules.clamped_outputs(net.outputs(v), targets, 0.1, Huber()))  # fmt: skip
