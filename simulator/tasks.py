"""Tasks: what a network is trained to do, one class each, selected by name from :data:`TASKS`.

A :class:`Task` holds its training and test examples, gives each epoch's inputs and targets
(fixed, or moving as in the paper's Iris protocol), and scores a network on both splits.
Every task reports ``cost_train`` and ``cost_test``: the mean cost (the run's own; by default
``1/2 |output - target|^2``) over the split at steady state. Tasks are linear-response tasks:
a network's outputs are ``R @ inputs`` with ``R`` its transfer matrix, which the run computes
once per evaluation.

Shipped: ``iris`` (the paper's section III), ``digits`` (10 classes of 8x8 handwritten digits,
ours), ``regression`` (teacher-student: the targets are
the outputs of a second network on the same terminals, so every target is reachable),
``tuning`` (Appendix A: one input, outputs asked to move by given factors), ``csv`` and
``npz`` (a user's own data). Adding one is one class with a ``name`` and one line in
:data:`TASKS`.

Iris: inputs are the normalised features ``X' = scale (X - min) / (max - min)`` (min and
max of the training set, ``scale = 5`` as in the paper), applied as the currents of the 4
input pairs. The desired output of a class is the response of the *current* network to the
class's mean training input (recomputed every epoch); an example is classified to the class
whose desired output is nearest to its output. The classification tasks take other target
protocols too (``targets``: :data:`TARGET_PROTOCOLS`; ours, against the response's collapse).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np

from .base import Option
from .costs import COSTS, Cost
from .network import Network
from .quasistatic import LaplacianSolver, PressureBoundary, steady_state, transfer_matrix

__all__ = [
    "Metric",
    "Task",
    "TASKS",
    "Classification",
    "IrisClassification",
    "DigitsClassification",
    "TARGET_PROTOCOLS",
    "digits_task",
    "linear_ceilings",
    "onehot_targets",
    "TeacherStudent",
    "Tuning",
    "CsvTask",
    "NpzTask",
    "teacher_student_data",
    "headline",
    "seeded_split",
    "load_iris",
    "load_digits",
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


class Metric(NamedTuple):
    """A per-epoch metric a task reports: its shape per sample, unit and meaning."""

    shape: tuple = ()
    unit: str = ""
    description: str = ""


def _stream(seed: int, key: int) -> np.random.Generator:
    """The run's random stream number ``key`` (1: the split, 3: a teacher, 4: task inputs).
    The network builder draws from ``default_rng(seed)``, the shuffle from key 2."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


