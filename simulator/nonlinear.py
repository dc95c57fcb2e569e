"""Nonlinear pipes: a flow law ``q_e = w_e g(dv_e)``, its steady state by Newton's method, its
time-stepped relaxation, and the chemical rule beside the exact gradient with such pipes.

The paper's pipes are linear (``q = w dv``); everything here is our extension. With
``B [m, n]`` the incidence matrix (``B v`` the drops ``v_a - v_b`` of the pipes ``(a, b)``):

* steady state, Kirchhoff at every node: ``F(v) = B^T (w * g(B v)) - I = 0``; its Jacobian
  ``J(v) = B^T diag(w g'(B v)) B = L(w g'(dv))`` is the Laplacian of the pipes' *differential*
  conductances, symmetric positive semi-definite (every law here has ``g' > 0``), singular
  only along the constant vector, like ``L`` (same gauge: node 0 grounded, shifted to mean 0);
* the exact gradient, by the adjoint of ``F(v, w) = 0``: ``dF/dw_e = b_e g(dv_e)`` (``b_e`` the
  pipe's column of ``B^T``), so ``dC/dw_e = -(lam_a - lam_b) g(dv_e)`` with ``J lam = dC/dv``;
* the chemical rule as physics would run it: the paper's rule unchanged. The chemical keeps
  diffusing through the pipes by the *linear* Laplacian (diffusion does not care how the
  fluid's flow depends on its pressure), ``L(w) u = E = -eta dC/dv``, and each pipe
  remodels from its two local drops as before, ``dw_e = -alpha (u_a - u_b)(v_a - v_b)``
  (``local="drop"``, the default): the material's learning does not know the flow law; the
  nonlinearity reaches the update only through the steady state. Two things then differ from
  the gradient: ``L`` for ``J``, and ``dv`` for ``g(dv)``. ``local="flow"``
  (``dw_e = -alpha (u_a - u_b) g(dv_e)``: the chemical drop times the pipe's flow per unit
  conductance ``q_e / w_e``) keeps only the first; yet the drop product is the closer one on
  the Iris network (cosine 0.96 against 0.91 at ``beta = 1``, cubic law;
  ``scenarios/nonlinear_pipes.py``). A heuristic reading: where one pipe's resistance
  dominates, its adjoint drop is about ``du / g'(dv)``, so the exact factor is near
  ``g(dv) / g'(dv)``, which lies between ``dv / 3`` and ``dv`` for the cubic law, while
  ``g(dv)`` exceeds ``dv`` without bound.
* the exact variant (a reference: no chemical diffuses by the differential conductances): the
  chemical by the Jacobian, ``J(v) u = E``, and ``-alpha (u_a - u_b) g(dv_e)``, which is
  exactly ``-alpha eta dC/dw``.

For linear pipes (``beta = 0``) ``J = L`` and every variant is the paper's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, NamedTuple

import numpy as np

from .base import SimulationError, checked_choice, checked_int, checked_nonnegative, checked_positive, registered
from .costs import checked_cost
from .network import Network
from .quasistatic import LaplacianSolver, feedback_currents
from .rules import apply_update

__all__ = [
    "FlowLaw",
    "LinearLaw",
    "CubicLaw",
    "DiodeLaw",
    "FLOW_LAWS",
    "flow_law",
    "NewtonResult",
    "newton_solve",
    "nonlinear_steady_state",
    "nonlinear_cost",
    "relax_nonlinear",
    "relax_presentation",
    "exact_gradient",
    "chemical_update",
    "exact_chemical_update",
    "UPDATES",
    "Fidelity",
    "fidelity",
    "NonlinearTraining",
    "train_nonlinear",
]


# ---------------------------------------------------------------------- flow laws
@dataclass(frozen=True)
class FlowLaw:
    """A pipe's flow per unit conductance ``g(dv)`` (``q = w g(dv)``) and its slope ``g'(dv)``.

    beta : >= 0, the strength of the nonlinearity (0: linear, ``g(dv) = dv``), dimensionless
        for the diode, in ``1 / pressure^2`` for the cubic law.
    Every law has ``g(0) = 0`` and ``g' > 0`` everywhere, so the steady state is unique and
    the Jacobian is a Laplacian with positive weights.
    """

    name: ClassVar[str] = ""
    beta: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "beta", checked_nonnegative("beta", self.beta))

    def flux(self, dv) -> np.ndarray:
        """``g(dv)``: flow per unit conductance at drops ``dv [m]``."""
        raise NotImplementedError

    def slope(self, dv) -> np.ndarray:
        """``g'(dv) > 0``: differential conductance per unit conductance."""
        raise NotImplementedError


