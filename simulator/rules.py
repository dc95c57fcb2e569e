"""Learning rules behind one interface, selected by name.

Signs and units (written once, here)
------------------------------------
* ``alpha`` (rate per unit ``u*v``) and ``eta`` (nudge: feedback current per unit output
  error) both > 0 for descent; the step along ``-dC/dw`` is ``alpha * eta / kappa``.
* Feedback currents ``E = eta (target - output)`` enter at ``o+`` and leave at ``o-``.
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

``kappa`` belongs to the chemical; ``ep``, ``coupled`` and ``gradient`` ignore it.

A rule is a function ``rule(network, v, targets, *, alpha, eta, kappa, solver) -> dw [m]``
given the free steady state ``v``; add one by writing the function and one line in
:data:`RULES`.
"""

from __future__ import annotations

import numpy as np

from .network import Network
from .quasistatic import LaplacianSolver, output_error_currents, steady_state

__all__ = [
    "RULES",
    "learning_update",
    "chemical_rule",
    "gradient_rule",
    "ep_rule",
    "coupled_rule",
    "nudged_state",
    "clamped_state",
    "output_resistance",
    "coupled_cost_gradient",
    "apply_update",
]


def chemical_rule(network: Network, v, targets, *, alpha, eta, kappa, solver) -> np.ndarray:
    """Feedback chemical at steady state, then the local product of the two drops."""
    u = solver.solve(output_error_currents(network, v, targets, eta)) / kappa
    return -alpha * network.drops(u) * network.drops(v)


def gradient_rule(network: Network, v, targets, *, alpha, eta, kappa, solver) -> np.ndarray:
    """The exact gradient step ``-alpha * eta * dC/dw`` (adjoint solve; a reference, not physics).

    ``kappa`` is ignored: it is a property of the chemical, and this rule has none.
    """
    adjoint = solver.solve(-output_error_currents(network, v, targets, eta=1.0))
    return alpha * eta * network.drops(adjoint) * network.drops(v)


def nudged_state(network: Network, v, targets, *, eta, solver) -> np.ndarray:
    """EP's nudged pressures: ``L v_n = I + E`` with the feedback currents ``E`` (``v_n = v + u``)."""
    return v + solver.solve(output_error_currents(network, v, targets, eta))


def ep_rule(network: Network, v, targets, *, alpha, eta, kappa, solver) -> np.ndarray:
    """Equilibrium propagation: ``(alpha / 2)(dv_free^2 - dv_nudged^2)`` on every pipe."""
    nudged = nudged_state(network, v, targets, eta=eta, solver=solver)
    return 0.5 * alpha * (network.drops(v) ** 2 - network.drops(nudged) ** 2)


def _pair_currents(network: Network, amounts) -> np.ndarray:
    """Node currents ``[n, ...]``: ``amounts [p, ...]`` in at each ``o+``, out at its ``o-``."""
    amounts = np.asarray(amounts, dtype=np.float64)
    currents = np.zeros((network.n_nodes, *amounts.shape[1:]))
    np.add.at(currents, network.output_pairs[:, 0], amounts)
    np.subtract.at(currents, network.output_pairs[:, 1], amounts)
    return currents


def output_resistance(network: Network, solver) -> np.ndarray:
    """``G [p, p]``: output drops per unit current pushed through each output pair (``B^T L^+ B``)."""
    return network.outputs(solver.solve(_pair_currents(network, np.eye(network.n_outputs))).T).T


def clamped_state(network: Network, v, targets, *, eta, solver) -> np.ndarray:
    """CL's clamped pressures: outputs held at ``output + eta (target - output)``."""
    error = np.asarray(targets, dtype=np.float64) - network.outputs(v)
    clamp_currents = np.linalg.solve(output_resistance(network, solver), eta * error)
    return v + solver.solve(_pair_currents(network, clamp_currents))


def coupled_rule(network: Network, v, targets, *, alpha, eta, kappa, solver) -> np.ndarray:
    """Coupled learning: ``(alpha / 2)(dv_free^2 - dv_clamped^2)`` on every pipe."""
    clamped = clamped_state(network, v, targets, eta=eta, solver=solver)
    return 0.5 * alpha * (network.drops(v) ** 2 - network.drops(clamped) ** 2)


def coupled_cost_gradient(network: Network, inputs, targets, *, solver=None) -> np.ndarray:
    """Gradient of ``C_G = 1/2 err^T G^{-1} err`` with ``G`` held fixed: what CL descends.

    From ``d output / dw_ab = -B^T L^+ dL_ab v``: ``dC_G/dw_ab = -(a_a - a_b)(v_a - v_b)`` with
    ``L a = B G^{-1} err``, ``err = output - target``.
    """
    solver = LaplacianSolver(network) if solver is None else solver
    v = steady_state(network, inputs, solver=solver)
    error = network.outputs(v) - np.asarray(targets, dtype=np.float64)
    adjoint = solver.solve(_pair_currents(network, np.linalg.solve(output_resistance(network, solver), error)))
    return -network.drops(adjoint) * network.drops(v)


RULES = {
    "chemical": chemical_rule,
    "gradient": gradient_rule,
    "ep": ep_rule,
    "coupled": coupled_rule,
}


def checked_rule(rule: str) -> str:
    """``rule`` if it names a registered rule, else a ``ValueError`` listing the names."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {sorted(RULES)}")
    return rule


def checked_positive(name, value):
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


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
) -> np.ndarray:
    """Quasistatic conductance update ``dw [m]`` of one presentation of ``(inputs, targets)``.

    Parameters
    ----------
    network : Network
    inputs : [q] input-pair currents
    targets : [p] desired output drops
    rule : one of :data:`RULES` (``"chemical"``, ``"gradient"``, ``"ep"``, ``"coupled"``)
    alpha, eta : rate and nudge, both finite and > 0
    kappa : chemical diffusivity relative to the pressure conductance (chemical rule only)
    solver : a :class:`LaplacianSolver` of ``network`` to reuse (factorised here if omitted)
    """
    rule = checked_rule(rule)
    alpha = checked_positive("alpha", alpha)
    eta = checked_positive("eta", eta)
    kappa = checked_positive("kappa", kappa)
    solver = LaplacianSolver(network) if solver is None else solver
    v = steady_state(network, inputs, solver=solver)
    return RULES[rule](network, v, targets, alpha=alpha, eta=eta, kappa=kappa, solver=solver)


def apply_update(conductance, dw, w_min: float) -> tuple[np.ndarray, int]:
    """``max(w + dw, w_min)`` and the number of pipes the floor caught."""
    proposed = np.asarray(conductance) + dw
    floored = proposed < w_min
    return np.where(floored, w_min, proposed), int(floored.sum())