class Task:
    """Training and test examples and how to score a network on them.

    ``inputs_train [N, q]``, ``targets_train [N, p]`` (None when the targets move),
    ``inputs_test [M, q]``, ``targets_test [M, p]`` (None when they move). Subclasses set ``name`` and ``options``
    (their config keys) and write :meth:`from_config`; a task with moving targets or
    metrics of its own overrides :meth:`examples`, :meth:`metrics` and :meth:`evaluate`.
    """

    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Option]] = {}
    #: the metric a run reports first (progress bars, summaries, sweeps)
    headline: ClassVar[str] = "cost_test"
    #: what ``cost_train`` and ``cost_test`` measure (a run sets its own: ``rule.cost``)
    cost: Cost = COSTS["squared"]

    def __init__(self, inputs_train, targets_train, inputs_test, targets_test):
        self.inputs_train = np.asarray(inputs_train, dtype=np.float64)
        self.targets_train = None if targets_train is None else np.asarray(targets_train, dtype=np.float64)
        self.inputs_test = np.asarray(inputs_test, dtype=np.float64)
        self.targets_test = None if targets_test is None else np.asarray(targets_test, dtype=np.float64)

    @classmethod
    def from_config(cls, options: dict, *, network: Network, seed: int, boundary: dict) -> "Task":
        """The task of a run: ``options`` its checked ``[task]`` keys, ``network`` the starting
        network, ``boundary`` how inputs enter and outputs are read (``inputs_as``, ``outputs_as``)."""
        raise NotImplementedError

    @classmethod
    def terminals(cls, options: dict) -> tuple[int, int] | None:
        """``(input pairs, output pairs)`` a generated network needs for this task, if known."""
        return None

    @property
    def n_train(self) -> int:
        return len(self.inputs_train)

    def shape(self) -> tuple[int, int]:
        """``(q, p)``: inputs and outputs per example."""
        return self.inputs_test.shape[1], self.targets_test.shape[1]

    def check_fits(self, network: Network) -> None:
        """A clear error when the data's width does not match the network's terminals."""
        q, p = self.shape()
        if (q, p) != (network.n_inputs, network.n_outputs):
            raise ValueError(
                f"task {self.name!r} has {q} input(s) and {p} output(s) per example, but the network has "
                f"{network.n_inputs} input pair(s) and {network.n_outputs} output pair(s)"
            )

    def examples(self, order, evaluation: dict) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's inputs and targets in the order ``order`` (``evaluation``: the metrics of
        the network the epoch starts from)."""
        return self.inputs_train[order], self.targets_train[order]

    def example_values(self, order) -> dict[str, np.ndarray]:
        """Per-example records besides input and target (e.g. a class label)."""
        return {}

    def example_series(self) -> dict[str, str]:
        """``{name: description}`` of the integer per-example records of :meth:`example_values`."""
        return {}

    def metrics(self) -> dict[str, Metric]:
        return {
            "cost_train": Metric((), "", f"mean {self.cost.name} cost over the training split, at steady state"),
            "cost_test": Metric((), "", f"mean {self.cost.name} cost over the test split, at steady state"),
        }

    def evaluate(self, network: Network, transfer: np.ndarray) -> dict:
        """The metrics of ``network`` whose steady response is ``outputs = transfer @ inputs``."""
        return {
            "cost_train": _mean_cost(self.cost, self.inputs_train @ transfer.T, self.targets_train),
            "cost_test": _mean_cost(self.cost, self.inputs_test @ transfer.T, self.targets_test),
        }


def _mean_cost(cost: Cost, outputs, targets) -> float:
    return float(np.mean(cost.value(outputs, targets)))


# ---------------------------------------------------------------------- Iris
def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """The 150 Iris examples shipped with the package: features ``[150, 4]`` (cm), labels ``[150]``."""
    with files("simulator").joinpath("data/iris.csv").open() as stream:
        table = np.loadtxt(stream, delimiter=",", comments="#", skiprows=4)
    return table[:, :4], table[:, 4].astype(np.int64)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 handwritten digits shipped with the package (UCI's test set, as bundled with
    scikit-learn): pixel counts ``[1797, 64]`` (0..16, 8x8 images row by row), digits ``[1797]``."""
    import gzip

    with files("simulator").joinpath("data/digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt") as stream:
        table = np.loadtxt(stream, delimiter=",", comments="#", skiprows=5, dtype=np.int64)
    return table[:, :64], table[:, 64]


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
    rng = _stream(seed, 1)
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
    """How a network does on a classification split, at steady state.

    accuracy_train : training set, against the desired outputs
    accuracy_test : test set; moving targets: against the *test* class means' outputs (the
        paper's protocol), fixed targets: against the desired outputs
    accuracy_test_strict : test set, against the training class means' outputs (fixed: the
        desired outputs)
    transfer : [p, q] the input-to-output response;  response_norm : its Frobenius norm
    desired_output : [k, p] the next epoch's targets, one per class
    cost_train, cost_test : mean cost of each split against its classes' desired outputs
        (moving targets: the test split against its own class means' outputs)
    """

    accuracy_train: float
    accuracy_test: float
    accuracy_test_strict: float
    transfer: np.ndarray
    response_norm: float
    desired_output: np.ndarray
    cost_train: float = np.nan
    cost_test: float = np.nan


