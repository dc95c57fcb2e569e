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
    c_u du/dt = E - kappa L(w) u - c_u r u         chemical diffusion (diffusivity kappa*w), decay r
    E         = -eta dC/dy at y = v_out(t)         at output pairs, from feedback_delay on
    dw/dt     = -gamma (u_a - u_b)(v_a - v_b)      learning while both fields are present

``gamma = alpha / remodel_time`` for the physical weights (a material constant; the
quasistatic limit is ``remodel_time / relaxation time -> inf`` with ``T = remodel_time``),
``alpha / T`` for the numerical devices (deferred, live).
"""

from ..base import SimulationError
from . import method, quasistatic, relaxation, results, specs, training

# each submodule's __all__ is its public part
from .method import *  # noqa: F403
from .quasistatic import *  # noqa: F403
from .relaxation import *  # noqa: F403
from .results import *  # noqa: F403
from .specs import *  # noqa: F403
from .training import *  # noqa: F403

__all__ = ["SimulationError"] + [
    name for module in (training, specs, results, method, relaxation, quasistatic) for name in module.__all__
]
