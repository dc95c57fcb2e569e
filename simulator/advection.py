"""Appendix A: learning by two chemicals carried by the flow (the advection mode).

Each transport step (pressures at steady state for the current conductances, or relaxing):

1. every ``release_every`` steps, starting at the first, each output is compared with its
   target and ``lam * |error|`` of chemical is released: for a pair output whose drop is too
   high, ``s+`` at ``o+`` and ``s-`` at ``o-`` (the reverse when it is too low); for a node
   output (``outputs_as="nodes"``), one chemical at ``o+``;
2. all ``s+`` and ``s-`` move one hop downstream, split in proportion to the currents
   leaving each node; the share leaving with the external outflow (the drains) is drained
   and counted (:func:`simulator.kernels.advect`);
3. each pipe remodels from what crossed it: ``W <- max(W + xi (S+ - S-), w_min)``.

The paper's release delay ``tau`` is ``release_every`` here (in transport steps). The mode
lowers the cost but is not gradient descent: at every release the run records the cosine
between the conductance change since the previous release and the negative exact gradient
there (``grad_cosine``, NaN at a run's first release), the cost, and the released, drained
and in-network amounts (released = in network + drained, to round-off).

This module holds the mode's parameters (:class:`Advection`, a dynamics for
``simulator.train``), its carried state and its transport physics; the time loop is the
engine's (``simulator.engine.advection``).
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import ClassVar

import numpy as np

from .base import checked_choice, checked_int, checked_nonnegative, deprecated, lazy_module
from .network import Network
from .quasistatic import BOUNDARIES, check_boundary

kernels = lazy_module("simulator.kernels")  # compiled code, loaded at first use: start-up stays short

__all__ = ["Advection", "AdvectionState", "Releases", "Transport", "drain_reachable", "stuck_outputs"]


@dataclass(frozen=True)
class Advection:
    """The advection mode as ``simulator.train``'s dynamics.

    xi : conductance change per unit of chemical crossing a pipe (>= 0)
    lam : chemical released per unit output error (>= 0), the appendix's lambda
    release_every : the release delay (the paper's tau) in transport steps, an integer >= 1:
        outputs are checked and chemical released every this many steps
    transport_steps : transport steps per presentation (an integer >= 1)
    pressure_steps : how the pressures follow the new conductances after each transport step:
        0 (default) solves them directly (the quasistatic limit); ``k > 0`` advances them by
        ``k`` explicit relaxation steps of the pressure kernel (``c_v = 1``, dt at 0.9 of the
        stability bound), carried over between steps and presentations (current inputs only)
    inputs_as, outputs_as : see ``simulator.quasistatic.BOUNDARIES``: current pairs or fixed
        pressures with grounded drains (the appendix's setup); pair drops or node pressures
        (the appendix's form, pressure inputs only)
    diffusion : a diffusive part (our addition; 0, the default, is the appendix's pure
        transport): after each hop ``s+`` and ``s-`` diffuse for one transport step,
        ``(I + diffusion L(w)) s_new = s`` (backward Euler: stable, and the amount of each
        chemical unchanged), so a pipe of conductance ``w`` exchanges about ``diffusion w`` of
        the difference across it per step against one hop of transport: the pipe's Péclet
        number is ``1 / (diffusion w)``. What crossed a pipe (its remodelling) is the
        transported amount.
    """

    xi: float = 0.01
    lam: float = 1.0
    release_every: int = 5
    transport_steps: int = 20
    pressure_steps: int = 0
    inputs_as: str = BOUNDARIES["inputs_as"][0]  # current pairs
    outputs_as: str = BOUNDARIES["outputs_as"][0]  # pair drops
    tau: InitVar[int | None] = None  # the old name of release_every
    steps: InitVar[int | None] = None  # the old name of transport_steps
    diffusion: float = 0.0
    name: ClassVar[str] = "advection"
    substeps: ClassVar[int] = 1  # (a presentation is transport_steps transport steps, one learning step each)

    def __post_init__(self, tau, steps):
        for old, new, value in (("tau", "release_every", tau), ("steps", "transport_steps", steps)):
            if value is not None:
                deprecated(f"Advection({old}=...)", f"Advection({new}=...)", stacklevel=4)
                object.__setattr__(self, new, value)
        for key in ("xi", "lam", "diffusion"):
            object.__setattr__(self, key, checked_nonnegative(key, getattr(self, key)))
        for key, low in (("release_every", 1), ("transport_steps", 1), ("pressure_steps", 0)):
            object.__setattr__(self, key, checked_int(key, getattr(self, key), low))
        for key, choices in BOUNDARIES.items():
            checked_choice(key, getattr(self, key), choices)
        check_boundary(self.inputs_as, self.outputs_as)
        if self.pressure_steps and self.inputs_as != "currents":
            raise ValueError("relaxing pressures (pressure_steps > 0) is implemented for current inputs only")


@dataclass
class AdvectionState:
    """What the advection mode carries from one presentation (and one call) to the next.

    s_plus, s_minus : [n] chemical at the nodes;  released, drained : running totals
    step : transport steps taken;  v : [n] relaxing pressures (None when solved directly)
    last_conductance, last_gradient : [m] the conductances and ``dC/dw`` at the last release
        (None before the first), against which the next release measures ``grad_cosine``
    """

    s_plus: np.ndarray
    s_minus: np.ndarray
    released: float = 0.0
    drained: float = 0.0
    step: int = 0
    v: np.ndarray | None = None
    last_conductance: np.ndarray | None = None
    last_gradient: np.ndarray | None = None

    @classmethod
    def empty(cls, network: Network) -> "AdvectionState":
        return cls(np.zeros(network.n_nodes), np.zeros(network.n_nodes))

    @property
    def in_network(self) -> float:
        return float(self.s_plus.sum() + self.s_minus.sum())

    def release(self, network: Network, error, lam: float, node_outputs: bool) -> None:
        """Release ``lam * |error|`` at the outputs (``error = output - target``) into this state."""
        out_plus, out_minus = network.output_pairs[:, 0], network.output_pairs[:, 1]
        amount = lam * np.abs(error)
        high = error > 0
        if node_outputs:  # one chemical at the output node
            np.add.at(self.s_plus, out_plus[high], amount[high])
            np.add.at(self.s_minus, out_plus[~high], amount[~high])
            self.released += amount.sum()
        else:
            np.add.at(self.s_plus, np.where(high, out_plus, out_minus), amount)
            np.add.at(self.s_minus, np.where(high, out_minus, out_plus), amount)
            self.released += 2.0 * amount.sum()

    def transport(self, network: Network, flow, external_out, scratch: "Transport", diffusion: float = 0.0):
        """Move this state's chemical one hop downstream (drained amounts counted), then let it
        diffuse for the step (``diffusion > 0``, on ``network``'s conductances); returns
        ``S+ - S- [m]``, what the flow carried across each pipe."""
        drained_plus, drained_minus = kernels.advect(
            network.topology.edges, flow, external_out, self.s_plus, self.s_minus, scratch.next_plus,
            scratch.next_minus, scratch.crossed_plus, scratch.crossed_minus,
        )  # fmt: skip
        self._hopped(scratch, drained_plus + drained_minus)
        if diffusion:
            import scipy.sparse.linalg  # imported where used: start-up stays short

            spread = scipy.sparse.identity(network.n_nodes, format="csc") + diffusion * network.laplacian().tocsc()
            solve = scipy.sparse.linalg.factorized(spread)
            self.s_plus, self.s_minus = solve(self.s_plus), solve(self.s_minus)
        return scratch.crossed_plus - scratch.crossed_minus

    def transport_and_remodel(self, network: Network, w, v, external_out, scratch: "Transport", xi: float,
                              w_min: float) -> tuple[np.ndarray, int]:  # fmt: skip
        """:meth:`transport` without diffusion, and the pipes it crossed remodelled, in one compiled
        call (:func:`simulator.kernels.advect_and_remodel`): the flow at the pressures ``v``, the
        chemical one hop downstream, ``max(w + xi (S+ - S-), w_min)``. Returns the new
        conductances and how many were floored; the same bits as the steps one by one."""
        w_next = np.empty_like(w)
        drained_plus, drained_minus, floored = kernels.advect_and_remodel(
            network.topology.edges, w, v, external_out, xi, w_min, self.s_plus, self.s_minus, scratch.next_plus,
            scratch.next_minus, scratch.crossed_plus, scratch.crossed_minus, scratch.flow, w_next,
        )  # fmt: skip
        self._hopped(scratch, drained_plus + drained_minus)
        return w_next, int(floored)

    def _hopped(self, scratch: "Transport", drained: float) -> None:
        """Take the amounts after a hop (``scratch.next_*``, the old arrays becoming scratch) and count the drained."""
        self.s_plus, scratch.next_plus = scratch.next_plus, self.s_plus
        self.s_minus, scratch.next_minus = scratch.next_minus, self.s_minus
        self.drained += drained

    def copy(self) -> "AdvectionState":
        """A private copy (the engine never changes a caller's state)."""
        arrays = {
            key: None if getattr(self, key) is None else np.array(getattr(self, key), dtype=np.float64)
            for key in ("s_plus", "s_minus", "v", "last_conductance", "last_gradient")
        }
        return AdvectionState(released=float(self.released), drained=float(self.drained), step=int(self.step), **arrays)


@dataclass(frozen=True)
class Releases:
    """One row per release: ``step [R]`` (transport steps taken before it), ``cost``,
    ``grad_cosine`` (NaN at a run's first release), and the running totals ``released``,
    ``drained`` and ``in_network``."""

    step: np.ndarray
    cost: np.ndarray
    grad_cosine: np.ndarray
    released: np.ndarray
    drained: np.ndarray
    in_network: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple]) -> "Releases":
        columns = list(zip(*rows)) if rows else [[]] * 6
        step, *rest = columns
        return cls(np.array(step, dtype=np.int64), *(np.array(c, dtype=np.float64) for c in rest))


def drain_reachable(network: Network, flow, external_out) -> np.ndarray:
    """``[n] bool``: nodes from which following the flow downstream reaches a drain."""
    reached = np.empty(network.n_nodes, dtype=np.bool_)
    kernels.drain_reachable(network.topology.edges, np.ascontiguousarray(flow, dtype=np.float64),
                            np.ascontiguousarray(external_out, dtype=np.float64), reached)  # fmt: skip
    return reached


@dataclass
class Transport:
    """Scratch arrays for :func:`transport` (reused every step)."""

    next_plus: np.ndarray
    next_minus: np.ndarray
    crossed_plus: np.ndarray
    crossed_minus: np.ndarray
    pressure: np.ndarray
    flow: np.ndarray

    @classmethod
    def for_network(cls, network: Network) -> "Transport":
        n, m = network.n_nodes, network.n_edges
        return cls(np.empty(n), np.empty(n), np.empty(m), np.empty(m), np.empty(n), np.empty(m))


def stuck_outputs(network: Network, flow, external_out) -> list[int]:
    """Output terminals from which no flow leads to a drain (their chemical would never leave)."""
    reachable = drain_reachable(network, flow, external_out)
    terminals = network.output_pairs.ravel()
    return np.unique(terminals[~reachable[terminals]]).tolist()