@dataclass(frozen=True)
class LinearLaw(FlowLaw):
    """``g(dv) = dv``: the paper's pipes (``beta`` must be 0)."""

    name = "linear"

    def __post_init__(self):
        super().__post_init__()
        if self.beta != 0:
            raise ValueError(f"the linear law has no beta (got beta={self.beta!r}); use 'cubic' or 'diode'")

    def flux(self, dv):
        return np.asarray(dv, dtype=np.float64).copy()

    def slope(self, dv):
        return np.ones_like(np.asarray(dv, dtype=np.float64))


@dataclass(frozen=True)
class CubicLaw(FlowLaw):
    """``g(dv) = dv + beta dv^3``, ``g' = 1 + 3 beta dv^2 >= 1``: a pipe that conducts more
    the harder it is driven (symmetric in the flow's direction)."""

    name = "cubic"

    def flux(self, dv):
        dv = np.asarray(dv, dtype=np.float64)
        return dv + self.beta * dv**3

    def slope(self, dv):
        dv = np.asarray(dv, dtype=np.float64)
        return 1.0 + 3.0 * self.beta * dv**2


@dataclass(frozen=True)
class DiodeLaw(FlowLaw):
    """A smooth diode: forward (``dv >> width``, flow from the pipe's first node to its second)
    the pipe conducts ``w``, backward (``dv << -width``) ``r w`` with ``r = 1 / (1 + beta)``:

        g(dv) = r dv + (1 - r) width (softplus(dv / width) - log 2),
        g'(dv) = r + (1 - r) sigmoid(dv / width)  in (r, 1).

    ``width`` (pressure, > 0): the drop over which the pipe switches. ``beta = 0`` is linear;
    ``beta -> infinity`` an ideal diode. Which way is forward is the order of the pipe's nodes
    in ``network.edges``.
    """

    name = "diode"
    width: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "width", checked_positive("width", self.width))

    def flux(self, dv):
        dv = np.asarray(dv, dtype=np.float64)
        r = 1.0 / (1.0 + self.beta)
        return r * dv + (1.0 - r) * self.width * (np.logaddexp(0.0, dv / self.width) - np.log(2.0))

    def slope(self, dv):
        import scipy.special

        r = 1.0 / (1.0 + self.beta)
        return r + (1.0 - r) * scipy.special.expit(np.asarray(dv, dtype=np.float64) / self.width)


#: The flow laws by name. Add one: a :class:`FlowLaw` subclass with ``flux`` and ``slope``.
FLOW_LAWS: dict[str, type[FlowLaw]] = {"linear": LinearLaw, "cubic": CubicLaw, "diode": DiodeLaw}


def flow_law(law: FlowLaw | str = "linear", **parameters) -> FlowLaw:
    """``law`` itself, or the law it names in :data:`FLOW_LAWS` built with ``parameters``
    (``beta``, and ``width`` for the diode)."""
    if isinstance(law, FlowLaw):
        if parameters:
            raise ValueError(f"parameters {sorted(parameters)} go with a law's name, not with {law!r}")
        return law
    try:
        return registered("flow law", law, FLOW_LAWS, FlowLaw)(**parameters)
    except TypeError as error:  # a parameter the law does not have
        raise ValueError(f"flow law {law!r}: {error}") from None


