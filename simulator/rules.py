"""Learning rules: one class each, selected by name from :data:`RULES`.

Signs and units (written once, here)
------------------------------------
* ``alpha`` (rate per unit ``u*v``) and ``eta`` (nudge: feedback current per unit output
  error) both > 0 for descent; the step along ``-dC/dw`` is ``alpha * eta / kappa``. A run
  config's ``lr`` is that step for ``kappa = 1``: ``alpha = lr / eta``.
* Feedback currents ``E = eta (target - output)`` enter at ``o+`` and leave at ``o-``; for
  any other cost (``simulator.costs``) ``E = -eta dC/d(output)``, and every statement below
  holds for that cost.
* The chemical rule: ``dw_ab = -alpha (u_a - u_b)(v_a - v_b)`` with ``kappa L u = E``,
  which equals ``-(alpha eta / kappa) dC/dw_ab`` exactly (paper, Eq. 17).

Relatives (same interface, for side-by-side comparison; both need the free state stored):

* ``ep`` (equilibrium propagation): nudge the *main fluid* with the feedback currents,
  ``L v_n = I + E``, so ``v_n = v + u``; ``dw = (alpha / 2)(dv^2 - dv_n^2)``
  ``= -alpha u v - (alpha / 2) u^2``: the chemical step plus an ``O(eta^2)`` error.
* ``coupled`` (coupled learning): clamp each output drop a fraction ``eta`` of the way from
  its free value to its target, by the currents ``E_c`` at the output pairs that hold the
  clamped drops (``G E_c = eta (target - output)``, ``G = B^T L^+ B`` the pairs' mutual
  resistance matrix); same ``(alpha / 2)(dv^2 - dv_c^2)`` form. To first order in ``eta``
  it descends ``C_G = 1/2 err^T G^{-1} err`` (``G^{-1}``: the outputs' effective conductances,
  held fixed), not ``C`` itself: see :func:`coupled_cost_gradient`.

``kappa`` belongs to the chemical; ``ep``, ``coupled`` and ``gradient`` ignore it. So does
``drift`` (the chemical drifts with the flow, a share ``drift`` of each pipe's flow carrying
it, :mod:`simulator.transport`): the chemical rule's ``u`` then solves ``(kappa L + drift
(A(q) + D)) u = E``, and the update is exact gradient descent only at ``drift = 0``.

A rule is a :class:`Rule`: its :meth:`Rule.update` is the quasistatic step given the free
steady state ``v``, and its class attributes say how the time-stepped engine runs it (see
:class:`Rule`). Adding a rule is one class and one line in :data:`RULES`; it then runs in
both dynamics.
"""

from __future__ import annotations

import functools
import inspect
from typing import ClassVar

import numpy as np

from .base import checked_nonnegative, checked_positive, registered
from .costs import COSTS, Cost, checked_cost, is_squared, negative_gradient
from .network import Network
from .quasistatic import LaplacianSolver, feedback_currents, output_pair_currents, solver_of, steady_state
from .transport import renamed_drift, steady_chemical

__all__ = [
    "Rule",
    "RULES",
    "checked_rule",
    "takes_cost",
    "cost_refusal",
    "learning_update",
    "ChemicalRule",
    "GradientRule",
    "NudgedRule",
    "EPRule",
    "CoupledRule",
    "nudged_state",
    "clamped_state",
    "clamped_outputs",
    "output_resistance",
    "coupled_cost_gradient",
    "apply_update",
]

SQUARED = COSTS["squared"]


class Rule:
    """A learning rule.

    Subclasses set ``name`` and define :meth:`update`. Class attributes tell the time-stepped
    engine how to run the rule (``simulator.engine``):

    * ``timestepped = "relaxed"`` (the default): relax the pressure for the whole presentation,
      then take :meth:`update` from the relaxed pressure. Any rule runs this way.
    * ``timestepped = "fused"``: pressure, chemical and learning advance together in one
      compiled step (the chemical rule; explicit or implicit integrators).
    * ``timestepped = "nudged"``: a free phase (first half of the presentation), the free drops
      stored, then a nudged phase (second half) integrating ``(alpha/2)(dv_free^2 - dv^2)``;
      ``nudge`` says how: ``"feedback"`` (the feedback currents into the main fluid, EP) or
      ``"clamp"`` (the output drops held a fraction ``eta`` of the way to the targets, CL).

    ``stores_free_state``: the rule needs each pipe's free drop kept between two phases (one
    float per pipe per presentation, recorded in run files); the chemical rule stores nothing.
    """

    name: ClassVar[str] = ""
    timestepped: ClassVar[str] = "relaxed"
    carries_chemical: ClassVar[bool] = False  # its update takes ``drift`` (the chemical rule)
    nudge: ClassVar[str | None] = None
    stores_free_state: ClassVar[bool] = False

    def update(self, network: Network, v, targets, *, alpha, eta, kappa, solver, cost: Cost = SQUARED) -> np.ndarray:
        """The quasistatic conductance change ``dw [m]`` given the free steady state ``v [n]``,
        descending ``cost`` (a rule of your own may leave ``cost`` out: it then runs with the
        squared error only)."""
        raise NotImplementedError

    def __call__(self, network: Network, v, targets, *, alpha, eta, kappa, solver, cost=SQUARED,
                 drift: float = 0.0) -> np.ndarray:  # fmt: skip
        """:meth:`update`, with ``cost`` passed on if it takes one (a name, a :class:`Cost` or a
        callable), and ``drift`` if it is not 0 (rules that carry a chemical only)."""
        if drift and not self.carries_chemical:
            raise ValueError(drift_refusal(self.name))
        carried = {"drift": drift} if drift else {}
        return _with_cost(self.update, self.name, checked_cost(cost), network, v, targets, alpha=alpha, eta=eta,
                          kappa=kappa, solver=solver, **carried)  # fmt: skip

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ChemicalRule(Rule):
    """Feedback chemical at steady state, then the local product of the two drops."""

    name = "chemical"
    timestepped = "fused"
    carries_chemical = True

    def update(self, network, v, targets, *, alpha, eta, kappa, solver, cost=SQUARED, drift=0.0) -> np.ndarray:
        feedback = feedback_currents(network, v, targets, eta, cost)
        u = steady_chemical(network, v, feedback, kappa=kappa, drift=drift, solver=solver)
        return -alpha * network.drops(u) * network.drops(v)


