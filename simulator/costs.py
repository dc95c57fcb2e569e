"""Costs of the outputs: one class each, by name in :data:`COSTS`.

A cost ``C(y, y_d)`` of the outputs ``y [p]`` (the output drops) and the targets ``y_d [p]``
gives its value and its gradient ``dC/dy``. The feedback currents at the output pairs are
``E = -eta dC/dy`` (in at ``o+``, out at ``o-``): the paper's ``eta (y_d - y)`` for the
squared error, and any differentiable cost in general (paper, after Eq. 17). The chemical
rule then steps along ``-(alpha eta / kappa) dC/dw`` for that cost, exactly.

Shipped (the names a config uses):

* ``"squared"``: ``C = 1/2 sum_i e_i^2``, ``e = y - y_d`` (the paper's; the default);
* ``"huber"``: ``e_i^2 / 2`` where ``|e_i| <= delta``, else ``delta (|e_i| - delta / 2)``
  (``delta = 1`` unless given: ``Huber(threshold=...)``, or ``rule.huber_threshold``);
* ``"softmax_cross_entropy"``: ``-sum_i y_d,i log softmax(y)_i``, the targets being class
  probabilities; ``dC/dy = softmax(y) sum(y_d) - y_d``.

A cost is also any Python callable ``f(outputs [p], targets [p]) -> float``, its gradient
taken by central differences (:class:`FunctionCost`); or a :class:`Cost` of your own with an
exact ``gradient``. The compiled kernels (the fused time-stepped dynamics, the banded
quasistatic loop) compute the three shipped costs themselves (:func:`kernel_code`); any
other cost runs wherever the feedback is computed in Python: the quasistatic dynamics, the
two-phase rules and the advection mode.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

__all__ = ["Cost", "SquaredError", "Huber", "SoftmaxCrossEntropy", "FunctionCost", "COSTS", "checked_cost",
           "kernel_code", "is_squared", "negative_gradient"]  # fmt: skip


class Cost:
    """A differentiable cost of the outputs. Subclasses set ``name`` and define both methods
    on stacked arrays ``[..., p]``.

    ``parameter``: the one number a shipped cost takes (the Huber threshold), passed to the
    kernels; ``probability_targets``: the targets must be class probabilities (>= 0).
    """

    name: ClassVar[str] = ""
    parameter: float = 0.0
    probability_targets: ClassVar[bool] = False

    def value(self, outputs, targets) -> np.ndarray:
        """``C [...]`` of each row of ``outputs`` against ``targets``."""
        raise NotImplementedError

    def gradient(self, outputs, targets) -> np.ndarray:
        """``dC/dy [..., p]``."""
        raise NotImplementedError

    def check_targets(self, targets) -> None:
        """A ``ValueError`` for targets this cost cannot take."""
        if self.probability_targets and np.any(np.asarray(targets) < 0):
            raise ValueError(f"the {self.name} cost needs targets that are class probabilities (>= 0), got "
                             f"{float(np.min(targets)):.4g}")  # fmt: skip

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SquaredError(Cost):
    """``C = 1/2 sum_i (y_i - y_d,i)^2`` (the paper's); ``dC/dy = y - y_d``."""

    name = "squared"

    def value(self, outputs, targets) -> np.ndarray:
        return 0.5 * ((np.asarray(outputs) - targets) ** 2).sum(axis=-1)

    def gradient(self, outputs, targets) -> np.ndarray:
        return np.asarray(outputs) - targets


class Huber(Cost):
    """Quadratic within ``threshold`` of the target, linear beyond it: ``e^2 / 2`` for
    ``|e| <= threshold``, else ``threshold (|e| - threshold / 2)``, with ``e = y - y_d``;
    ``dC/dy = clip(e, -threshold, threshold)``. Large errors pull no harder than ``threshold``."""

    name = "huber"

    def __init__(self, threshold: float = 1.0):
        threshold = float(threshold)
        if not (np.isfinite(threshold) and threshold > 0):
            raise ValueError(f"the Huber threshold must be finite and > 0, got {threshold}")
        self.parameter = threshold

    def value(self, outputs, targets) -> np.ndarray:
        size = np.abs(np.asarray(outputs) - targets)
        delta = self.parameter
        return np.where(size <= delta, 0.5 * size**2, delta * (size - 0.5 * delta)).sum(axis=-1)

    def gradient(self, outputs, targets) -> np.ndarray:
        return np.clip(np.asarray(outputs) - targets, -self.parameter, self.parameter)

    def __repr__(self) -> str:
        return f"Huber(threshold={self.parameter:g})"


def _softmax(outputs) -> np.ndarray:
    shifted = np.exp(outputs - np.max(outputs, axis=-1, keepdims=True))  # no overflow
    return shifted / shifted.sum(axis=-1, keepdims=True)


class SoftmaxCrossEntropy(Cost):
    """``C = -sum_i y_d,i log softmax(y)_i``: the outputs read as logits, the targets as class
    probabilities (one-hot for a label); ``dC/dy = softmax(y) sum(y_d) - y_d``."""

    name = "softmax_cross_entropy"
    probability_targets = True

    def value(self, outputs, targets) -> np.ndarray:
        outputs = np.asarray(outputs, dtype=np.float64)
        top = np.max(outputs, axis=-1, keepdims=True)
        log_softmax = outputs - top - np.log(np.exp(outputs - top).sum(axis=-1, keepdims=True))
        return -(np.asarray(targets) * log_softmax).sum(axis=-1)

    def gradient(self, outputs, targets) -> np.ndarray:
        targets = np.asarray(targets, dtype=np.float64)
        return _softmax(np.asarray(outputs, dtype=np.float64)) * targets.sum(axis=-1, keepdims=True) - targets


class FunctionCost(Cost):
    """A cost from a plain function ``f(outputs [p], targets [p]) -> float``; its gradient by
    central differences (step ``1e-6`` times ``max(1, |y_i|)``: relative error about 1e-10
    for a smooth ``f``). Runs wherever the feedback is computed in Python (the kernels cannot
    call it): the quasistatic dynamics, the two-phase rules and the advection mode."""

    def __init__(self, function):
        if not callable(function):
            raise TypeError(f"a cost function must be callable, got {function!r}")
        self.function = function
        self.name = getattr(function, "__name__", type(function).__name__)

    def _rows(self, outputs, targets):
        outputs = np.asarray(outputs, dtype=np.float64)
        targets = np.broadcast_to(np.asarray(targets, dtype=np.float64), outputs.shape)
        return outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1, outputs.shape[-1]), outputs.shape

    def value(self, outputs, targets) -> np.ndarray:
        rows, goals, shape = self._rows(outputs, targets)
        values = np.array([float(self.function(y, t)) for y, t in zip(rows, goals)])
        return values.reshape(shape[:-1])

    def gradient(self, outputs, targets) -> np.ndarray:
        rows, goals, shape = self._rows(outputs, targets)
        gradient = np.empty_like(rows)
        for r, (y, t) in enumerate(zip(rows, goals)):
            for i in range(len(y)):
                h = 1e-6 * max(1.0, abs(y[i]))
                up, down = y.copy(), y.copy()
                up[i] += h
                down[i] -= h
                gradient[r, i] = (float(self.function(up, t)) - float(self.function(down, t))) / (2 * h)
        return gradient.reshape(shape)

    def __repr__(self) -> str:
        return f"FunctionCost({self.name})"


