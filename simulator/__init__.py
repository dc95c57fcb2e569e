"""Learning by non-interfering feedback chemical signalling in flow networks.

A reference simulator for Anisetti, Scellier & Schwarz (2022): linear flow networks whose
pipes learn from the local product of a pressure drop and a feedback-chemical drop.

>>> import simulator
>>> net = simulator.lattice_network(side=12, d=4, delta=0.25, seed=0)
>>> v = simulator.steady_state(net, [1.0, 0.5, 0.2, 0.1])
>>> dw = simulator.learning_update(net, [1.0, 0.5, 0.2, 0.1], [0.1, 0.0, -0.1], alpha=1.0, eta=0.01)
"""

from importlib.metadata import PackageNotFoundError, version

from .engine import (
    FieldState,
    Quasistatic,
    SimulationError,
    TimeStepped,
    TrainResult,
    relax,
    relax_ensemble,
    relaxation_time,
    stable_dt,
    stable_step,
    train,
)
from .experiment import IrisConfig, run_iris
from .network import Network, NetworkWarning, lattice_network
from .quasistatic import LaplacianSolver, cost, cost_gradient, finite_difference_gradient, steady_state
from .rules import RULES, apply_update, learning_update
from .trajectory import Trajectory, TrajectoryError, TrajectoryWriter, load_trajectory

try:
    __version__ = version("chemsignal-sim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "Network",
    "NetworkWarning",
    "lattice_network",
    "LaplacianSolver",
    "steady_state",
    "cost",
    "cost_gradient",
    "finite_difference_gradient",
    "learning_update",
    "apply_update",
    "RULES",
    "Quasistatic",
    "TimeStepped",
    "FieldState",
    "TrainResult",
    "SimulationError",
    "train",
    "relax",
    "relax_ensemble",
    "relaxation_time",
    "stable_dt",
    "stable_step",
    "IrisConfig",
    "run_iris",
    "load_trajectory",
    "Trajectory",
    "TrajectoryWriter",
    "TrajectoryError",
    "__version__",
]
