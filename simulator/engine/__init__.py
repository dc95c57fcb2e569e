"""The engine: ``train`` and everything it is made of.

One entry point (:func:`train`), each concern a keyword object (:mod:`.specs`), one base class
that owns the loop (:mod:`.method`), and one class per way of advancing a presentation,
registered by name in :data:`METHODS`:

=============  ==========================================================================
``banded``     quasistatic, chemical rule, one compiled loop over a batch (small networks)
``direct``     quasistatic, any rule: dense or sparse factorisations per presentation
``explicit``   time-stepped fused rule (chemical), forward Euler
``implicit``   time-stepped fused rule, backward-Euler diffusion
``two_phase``  time-stepped nudged (EP, CL) and relaxed (gradient, any other) rules
``advection``  Appendix A: s+/s- carried by the flow
=============  ==========================================================================

Model (the quasistatic model is the ``T -> inf`` limit of the time-stepped one)::

    c_v dv/dt = I - L(w) v                         pressure relaxation
    c_u du/dt = E - kappa L(w) u                   chemical diffusion (diffusivity kappa*w)
    E         = eta (target - v_out(t))            at output pairs, from feedback_delay on
    dw/dt     = -(alpha / T) (u_a - u_b)(v_a - v_b) learning, spread over the presentation time T
"""

from ..base import SimulationError
from .method import Method, Plan, Setup, TimeSteppedMethod
from .quasistatic import BANDED_MAX_FLOPS, uses_banded
from .relaxation import PARALLEL_MIN_NODES, checked_dt, relax, relax_ensemble, relax_split, relaxation_time, stable_dt
from .results import FieldFrames, FieldState, TrainResult
from .specs import (
    INTEGRATORS,
    WEIGHTS,
    Deferred,
    Explicit,
    Implicit,
    Live,
    Physics,
    Quasistatic,
    RelaxationTimes,
    Save,
    TimeStepped,
    resolve_duration,
)
from .training import DYNAMICS, METHODS, method_for, resolve, stable_step, train

__all__ = [
    "train", "METHODS", "DYNAMICS", "method_for", "resolve", "stable_step", "Method", "TimeSteppedMethod", "Setup",
    "Plan", "Quasistatic", "TimeStepped", "Physics", "Explicit", "Implicit", "INTEGRATORS", "Deferred", "Live",
    "WEIGHTS", "Save", "RelaxationTimes", "resolve_duration", "FieldState", "FieldFrames", "TrainResult",
    "SimulationError", "relax", "relax_ensemble", "relax_split", "relaxation_time", "stable_dt", "checked_dt",
    "PARALLEL_MIN_NODES", "BANDED_MAX_FLOPS", "uses_banded",
]  # fmt: skip