# ---------------------------------------------------------------------- steady state
def _outflow(network: Network, q) -> np.ndarray:
    """``B^T q [n]``: the flow leaving each node through its pipes."""
    a, b, n = network.edges[:, 0], network.edges[:, 1], network.n_nodes
    return np.bincount(a, weights=q, minlength=n) - np.bincount(b, weights=q, minlength=n)


def _residual(network: Network, law: FlowLaw, v, sources) -> np.ndarray:
    """``F(v) = B^T (w g(B v)) - sources``."""
    return _outflow(network, network.conductance * law.flux(network.drops(v))) - sources


def _jacobian_solver(network: Network, law: FlowLaw, v) -> LaplacianSolver:
    """A factorisation of ``J(v) = L(w g'(dv))``; a :class:`SimulationError` if it has none."""
    differential = network.conductance * law.slope(network.drops(v))
    try:
        return LaplacianSolver(network.with_conductance(differential))
    except (ValueError, np.linalg.LinAlgError) as error:
        raise SimulationError(f"the Jacobian L(w g'(dv)) cannot be factorised: {error}") from None


def _solve(solver, sources) -> np.ndarray:
    """``solver.solve`` of sources that sum to zero up to round-off (a residual near the
    solution is all round-off: its sum is taken out, which changes no drop)."""
    sources = np.asarray(sources, dtype=np.float64)
    return solver.solve(sources - sources.mean(axis=0))


@dataclass(frozen=True)
class NewtonResult:
    """The steady state of nonlinear pipes.

    v : [n] pressures, mean zero;  iterations : Newton steps taken;
    residuals : [iterations + 1] ``|F(v)|_inf / |sources|_inf`` at the start and after each step;
    steps : [iterations] the line search's step length (1: a full Newton step)
    """

    v: np.ndarray
    iterations: int
    residuals: np.ndarray
    steps: np.ndarray


def newton_solve(
    network: Network, sources, law: FlowLaw | str, *, v0=None, tol: float = 1e-12, max_iter: int = 50
) -> NewtonResult:
    """Solve ``B^T (w g(B v)) = sources`` by Newton's method with a backtracking line search.

    ``sources [n]`` sum to zero. Starts from ``v0`` (default: the linear pipes' steady
    state). A Newton direction ``d = -J^{-1} F`` always lowers ``|F|_2`` (``J`` is positive
    definite off the constants), so a step is halved until ``|F|_2`` falls; near the solution
    every step is full and convergence quadratic. Stops once ``|F|_inf <= tol |sources|_inf``;
    a :class:`SimulationError` if it has not after ``max_iter`` steps, or the search stalls.
    """
    law = flow_law(law)
    tol, max_iter = checked_positive("tol", tol), checked_int("max_iter", max_iter, low=1)
    sources = np.asarray(sources, dtype=np.float64)
    if sources.shape != (network.n_nodes,):
        raise ValueError(f"sources must have shape [{network.n_nodes}] (one per node), got {sources.shape}")
    scale = np.abs(sources).max()
    if v0 is None:
        v = LaplacianSolver(network).solve(sources) if scale > 0 else np.zeros(network.n_nodes)
    else:
        v = np.array(v0, dtype=np.float64)
        if v.shape != sources.shape or not np.all(np.isfinite(v)):
            raise ValueError(f"v0 must be finite with shape [{network.n_nodes}] (one pressure per node)")
    residual = _residual(network, law, v, sources)
    residuals, steps = [np.abs(residual).max() / (scale or 1.0)], []
    while residuals[-1] > tol:
        if len(steps) == max_iter:
            raise SimulationError(f"Newton's method did not converge in {max_iter} iterations "
                                  f"(relative residual {residuals[-1]:.3g} > tol={tol:g}, law {law!r})")  # fmt: skip
        direction = -_solve(_jacobian_solver(network, law, v), residual)
        norm, step = np.linalg.norm(residual), 1.0
        while True:
            trial = _residual(network, law, v + step * direction, sources)
            if np.all(np.isfinite(trial)) and np.linalg.norm(trial) <= (1.0 - 1e-4 * step) * norm:
                break
            step *= 0.5
            if step < 1e-12:
                raise SimulationError(f"Newton's line search stalled at relative residual {residuals[-1]:.3g} "
                                      f"(tol={tol:g} is below round-off? law {law!r})")  # fmt: skip
        v, residual = v + step * direction, trial
        residuals.append(np.abs(residual).max() / (scale or 1.0))
        steps.append(step)
    return NewtonResult(v - v.mean(), len(steps), np.array(residuals), np.array(steps))


