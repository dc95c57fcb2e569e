"""``train``: the one entry point, the registry of methods, and the check of the combination."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..advection import Advection
from ..base import checked_positive
from ..costs import COSTS, Cost, checked_cost, is_squared, kernel_code
from ..network import Network
from ..rules import Rule, checked_rule, cost_refusal, drift_refusal, takes_cost
from .advection import AdvectionMethod
from .explicit import ExplicitFused
from .implicit import ImplicitFused
from .method import Method, Setup, coupled_stable_dt
from .quasistatic import QuasistaticBanded, QuasistaticDirect, uses_banded
from .relaxation import relaxation_time, stable_dt
from .results import TrainResult
from .specs import (
    INTEGRATORS,
    WEIGHTS,
    Explicit,
    Physics,
    Quasistatic,
    RelaxationTimes,
    Save,
    TimeStepped,
    duration_amount,
    resolve_duration,
)
from .two_phase import TwoPhase

__all__ = [
    "METHODS", "DYNAMICS", "train", "method_for", "resolve", "stable_step", "check_combination", "default_weights",
    "per_presentation",
]  # fmt: skip

#: Each way of advancing a presentation, by name. A new scheme is one :class:`Method` subclass
#: and one line here (and in :func:`method_for`'s choice, if it is chosen by an integrator).
METHODS: dict[str, type[Method]] = {
    "banded": QuasistaticBanded,
    "direct": QuasistaticDirect,
    "explicit": ExplicitFused,
    "implicit": ImplicitFused,
    "two_phase": TwoPhase,
    "advection": AdvectionMethod,
}

#: The dynamics by the names a run config uses.
DYNAMICS = {"quasistatic": Quasistatic, "timestepped": TimeStepped, "advection": Advection}


def method_for(setup: Setup) -> type[Method]:
    """The method that runs ``setup``: quasistatic (banded or direct), the advection mode, the
    integrator's own method for fused rules, or the two-phase method for the others."""
    dynamics = setup.dynamics
    if isinstance(dynamics, Quasistatic):
        compiled = kernel_code(setup.cost) is not None and not setup.physics.drift  # the kernel diffuses only
        banded = uses_banded(setup.network, setup.rule.name, dynamics.solver_method, compiled)
        return METHODS["banded" if banded else "direct"]
    if isinstance(dynamics, Advection):
        return METHODS["advection"]
    if setup.rule.timestepped == "fused":
        return METHODS[setup.integrator.name]
    return METHODS["two_phase"]


def _checked_examples(network: Network, inputs, targets) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if inputs.ndim == 1:
        inputs, targets = inputs[None], targets[None]
    if inputs.ndim != 2 or inputs.shape[1] != network.n_inputs:
        raise ValueError(
            f"inputs must have shape [B, {network.n_inputs}] (or [{network.n_inputs}]), got {inputs.shape}"
        )
    if targets.shape != (len(inputs), network.n_outputs):
        raise ValueError(f"targets must have shape [{len(inputs)}, {network.n_outputs}], got {targets.shape}")
    if not (np.all(np.isfinite(inputs)) and np.all(np.isfinite(targets))):
        raise ValueError("inputs and targets must be finite")
    return inputs, targets


def default_weights(rule: Rule, dynamics):
    """The weight policy when none is given: :class:`Physical` for the one-phase rule in the
    time-stepped dynamics (the physics), :class:`Deferred` otherwise (the two-phase rules store
    the free state and remodel at the end; the other dynamics do not read it)."""
    return WEIGHTS["physical" if isinstance(dynamics, TimeStepped) and rule.timestepped == "fused" else "deferred"]()


def _checked_weights(weights):
    names = " or ".join(repr(name) for name in WEIGHTS)
    if isinstance(weights, str):
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be {names}, got {weights!r}")
        return WEIGHTS[weights]()
    if type(weights) not in WEIGHTS.values():
        classes = ", ".join(f"{cls.__name__}(...)" for cls in WEIGHTS.values())
        raise ValueError(f"weights must be {names} or one of {classes}, got {weights!r}")
    return weights


