"""The keyword objects of ``train``, one per concern (the diffrax pattern).

* the dynamics: :class:`Quasistatic` (direct solves, ``T -> infinity``), :class:`TimeStepped`
  (the presentation schedule: ``T`` and the feedback delay), or
  :class:`simulator.advection.Advection` (Appendix A);
* the physics: :class:`Physics` (node compliances ``c_v``, ``c_u``; chemical diffusivity ``kappa``);
* the integrator of the time-stepped fields: :class:`Explicit` or :class:`Implicit`;
* the weight policy: :class:`Physical` (the default for the one-phase rule: the material
  remodels at its own rate while the fields evolve), or the numerical devices
  :class:`Deferred` and :class:`Live` (rate ``alpha / T``);
* what is saved: :class:`Save`.

Each object checks its own values when it is built; ``train`` checks the combination once.
Durations (``T``, the feedback delay, ``dt``) are in time units of ``c / w``, or in relaxation
times ``c_v / (lambda_2)`` of the network trained, through :class:`RelaxationTimes`; the
conversion is :func:`resolve_duration`, and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, replace
from typing import ClassVar

from ..base import checked_choice, checked_int, checked_nonnegative, checked_positive, deprecated

__all__ = [
    "RelaxationTimes",
    "resolve_duration",
    "check_delay",
    "Physics",
    "Explicit",
    "Implicit",
    "INTEGRATORS",
    "Physical",
    "Deferred",
    "Live",
    "WEIGHTS",
    "Quasistatic",
    "TimeStepped",
    "Save",
    "remodel_rate",
]


@dataclass(frozen=True)
class RelaxationTimes:
    """A duration of ``value / per`` relaxation times ``c_v / lambda_2`` of the network it is
    used on (its slowest mode's decay time: a presentation of 50 of them is near the
    quasistatic limit). ``per``: for steps given as so many per relaxation time."""

    value: float
    per: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "value", checked_nonnegative("a duration in relaxation times", self.value))
        object.__setattr__(self, "per", checked_positive("per (steps per relaxation time)", self.per))

    @property
    def amount(self) -> float:
        """The duration in relaxation times."""
        return self.value / self.per


def resolve_duration(duration, relaxation_time: float | None) -> float:
    """``duration`` in time units: a number as it is, :class:`RelaxationTimes` converted with
    the relaxation time. The only place the conversion happens."""
    if isinstance(duration, RelaxationTimes):
        return duration.value * relaxation_time / duration.per
    return duration


def _checked_duration(name: str, value, positive: bool = True):
    if isinstance(value, RelaxationTimes):
        if positive and not value.value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
        return value
    return checked_positive(name, value) if positive else checked_nonnegative(name, value)


def duration_amount(duration) -> float:
    """A duration's number: relaxation times for :class:`RelaxationTimes`, else time units."""
    return duration.amount if isinstance(duration, RelaxationTimes) else duration


def check_delay(delay, T) -> None:
    """The feedback delay must fit in the presentation (checked when both are in one unit)."""
    if type(delay) is type(T) and not duration_amount(delay) <= duration_amount(T):
        raise ValueError(f"feedback_delay must be in [0, T={duration_amount(T)}], got {duration_amount(delay)!r}")


@dataclass(frozen=True)
class Physics:
    """The fields' constants: node compliances ``c_v`` (pressure) and ``c_u`` (chemical), and the
    chemical's diffusivity per unit conductance ``kappa``; all finite and > 0. ``drift``
    (>= 0, default 0): the chemical drifts with the flow, a share ``drift`` of each pipe's flow
    carrying it.

    ``c_v dv/dt = I - L(w) v``;  ``c_u du/dt = E - kappa L(w) u - drift (A(q) + D) u``
    (:mod:`simulator.transport`: upwind transport by the pipe flows, drained with the fluid).
    Without drift or decay the steady chemical is ``L^+ E / kappa``, so the learning step
    is ``alpha eta / kappa`` in both dynamics. ``drift = 0`` is the paper's assumption (the
    chemical diffuses fast compared with the flow); a pipe's Péclet number is ``drift
    |v_a - v_b| / kappa``. (``advection`` is the old name of ``drift``.)
    """

    c_v: float = 1.0
    c_u: float = 1.0
    kappa: float = 1.0
    drift: float = 0.0
    advection: InitVar[float | None] = None  # the old name of drift

    def __post_init__(self, advection):
        if advection is not None:
            deprecated("Physics(advection=...)", "Physics(drift=...)", stacklevel=4)
            object.__setattr__(self, "drift", advection)
        for key in ("c_v", "c_u", "kappa"):
            object.__setattr__(self, key, checked_positive(key, getattr(self, key)))
        object.__setattr__(self, "drift", checked_nonnegative("drift", self.drift))


