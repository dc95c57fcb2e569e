"""Registries: a rule added with one class and one line runs in both dynamics; a task added with
one class and one line runs through ``run``; every registered method is reachable."""

import numpy as np
import pytest

import simulator
from simulator import RULES, TASKS, Rule, Task
from simulator.engine import METHODS, Explicit, Implicit, Physics, Quasistatic, Setup, TimeStepped, method_for
from simulator.quasistatic import output_error_currents
from simulator.tasks import Metric


class ProportionalRule(Rule):
    """A toy: the chemical step scaled by each pipe's own conductance, ``dw = -alpha w u v``
    (gradient descent in ``log w``). Only its quasistatic update is written; the engine runs it
    time-stepped by relaxing the pressure, then taking this update."""

    name = "proportional"

    def update(self, network, v, targets, *, alpha, eta, kappa, solver):
        u = solver.solve(output_error_currents(network, v, targets, eta)) / kappa
        return -alpha * network.conductance * network.drops(u) * network.drops(v)


class ConstantTargets(Task):
    """A toy task: the unit input on each pair, each asked for ``level`` at every output."""

    name = "constant"
    options = {"level": simulator.base.Option(float, 0.1, doc="the target of every output")}

    @classmethod
    def from_config(cls, options, *, network, seed, boundary):
        inputs = np.eye(network.n_inputs)
        targets = np.full((network.n_inputs, network.n_outputs), options["level"])
        return cls(inputs, targets, inputs, targets)

    def metrics(self):
        return {**super().metrics(), "worst": Metric((), "", "largest test error")}

    def evaluate(self, network, transfer):
        return {**super().evaluate(network, transfer), "worst": float(np.abs(transfer.T - self.targets_test).max())}


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(RULES, "proportional", ProportionalRule())  # the one registry line of each
    monkeypatch.setitem(TASKS, "constant", ConstantTargets)


def test_a_toy_rule_runs_quasistatic_and_time_stepped(registered):
    network = simulator.lattice_network(side=5, seed=2, n_inputs=2, n_outputs=2)
    rng = np.random.default_rng(0)
    inputs, targets = rng.uniform(0, 5, (3, 2)), rng.normal(0, 0.5, (3, 2))
    quasistatic = simulator.train(network, inputs, targets, rule="proportional", alpha=0.1, eta=0.5)
    # quasistatic: the direct method, and its update is the formula
    chemical = simulator.learning_update(network, inputs[0], targets[0], alpha=0.1, eta=0.5)
    first = simulator.train(network, inputs[:1], targets[:1], rule="proportional", alpha=0.1, eta=0.5)
    expected = network.conductance * chemical
    np.testing.assert_allclose(first.network.conductance - network.conductance, expected, rtol=0,
                               atol=1e-12 * np.abs(expected).max())  # fmt: skip
    # time-stepped: the two-phase method relaxes the pressure, then takes the update; its
    # distance from the quasistatic trajectory falls as 1/T
    change = quasistatic.network.conductance - network.conductance
    t_relax = simulator.relaxation_time(network)
    distances = []
    for multiple in (20, 200):
        dynamics = TimeStepped(T=multiple * t_relax)
        stepped = simulator.train(network, inputs, targets, rule="proportional", alpha=0.1, eta=0.5, dynamics=dynamics)
        distances.append(np.linalg.norm(stepped.network.conductance - quasistatic.network.conductance))
    assert distances[1] < 1e-3 * np.linalg.norm(change) and distances[1] < distances[0]
    assert simulator.cost(quasistatic.network, inputs[0], targets[0]) < simulator.cost(network, inputs[0], targets[0])


def test_a_toy_rule_and_a_toy_task_run_through_run(registered, tmp_path):
    config = simulator.RunConfig.from_dict({
        "task": {"name": "constant", "level": 0.05}, "rule": {"name": "proportional", "lr": 0.5},
        "network": {"side": 6, "n_inputs": 2, "n_outputs": 2}, "run": {"epochs": 30},
    })  # fmt: skip
    result = simulator.run(config, out=tmp_path / "toy.h5")
    cost = result.epochs["cost_test"]
    assert cost[-1] < cost[0] / 10 and result.epochs["worst"][-1] < result.epochs["worst"][0]
    recorded = simulator.load_trajectory(tmp_path / "toy.h5")
    assert recorded.status[0] == "complete" and recorded.config["task"] == {"name": "constant", "level": 0.05}
    np.testing.assert_array_equal(recorded.series("observables/worst")[2], result.epochs["worst"])
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['task.levels'\]"):
        simulator.RunConfig.from_dict({"task": {"name": "constant", "levels": 1.0}})


@pytest.mark.parametrize(
    "rule, dynamics, integrator, method",
    [
        ("chemical", Quasistatic(), Explicit(), "banded"),
        ("ep", Quasistatic(), Explicit(), "direct"),
        ("chemical", Quasistatic(solver_method="dense"), Explicit(), "direct"),
        ("chemical", TimeStepped(T=1.0), Explicit(), "explicit"),
        ("chemical", TimeStepped(T=1.0), Implicit(dt=0.1), "implicit"),
        ("coupled", TimeStepped(T=1.0), Explicit(), "two_phase"),
        ("gradient", TimeStepped(T=1.0), Explicit(), "two_phase"),
        ("chemical", simulator.Advection(), Explicit(), "advection"),
    ],
)
def test_each_registered_method_is_chosen_for_its_combination(rule, dynamics, integrator, method):
    network = simulator.lattice_network(side=4, d=3, seed=1, n_inputs=1, n_outputs=1)
    setup = Setup(network, RULES[rule], 1.0, 1.0, dynamics, Physics(), integrator, simulator.Deferred(), 1e-6,
                  simulator.Save())  # fmt: skip
    assert method_for(setup) is METHODS[method] and METHODS[method].name == method
