"""Costs of the outputs: one class each, by name in :data:`COSTS`.

A cost ``C(y, y_d)`` of the outputs ``y [p]`` (the output drops) and the targets ``y_d [p]``
gives its value and its gradient ``dC/dy``; the feedback currents at the output pairs are
``E = -eta dC/dy`` (in at ``o+``, out at ``o-``), the paper's ``eta (y_d - y)`` for the
squared error.

Today every recorded cost (the engine's per presentation, the tasks' per split) is the
squared error's value, computed here and nowhere else, and the feedback is its gradient:
written into ``quasistatic.output_error_currents`` and the compiled kernels. The paper allows
any differentiable cost; taking one through ``train`` needs the rules and kernels to take
its feedback, which they do not yet.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Cost", "SquaredError", "COSTS"]


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