@dataclass(frozen=True)
class Explicit:
    """Forward Euler: the physics step by step, stable below ``2 c / (kappa lambda_max)``.

    dt : a fixed step (time units or :class:`RelaxationTimes`), refused with the bound when
        above it; ``None`` (default) takes ``safety`` times the bound of the current weights,
        chosen again at each presentation and shrunk so ``T`` is a whole number of steps
    safety : fraction of the stability bound used when ``dt`` is None, in (0, 1]
    min_dt : stop (``SimulationError``) when the current weights' step falls below this: the
        conductances are running away (a two-phase rule far from the quasistatic limit, say),
        and every presentation would take longer than the last
    max_dt_shrink : the same floor, given as how many times below the step of the network
        training starts from (>= 1); the larger of the two floors applies
    chunk_steps : steps per kernel call between finiteness checks
    """

    dt: float | RelaxationTimes | None = None
    safety: float = 0.9
    min_dt: float | None = None
    max_dt_shrink: float | None = None
    chunk_steps: int = 4096
    name: ClassVar[str] = "explicit"

    def __post_init__(self):
        if self.dt is not None:
            _checked_duration("dt", self.dt)
        if not (isinstance(self.safety, (int, float)) and 0 < self.safety <= 1):
            raise ValueError(f"safety must be in (0, 1], got {self.safety!r}")
        if self.min_dt is not None:
            checked_positive("min_dt", self.min_dt)
        if self.max_dt_shrink is not None and not checked_positive("max_dt_shrink", self.max_dt_shrink) >= 1:
            raise ValueError(f"max_dt_shrink must be >= 1, got {self.max_dt_shrink!r}")
        checked_int("chunk_steps", self.chunk_steps, 1)


@dataclass(frozen=True)
class Implicit:
    """Backward Euler on the diffusion, ``(c/dt + L) x_new = (c/dt) x + s``: stable at any step.

    It damps the fast modes instead of following them, so it suits presentations near the
    quasistatic limit on networks whose thick pipes would force tiny explicit steps. Give the
    step as ``dt`` (time units or :class:`RelaxationTimes`) or as ``steps_per_relaxation_time``.
    """

    dt: float | RelaxationTimes | None = None
    steps_per_relaxation_time: float | None = None
    chunk_steps: int = 4096
    name: ClassVar[str] = "implicit"

    def __post_init__(self):
        if (self.dt is None) == (self.steps_per_relaxation_time is None):
            raise ValueError(
                "the implicit integrator needs a dt or steps_per_relaxation_time (one of them): it is stable at "
                "any step, and accuracy asks for one well below the relaxation time"
            )
        if self.dt is not None:
            _checked_duration("dt", self.dt)
        else:
            steps = checked_positive("steps_per_relaxation_time", self.steps_per_relaxation_time)
            object.__setattr__(self, "dt", RelaxationTimes(1.0, per=steps))
            object.__setattr__(self, "steps_per_relaxation_time", None)
        checked_int("chunk_steps", self.chunk_steps, 1)


INTEGRATORS = {"explicit": Explicit, "implicit": Implicit}