def iris_metrics(task: IrisTask, response: np.ndarray, cost: Cost = COSTS["squared"], *, fixed_targets=None,
                 target_gain: float = 1.0) -> IrisMetrics:  # fmt: skip
    """:class:`IrisMetrics` of a network whose transfer matrix is ``response`` (the costs measured
    by ``cost``). Any labelled split of ``k`` classes will do (``y`` in ``0..k-1``).

    ``fixed_targets [k, p]``: desired outputs that do not move (else the class means' outputs);
    ``target_gain``: moving targets are the class means' outputs times this (1: the paper's)."""
    n_classes = int(max(task.y_train.max(), task.y_test.max())) + 1
    train_outputs, test_outputs = task.x_train @ response.T, task.x_test @ response.T
    if fixed_targets is None:
        reference = class_means(task.x_train, task.y_train, n_classes) @ response.T
        test_reference = class_means(task.x_test, task.y_test, n_classes) @ response.T
        desired, test_desired = target_gain * reference, target_gain * test_reference
    else:
        reference = test_reference = desired = test_desired = np.asarray(fixed_targets, dtype=np.float64)

    def accuracy(outputs, labels, targets):
        return float(np.mean(classify(outputs, targets) == labels))

    return IrisMetrics(
        accuracy_train=accuracy(train_outputs, task.y_train, reference),
        accuracy_test=accuracy(test_outputs, task.y_test, test_reference),
        accuracy_test_strict=accuracy(test_outputs, task.y_test, reference),
        transfer=response,
        response_norm=float(np.linalg.norm(response)),
        desired_output=desired,
        cost_train=_mean_cost(cost, train_outputs, desired[task.y_train]),
        cost_test=_mean_cost(cost, test_outputs, test_desired[task.y_test]),
    )


def evaluate_iris(network: Network, task: IrisTask, *, solver: LaplacianSolver | None = None) -> IrisMetrics:
    """Accuracies, response and desired outputs of ``network`` on ``task`` (one factorisation)."""
    return iris_metrics(task, transfer_matrix(network, solver))


#: How a classification task sets its desired outputs (``targets``), one per class:
TARGET_PROTOCOLS = {
    "moving": "the current network's outputs for each class's mean training input, recomputed every epoch (the "
              "paper's)",
    "rescaled": "moving, times the starting network's response norm over the current one: the targets keep the "
                "starting spread",
    "fixed": "the starting network's outputs for the class means, kept",
    "onehot": "target_scale x the starting outputs' standard deviation x (e_c - 1/k), kept: one output per class",
}  # fmt: skip


def onehot_targets(outputs: np.ndarray, n_classes: int, target_scale: float) -> np.ndarray:
    """``[k, k]``: ``target_scale * std(outputs) * (e_c - 1/k)``, the one-hot code centred and
    scaled to the spread of ``outputs [N, k]`` (the starting network's, on the training split)."""
    return target_scale * float(np.std(outputs)) * (np.eye(n_classes) - 1.0 / n_classes)


