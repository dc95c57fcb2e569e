"""Tasks: the Iris classification of the paper's section III.

Inputs are the normalised features ``X' = scale (X - min) / (max - min)`` (min and max of
the training set, ``scale = 5`` as in the paper), applied as the currents of the 4 input
pairs. The desired output of a class is the response of the *current* network to the
class's mean training input (recomputed every epoch); an example is classified to the class
whose desired output is nearest to its output.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import numpy as np

from .network import Network
from .quasistatic import LaplacianSolver

__all__ = ["load_iris", "IrisTask", "iris_task", "class_targets", "classify"]

IRIS_SPECIES = ("setosa", "versicolor", "virginica")


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """The 150 Iris examples shipped with the package: features ``[150, 4]`` (cm), labels ``[150]``."""
    table = np.loadtxt(files("simulator").joinpath("data/iris.csv").open(), delimiter=",", comments="#", skiprows=4)
    return table[:, :4], table[:, 4].astype(np.int64)


@dataclass(frozen=True)
class IrisTask:
    """A seeded stratified split, normalised with the training set's range.

    x_train, x_test : [75, 4] input currents;  y_train, y_test : [75] class labels 0..2.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def iris_task(seed: int = 0, *, per_class_train: int = 25, scale: float = 5.0) -> IrisTask:
    """Split Iris into ``per_class_train`` training examples per class (the rest test), seeded."""
    features, labels = load_iris()
    rng = np.random.default_rng(seed)
    train = np.zeros(len(labels), dtype=bool)
    for species in range(len(IRIS_SPECIES)):
        members = np.flatnonzero(labels == species)
        if not 0 < per_class_train < len(members):
            raise ValueError(f"per_class_train must be in 1..{len(members) - 1}, got {per_class_train}")
        train[rng.choice(members, per_class_train, replace=False)] = True
    low, high = features[train].min(axis=0), features[train].max(axis=0)
    normalised = scale * (features - low) / (high - low)
    return IrisTask(normalised[train], labels[train], normalised[~train], labels[~train])


def class_targets(
    network: Network, inputs: np.ndarray, labels: np.ndarray, n_classes: int = 3, *, solver: LaplacianSolver | None = None
) -> np.ndarray:
    """Desired outputs ``[n_classes, p]``: the network's response to each class's mean input.

    ``solver``: a factorisation of ``network`` to reuse (made here if omitted).
    """
    means = np.stack([inputs[labels == c].mean(axis=0) for c in range(n_classes)])
    solver = LaplacianSolver(network) if solver is None else solver
    currents = np.stack([network.node_currents(m) for m in means], axis=1)
    return network.outputs(solver.solve(currents).T)


def classify(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the nearest desired output for each row of ``outputs [B, p]``."""
    distances = np.linalg.norm(outputs[:, None, :] - targets[None, :, :], axis=-1)
    return np.argmin(distances, axis=1)
