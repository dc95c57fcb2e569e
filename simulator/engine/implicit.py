"""The one-phase (fused) rule with backward-Euler diffusion: stable at any step.

Per presentation: one banded Cholesky factor of ``c_v/dt + L`` (and of ``c_u/dt + c_u r +
kappa L``, ``r`` the chemical's decay rate, unless the two are the same matrix) in a reverse
Cuthill-McKee order found once, then ``kernels.implicit_learn_steps``. With physical (or
live) weights the pipes remodel every step and the kernel refactorises both at the new
conductances before the fields step; deferred, the factors serve the whole presentation.
"""

from __future__ import annotations

import numpy as np

from ..base import SimulationError, lazy_module
from ..costs import kernel_code
from .method import TimeSteppedMethod

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = ["ImplicitFused"]


class ImplicitFused(TimeSteppedMethod):
    name = "implicit"

    def __init__(self, setup, state):
        super().__init__(setup, state)
        network, physics = self.network, setup.physics
        n = network.n_nodes
        self.position, bandwidth = network.topology.band_order(n, grounded=False)
        self.bands = (np.empty((n, bandwidth + 1)), np.empty((n, bandwidth + 1)))
        self.scratch = (np.empty(n), np.empty(n), np.empty(n))
        self.band_edges = np.ascontiguousarray(self.position[network.topology.edges])
        self.band_outputs = (self.position[network.output_pairs[:, 0]], self.position[network.output_pairs[:, 1]])
        # one matrix serves both fields
        self.shared = physics.c_u == physics.c_v and physics.kappa == 1.0 and setup.decay_rate == 0.0
        self.schedule = self.plan(0, None)  # the same steps for every presentation

    def present(self, k, inputs, targets):
        setup, state, physics, plan = self.setup, self.state, self.setup.physics, self.schedule
        w, (band_v, band_u) = self.network.conductance.copy(), self.bands
        edges = self.network.topology.edges
        u_shift = physics.c_u / plan.dt + physics.c_u * setup.decay_rate
        factored = kernels.shifted_band_factor(edges, w, self.position, 1.0, physics.c_v / plan.dt, band_v) and (
            self.shared or kernels.shifted_band_factor(edges, w, self.position, physics.kappa, u_shift, band_u)
        )  # fmt: skip
        if not factored:
            raise SimulationError(f"presentation {k}: the implicit system lost positive definiteness")
        dw = np.zeros(self.network.n_edges)
        currents = self.network.node_currents(inputs)
        start = state.step
        for feedback_on, steps in ((False, plan.n_delay), (True, plan.n_steps - plan.n_delay)):
            before = (self.band_edges, w, self.position, band_v, band_u, state.v, state.u, currents, *self.band_outputs,
                      targets, setup.eta, kernel_code(setup.cost), setup.cost.parameter, feedback_on,
                      physics.c_v / plan.dt, physics.c_u / plan.dt, setup.learn_rate(plan.dt), self.shared, dw)
            after = (edges, physics.kappa, u_shift, setup.live, setup.w_min)  # fmt: skip

            def step_chunk(count, before=before, after=after):
                if not kernels.implicit_learn_steps(*before, count, *self.scratch, *after):
                    raise SimulationError(f"presentation {k}: the implicit system lost positive definiteness")

            self.advance(step_chunk, steps, start, plan.dt, k)
        state.time += setup.dynamics.T
        outputs = self.network.outputs(state.v)
        if setup.live:
            floored = int(np.count_nonzero(w <= setup.w_min))
            self.network = self.network.with_conductance(w)
            return outputs, floored, plan.dt
        return outputs, self.remodel(dw), plan.dt
