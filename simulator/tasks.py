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

__all__ = [
    "load_iris",
    "IrisTask",
    "iris_task",
    "class_means",
    "transfer_matrix",
    "class_targets",
    "classify",
    "IrisMetrics",
    "evaluate_iris",
]

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
    # a stream of its own: the network builder draws from default_rng(seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    train = np.zeros(len(labels), dtype=bool)
    for species in range(len(IRIS_SPECIES)):
        members = np.flatnonzero(labels == species)
        if not 0 < per_class_train < len(members):
            raise ValueError(f"per_class_train must be in 1..{len(members) - 1}, got {per_class_train}")
        train[rng.choice(members, per_class_train, replace=False)] = True
    low, high = features[train].min(axis=0), features[train].max(axis=0)
    normalised = scale * (features - low) / (high - low)
    return IrisTask(normalised[train], labels[train], normalised[~train], labels[~train])


def class_means(inputs: np.ndarray, labels: np.ndarray, n_classes: int = 3) -> np.ndarray:
    """Mean input of each class, ``[n_classes, q]``."""
    missing = [c for c in range(n_classes) if not np.any(labels == c)]
    if missing:
        raise ValueError(f"no examples of class(es) {missing}")
    return np.stack([inputs[labels == c].mean(axis=0) for c in range(n_classes)])


def transfer_matrix(network: Network, solver: LaplacianSolver | None = None) -> np.ndarray:
    """The linear response ``R [p, q]``: outputs = ``R @ inputs`` at steady state.

    ``solver``: a factorisation of ``network`` to reuse (made here if omitted).
    """
    solver = LaplacianSolver(network) if solver is None else solver
    unit_currents = np.stack([network.node_currents(e) for e in np.eye(network.n_inputs)], axis=1)
    return network.outputs(solver.solve(unit_currents).T).T


def class_targets(
    network: Network,
    inputs: np.ndarray,
    labels: np.ndarray,
    n_classes: int = 3,
    *,
    solver: LaplacianSolver | None = None,
) -> np.ndarray:
    """Desired outputs ``[n_classes, p]``: the network's response to each class's mean input."""
    return class_means(inputs, labels, n_classes) @ transfer_matrix(network, solver).T


def classify(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the nearest desired output for each row of ``outputs [B, p]``."""
    distances = np.linalg.norm(outputs[:, None, :] - targets[None, :, :], axis=-1)
    return np.argmin(distances, axis=1)


@dataclass(frozen=True)
class IrisMetrics:
    """How a network does on an Iris split, at steady state.

    accuracy_train : training set, desired outputs from the training class means
    accuracy_test : test set, desired outputs from the *test* class means (the paper's protocol)
    accuracy_test_strict : test set, desired outputs from the training class means
    transfer : [p, q] the input-to-output response;  response_norm : its Frobenius norm
    desired_output : [3, p] the training class means pushed through the network (the next
        epoch's targets)
    """

    accuracy_train: float
    accuracy_test: float
    accuracy_test_strict: float
    transfer: np.ndarray
    response_norm: float
    desired_output: np.ndarray


def evaluate_iris(network: Network, task: IrisTask, *, solver: LaplacianSolver | None = None) -> IrisMetrics:
    """Accuracies, response and desired outputs of ``network`` on ``task`` (one factorisation)."""
    response = transfer_matrix(network, solver)
    desired = class_means(task.x_train, task.y_train) @ response.T
    test_targets = class_means(task.x_test, task.y_test) @ response.T

    def accuracy(inputs, labels, targets):
        return float(np.mean(classify(inputs @ response.T, targets) == labels))

    return IrisMetrics(
        accuracy_train=accuracy(task.x_train, task.y_train, desired),
        accuracy_test=accuracy(task.x_test, task.y_test, test_targets),
        accuracy_test_strict=accuracy(task.x_test, task.y_test, desired),
        transfer=response,
        response_norm=float(np.linalg.norm(response)),
        desired_output=desired,
    )