class GradientRule(Rule):
    """The exact gradient step ``-alpha * eta * dC/dw`` (adjoint solve; a reference, not physics).

    ``kappa`` is ignored: it is a property of the chemical, and this rule has none.
    """

    name = "gradient"

    def update(self, network, v, targets, *, alpha, eta, kappa, solver, cost=SQUARED) -> np.ndarray:
        adjoint = solver.solve(-feedback_currents(network, v, targets, 1.0, cost))
        return alpha * eta * network.drops(adjoint) * network.drops(v)


def nudged_state(network: Network, v, targets, *, eta, solver, cost: Cost = SQUARED) -> np.ndarray:
    """EP's nudged pressures: ``L v_n = I + E`` with the feedback currents ``E`` (``v_n = v + u``)."""
    return v + solver.solve(feedback_currents(network, v, targets, eta, cost))


class NudgedRule(Rule):
    """A two-phase rule: ``(alpha / 2)(dv_free^2 - dv_nudged^2)`` on every pipe, with the nudged
    state of :meth:`nudged` (the free drops are stored between the phases)."""

    timestepped = "nudged"
    stores_free_state = True

    def nudged(self, network, v, targets, *, eta, solver, cost=SQUARED) -> np.ndarray:
        raise NotImplementedError

    def update(self, network, v, targets, *, alpha, eta, kappa, solver, cost=SQUARED) -> np.ndarray:
        nudged = _with_cost(self.nudged, self.name, checked_cost(cost), network, v, targets, eta=eta, solver=solver)
        return 0.5 * alpha * (network.drops(v) ** 2 - network.drops(nudged) ** 2)


class EPRule(NudgedRule):
    """Equilibrium propagation: the nudged state is the main fluid under the feedback currents."""

    name = "ep"
    nudge = "feedback"

    def nudged(self, network, v, targets, *, eta, solver, cost=SQUARED) -> np.ndarray:
        return nudged_state(network, v, targets, eta=eta, solver=solver, cost=cost)


def output_resistance(network: Network, solver) -> np.ndarray:
    """``G [p, p]``: output drops per unit current pushed through each output pair (``B^T L^+ B``)."""
    return network.outputs(solver.solve(output_pair_currents(network, np.eye(network.n_outputs))).T).T


def clamped_outputs(outputs, targets, eta: float, cost=SQUARED) -> np.ndarray:
    """Where CL holds the outputs: ``output - eta dC/d(output)``, for the squared error
    ``output + eta (target - output)``."""
    return outputs + eta * negative_gradient(checked_cost(cost), outputs, targets)


def clamped_state(network: Network, v, targets, *, eta, solver, cost=SQUARED) -> np.ndarray:
    """CL's clamped pressures: outputs held at :func:`clamped_outputs`."""
    error = negative_gradient(checked_cost(cost), network.outputs(v), targets)
    clamp_currents = np.linalg.solve(output_resistance(network, solver), eta * error)
    return v + solver.solve(output_pair_currents(network, clamp_currents))


class CoupledRule(NudgedRule):
    """Coupled learning: the nudged state has the output drops clamped toward their targets."""

    name = "coupled"
    nudge = "clamp"

    def nudged(self, network, v, targets, *, eta, solver, cost=SQUARED) -> np.ndarray:
        return clamped_state(network, v, targets, eta=eta, solver=solver, cost=cost)