def check_combination(rule: Rule, dynamics, integrator, weights, save: Save, cost: Cost = COSTS["squared"],
                      physics: Physics = Physics()) -> None:  # fmt: skip
    """The one place where concerns that are each valid on their own are checked together."""
    if not is_squared(cost) and not takes_cost(rule):
        raise ValueError(cost_refusal(rule.name, cost))
    if physics.drift:
        _check_drifting(rule, dynamics, integrator)
    if not isinstance(dynamics, tuple(DYNAMICS.values())):
        names = " or ".join(f"{cls.__name__}(...)" for cls in DYNAMICS.values())
        raise TypeError(f"dynamics must be {names}, got {type(dynamics).__name__}")
    if not isinstance(integrator, tuple(INTEGRATORS.values())):
        names = " or ".join(f"{cls.__name__}(...)" for cls in INTEGRATORS.values())
        raise TypeError(f"integrator must be {names}, got {type(integrator).__name__}")
    if isinstance(dynamics, Quasistatic) and save.fields_every is not None:
        raise ValueError("the quasistatic dynamics has no fields in time to save; drop Save(fields_every=...)")
    if isinstance(dynamics, Advection) and rule.name != "chemical":
        raise ValueError(f"the advection mode learns by s+/s- transport (xi, lam), not by rule {rule.name!r}")
    if not isinstance(dynamics, TimeStepped):
        return
    if kernel_code(cost) is None and rule.timestepped == "fused":
        raise ValueError(f"the time-stepped {rule.name} rule computes its feedback in compiled kernels, which know the "
                         f"costs squared, huber and softmax_cross_entropy, not {cost.name!r}; this cost runs in the "
                         "quasistatic dynamics")  # fmt: skip
    if rule.timestepped != "fused":
        if integrator.name != "explicit":
            raise ValueError(f"the {integrator.name} integrator runs the chemical rule only, not {rule.name!r}")
        if weights.name != "deferred":
            raise ValueError(f"rule {rule.name!r} stores its free state and remodels at the end of each presentation; "
                             "use weights='deferred'")  # fmt: skip
        if duration_amount(dynamics.feedback_delay) != 0:
            raise ValueError(f"feedback_delay applies to the one-phase chemical rule, not to {rule.name!r}")
        if dynamics.chemical_lifetime is not None:
            raise ValueError(f"chemical_lifetime applies to the one-phase chemical rule; {rule.name!r} has no chemical")


def _check_drifting(rule: Rule, dynamics, integrator) -> None:
    """A chemical that drifts with the flow (``Physics(drift > 0)``): the chemical rule,
    quasistatic (direct solves) or time-stepped explicitly."""
    if not rule.carries_chemical:
        raise ValueError(drift_refusal(rule.name))
    if isinstance(dynamics, Advection):
        raise ValueError("Physics(drift=...) carries the chemical rule's one chemical; the s+/s- mode "
                         "(Advection) is carried by the flow already: set drift=0 (for a diffusive part, "
                         "Advection(diffusion=...))")  # fmt: skip
    if isinstance(dynamics, Quasistatic) and dynamics.solver_method == "banded":
        raise ValueError("solver_method='banded' solves the symmetric diffusion; a drifting chemical needs "
                         "solver_method='auto', 'dense' or 'sparse'")  # fmt: skip
    if isinstance(dynamics, TimeStepped) and integrator.name != "explicit":
        raise ValueError(f"the {integrator.name} integrator factorises the symmetric diffusion; a drifting chemical "
                         "runs with the explicit one")  # fmt: skip


def stable_step(network: Network, rule="chemical", *, physics: Physics = Physics(), safety: float = 0.9) -> float:
    """The explicit step (``safety`` times the stability bound) that time-stepped ``train`` takes
    on ``network`` with ``rule``: a fused rule integrates pressure and chemical together, the
    others the pressure alone. A reference for ``Explicit(min_dt=...)``."""
    if checked_rule(rule).timestepped == "fused":
        return safety * coupled_stable_dt(physics, network, network.conductance)
    return safety * stable_dt(network, physics.c_v, 1.0, network.conductance)


def resolve(network: Network, rule, dynamics, physics: Physics, integrator, weights=None) -> tuple:
    """``(dynamics, integrator, weights, derived)`` in time units for training that starts from
    ``network``: durations in relaxation times converted (the schedule's, the step's, the
    physical weights' remodelling time), ``max_dt_shrink`` made a ``min_dt``. ``derived``
    holds what was computed (``relaxation_time``, ``T``, ``feedback_delay``,
    ``remodel_time``). A run resolves once, against its starting network, so that every epoch
    (and a resumed run) uses the same numbers. ``weights`` None: the default for ``rule``."""
    weights = default_weights(checked_rule(rule), dynamics) if weights is None else weights
    if not isinstance(dynamics, TimeStepped):
        return dynamics, integrator, weights, {}
    relative = dynamics.in_relaxation_times or isinstance(integrator.dt, RelaxationTimes) or weights.in_relaxation_times
    t_relax = relaxation_time(network, physics.c_v) if relative else None
    dynamics, weights = dynamics.resolved(t_relax), weights.resolved(t_relax)
    changes = {"dt": resolve_duration(integrator.dt, t_relax)}
    if isinstance(integrator, Explicit) and integrator.max_dt_shrink is not None:
        floor = stable_step(network, rule, physics=physics, safety=integrator.safety) / integrator.max_dt_shrink
        changes.update(min_dt=floor if integrator.min_dt is None else max(integrator.min_dt, floor), max_dt_shrink=None)
    derived = {} if t_relax is None else {"relaxation_time": t_relax}
    derived.update(T=dynamics.T, feedback_delay=dynamics.feedback_delay)
    if weights.name == "physical":
        derived["remodel_time"] = weights.remodel_time
    return dynamics, replace(integrator, **changes), weights, derived