def nonlinear_steady_state(
    network: Network, inputs, law: FlowLaw | str, *, tol: float = 1e-12, max_iter: int = 50, v0=None
) -> np.ndarray:
    """Node pressures ``v [n]`` (mean zero) of ``inputs [q]`` (input-pair currents) through
    pipes of flow law ``law``: :func:`newton_solve` of ``B^T (w g(B v)) = I``."""
    return newton_solve(network, network.node_currents(inputs), law, v0=v0, tol=tol, max_iter=max_iter).v


def nonlinear_cost(network: Network, inputs, targets, law: FlowLaw | str, *, cost="squared") -> float:
    """The cost of the outputs at the nonlinear steady state (default ``1/2 |y - targets|^2``)."""
    targets = np.asarray(targets, dtype=np.float64)
    if targets.shape != (network.n_outputs,):
        raise ValueError(f"targets must have shape [{network.n_outputs}] (one per output pair), got {targets.shape}")
    outputs = network.outputs(nonlinear_steady_state(network, inputs, law))
    return float(checked_cost(cost).value(outputs, targets))


# ---------------------------------------------------------------------- time stepping
def _max_degree(network: Network, conductance) -> float:
    a, b = network.edges[:, 0], network.edges[:, 1]
    degree = np.bincount(a, weights=conductance, minlength=network.n_nodes)
    return float((degree + np.bincount(b, weights=conductance, minlength=network.n_nodes)).max())


def relax_nonlinear(
    network: Network,
    sources,
    law: FlowLaw | str,
    *,
    v0=None,
    c: float = 1.0,
    safety: float = 0.9,
    rtol: float = 1e-10,
    max_steps: int = 1_000_000,
) -> tuple[np.ndarray, int]:
    """Explicit Euler of ``c dv/dt = sources - B^T (w g(B v))`` until ``|residual|_inf <=
    rtol |sources|_inf``; returns ``(v, steps)``.

    The step is ``safety`` times the stability bound of the linearised dynamics at the current
    state, ``2 c / lambda_max(J(v))`` with Gershgorin's ``lambda_max <= 2 max_i sum_j w_ij g'``,
    so it shrinks as a cubic pipe stiffens. ``sum(v)`` keeps its initial value (0 from rest).
    """
    law = flow_law(law)
    c, rtol = checked_positive("c", c), checked_positive("rtol", rtol)
    if not 0 < safety < 1:
        raise ValueError(f"safety must be in (0, 1), got {safety!r}")
    sources = np.asarray(sources, dtype=np.float64)
    v = np.zeros(network.n_nodes) if v0 is None else np.array(v0, dtype=np.float64)
    if sources.shape != (network.n_nodes,) or v.shape != (network.n_nodes,):
        raise ValueError(f"sources and v0 must have shape [{network.n_nodes}] (one value per node)")
    scale = np.abs(sources).max()
    for step in range(max_steps + 1):
        drops = network.drops(v)
        residual = sources - _outflow(network, network.conductance * law.flux(drops))
        if not np.all(np.isfinite(residual)):
            raise SimulationError(f"nonlinear relaxation blew up after {step} steps (law {law!r})")
        if np.abs(residual).max() <= rtol * scale:
            return v, step
        if step < max_steps:
            dt = safety * c / _max_degree(network, network.conductance * law.slope(drops))
            v = v + (dt / c) * residual
    raise SimulationError(f"nonlinear relaxation did not reach rtol={rtol:g} in {max_steps} steps (law {law!r})")


