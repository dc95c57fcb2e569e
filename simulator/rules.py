"""Learning rules behind one interface, selected by name.

Signs and units (written once, here)
------------------------------------
* ``alpha`` (rate per unit ``u*v``) and ``eta`` (nudge: feedback current per unit output
  error) both > 0 for descent; the step along ``-dC/dw`` is ``alpha * eta / kappa``.
* Feedback currents ``E = eta (target - output)`` enter at ``o+`` and leave at ``o-``.
* The chemical rule: ``dw_ab = -alpha (u_a - u_b)(v_a - v_b)`` with ``kappa L u = E``,
  which equals ``-(alpha eta / kappa) dC/dw_ab`` exactly (paper, Eq. 17).

A rule is a function ``rule(network, v, targets, *, alpha, eta, kappa, solver) -> dw [m]``
given the free steady state ``v``; add one by writing the function and one line in
:data:`RULES`.
"""

from __future__ import annotations

import numpy as np

from .network import Network
from .quasistatic import LaplacianSolver, output_error_currents, steady_state

__all__ = ["RULES", "learning_update", "chemical_rule", "gradient_rule", "apply_update"]


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


RULES = {
    "chemical": chemical_rule,
    "gradient": gradient_rule,
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
    rule : one of :data:`RULES` (``"chemical"``, ``"gradient"``)
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