def train(
    network: Network,
    inputs,
    targets,
    *,
    rule="chemical",
    alpha: float = 1.0,
    eta: float = 1.0,
    dynamics=Quasistatic(),
    physics: Physics = Physics(),
    integrator=Explicit(),
    weights=None,
    w_min: float = 1e-6,
    state=None,
    save: Save = Save(),
    on_failure: str = "raise",
    cost="squared",
) -> TrainResult:
    """Present examples in order, updating the conductances after each (or during, live).

    Parameters
    ----------
    network : the starting network (not modified; the result holds the trained copy)
    inputs : [B, q] input currents (or pressures, advection) per example, or [q] for one
    targets : [B, p] desired outputs per example (or [p])
    rule : a name in :data:`simulator.rules.RULES`, or a :class:`Rule`
    alpha, eta : rate and nudge (> 0); the step along ``-dC/dw`` is ``alpha * eta / kappa``
    dynamics : :class:`Quasistatic`, :class:`TimeStepped` (the presentation schedule) or
        :class:`simulator.advection.Advection`
    physics : :class:`Physics`: compliances and the chemical's diffusivity
    integrator : :class:`Explicit` or :class:`Implicit` (time-stepped fields)
    weights : how the time-stepped pipes remodel: ``"physical"`` / :class:`Physical` (at the
        material's rate ``alpha / remodel_time`` while the fields evolve; the default for the
        one-phase chemical rule), or the numerical devices ``"deferred"`` / :class:`Deferred`
        (the default of the two-phase rules) and ``"live"`` / :class:`Live` (rate ``alpha / T``)
    w_min : conductance floor (> 0), applied after every update
    state : fields to start from (``FieldState``, or ``AdvectionState``); at rest if None.
        Never changed: the result carries the new state.
    save : :class:`Save`: field snapshots
    on_failure : ``"raise"`` (default) raises ``SimulationError`` when the physics stops;
        ``"return"`` returns the presentations completed with ``status`` -1 and the message
    cost : what the feedback descends (``E = -eta dC/dy``) and ``TrainResult.costs`` measures:
        ``"squared"`` (the default), ``"huber"``, ``"softmax_cross_entropy"``, a
        :class:`~simulator.costs.Cost`, or a callable ``f(outputs, targets) -> float`` (a cost
        the kernels do not compile runs where the feedback is computed in Python: quasistatic,
        the two-phase rules, the advection mode)
    """
    inputs, targets = _checked_examples(network, inputs, targets)
    rule = checked_rule(rule)
    alpha, eta, w_min = (checked_positive(k, x) for k, x in (("alpha", alpha), ("eta", eta), ("w_min", w_min)))
    weights = default_weights(rule, dynamics) if weights is None else _checked_weights(weights)
    if on_failure not in ("raise", "return"):
        raise ValueError(f"on_failure must be 'raise' or 'return', got {on_failure!r}")
    cost = checked_cost(cost)
    cost.check_targets(targets)
    check_combination(rule, dynamics, integrator, weights, save, cost, physics)
    dynamics, integrator, weights, _ = resolve(network, rule, dynamics, physics, integrator, weights)
    substeps = dynamics.substeps
    setup = Setup(network, rule, alpha / substeps, eta, dynamics, physics, integrator, weights, w_min, save, cost)
    if substeps == 1:
        return method_for(setup)(setup, state).run(inputs, targets, on_failure)
    repeated = (np.repeat(inputs, substeps, axis=0), np.repeat(targets, substeps, axis=0))
    return per_presentation(method_for(setup)(setup, state).run(*repeated, on_failure), substeps)


def per_presentation(result: TrainResult, substeps: int) -> TrainResult:
    """A result of ``substeps`` presentations per example folded to one row per example: the
    first substep's outputs and cost, the floored pipes and the step growths summed."""
    starts = np.arange(0, len(result.costs), substeps)
    fold = {"outputs": result.outputs[starts], "costs": result.costs[starts]}
    if len(starts):
        fold.update(floored=np.add.reduceat(result.floored, starts), step_growth=np.add.reduceat(result.step_growth,
                                                                                              starts))  # fmt: skip
    return replace(result, **fold)