def relax_presentation(
    network: Network,
    inputs,
    targets,
    law: FlowLaw | str,
    *,
    eta: float = 1.0,
    c_v: float = 1.0,
    c_u: float = 1.0,
    safety: float = 0.9,
    rtol: float = 1e-10,
    max_steps: int = 1_000_000,
    cost="squared",
) -> tuple[np.ndarray, np.ndarray, int]:
    """One presentation time-stepped from rest, pressure and chemical together (explicit Euler):

        c_v dv/dt = I - B^T (w g(B v))            the fluid, through nonlinear pipes
        c_u du/dt = E(v) - L(w) u                 the chemical, diffusing by the linear Laplacian

    with the feedback ``E(v) = -eta dC/dv`` read from the outputs as they are. Runs until both
    residuals fall below ``rtol`` times their sources; returns ``(v, u, steps)``, the fields from
    which :func:`chemical_update` takes its local products (its steady state, to ``rtol``).
    """
    law, eta = flow_law(law), checked_positive("eta", eta)
    c_v, c_u, rtol = (checked_positive(k, x) for k, x in (("c_v", c_v), ("c_u", c_u), ("rtol", rtol)))
    if not 0 < safety < 1:
        raise ValueError(f"safety must be in (0, 1), got {safety!r}")
    currents, measure, w = network.node_currents(inputs), checked_cost(cost), network.conductance
    v, u = np.zeros(network.n_nodes), np.zeros(network.n_nodes)
    chemical_dt = safety * c_u / _max_degree(network, w)
    for step in range(max_steps + 1):
        drops = network.drops(v)
        pressure_residual = currents - _outflow(network, w * law.flux(drops))
        feedback = feedback_currents(network, v, targets, eta, measure)
        chemical_residual = feedback - _outflow(network, w * network.drops(u))
        if not (np.all(np.isfinite(pressure_residual)) and np.all(np.isfinite(chemical_residual))):
            raise SimulationError(f"the presentation blew up after {step} steps (law {law!r})")
        if (np.abs(pressure_residual).max() <= rtol * np.abs(currents).max()
                and np.abs(chemical_residual).max() <= rtol * np.abs(feedback).max()):  # fmt: skip
            return v, u, step
        if step < max_steps:
            dt = min(safety * c_v / _max_degree(network, w * law.slope(drops)), chemical_dt)
            v, u = v + (dt / c_v) * pressure_residual, u + (dt / c_u) * chemical_residual
    raise SimulationError(f"the presentation did not settle to rtol={rtol:g} in {max_steps} steps (law {law!r})")


# ---------------------------------------------------------------------- updates
def _pressures(network, inputs, law, pressures) -> np.ndarray:
    return nonlinear_steady_state(network, inputs, law) if pressures is None else np.asarray(pressures)


def exact_gradient(
    network: Network, inputs, targets, law: FlowLaw | str, *, cost="squared", pressures=None
) -> np.ndarray:
    """``dC/dw [m]`` at the nonlinear steady state, by one adjoint solve with the Jacobian:
    ``dC/dw_e = -(lam_a - lam_b) g(dv_e)``, ``J(v) lam = dC/dv``. ``pressures``: the steady
    state ``v [n]`` if already solved."""
    law = flow_law(law)
    v = _pressures(network, inputs, law, pressures)
    adjoint = _solve(_jacobian_solver(network, law, v), -feedback_currents(network, v, targets, 1.0, cost))
    return -network.drops(adjoint) * law.flux(network.drops(v))