@dataclass(frozen=True)
class Physical:
    """The physics (the default for the one-phase chemical rule): every pipe remodels while the
    fields evolve, at the material's own rate, ``dw/dt = -gamma (u_a - u_b)(v_a - v_b)`` with
    ``gamma = alpha / remodel_time``, and nothing is stored.

    remodel_time : the material's remodelling time (time units, or :class:`RelaxationTimes`,
        default 50 of them), a constant of the material and not of the schedule: a
        presentation of ``T`` moves the pipes about ``T / remodel_time`` quasistatic steps of
        ``alpha``. With ``T = remodel_time``, the quasistatic limit is the timescale ratio
        ``remodel_time / relaxation time`` going to infinity.
    """

    remodel_time: float | RelaxationTimes = RelaxationTimes(50.0)
    name: ClassVar[str] = "physical"

    def __post_init__(self):
        object.__setattr__(self, "remodel_time", _checked_duration("remodel_time", self.remodel_time))

    def resolved(self, relaxation_time: float | None) -> "Physical":
        return replace(self, remodel_time=resolve_duration(self.remodel_time, relaxation_time))

    @property
    def in_relaxation_times(self) -> bool:
        return isinstance(self.remodel_time, RelaxationTimes)


class _Device:
    """A weight policy that is a numerical device: its rate is ``alpha / T``, so it has no
    duration of its own to resolve."""

    in_relaxation_times: ClassVar[bool] = False

    def resolved(self, relaxation_time):
        return self


@dataclass(frozen=True)
class Deferred(_Device):
    """A numerical device, not the physics: each pipe integrates ``-(alpha / T) u v`` over the
    presentation (a per-pipe memory) and remodels at its end. The fields see fixed ``w``, and
    the update converges to the quasistatic one as ``T`` grows by construction (the ``1 / T``).
    The default of the two-phase rules, which store the free state anyway."""

    name: ClassVar[str] = "deferred"


@dataclass(frozen=True)
class Live(_Device):
    """A numerical device: conductances move during the presentation at ``alpha / T`` per unit
    time and the fields feel it; the ``T -> inf`` limit is the gradient *flow* over one
    presentation, equal to the quasistatic step to first order in ``alpha`` (fused rules only).
    :class:`Physical` is the same with a rate that does not depend on ``T``."""

    name: ClassVar[str] = "live"


WEIGHTS = {"physical": Physical, "deferred": Deferred, "live": Live}


def remodel_rate(weights, alpha: float, T: float) -> float:
    """The conductance change per unit time per unit ``u v`` drop product: ``alpha /
    remodel_time`` (physical), ``alpha / T`` (the numerical devices). Resolved weights only."""
    return alpha / (weights.remodel_time if weights.name == "physical" else T)


@dataclass(frozen=True)
class Quasistatic:
    """Each presentation solved at steady state (direct solves): ``T -> infinity``.

    solver_method : ``"auto"``, ``"banded"``, ``"dense"`` or ``"sparse"``. ``"banded"``
        (chemical rule only): a compiled loop over the presentations that refactorises the
        grounded Laplacian in a reverse Cuthill-McKee band (the order found once per
        topology) and solves pressure and chemical from each factor. ``"auto"`` takes it
        for the chemical rule while the band is cheap (``engine.BANDED_MAX_FLOPS``), else
        ``"dense"`` (LAPACK Cholesky) up to ``DENSE_MAX_NODES`` nodes and ``"sparse"`` above.
        ``"sparse"``: ``RefactoringLaplacian``, analysed once per call of ``train`` and
        refactorised per presentation.
    sparse_backend : the ``"sparse"`` factorisation: ``"auto"``, ``"pardiso"``, ``"ldl"`` or
        ``"splu"`` (see ``RefactoringLaplacian``)
    substeps : each presentation as this many quasistatic steps of ``alpha / substeps`` on the
        same example (default 1: the paper's one step). As it grows this is the gradient *flow*
        over a presentation, the limit that the physical time-stepped protocol (the pipes
        remodelling while the fields are at steady state) approaches; it differs from the one
        step at second order in ``alpha``. The result keeps one row per presentation (the
        outputs and cost of its first substep, the floored pipes summed, the step growth
        summed: a bound on the presentation's).
    """

    solver_method: str = "auto"
    sparse_backend: str = "auto"
    substeps: int = 1
    name: ClassVar[str] = "quasistatic"

    def __post_init__(self):
        checked_choice("solver_method", self.solver_method, ("auto", "banded", "dense", "sparse"))
        checked_choice("sparse_backend", self.sparse_backend, ("auto", "pardiso", "ldl", "splu"))
        checked_int("substeps", self.substeps, 1)