class Classification(Task):
    """A labelled split classified by the nearest desired output, one desired output per class
    set by ``targets`` (:data:`TARGET_PROTOCOLS`). Subclasses build ``split`` (an
    :class:`IrisTask`: inputs and labels ``0..k-1``) and name the classes.

    Every protocol is a choice of the targets the outputs are pulled to; each pipe still
    updates from its own two drops.
    """

    headline = "accuracy_test"
    n_classes: ClassVar[int] = 3
    class_names: ClassVar[str] = ""
    protocol_options = {
        "targets": Option(str, "moving", choices=tuple(TARGET_PROTOCOLS), doc="how the desired outputs are set: "
                          + "; ".join(f"{k}: {v}" for k, v in TARGET_PROTOCOLS.items())),
        "target_scale": Option(float, 1.0, positive=True, doc="onehot: the code's size in starting-output spreads"),
    }  # fmt: skip

    def __init__(self, split: IrisTask, protocol: str = "moving", start_transfer=None, target_scale: float = 1.0):
        super().__init__(split.x_train, None, split.x_test, None)
        if protocol not in TARGET_PROTOCOLS:
            raise ValueError(f"targets must be one of {sorted(TARGET_PROTOCOLS)}, got {protocol!r}")
        if protocol != "moving" and start_transfer is None:
            raise ValueError(f"targets {protocol!r} need the starting network's transfer matrix")
        self.split, self.protocol = split, protocol
        self.fixed_targets, self.start_norm = None, None
        if protocol == "fixed":
            self.fixed_targets = class_means(split.x_train, split.y_train, self.n_classes) @ start_transfer.T
        elif protocol == "onehot":
            self.fixed_targets = onehot_targets(split.x_train @ start_transfer.T, self.n_classes, target_scale)
        elif protocol == "rescaled":
            self.start_norm = float(np.linalg.norm(start_transfer))

    @classmethod
    def from_split(cls, split: IrisTask, options: dict, network: Network, boundary: dict) -> "Classification":
        protocol = options.get("targets", cls.options["targets"].default)
        start = None
        if protocol != "moving":  # the targets are read from the starting network: it must fit first
            cls(split).check_fits(network)
            start = transfer_matrix(network, **boundary)
        return cls(split, protocol, start, options.get("target_scale", cls.options["target_scale"].default))

    def shape(self):
        return self.split.x_train.shape[1], self.n_classes

    def examples(self, order, evaluation):
        return self.split.x_train[order], evaluation["desired_output"][self.split.y_train[order]]

    def example_values(self, order):
        return {"label": self.split.y_train[order]}

    def example_series(self):
        return {"label": f"class: {self.class_names}"}

    def metrics(self):
        q, k = self.shape()
        test = "test class means as targets (paper)" if self.protocol in ("moving", "rescaled") else "fixed targets"
        return {
            "accuracy_train": Metric((), "", "training set, against the desired outputs"),
            "accuracy_test": Metric((), "", f"test set, {test}"),
            "accuracy_test_strict": Metric((), "", "test set, training class means (or fixed targets) as targets"),
            "response_norm": Metric((), "", "Frobenius norm of the transfer matrix"),
            "transfer": Metric((k, q), "", "steady output drops per unit input current"),
            "desired_output": Metric((k, k), "pressure", f"the next epoch's targets ({self.protocol})"),
            **super().metrics(),
        }

    def evaluate(self, network, transfer):
        gain = 1.0
        if self.protocol == "rescaled":
            gain = self.start_norm / max(float(np.linalg.norm(transfer)), np.finfo(float).tiny)
        metrics = iris_metrics(self.split, transfer, self.cost, fixed_targets=self.fixed_targets, target_gain=gain)
        return {key: getattr(metrics, key) for key in self.metrics()}


class IrisClassification(Classification):
    """The paper's Iris protocol: a seeded 25-per-class split, features normalised to
    ``[0, scale]`` by the training range, and *moving* targets: each epoch's desired outputs
    are the current network's responses to the class means. Accuracy as in the paper (test
    class means), beside a stricter variant (training class means). ``targets`` chooses
    another protocol (:data:`TARGET_PROTOCOLS`; ours, against the collapse of the response)."""

    name = "iris"
    class_names = "0 setosa, 1 versicolor, 2 virginica"
    options = {
        "per_class_train": Option(int, 25, low=1, doc="training examples per class (the rest test)"),
        "scale": Option(float, 5.0, positive=True, doc="input currents span [0, scale]"),
        **Classification.protocol_options,
    }

    @classmethod
    def from_config(cls, options, *, network, seed, boundary):
        split = iris_task(seed, per_class_train=options["per_class_train"], scale=options["scale"])
        return cls.from_split(split, options, network, boundary)

    @classmethod
    def terminals(cls, options):
        return 4, 3


def digits_task(seed: int = 0, *, n_train: int = 1000, scale: float = 1.0, centre: bool = True) -> IrisTask:
    """A seeded split of the 1,797 digits: ``n_train`` for training, the rest for test. Inputs
    are the 64 pixels over 16 (so in ``[0, 1]``), minus the training mean when ``centre`` (then
    an input current flows either way), times ``scale``."""
    pixels, labels = load_digits()
    if not 10 <= n_train < len(labels):
        raise ValueError(f"n_train must be in 10..{len(labels) - 1}, got {n_train}")
    train, test = seeded_split(len(labels), 1.0 - n_train / len(labels), seed)
    inputs = pixels / 16.0
    if centre:
        inputs = inputs - inputs[train].mean(axis=0)
    inputs = scale * inputs
    return IrisTask(inputs[train], labels[train], inputs[test], labels[test])