def _local_update(network, law, v, u, alpha, local) -> np.ndarray:
    """``local`` already checked by the caller: ``"drop"`` (du dv) or ``"flow"`` (du q / w)."""
    drops = network.drops(v)
    return -alpha * network.drops(u) * (law.flux(drops) if local == "flow" else drops)


def chemical_update(
    network: Network,
    inputs,
    targets,
    law: FlowLaw | str,
    *,
    alpha: float = 1.0,
    eta: float = 1.0,
    cost="squared",
    local: str = "drop",
    pressures=None,
    solver: LaplacianSolver | None = None,
) -> np.ndarray:
    """The physical rule's ``dw [m]``: the feedback chemical diffusing by the linear Laplacian,
    ``L(w) u = E = -eta dC/dv``, then ``-alpha (u_a - u_b)(v_a - v_b)`` (``local="drop"``, the
    paper's rule) or ``-alpha (u_a - u_b) g(dv)`` (``"flow"``). Both are ``-alpha eta dC/dw``
    for linear pipes; for nonlinear ones they depart from it (module docstring). ``solver``: a
    factorisation of ``L(w)`` to reuse."""
    law, alpha, eta = flow_law(law), checked_positive("alpha", alpha), checked_positive("eta", eta)
    checked_choice("local", local, ("drop", "flow"))
    v = _pressures(network, inputs, law, pressures)
    solver = LaplacianSolver(network) if solver is None else solver
    u = _solve(solver, feedback_currents(network, v, targets, eta, cost))
    return _local_update(network, law, v, u, alpha, local)


def exact_chemical_update(
    network: Network,
    inputs,
    targets,
    law: FlowLaw | str,
    *,
    alpha: float = 1.0,
    eta: float = 1.0,
    cost="squared",
    pressures=None,
    solver=None,
) -> np.ndarray:
    """The exact variant (a reference, not physics): the chemical diffusing by the Jacobian,
    ``J(v) u = E``, then ``-alpha (u_a - u_b) g(dv)``, which is ``-alpha eta dC/dw`` to round-off.
    ``solver`` is ignored (the Jacobian is factorised here)."""
    law, alpha, eta = flow_law(law), checked_positive("alpha", alpha), checked_positive("eta", eta)
    v = _pressures(network, inputs, law, pressures)
    u = _solve(_jacobian_solver(network, law, v), feedback_currents(network, v, targets, eta, cost))
    return _local_update(network, law, v, u, alpha, "flow")


#: The updates :func:`train_nonlinear` takes by name.
UPDATES: dict[str, Callable[..., np.ndarray]] = {"chemical": chemical_update, "exact": exact_chemical_update}


class Fidelity(NamedTuple):
    """The chemical update ``dw`` against the exact step ``s = -alpha eta dC/dw``:
    ``cosine = dw.s / (|dw| |s|)``, ``relative_error = |dw - s| / |s|`` (NaN when ``s = 0``)."""

    cosine: float
    relative_error: float


def fidelity(
    network: Network, inputs, targets, law: FlowLaw | str, *, eta: float = 1.0, cost="squared", local: str = "drop"
) -> Fidelity:
    """How far :func:`chemical_update` is from the exact gradient step for one example."""
    law = flow_law(law)
    v = nonlinear_steady_state(network, inputs, law)
    step = -eta * exact_gradient(network, inputs, targets, law, cost=cost, pressures=v)
    update = chemical_update(network, inputs, targets, law, eta=eta, cost=cost, local=local, pressures=v)
    norm = np.linalg.norm(step)
    if norm == 0:
        return Fidelity(np.nan, np.nan)
    return Fidelity(float(update @ step / (np.linalg.norm(update) * norm)), float(np.linalg.norm(update - step) / norm))


