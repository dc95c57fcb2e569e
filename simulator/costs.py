"""Costs of the outputs: one class each, selected by name from :data:`COSTS`.

A cost ``C(y, y_d)`` of the outputs ``y [p]`` (the output drops) and the targets ``y_d [p]``
gives its value and its gradient ``dC/dy``. The feedback currents at the output pairs are
``E = -eta dC/dy`` (in at ``o+``, out at ``o-``), which for the squared error is the paper's
``eta (y_d - y)``.

The compiled paths (the banded quasistatic loop and the time-stepped kernels) inject the
squared error's feedback themselves; a new cost runs on the direct quasistatic solvers.
"""

from __future__ import annotations

import numpy as np

from .base import registered

__all__ = ["Cost", "SquaredError", "COSTS", "checked_cost"]


class Cost:
    """A differentiable cost of the outputs. Subclasses set ``name`` and define both methods
    on stacked arrays ``[..., p]``."""

    name = ""

    def value(self, outputs, targets) -> np.ndarray:
        """``C [...]`` of each row of ``outputs`` against ``targets``."""
        raise NotImplementedError

    def gradient(self, outputs, targets) -> np.ndarray:
        """``dC/dy [..., p]``."""
        raise NotImplementedError


class SquaredError(Cost):
    """``C = 1/2 sum_i (y_i - y_d,i)^2`` (the paper's); ``dC/dy = y - y_d``."""

    name = "squared_error"

    def value(self, outputs, targets) -> np.ndarray:
        return 0.5 * ((np.asarray(outputs) - targets) ** 2).sum(axis=-1)

    def gradient(self, outputs, targets) -> np.ndarray:
        return np.asarray(outputs) - targets


COSTS: dict[str, Cost] = {"squared_error": SquaredError()}


def checked_cost(cost) -> Cost:
    """A :class:`Cost`, given itself or its name in :data:`COSTS`."""
    return registered("cost", cost, COSTS, Cost)