@dataclass(frozen=True)
class TimeStepped:
    """Presentations of ``T`` each, with the fields integrated in time (the physics).

    Each presentation runs in the paper's order: the input is applied at its start; from
    ``feedback_delay`` on, the chemical is injected from the current output error; the pipes
    learn whenever both fields are present (every step; the weight policy says how).

    T : presentation time per example (time units, or :class:`RelaxationTimes`), > 0
    feedback_delay : the feedback chemical is injected from this long after the input changes,
        0 <= feedback_delay <= T (our choice, not the paper's: the paper does not time it).
        Used by the one-phase (fused) rules; two-phase rules nudge in the second half.
    chemical_lifetime : the chemical decays (degradation, washout) at the rate ``1 /
        chemical_lifetime``: ``c_u du/dt = E - kappa L u - (c_u / chemical_lifetime) u``, so
        the previous example's leftover fades; ``None`` (default): it does not decay (our
        choice; the paper has no decay). A decaying chemical's steady state is
        ``(kappa L + c_u / lifetime)^-1 E``, no longer exactly ``L^+ E / kappa``.
    """

    T: float | RelaxationTimes
    feedback_delay: float | RelaxationTimes = 0.0
    tau: InitVar[float | None] = None  # the old name of feedback_delay
    chemical_lifetime: float | RelaxationTimes | None = None
    name: ClassVar[str] = "timestepped"
    substeps: ClassVar[int] = 1  # (a presentation is one integration over T)

    def __post_init__(self, tau):
        if tau is not None:
            deprecated("TimeStepped(tau=...)", "TimeStepped(feedback_delay=...)", stacklevel=4)
            object.__setattr__(self, "feedback_delay", tau)
        object.__setattr__(self, "T", _checked_duration("T", self.T))
        object.__setattr__(self, "feedback_delay", _checked_duration("feedback_delay", self.feedback_delay, False))
        check_delay(self.feedback_delay, self.T)
        if self.chemical_lifetime is not None:
            lifetime = _checked_duration("chemical_lifetime", self.chemical_lifetime)
            object.__setattr__(self, "chemical_lifetime", lifetime)

    def resolved(self, relaxation_time: float | None) -> "TimeStepped":
        """The same schedule in time units."""
        delay = resolve_duration(self.feedback_delay, relaxation_time)
        lifetime = resolve_duration(self.chemical_lifetime, relaxation_time)
        resolved = replace(self, T=resolve_duration(self.T, relaxation_time), feedback_delay=delay,
                           chemical_lifetime=lifetime)  # fmt: skip
        check_delay(resolved.feedback_delay, resolved.T)
        return resolved

    @property
    def decay_rate(self) -> float:
        """``1 / chemical_lifetime`` per unit time (0: no decay); resolved schedules only."""
        return 0.0 if self.chemical_lifetime is None else 1.0 / self.chemical_lifetime

    @property
    def in_relaxation_times(self) -> bool:
        return any(isinstance(d, RelaxationTimes) for d in (self.T, self.feedback_delay, self.chemical_lifetime))


@dataclass(frozen=True)
class Save:
    """What ``train`` keeps besides its result.

    fields_every : snapshot the fields (pressure and chemical; advection: ``s+``, ``s-`` and the
        conductances) after every time (or transport) step whose global index is a multiple
        of this; ``None``: no snapshots
    """

    fields_every: int | None = None

    def __post_init__(self):
        if self.fields_every is not None:
            try:
                checked_int("fields_every", self.fields_every, 1)
            except ValueError:
                message = f"fields_every must be a positive integer or None, got {self.fields_every!r}"
                raise ValueError(message) from None


def whole_steps(duration: float, dt: float, least: int = 1) -> tuple[float, int]:
    """``(dt', n)``: ``n >= least`` steps of ``dt' <= dt`` that fill ``duration`` exactly."""
    n_steps = max(least, math.ceil(duration / dt - 1e-9))
    return duration / n_steps, n_steps