def linear_ceilings(split: IrisTask) -> dict[str, float]:
    """Test accuracy of two classifiers on the same features as the network (no network):
    ``nearest_centroid`` (the nearest training class mean) and ``least_squares`` (an
    unconstrained linear map with a bias, fitted to one-hot codes; the largest output wins).
    The network's own response is linear without a bias, so the second bounds what it can do."""
    n_classes = int(split.y_train.max()) + 1
    means = class_means(split.x_train, split.y_train, n_classes)
    centroid = float(np.mean(classify(split.x_test, means) == split.y_test))
    design = np.hstack([split.x_train, np.ones((len(split.x_train), 1))])
    weights = np.linalg.lstsq(design, np.eye(n_classes)[split.y_train], rcond=None)[0]
    scores = np.hstack([split.x_test, np.ones((len(split.x_test), 1))]) @ weights
    return {"nearest_centroid": centroid, "least_squares": float(np.mean(np.argmax(scores, axis=1) == split.y_test))}


class DigitsClassification(Classification):
    """Handwritten digits, 10 classes (our task; the paper stops at Iris): 64 input pairs (the
    8x8 pixels), 10 output pairs, classified by the nearest desired output. Our defaults: the
    pixels centred (``centre``), one-hot targets (``targets = "onehot"``): the paper's moving
    targets collapse the response here (README, "Digits")."""

    name = "digits"
    n_classes = 10
    class_names = "the digit 0..9"
    options = {
        "n_train": Option(int, 1000, low=10, doc="training examples (a seeded draw; the rest of the 1,797 test)"),
        "scale": Option(float, 1.0, positive=True, doc="input currents: pixel / 16 (centred) times scale"),
        "centre": Option(bool, True, doc="subtract the training mean from each pixel's current"),
        **Classification.protocol_options,
    }
    options["targets"] = Option(str, "onehot", choices=tuple(TARGET_PROTOCOLS), doc=options["targets"].doc)

    @classmethod
    def from_config(cls, options, *, network, seed, boundary):
        split = digits_task(seed, n_train=options["n_train"], scale=options["scale"], centre=options["centre"])
        return cls.from_split(split, options, network, boundary)

    @classmethod
    def terminals(cls, options):
        return 64, 10