# ---------------------------------------------------------------------- training
@dataclass(frozen=True)
class NonlinearTraining:
    """A training run through nonlinear pipes.

    network : the trained network;  floored : pipe updates the conductance floor caught
    history : ``{name: [epochs + 1]}``, at the start of every epoch and after the last: what
        ``evaluate`` returned (by default ``cost``, the mean training cost against that epoch's targets)
    """

    network: Network
    history: dict
    floored: int


def train_nonlinear(
    network: Network,
    inputs,
    targets,
    law: FlowLaw | str,
    *,
    rule: str = "chemical",
    lr: float = 3e-3,
    eta: float = 1.0,
    epochs: int = 1,
    seed: int = 0,
    w_min: float = 1e-4,
    cost="squared",
    tol: float = 1e-10,
    evaluate: Callable[[Network], dict] | None = None,
) -> NonlinearTraining:
    """Online quasistatic training through pipes of flow law ``law``: one Newton solve and one
    update per example, examples shuffled every epoch.

    inputs : [N, q] input-pair currents
    targets : [N, p] desired outputs, or a callable ``targets(network) -> [N, p]`` called at the
        start of every epoch (Iris's moving targets)
    rule : ``"chemical"`` (the physical rule) or ``"exact"`` (chemical by the Jacobian), :data:`UPDATES`
    lr : the step along ``-dC/dw`` for linear pipes, ``alpha * eta``;  w_min : conductance floor
    seed : the shuffle stream is ``SeedSequence(seed, spawn_key=(2,))``, as a run's (``simulator.runs``)
    tol : Newton's relative residual; each example's solve starts from its last steady state
    evaluate : ``evaluate(network) -> {name: float}``, recorded in the history at the start of
        every epoch and after the last; default ``{"cost": mean training cost}``
    """
    law, update = flow_law(law), UPDATES[checked_choice("rule", rule, tuple(UPDATES))]
    lr, eta, w_min = (checked_positive(k, x) for k, x in (("lr", lr), ("eta", eta), ("w_min", w_min)))
    epochs, measure = checked_int("epochs", epochs, low=0), checked_cost(cost)
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] != network.n_inputs:
        raise ValueError(f"inputs must have shape [N, {network.n_inputs}], got {inputs.shape}")
    fixed = None if callable(targets) else np.asarray(targets, dtype=np.float64)
    shuffle = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    history: dict[str, list] = {}
    floored, last = 0, [None] * len(inputs)
    for epoch in range(epochs + 1):
        wanted = fixed if fixed is not None else np.asarray(targets(network), dtype=np.float64)
        if wanted.shape != (len(inputs), network.n_outputs):
            raise ValueError(f"targets must have shape [{len(inputs)}, {network.n_outputs}], got {wanted.shape}")
        values = evaluate(network) if evaluate else {"cost": _mean_cost(network, inputs, wanted, law, measure)}
        for key, value in values.items():
            history.setdefault(key, []).append(value)
        if epoch == epochs:
            break
        for k in shuffle.permutation(len(inputs)):
            currents = network.node_currents(inputs[k])
            solver = LaplacianSolver(network) if rule == "chemical" or last[k] is None else None
            start = solver.solve(currents) if last[k] is None else last[k]
            v = last[k] = newton_solve(network, currents, law, v0=start, tol=tol).v
            dw = update(network, inputs[k], wanted[k], law, alpha=lr / eta, eta=eta, cost=measure, pressures=v,
                        solver=solver)  # fmt: skip
            w, caught = apply_update(network.conductance, dw, w_min)
            floored += caught
            try:
                network = network.with_conductance(w)
            except ValueError as error:  # a non-finite update
                raise SimulationError(f"epoch {epoch}: the update is not finite ({error})") from None
    return NonlinearTraining(network, {key: np.array(values) for key, values in history.items()}, floored)


def _mean_cost(network: Network, inputs, targets, law: FlowLaw, measure) -> float:
    outputs = np.stack([network.outputs(nonlinear_steady_state(network, x, law)) for x in inputs])
    return float(np.mean(measure.value(outputs, targets)))
