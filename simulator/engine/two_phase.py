"""Rules that need the pressure alone, relaxed first: ``"nudged"`` and ``"relaxed"`` rules.

* ``"nudged"`` (EP, CL): a free phase (the first half of ``T``) relaxes the pressure; each
  pipe's free drop is stored; a nudged phase (the second half) relaxes under the nudge
  (EP: the feedback currents into the main fluid; CL: the output drops clamped a fraction
  ``eta`` of the way to the targets, moving both terminals by equal and opposite amounts,
  which keeps ``sum(v)``) and integrates ``(alpha/2)(dv_free^2 - dv^2)``.
* ``"relaxed"`` (the gradient reference, and any rule with only a quasistatic update): the
  pressure relaxes for the whole of ``T``, then the rule's update is taken from it.

Explicit steps at the pressure's own stability bound; the conductances change at the end of
the presentation.
"""

from __future__ import annotations

import numpy as np

from ..base import lazy_module
from ..quasistatic import LaplacianSolver, feedback_currents
from ..rules import clamped_outputs
from .method import TimeSteppedMethod

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = ["TwoPhase"]


class TwoPhase(TimeSteppedMethod):
    name = "two_phase"
    stability = "pressure"

    def __init__(self, setup, state):
        super().__init__(setup, state)
        self.scratch = np.empty(self.network.n_nodes)

    def present(self, k, inputs, targets):
        setup, state, network = self.setup, self.state, self.network
        w = network.conductance
        plan = self.plan(k, w, least_steps=2)
        gain = plan.dt / setup.physics.c_v
        currents = network.node_currents(inputs)
        relaxed = setup.rule.timestepped == "relaxed"
        n_free = plan.n_steps if relaxed else plan.n_steps // 2
        edges, start = network.topology.edges, state.step
        self.advance(lambda count: kernels.relax(edges, w, state.v, currents, gain, count, self.scratch), n_free,
                     start, plan.dt, k)  # fmt: skip
        outputs = network.outputs(state.v)
        if relaxed:
            solver = LaplacianSolver(network)
            dw = setup.rule(network, state.v, targets, alpha=setup.alpha, eta=setup.eta, kappa=setup.physics.kappa,
                            solver=solver, cost=setup.cost)  # fmt: skip
        else:
            dw = self._nudged_phase(k, plan, currents, outputs, targets, gain, n_free, start)
        state.time += setup.dynamics.T
        return outputs, self.remodel(dw), plan.dt

    def _nudged_phase(self, k, plan, currents, outputs, targets, gain, n_free, start) -> np.ndarray:
        setup, state, network = self.setup, self.state, self.network
        free_drops = network.drops(state.v)  # the stored free state
        dw = np.zeros(network.n_edges)
        clamp_on = setup.rule.nudge == "clamp"
        clamped = clamped_outputs(outputs, targets, setup.eta, setup.cost)
        source = currents
        if not clamp_on:  # EP: the feedback currents into the main fluid
            source = currents + feedback_currents(network, state.v, targets, setup.eta, setup.cost)
        rate = (setup.alpha / 2.0) / (plan.n_steps - n_free)
        before = (network.topology.edges, network.conductance, state.v, source, gain, self.out_plus, self.out_minus,
                  clamp_on, clamped, free_drops, rate, dw)  # fmt: skip
        self.advance(lambda count: kernels.nudged_steps(*before, count, self.scratch), plan.n_steps - n_free, start,
                     plan.dt, k)  # fmt: skip
        return dw