#: The costs by the names a config uses. Add one: ``COSTS["mine"] = MyCost()``.
COSTS: dict[str, Cost] = {
    "squared": SquaredError(),
    "huber": Huber(),
    "softmax_cross_entropy": SoftmaxCrossEntropy(),
}
_OLD_NAMES = {"squared_error": "squared"}
_COMPILED = {SquaredError: "COST_SQUARED", Huber: "COST_HUBER", SoftmaxCrossEntropy: "COST_SOFTMAX_CROSS_ENTROPY"}


def kernel_code(cost: Cost) -> int | None:
    """The code by which the compiled kernels compute ``cost`` (``kernels.negative_cost_gradient``),
    or None. Only the shipped classes themselves have one: a subclass may change either method."""
    name = _COMPILED.get(type(cost))
    if name is None:
        return None
    from . import kernels  # loaded at first use: start-up stays short

    return getattr(kernels, name)


def is_squared(cost: Cost) -> bool:
    """The paper's squared error (whose paths are kept bit for bit as they were)."""
    return type(cost) is SquaredError


def negative_gradient(cost: Cost, outputs, targets) -> np.ndarray:
    """``-dC/dy [..., p]``: ``targets - outputs`` for the squared error."""
    targets = np.asarray(targets, dtype=np.float64)
    return targets - outputs if is_squared(cost) else -cost.gradient(outputs, targets)


def checked_cost(cost) -> Cost:
    """The :class:`Cost` that ``cost`` names (or ``cost`` itself; a plain callable becomes a
    :class:`FunctionCost`), else a ``ValueError`` (an unknown name) or ``TypeError``."""
    if isinstance(cost, Cost):
        return cost
    if isinstance(cost, str):
        found = COSTS.get(_OLD_NAMES.get(cost, cost))
        if found is None:
            raise ValueError(f"unknown cost {cost!r}; known: {', '.join(sorted(COSTS))}, or a callable "
                             "f(outputs, targets) -> float")  # fmt: skip
        return found
    if isinstance(cost, type) and issubclass(cost, Cost):
        raise TypeError(f"cost must be an instance, not the class {cost.__name__}: give {cost.__name__}()")
    if callable(cost):
        return FunctionCost(cost)
    raise TypeError(f"cost must be a name ({', '.join(sorted(COSTS))}), a Cost or a callable, got {cost!r}")
