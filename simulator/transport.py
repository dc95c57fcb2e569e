"""The feedback chemical carried by the flow as well as diffusing (it drifts): the advection-diffusion continuum.

::

    c_u du/dt = E - kappa L(w) u - a (A(q) + D) u

* ``kappa L(w) u``: diffusion through the pipes (diffusivity ``kappa w``), the paper's chemical;
* ``A(q) u``: upwind transport by the pipe flows ``q_e = w_e (v_a - v_b)``: each pipe carries
  ``|q_e|`` times the concentration at its upstream end to its downstream end;
* ``D u``: what leaves with the fluid at the drains, ``D = diag(max(-I, 0))`` for the node
  currents ``I`` (the input pairs' minus terminals);
* ``a`` (``Physics.drift``, our parameter, not the paper's): the chemical drifts with the
  flow, a share ``a`` of each pipe's flow carrying it. ``a = 0`` is the paper's assumption,
  that the chemical diffuses fast compared with the flow, and computes exactly what the
  diffusion mode computes.

The Péclet number of a pipe is ``a |v_a - v_b| / kappa`` (advective over diffusive flux per
unit concentration difference; ``scenarios/peclet.py`` calls the median over the pipes and
the training examples the network's). Large Péclet
numbers approach Appendix A's transport (:mod:`simulator.advection`). Mass is conserved:
every column of ``kappa L + a A`` sums to zero, so ``d/dt sum(c_u u) = sum(E) - a sum(D u)``;
the chemical leaves only with the fluid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import deprecated
from .network import Network
from .quasistatic import LaplacianSolver, solver_of

if TYPE_CHECKING:  # scipy is imported where it is used: start-up stays short
    import scipy.sparse

__all__ = ["external_outflow", "node_currents_of", "transport_matrix", "steady_chemical", "peclet_numbers"]


def external_outflow(currents) -> np.ndarray:
    """``[n]`` the current leaving the network at each node (the drains), ``max(-I, 0)``, with
    round-off (below ``1e-12`` of the largest outflow) taken as none."""
    outflow = np.maximum(-np.asarray(currents, dtype=np.float64), 0.0)
    outflow[outflow < 1e-12 * outflow.max(initial=0.0)] = 0.0
    return outflow


def node_currents_of(network: Network, v) -> np.ndarray:
    """``L(w) v``: the node currents that hold the pressures ``v`` (the inputs, read back)."""
    return network.laplacian() @ np.asarray(v, dtype=np.float64)


def transport_matrix(network: Network, v, currents, kappa: float, drift: float) -> scipy.sparse.csc_matrix:
    """``kappa L(w) + drift (A(q) + D)`` ``[n, n]`` at pressures ``v`` and node currents
    ``currents`` (upwind; column sums ``drift * outflow``)."""
    edges, w = network.topology.edges, network.conductance
    flow = w * network.drops(v)
    downhill = flow > 0.0
    source = np.where(downhill, edges[:, 0], edges[:, 1])
    target = np.where(downhill, edges[:, 1], edges[:, 0])
    carried = drift * np.abs(flow)
    n = network.n_nodes
    rows = np.concatenate([source, target, np.arange(n)])
    columns = np.concatenate([source, source, np.arange(n)])
    values = np.concatenate([carried, -carried, drift * external_outflow(currents)])
    import scipy.sparse

    transport = scipy.sparse.coo_matrix((values, (rows, columns)), shape=(n, n))
    return (kappa * network.laplacian() + transport).tocsc()


def steady_chemical(network: Network, v, feedback, *, kappa: float = 1.0, drift: float = 0.0, currents=None,
                    solver: LaplacianSolver | None = None, advection: float | None = None) -> np.ndarray:  # fmt: skip
    """The steady chemical ``u [n]`` under the feedback currents ``feedback [n]`` at pressures
    ``v``: ``(kappa L + a (A + D)) u = E`` with ``a = drift``. With ``drift = 0`` it is ``L^+ E /
    kappa`` from ``solver`` (the diffusion mode's own arithmetic, bit for bit); otherwise one
    sparse LU of the non-symmetric matrix (``currents``: the node currents, read back from ``v``
    if not given). ``advection``: the old name of ``drift``."""
    drift = renamed_drift(drift, advection, "steady_chemical")
    if not drift:
        return (solver or solver_of(network)).solve(feedback) / kappa
    currents = node_currents_of(network, v) if currents is None else currents
    if not external_outflow(currents).any():
        raise ValueError("a drifting chemical needs a drain (a node where current leaves); with no input current "
                         "nothing carries it out: set drift=0")  # fmt: skip
    matrix = transport_matrix(network, v, currents, kappa, drift)
    import scipy.sparse.linalg

    return scipy.sparse.linalg.splu(matrix).solve(np.asarray(feedback, dtype=np.float64))


def peclet_numbers(network: Network, v, *, kappa: float, drift: float | None = None,
                   advection: float | None = None) -> np.ndarray:  # fmt: skip
    """``[m]`` each pipe's Péclet number ``drift |v_a - v_b| / kappa`` at pressures ``v``
    (``advection``: the old name of ``drift``)."""
    drift = renamed_drift(drift, advection, "peclet_numbers")
    if drift is None:
        raise TypeError("peclet_numbers() missing required keyword argument: 'drift'")
    return drift * np.abs(network.drops(v)) / kappa


def renamed_drift(drift, advection, function: str):
    """``drift``, or the value given by its old name ``advection`` (with one notice)."""
    if advection is None:
        return drift
    deprecated(f"{function}(advection=...)", f"{function}(drift=...)", stacklevel=4)
    return advection