def coupled_cost_gradient(network: Network, inputs, targets, *, solver=None) -> np.ndarray:
    """Gradient of ``C_G = 1/2 err^T G^{-1} err`` with ``G`` held fixed: what CL descends.

    From ``d output / dw_ab = -B^T L^+ dL_ab v``: ``dC_G/dw_ab = -(a_a - a_b)(v_a - v_b)`` with
    ``L a = B G^{-1} err``, ``err = output - target``.
    """
    solver = solver_of(network) if solver is None else solver
    v = steady_state(network, inputs, solver=solver)
    error = network.outputs(v) - np.asarray(targets, dtype=np.float64)
    adjoint = solver.solve(output_pair_currents(network, np.linalg.solve(output_resistance(network, solver), error)))
    return -network.drops(adjoint) * network.drops(v)


#: The rules by the names a config uses. Add one: ``RULES["mine"] = MyRule()``.
RULES: dict[str, Rule] = {
    "chemical": ChemicalRule(),
    "gradient": GradientRule(),
    "ep": EPRule(),
    "coupled": CoupledRule(),
}


def checked_rule(rule) -> Rule:
    """The :class:`Rule` that ``rule`` names (or ``rule`` itself), else a ``ValueError`` listing the names."""
    return registered("rule", rule, RULES, Rule)


def takes_cost(rule: Rule) -> bool:
    """Whether ``rule.update`` takes a ``cost`` keyword (every shipped rule does)."""
    return _accepts_cost(rule.update)


def _accepts_cost(method) -> bool:
    return _function_accepts_cost(getattr(method, "__func__", method))


@functools.lru_cache(maxsize=None)
def _function_accepts_cost(function) -> bool:  # once per function: a signature costs ~30 us, a presentation ~100
    parameters = inspect.signature(function).parameters.values()
    return any(p.name == "cost" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def drift_refusal(rule_name: str) -> str:
    """Why a rule without a chemical cannot take ``drift``."""
    return (f"drift carries the feedback chemical with the flow; rule {rule_name!r} has none: set drift=0 (it applies "
            "to rule='chemical')")  # fmt: skip


def cost_refusal(rule_name: str, cost: Cost) -> str:
    """Why a rule whose methods take no ``cost`` cannot learn ``cost``."""
    return (f"rule {rule_name!r} takes no cost (its update has no 'cost' keyword): it learns the squared error only, "
            f"not {cost.name!r}")  # fmt: skip


def _with_cost(method, rule_name: str, cost: Cost, *args, **kwargs):
    """``method(*args, **kwargs, cost=cost)``, or without ``cost`` for a method of a user's rule
    that takes none (the squared error only)."""
    if _accepts_cost(method):
        return method(*args, **kwargs, cost=cost)
    if not is_squared(cost):
        raise ValueError(cost_refusal(rule_name, cost))
    return method(*args, **kwargs)


def learning_update(
    network: Network,
    inputs,
    targets,
    rule: str = "chemical",
    alpha: float = 1.0,
    eta: float = 1.0,
    *,
    kappa: float = 1.0,
    solver: LaplacianSolver | None = None,
    cost="squared",
    drift: float = 0.0,
    advection: float | None = None,
) -> np.ndarray:
    """Quasistatic conductance update ``dw [m]`` of one presentation of ``(inputs, targets)``.

    Parameters
    ----------
    network : Network
    inputs : [q] input-pair currents
    targets : [p] desired output drops
    rule : a name in :data:`RULES` (``"chemical"``, ``"gradient"``, ``"ep"``, ``"coupled"``) or a :class:`Rule`
    alpha, eta : rate and nudge, both finite and > 0
    kappa : chemical diffusivity relative to the pressure conductance (chemical rule only)
    solver : a :class:`LaplacianSolver` of ``network`` to reuse (factorised here if omitted)
    cost : what the feedback descends: a name in :data:`simulator.costs.COSTS` (``"squared"``,
        the default; ``"huber"``; ``"softmax_cross_entropy"``), a :class:`~simulator.costs.Cost`,
        or a callable ``f(outputs, targets) -> float``. The chemical rule's update is then
        exactly ``-(alpha eta / kappa) dC/dw`` for that cost.
    drift : the chemical drifts with the flow, a share ``drift`` of each pipe's flow carrying it
        (>= 0; chemical rule only): 0 (default) is pure diffusion; above it the update departs
        from the gradient as the pipes' Péclet numbers ``drift |v_a - v_b| / kappa`` grow
        (:mod:`simulator.transport`)
    advection : the old name of ``drift`` (a notice)
    """
    drift = renamed_drift(drift, advection, "learning_update")
    rule = checked_rule(rule)
    cost = checked_cost(cost)
    cost.check_targets(targets)
    alpha = checked_positive("alpha", alpha)
    eta = checked_positive("eta", eta)
    kappa = checked_positive("kappa", kappa)
    drift = checked_nonnegative("drift", drift)
    solver = solver_of(network) if solver is None else solver
    v = steady_state(network, inputs, solver=solver)
    return rule(network, v, targets, alpha=alpha, eta=eta, kappa=kappa, solver=solver, cost=cost, drift=drift)


def apply_update(conductance, dw, w_min: float) -> tuple[np.ndarray, int]:
    """``max(w + dw, w_min)`` and the number of pipes the floor caught."""
    proposed = np.asarray(conductance) + dw
    floored = proposed < w_min
    return np.where(floored, w_min, proposed), int(floored.sum())
