"""Learning by non-interfering feedback chemical signalling in flow networks.

A reference simulator for Anisetti, Scellier & Schwarz (2022): linear flow networks whose
pipes learn from the local product of a pressure drop and a feedback-chemical drop.

>>> import simulator
>>> net = simulator.lattice_network(side=12, d=4, delta=0.25, seed=0)
>>> v = simulator.steady_state(net, [1.0, 0.5, 0.2, 0.1])
>>> dw = simulator.learning_update(net, [1.0, 0.5, 0.2, 0.1], [0.1, 0.0, -0.1], alpha=1.0, eta=0.01)

One engine (``train``) for every rule and dynamics, with each concern a keyword object, and
one recorded run (``run``) for any network and task, from a config with a table per concern.
"""

from . import _start  # noqa: F401  (first: a command interrupted while it imports ends with one line, exit 130)
from .advection import Advection, AdvectionState
from .base import ChemsignalDeprecationWarning, SimulationError, __version__
from .config import RunConfig
from .costs import COSTS, Cost, FunctionCost, Huber, SoftmaxCrossEntropy, SquaredError
from .engine import (
    DYNAMICS,
    METHODS,
    Deferred,
    Explicit,
    FieldFrames,
    FieldState,
    Implicit,
    Live,
    Physical,
    Physics,
    Quasistatic,
    RelaxationTimes,
    Save,
    TimeStepped,
    TrainResult,
    relax,
    relax_ensemble,
    relaxation_time,
    stable_dt,
    stable_step,
    train,
)
from .network import Network, NetworkWarning, lattice_network
from .network_io import as_network, load_network, save_network
from .quasistatic import LaplacianSolver, cost, cost_gradient, finite_difference_gradient, steady_state
from .rules import RULES, Rule, apply_update, learning_update
from .runs import RunResult, run
from .tasks import TASKS, Task
from .trajectory import Trajectory, TrajectoryError, TrajectoryWriter, load_trajectory

__all__ = [
    # networks
    "Network", "NetworkWarning", "lattice_network", "as_network", "load_network", "save_network",
    # quasistatic physics
    "LaplacianSolver", "steady_state", "cost", "cost_gradient", "finite_difference_gradient",
    # rules and costs
    "Rule", "RULES", "learning_update", "apply_update", "Cost", "SquaredError", "Huber", "SoftmaxCrossEntropy",
    "FunctionCost", "COSTS",
    # the engine and its keyword objects
    "train", "METHODS", "DYNAMICS", "Quasistatic", "TimeStepped", "Advection", "Physics", "Explicit", "Implicit",
    "Physical", "Deferred", "Live",
    "Save", "RelaxationTimes", "FieldState", "AdvectionState", "FieldFrames", "TrainResult",
    "SimulationError", "relax", "relax_ensemble", "relaxation_time", "stable_dt", "stable_step",
    # tasks and recorded runs
    "Task", "TASKS", "RunConfig", "run", "RunResult",
    # run files
    "load_trajectory", "Trajectory", "TrajectoryWriter", "TrajectoryError",
    "ChemsignalDeprecationWarning", "__version__",
]  # fmt: skip
