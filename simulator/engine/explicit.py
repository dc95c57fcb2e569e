"""The one-phase (fused) rule by forward Euler: pressure, chemical and learning in one step.

Per presentation of ``T``: the input currents on throughout; the feedback currents
``E = -eta dC/dy`` at the outputs ``y = v_out(t)`` (``eta (target - y)`` for the squared error) from
``feedback_delay`` on; the chemical decaying at its rate, if it has one; every step each pipe
adds ``-gamma dt (u_a - u_b)(v_a - v_b)`` to its update (physical weights: ``gamma = alpha /
remodel_time``, applied at once; the numerical devices: ``gamma = alpha / T``, applied at the
end (deferred) or at once (live)). From ``PARALLEL_MIN_NODES`` nodes on, deferred steps run
over the cores with the serial bits (``kernels.learn_steps_parts``).
"""

from __future__ import annotations

import numpy as np

from ..base import SimulationError, lazy_module, raise_if_signalled
from ..costs import kernel_code
from ..quasistatic import LaplacianSolver
from ..transport import external_outflow
from .method import TimeSteppedMethod, coupled_stable_dt
from .relaxation import relax_split
from .specs import whole_steps

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = ["ExplicitFused"]


class ExplicitFused(TimeSteppedMethod):
    name = "explicit"

    def __init__(self, setup, state):
        super().__init__(setup, state)
        network = self.network
        self.w = network.conductance.copy()  # the kernel's own copy (live weights change it in place)
        self.scratch = (np.empty(network.n_nodes), np.empty(network.n_nodes))
        self.dw = np.empty(network.n_edges)
        # live weights change w inside a step; the split kernel carries no drift
        self.split = None if setup.live or setup.physics.drift else relax_split(network)
        self.drained = 0.0  # chemical carried out with the fluid (drift), mass units

    @property
    def adaptive(self) -> bool:
        """Physical or live weights with the step chosen from the stability bound: the step
        follows the conductances within a presentation (one can thicken a pipe many-fold)."""
        return self.setup.live and self.setup.integrator.dt is None

    def present(self, k, inputs, targets):
        setup, state, physics = self.setup, self.state, self.setup.physics
        currents = self.network.node_currents(inputs)
        outflow = external_outflow(currents)
        self.dw[:] = 0.0
        if self.adaptive:
            dt = self.present_adaptive(k, currents, outflow, targets)
            return self.finish_presentation(dt)
        plan = self.plan(k, self.w, cap=self.drift_bound(outflow, self.steady(currents)))
        learn_rate = setup.learn_rate(plan.dt)
        start = state.step
        for feedback_on, steps in ((False, plan.n_delay), (True, plan.n_steps - plan.n_delay)):
            head = self.kernel_head(currents, targets, feedback_on, plan.dt)

            def step_chunk(count, head=head):
                if self.split is None:
                    self.drained += physics.c_u * kernels.learn_steps(
                        *head, physics.drift, outflow, learn_rate, setup.live, setup.w_min, self.dw, count,
                        *self.scratch,
                    )  # fmt: skip
                else:  # the same bits, over the cores
                    kernels.learn_steps_parts(*head, learn_rate, setup.w_min, self.dw, count, *self.scratch,
                                              *self.split)  # fmt: skip

            self.advance(step_chunk, steps, start, plan.dt, k)
        state.time += setup.dynamics.T
        return self.finish_presentation(plan.dt)

    def kernel_head(self, currents, targets, feedback_on: bool, dt: float) -> tuple:
        """The arguments that ``learn_steps`` and ``learn_steps_parts`` share, up to ``kappa``,
        for steps of ``dt`` (the decay's factor ``1 - dt / lifetime`` among them)."""
        setup, state, physics = self.setup, self.state, self.setup.physics
        return (self.network.topology.edges, self.w, state.v, state.u, currents, self.out_plus, self.out_minus,
                targets, setup.eta, kernel_code(setup.cost), setup.cost.parameter, feedback_on, dt / physics.c_v,
                dt / physics.c_u, 1.0 - dt * setup.decay_rate, physics.kappa)  # fmt: skip

    def finish_presentation(self, dt: float) -> tuple[np.ndarray, int, float]:
        """The outputs at the presentation's end, the pipes floored, and ``dt``; the network
        takes the new conductances (live) or the summed update (deferred)."""
        setup = self.setup
        outputs = self.network.outputs(self.state.v)
        if setup.live:
            floored = int(np.count_nonzero(self.w <= setup.w_min))
            self.network = self.network.with_conductance(self.w)
        else:
            floored = self.remodel(self.dw)
        self.w = self.network.conductance.copy()  # the network holds a read-only copy
        return outputs, floored, dt

    def present_adaptive(self, k, currents, outflow, targets) -> float:
        """Step one presentation, the step chosen again from the current conductances' bound
        before every chunk; chunks start at 64 steps, halve (to 16) while the bound falls by
        more than 3% over one and double (to ``chunk_steps``) while it holds. A chunk at whose
        end the conductances have outgrown its step is taken back and stepped again, four
        times shorter (down to 16 steps). Each phase (the delay, then the feedback) ends
        exactly on its time. Returns the mean step."""
        setup, state, physics, schedule = self.setup, self.state, self.setup.physics, self.setup.dynamics
        safety, most = setup.integrator.safety, setup.integrator.chunk_steps
        steady, delay = self.steady(currents), min(schedule.feedback_delay, schedule.T)
        chunk, steps, elapsed = min(64, most), 0, 0.0

        def stable() -> float:  # the bound at the current conductances (and flows, with drift)
            return min(self.bound(self.w), self.drift_bound(outflow, steady))

        for feedback_on, duration in ((False, delay), (True, schedule.T - delay)):
            left = duration
            while left > 1e-12 * schedule.T:
                bound = stable()
                self._check_runaway(k, safety * bound, self.w)
                dt, n_left = whole_steps(left, safety * bound)
                count = self.frames.chunk(state.step, min(n_left, chunk))
                saved = (state.v.copy(), state.u.copy(), self.w.copy(), self.dw.copy(), self.drained)
                self.drained += physics.c_u * kernels.learn_steps(
                    *self.kernel_head(currents, targets, feedback_on, dt), physics.drift, outflow,
                    setup.learn_rate(dt), True, setup.w_min, self.dw, count,
                    *self.scratch,
                )  # fmt: skip
                if count > 16 and not (self.finite() and dt < stable()):  # outgrown inside the chunk
                    state.v[:], state.u[:], self.w[:], self.dw[:], self.drained = saved
                    chunk = max(16, count // 4)
                    continue
                state.step, steps = state.step + count, steps + count
                left, elapsed = (0.0 if count == n_left else left - count * dt), elapsed + count * dt
                self.check(k, dt)
                raise_if_signalled()
                if self.frames.due(state.step):
                    self.frames.add(state.step, state.time + elapsed, pressure=state.v, concentration=state.u)
                after = self.bound(self.w)
                chunk = max(16, chunk // 2) if after < 0.97 * bound else min(most, 2 * chunk)
        state.time += schedule.T
        return schedule.T / steps

    def steady(self, currents):
        """The steady pressures of this presentation at the current conductances (with drift
        only: they bound the flows that carry the chemical; None otherwise)."""
        if not self.setup.physics.drift:
            return None
        return LaplacianSolver(self.network.with_conductance(self.w)).solve(currents)

    def drift_bound(self, outflow, steady) -> float:
        """The chemical's explicit bound with drift and decay ``r``: ``c_u / (max_i(kappa
        deg_i + drift q_i) + c_u r / 2)``, ``q_i`` the flow leaving node ``i`` (its
        downhill pipes and its drain) at the larger of the current pressures and the
        presentation's ``steady`` ones, all at the current conductances (column Gershgorin,
        which at ``drift = 0`` is the diffusion's own bound); inf without drift.
        ``plan`` takes ``safety`` of the lower of this and the usual bound."""
        physics = self.setup.physics
        if not physics.drift:
            return np.inf
        network = self.network.with_conductance(self.w)
        leaving = np.zeros(network.n_nodes)
        for v in (self.state.v, steady):
            flow = network.conductance * network.drops(v)
            out = outflow.copy()
            np.add.at(out, np.where(flow > 0, network.topology.edges[:, 0], network.topology.edges[:, 1]), np.abs(flow))
            leaving = np.maximum(leaving, out)
        degree = np.zeros(network.n_nodes)
        np.add.at(degree, network.topology.edges.ravel(), np.repeat(network.conductance, 2))
        rate = np.max(physics.kappa * degree + physics.drift * leaving) + physics.c_u * self.setup.decay_rate / 2
        return physics.c_u / rate

    @property
    def hint(self) -> str:
        live = "with live weights the conductances can outgrow the stable dt: lower alpha or dt"
        return live if self.setup.live else "lower dt"

    def finite(self) -> bool:
        return super().finite() and (not self.setup.live or bool(np.all(np.isfinite(self.w))))

    def check(self, k, dt):
        super().check(k, dt)
        if self.setup.live and not self.adaptive:  # a fixed dt the conductances outgrew
            bound = coupled_stable_dt(self.setup.physics, self.network, self.w, self.setup.decay_rate)
            if dt >= bound:
                raise SimulationError(
                    f"during presentation {k} (step {self.state.step}) the conductances grew so that dt={dt:.6g} "
                    f"is above the stability bound {bound:.6g}; lower alpha, or dt / safety"
                )