# ---------------------------------------------------------------------- data of any source
def seeded_split(count: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` index arrays: a seeded permutation, ``round(test_fraction * count)``
    examples (at least one each way) held out for testing."""
    if count < 2:
        raise ValueError(f"a seeded split needs at least 2 examples, got {count}")
    n_test = min(count - 1, max(1, round(test_fraction * count)))
    order = _stream(seed, 1).permutation(count)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


class _Dataset(Task):
    """Fixed inputs and targets, split by the seed unless the user gives the test set."""

    @classmethod
    def split(cls, inputs, targets, test_inputs, test_targets, test_fraction, seed) -> "_Dataset":
        if test_inputs is None:
            train, test = seeded_split(len(inputs), test_fraction, seed)
            return cls(inputs[train], targets[train], inputs[test], targets[test])
        return cls(inputs, targets, test_inputs, test_targets)


def teacher_student_data(
    network: Network, count: int, seed: int, *, input_scale: float = 5.0, spread: float = 0.5, boundary=None
) -> tuple[np.ndarray, np.ndarray, Network]:
    """``(inputs [count, q], targets [count, p], teacher)``: a teacher network on the same pipes
    and terminals, its conductances the student's times ``exp(spread * N(0, 1))``; inputs
    uniform in ``[0, input_scale]``; targets the teacher's steady outputs (with the inputs
    entering and the outputs read as ``boundary`` says: ``inputs_as``, ``outputs_as``).
    Reachable by construction: the student reaches zero cost at the teacher's conductances."""
    teacher_rng, input_rng = _stream(seed, 3), _stream(seed, 4)
    teacher = network.with_conductance(network.conductance * np.exp(spread * teacher_rng.normal(size=network.n_edges)))
    inputs = input_rng.uniform(0.0, input_scale, (count, network.n_inputs))
    return inputs, inputs @ transfer_matrix(teacher, **(boundary or {})).T, teacher


class TeacherStudent(_Dataset):
    """Regression onto a teacher network's outputs (see :func:`teacher_student_data`)."""

    name = "regression"
    options = {
        "n_train": Option(int, 100, low=1, doc="training examples"),
        "n_test": Option(int, 50, low=1, doc="test examples"),
        "input_scale": Option(float, 5.0, positive=True, doc="inputs uniform in [0, input_scale]"),
        "spread": Option(float, 0.5, positive=True, doc="teacher conductances: the student's times exp(spread N(0,1))"),
    }

    @classmethod
    def from_config(cls, options, *, network, seed, boundary):
        count = options["n_train"] + options["n_test"]
        inputs, targets, _ = teacher_student_data(
            network, count, seed, input_scale=options["input_scale"], spread=options["spread"], boundary=boundary
        )
        n = options["n_train"]
        return cls(inputs[:n], targets[:n], inputs[n:], targets[n:])


class Tuning(Task):
    """Appendix A's tuning: one input, each output asked to move to ``factors`` times its value
    in the starting network. Training and test are the one example."""

    name = "tuning"
    options = {
        "input": Option(float, 5.0, doc="the input current (or pressure) of the single input pair"),
        "factors": Option(list, [0.5, 1.5], doc="targets as multiples of the starting outputs, one per output"),
    }

    @classmethod
    def from_config(cls, options, *, network, seed, boundary):
        if network.n_inputs != 1:
            raise ValueError(f"task 'tuning' drives one input pair; the network has {network.n_inputs}")
        factors = np.asarray(options["factors"], dtype=np.float64)
        if factors.shape != (network.n_outputs,):
            raise ValueError(f"task.factors needs one factor per output pair ({network.n_outputs}), got {factors.size}")
        inputs = np.array([[options["input"]]])
        if boundary["inputs_as"] == "pressures":
            node_outputs = boundary["outputs_as"] == "nodes"
            start = PressureBoundary(network, network.conductance, inputs[0]).outputs(network, node_outputs)
        else:
            start = network.outputs(steady_state(network, inputs[0]))
        targets = start[None] * factors
        return cls(inputs, targets, inputs, targets)

    @classmethod
    def terminals(cls, options):
        return 1, len(options["factors"])


def _read_csv(path: Path, columns: list[str]) -> np.ndarray:
    """The named columns of a CSV file with a header row, as floats; errors name the column
    and the line, not what the file holds there (a config may name any file)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(row for row in handle if row.strip() and not row.startswith("#")))
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    if not rows:
        raise ValueError(f"{path} is empty (a header row of column names is needed)")
    header = [name.strip() for name in rows[0]]
    missing = [name for name in columns if name not in header]
    if missing:  # its own columns are listed only if it is the table meant (it has one of those asked for)
        known = f"its columns: {header}" if len(missing) < len(columns) else (
            f"its first line has {len(header)} field(s) and none of them is a column asked for")  # fmt: skip
        raise ValueError(f"{path} has no column(s) {missing}; {known}")
    index = [header.index(name) for name in columns]
    values = np.empty((len(rows) - 1, len(columns)))
    for r, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {r + 2}: {len(row)} field(s), the header has {len(header)}")
        for j, i in enumerate(index):
            try:
                values[r, j] = float(row[i])
            except ValueError:
                raise ValueError(f"{path}, line {r + 2}, column {columns[j]!r}: not a number") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{path}: columns {columns} hold non-finite values")
    return values


class CsvTask(_Dataset):
    """A user's data from a CSV file with a header row: ``inputs`` and ``targets`` name the
    columns. The test split is ``test_file`` (same columns) if given, else a seeded
    ``test_fraction`` of the rows."""

    name = "csv"
    options = {
        "file": Option(str, doc="the CSV file (relative to the config file)"),
        "inputs": Option(list, doc="input column names, one per input pair"),
        "targets": Option(list, doc="target column names, one per output pair"),
        "test_fraction": Option(float, 0.25, positive=True, below=1.0, doc="held out when there is no test_file"),
        "test_file": Option(str, "", doc="a CSV file of test examples (same columns)"),
    }

    @classmethod
    def from_config(cls, options, *, network, seed, boundary):
        columns = [str(name) for name in options["inputs"] + options["targets"]]
        q = len(options["inputs"])
        data = _read_csv(Path(options["file"]), columns)
        test = _read_csv(Path(options["test_file"]), columns) if options["test_file"] else None
        return cls.split(data[:, :q], data[:, q:], *((test[:, :q], test[:, q:]) if test is not None else (None, None)),
                         options["test_fraction"], seed)  # fmt: skip

    @classmethod
    def terminals(cls, options):
        return len(options["inputs"]), len(options["targets"])


class NpzTask(_Dataset):
    """A user's data from a NumPy ``.npz`` file with arrays ``inputs [N, q]`` and ``targets
    [N, p]`` (``[N]`` for one output); ``test_inputs`` and ``test_targets`` give the test split,
    else a seeded ``test_fraction`` of the rows."""

    name = "npz"
    options = {
        "file": Option(str, doc="the .npz file (relative to the config file)"),
        "test_fraction": Option(float, 0.25, positive=True, below=1.0, doc="held out without test arrays"),
    }

    @classmethod
    def from_config(cls, options, *, network, seed, boundary):
        arrays = _read_npz(Path(options["file"]))
        test = (arrays["test_inputs"], arrays["test_targets"]) if "test_inputs" in arrays else (None, None)
        return cls.split(arrays["inputs"], arrays["targets"], *test, options["test_fraction"], seed)

    @classmethod
    def terminals(cls, options):
        arrays = _read_npz(Path(options["file"]))
        return arrays["inputs"].shape[1], arrays["targets"].shape[1]


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a user's ``.npz`` file, checked: both splits' inputs and targets, finite,
    [N, columns] with N > 0 and the same N for inputs and targets."""
    import zipfile

    if not path.is_file():
        raise ValueError(f"cannot read {path}: no such file")
    if not zipfile.is_zipfile(path):  # (np.load would try it as a pickle, and say so)
        raise ValueError(f"{path} is not a .npz file (a zip archive of arrays, as numpy.savez writes)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key], dtype=np.float64) for key in data.files}
    except (OSError, ValueError, TypeError, zipfile.BadZipFile) as error:
        reason = str(error).split(".")[0][:120]
        raise ValueError(f"cannot read {path} as .npz of numeric arrays ({reason})") from None
    missing = [key for key in ("inputs", "targets") if key not in arrays]
    if missing or (("test_inputs" in arrays) != ("test_targets" in arrays)):
        raise ValueError(f"{path} needs arrays 'inputs' and 'targets' (and both or neither of 'test_inputs', "
                         f"'test_targets'); it has {sorted(arrays)}")  # fmt: skip
    for key, value in arrays.items():
        if value.ndim == 0 or not len(value) or not value.size:
            raise ValueError(f"{path}: array {key!r} holds no examples (shape {value.shape})")
    for key in [k for k in arrays if k.endswith("targets")]:
        arrays[key] = arrays[key].reshape(len(arrays[key]), -1)
    for key, value in arrays.items():
        if value.ndim != 2 or not np.all(np.isfinite(value)):
            raise ValueError(f"{path}: array {key!r} must be finite and [N, columns], got shape {value.shape}")
    for prefix in ("", "test_"):
        inputs, targets = arrays.get(prefix + "inputs"), arrays.get(prefix + "targets")
        if inputs is not None and len(inputs) != len(targets):
            raise ValueError(f"{path}: {prefix}inputs has {len(inputs)} rows and {prefix}targets {len(targets)}; "
                             "give one target row per input row")  # fmt: skip
    if "test_inputs" in arrays:
        for kind in ("inputs", "targets"):
            if arrays[f"test_{kind}"].shape[1] != arrays[kind].shape[1]:
                raise ValueError(f"{path}: test_{kind} has {arrays[f'test_{kind}'].shape[1]} columns and {kind} "
                                 f"{arrays[kind].shape[1]}")  # fmt: skip
    return arrays


#: The tasks by the names a run config uses. Add one: ``TASKS["mine"] = MyTask``.
TASKS: dict[str, type[Task]] = {
    "iris": IrisClassification,
    "digits": DigitsClassification,
    "regression": TeacherStudent,
    "tuning": Tuning,
    "csv": CsvTask,
    "npz": NpzTask,
}


def headline(task_name: str) -> tuple[str, str]:
    """``(metric, label)``: the headline metric of a task by name, and how to say it
    (``cost_test`` for a task this version does not know)."""
    task = TASKS.get(task_name)
    metric = task.headline if task is not None else "cost_test"
    return metric, {"accuracy_test": "test accuracy", "cost_test": "test cost"}.get(metric, metric.replace("_", " "))
