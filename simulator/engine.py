"""The time loop: presentations of examples, release delay, weight integration, stop on blow-up.

Model (explicit Euler in steps of ``dt``; the quasistatic model is its ``T -> inf`` limit)::

    c_v dv/dt = I - L(w) v                         pressure relaxation
    c_u du/dt = E - kappa L(w) u                   chemical diffusion (diffusivity kappa*w)
    E         = eta (target - v_out(t))            at output pairs, on from tau after the input
    dw/dt     = -(alpha / T) (u_a - u_b)(v_a - v_b) learning, spread over the presentation time T

An example is presented for ``T`` time units; the fields carry over from one example to the
next. With ``weights="deferred"`` (default) each pipe integrates its update over the
presentation and remodels at its end, so the fields see fixed ``w`` and, as ``T`` grows past
the relaxation time ``c / (kappa lambda_2)``, the update converges to the quasistatic
``-alpha u v`` (error ~ relaxation time / T). With ``weights="live"`` the conductances move
during the presentation and the fields feel it; its ``T -> inf`` limit is the gradient
*flow* over one presentation, equal to the quasistatic step to first order in ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from . import kernels
from .network import Network
from .quasistatic import LaplacianSolver, RefactoringLaplacian, output_error_currents
from .rules import RULES, apply_update, checked_positive, checked_rule

__all__ = [
    "Quasistatic",
    "TimeStepped",
    "FieldState",
    "FieldFrames",
    "TrainResult",
    "SimulationError",
    "stable_step",
    "relax_ensemble",
    "stable_dt",
    "relaxation_time",
    "relax",
    "relax_split",
    "train",
]

#: Below this many nodes ``relax`` runs on one core: a step is then shorter than the cores'
#: rendezvous (measured crossover near 1,000 nodes; benchmarks/bench_suite.py).
PARALLEL_MIN_NODES = 2000


class SimulationError(RuntimeError):
    """The time stepping cannot go on (a field blew up, or dt left the stable range)."""


@dataclass(frozen=True)
class Quasistatic:
    """Each presentation solved at steady state (direct solves): ``T -> infinity``.

    kappa : chemical diffusivity per unit conductance (> 0), as in :class:`TimeStepped`
    solver_method : ``"auto"``, ``"banded"``, ``"dense"`` or ``"sparse"``. ``"banded"``
        (chemical rule only): a compiled loop over the presentations that refactorises the
        grounded Laplacian in a reverse Cuthill-McKee band (the order found once per
        topology) and solves pressure and chemical from each factor. ``"auto"`` takes it
        for the chemical rule while the band is cheap (:data:`BANDED_MAX_FLOPS`), else
        ``"dense"`` (LAPACK Cholesky) up to ``DENSE_MAX_NODES`` nodes and ``"sparse"`` above.
        ``"sparse"``: :class:`RefactoringLaplacian`, analysed once per call of ``train`` and
        refactorised per presentation.
    sparse_backend : the ``"sparse"`` factorisation: ``"auto"``, ``"pardiso"``, ``"ldl"`` or
        ``"splu"`` (see :class:`RefactoringLaplacian`)
    """

    kappa: float = 1.0
    solver_method: str = "auto"
    sparse_backend: str = "auto"
    name: str = field(default="quasistatic", init=False)

    def __post_init__(self):
        checked_positive("kappa", self.kappa)
        if self.sparse_backend not in ("auto", *RefactoringLaplacian.BACKENDS):
            raise ValueError(
                f"sparse_backend must be 'auto' or one of {RefactoringLaplacian.BACKENDS}, got {self.sparse_backend!r}"
            )
        if self.solver_method not in ("auto", "banded", "dense", "sparse"):
            raise ValueError(f"solver_method must be 'auto', 'banded', 'dense' or 'sparse', got {self.solver_method!r}")


# "auto" uses the banded solver while a factorisation costs at most this many flops
# (n * bw^2 / 2; the 12x12 Iris lattice: 26,000). Measured in benchmarks/bench_suite.py.
BANDED_MAX_FLOPS = 2e6


@dataclass(frozen=True)
class TimeStepped:
    """Explicit time stepping of pressure, chemical and conductance.

    Parameters
    ----------
    T : presentation time per example (time units of ``c / w``), > 0
    tau : release delay: the feedback chemical is injected from ``tau`` after the input
        changes, 0 <= tau <= T
    c_v, c_u : node compliances of the pressure and the chemical, > 0
    kappa : chemical diffusivity per unit conductance, > 0
    dt : time step; ``None`` picks ``safety`` times the stability bound of the current
        weights at each presentation (and shrinks it so ``T`` is a whole number of steps).
        A ``dt`` above the bound is refused with a message that states the bound.
    safety : fraction of the stability bound used when ``dt`` is None, in (0, 1]
    weights : ``"deferred"`` (integrate the update, remodel at the end of the presentation)
        or ``"live"`` (conductances move during the presentation)
    chunk_steps : steps per kernel call between finiteness checks
    scheme : ``"explicit"`` (forward Euler: the physics step by step, stable below the bound)
        or ``"implicit"`` (backward Euler on the diffusion, a banded factorisation per
        presentation: stable at any ``dt``, which must be given; it damps the fast modes
        instead of resolving them, so it suits presentations near the quasistatic limit
        with a stiff network; chemical rule, deferred weights)
    min_dt : stop with :class:`SimulationError` when the current weights' stability bound
        asks for a step below this: conductances running away (e.g. a two-phase rule far
        from the quasistatic limit) would otherwise make each presentation slower than
        the last without end. ``None``: no floor.
    """

    T: float
    tau: float = 0.0
    c_v: float = 1.0
    c_u: float = 1.0
    kappa: float = 1.0
    dt: float | None = None
    safety: float = 0.9
    weights: str = "deferred"
    chunk_steps: int = 4096
    min_dt: float | None = None
    scheme: str = "explicit"
    name: str = field(default="timestepped", init=False)

    def __post_init__(self):
        for key in ("T", "c_v", "c_u", "kappa"):
            checked_positive(key, getattr(self, key))
        if not (np.isfinite(self.tau) and 0 <= self.tau <= self.T):
            raise ValueError(f"tau must be in [0, T={self.T}], got {self.tau!r}")
        if self.dt is not None:
            checked_positive("dt", self.dt)
        if not (0 < self.safety <= 1):
            raise ValueError(f"safety must be in (0, 1], got {self.safety!r}")
        if self.weights not in ("deferred", "live"):
            raise ValueError(f"weights must be 'deferred' or 'live', got {self.weights!r}")
        if int(self.chunk_steps) != self.chunk_steps or self.chunk_steps < 1:
            raise ValueError(f"chunk_steps must be a positive integer, got {self.chunk_steps!r}")
        if self.min_dt is not None:
            checked_positive("min_dt", self.min_dt)
        if self.scheme not in ("explicit", "implicit"):
            raise ValueError(f"scheme must be 'explicit' or 'implicit', got {self.scheme!r}")
        if self.scheme == "implicit" and (self.dt is None or self.weights != "deferred"):
            raise ValueError(
                "scheme='implicit' needs a dt (it is stable at any step; accuracy asks for one well below the "
                "relaxation time) and weights='deferred'"
            )


def stable_step(dynamics: TimeStepped, network: Network, rule: str = "chemical") -> float:
    """The explicit step (``safety`` times the stability bound) that ``train`` would take on
    ``network`` with ``rule``: the chemical rule integrates pressure and chemical together,
    the two-phase rules the pressure alone. A reference for ``TimeStepped.min_dt``."""
    if rule == "chemical":
        return dynamics.safety * _coupled_stable_dt(dynamics, network, network.conductance)
    return dynamics.safety * stable_dt(network, dynamics.c_v, 1.0, network.conductance)


def _check_runaway(dynamics: TimeStepped, bound: float, w, example: int):
    if dynamics.min_dt is not None and dynamics.safety * bound < dynamics.min_dt:
        raise SimulationError(
            f"presentation {example}: the stable time step fell to {dynamics.safety * bound:.3g}, below "
            f"min_dt={dynamics.min_dt:.3g} (largest conductance {np.max(w):.3g}): the conductances are running "
            "away; lengthen the presentation (nearer the quasistatic limit) or lower the learning rate"
        )


@dataclass
class FieldState:
    """Fields that carry over between presentations.

    v : [n] node pressure;  u : [n] chemical concentration;  time : elapsed time;
    step : explicit steps taken.
    """

    v: np.ndarray
    u: np.ndarray
    time: float = 0.0
    step: int = 0

    @classmethod
    def at_rest(cls, network: Network) -> "FieldState":
        return cls(v=np.zeros(network.n_nodes), u=np.zeros(network.n_nodes))


@dataclass(frozen=True)
class FieldFrames:
    """Snapshots of the fields taken during time stepping.

    step : [k] explicit time steps (global count);  time : [k] elapsed time
    pressure, concentration : [k, n] the fields ``v`` and ``u`` after that step
    """

    step: np.ndarray
    time: np.ndarray
    pressure: np.ndarray
    concentration: np.ndarray


@dataclass(frozen=True)
class TrainResult:
    """What a sequence of presentations produced.

    network : the network with its final conductances
    outputs : [B, p] output drops per example (steady outputs before the update in the
        quasistatic dynamics; observed at the end of the presentation when time-stepped)
    costs : [B] ``1/2 |outputs - targets|^2`` per example
    floored : [B] pipes caught by the conductance floor per example
    state : the fields after the last presentation (time-stepped), else None
    dt : the time steps used per presentation [B] (time-stepped), else None
    fields : snapshots every ``record_every`` steps (time-stepped, if asked), else None
    """

    network: Network
    outputs: np.ndarray
    costs: np.ndarray
    floored: np.ndarray
    state: FieldState | None = None
    dt: np.ndarray | None = None
    fields: FieldFrames | None = None


# ---------------------------------------------------------------------- stability
def stable_dt(network: Network, c: float = 1.0, kappa: float = 1.0, conductance=None) -> float:
    """Largest stable explicit step for ``c dx/dt = -kappa L x``: ``2 c / (kappa * bound)``,
    with the Gershgorin bound ``2 max_i sum_j w_ij >= lambda_max(L)``."""
    w = network.conductance if conductance is None else conductance
    return 2.0 * c / (kappa * kernels.laplacian_bound(network.topology.edges, w, network.n_nodes))


def relaxation_time(network: Network, c: float = 1.0, kappa: float = 1.0) -> float:
    """Slowest relaxation time ``c / (kappa lambda_2)`` (lambda_2: algebraic connectivity)."""
    import scipy.sparse.linalg

    laplacian = network.laplacian()
    if network.n_nodes <= 2000:
        lambda_2 = np.linalg.eigvalsh(laplacian.toarray())[1]
    else:  # shift-invert around 0 would hit the null space; ask for the two smallest
        lambda_2 = np.sort(
            scipy.sparse.linalg.eigsh(laplacian, k=2, sigma=-1e-8 * laplacian.diagonal().max(), which="LM")[0]
        )[1]
    return c / (kappa * lambda_2)


def _coupled_stable_dt(dynamics: TimeStepped, network: Network, w) -> float:
    """Stability bound of the pressure and the chemical together, at conductances ``w``."""
    return min(stable_dt(network, dynamics.c_v, 1.0, w), stable_dt(network, dynamics.c_u, dynamics.kappa, w))


def _presentation_steps(dynamics: TimeStepped, network: Network, w, example: int) -> tuple[float, int, int]:
    """``(dt, steps per presentation, steps of delay)`` for the current weights."""
    bound = _coupled_stable_dt(dynamics, network, w)
    _check_runaway(dynamics, bound, w, example)
    if dynamics.dt is None:
        dt = dynamics.safety * bound
    elif dynamics.dt >= bound:
        raise ValueError(
            f"dt={dynamics.dt:.6g} is above the explicit stability bound {bound:.6g} "
            f"(2 c / (kappa * Gershgorin bound), c_v={dynamics.c_v}, c_u={dynamics.c_u}, kappa={dynamics.kappa}); "
            "use a smaller dt or leave it None to choose one"
        )
    else:
        dt = dynamics.dt
    n_steps = max(1, math.ceil(dynamics.T / dt - 1e-9))
    dt = dynamics.T / n_steps
    return dt, n_steps, min(n_steps, round(dynamics.tau / dt))


# ---------------------------------------------------------------------- relaxation only
def relax_ensemble(networks, sources, *, n_steps: int, c: float = 1.0, kappa: float = 1.0, x0=None) -> list:
    """Relax many independent networks together: ``n_steps`` explicit steps of
    ``c dx/dt = sources[k] - kappa L_k x`` each, at 0.9 of each network's own stability bound,
    in one compiled call spread over the cores (for sweeps of small networks). Returns the
    fields ``[x_k]``; each equals :func:`relax` on that network alone, step for step.
    """
    networks = list(networks)
    if not networks or len(sources) != len(networks) or (x0 is not None and len(x0) != len(networks)):
        raise ValueError("give one sources array (and one x0, if any) per network, and at least one network")
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    node_offset = np.concatenate([[0], np.cumsum([net.n_nodes for net in networks])]).astype(np.int64)
    edge_offset = np.concatenate([[0], np.cumsum([net.n_edges for net in networks])]).astype(np.int64)
    edges = np.concatenate([net.topology.edges + np.int32(start) for net, start in zip(networks, node_offset)])
    w = np.concatenate([net.conductance for net in networks])
    source = np.concatenate([np.asarray(s, dtype=np.float64) for s in sources]) / kappa
    if source.shape != (node_offset[-1],):
        raise ValueError("each sources array must have one value per node of its network")
    x = np.zeros(node_offset[-1]) if x0 is None else np.concatenate([np.asarray(v, np.float64) for v in x0])
    gain = np.array([0.9 * stable_dt(net, c, kappa) for net in networks]) * kappa / c
    kernels.relax_ensemble(edges, w, x, source, gain, node_offset, edge_offset, int(n_steps), np.empty_like(x))
    return np.split(x, node_offset[1:-1])


def relax_split(network: Network, threads: int | None = None):
    """The split of ``network`` that :func:`relax` (and time-stepped ``train`` with deferred
    weights) steps on ``threads`` cores (default: Numba's thread count), or None when it steps
    on one: fewer than :data:`PARALLEL_MIN_NODES` nodes, one thread, or pipes not stored in
    the order the split needs (:meth:`Topology.parts`). Either way the result is bit-identical."""
    threads = numba.get_num_threads() if threads is None else threads
    if network.n_nodes < PARALLEL_MIN_NODES or threads < 2:
        return None
    return network.topology.parts(network.n_nodes, threads)


def relax(
    network: Network,
    sources,
    *,
    x0=None,
    c: float = 1.0,
    kappa: float = 1.0,
    dt: float | None = None,
    n_steps: int | None = None,
    rtol: float | None = None,
    max_steps: int = 10_000_000,
    check_every: int = 4096,
) -> tuple[np.ndarray, int]:
    """Relax ``c dx/dt = sources - kappa L x`` by explicit steps; return ``(x, steps)``.

    Runs ``n_steps`` steps, or until the residual ``|sources - kappa L x|_inf`` falls below
    ``rtol * |sources|_inf`` (checked every ``check_every`` steps), whichever is given.
    ``dt`` defaults to 0.9 of the stability bound. ``x`` is not shifted: ``sum(x)`` keeps
    its initial value because the sources sum to zero. From :data:`PARALLEL_MIN_NODES` nodes
    on, the steps are split over the cores (:func:`relax_split`), with the same bits.
    """
    if (n_steps is None) == (rtol is None):
        raise ValueError("give exactly one of n_steps and rtol")
    sources = np.ascontiguousarray(sources, dtype=np.float64)
    bound = stable_dt(network, c, kappa)
    if dt is None:
        dt = 0.9 * bound
    elif dt >= bound:
        raise ValueError(f"dt={dt:.6g} is above the explicit stability bound {bound:.6g}; use a smaller dt")
    x = np.zeros(network.n_nodes) if x0 is None else np.array(x0, dtype=np.float64)
    if x.shape != (network.n_nodes,) or sources.shape != (network.n_nodes,):
        raise ValueError(f"sources and x0 must have shape [{network.n_nodes}] (one value per node)")
    scratch = np.empty_like(x)
    gain, source = dt * kappa / c, sources / kappa
    laplacian = network.laplacian() if rtol is not None else None
    target = np.inf if n_steps is None else n_steps
    limit = min(max_steps, target)
    parts = relax_split(network)
    done = 0
    while done < limit:
        chunk = int(min(check_every, limit - done))
        if parts is None:
            kernels.relax(network.topology.edges, network.conductance, x, source, gain, chunk, scratch)
        else:
            kernels.relax_parts(network.topology.edges, network.conductance, x, source, gain, chunk, scratch, *parts)
        done += chunk
        if not np.all(np.isfinite(x)):
            raise SimulationError(f"relaxation blew up after {done} steps (dt={dt:.6g})")
        if rtol is not None:
            residual = np.abs(sources - kappa * (laplacian @ x)).max()
            if residual <= rtol * np.abs(sources).max():
                return x, done
    if rtol is not None:
        raise SimulationError(f"relaxation did not reach rtol={rtol:g} in {max_steps} steps")
    return x, done


# ---------------------------------------------------------------------- training
def _checked_examples(network: Network, inputs, targets) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if inputs.ndim == 1:
        inputs, targets = inputs[None], targets[None]
    if inputs.ndim != 2 or inputs.shape[1] != network.n_inputs:
        raise ValueError(
            f"inputs must have shape [B, {network.n_inputs}] (or [{network.n_inputs}]), got {inputs.shape}"
        )
    if targets.shape != (len(inputs), network.n_outputs):
        raise ValueError(f"targets must have shape [{len(inputs)}, {network.n_outputs}], got {targets.shape}")
    if not (np.all(np.isfinite(inputs)) and np.all(np.isfinite(targets))):
        raise ValueError("inputs and targets must be finite")
    return inputs, targets


def train(
    network: Network,
    inputs,
    targets,
    *,
    rule: str = "chemical",
    alpha: float = 1.0,
    eta: float = 1.0,
    dynamics: Quasistatic | TimeStepped = Quasistatic(),
    w_min: float = 1e-6,
    state: FieldState | None = None,
    record_every: int | None = None,
) -> TrainResult:
    """Present examples in order, updating the conductances after each.

    Parameters
    ----------
    network : the starting network (not modified; the result holds the trained copy)
    inputs : [B, q] input currents per example (or [q] for one presentation)
    targets : [B, p] desired output drops per example (or [p])
    rule : a name in :data:`simulator.rules.RULES`. Time-stepped, ``"chemical"`` runs its
        one-phase physics; ``"ep"`` and ``"coupled"`` run a free phase (first half of ``T``),
        store the free drops, then a nudged phase (second half) integrating
        ``(alpha/2)(dv_free^2 - dv^2)``; ``"gradient"`` relaxes for ``T`` and takes the exact
        step from the relaxed pressures (a reference). ``tau`` is used by ``"chemical"`` only.
    alpha, eta : rate and nudge (> 0); the step along ``-dC/dw`` is ``alpha * eta / kappa``
    dynamics : :class:`Quasistatic` (direct solves) or :class:`TimeStepped`
    w_min : conductance floor (> 0), applied after every update
    state : fields to start from (time-stepped); default at rest
    record_every : time-stepped: keep a snapshot of ``v`` and ``u`` after every explicit
        step whose global index is a multiple of this (``None``: no snapshots)
    """
    inputs, targets = _checked_examples(network, inputs, targets)
    rule = checked_rule(rule)
    alpha, eta, w_min = (checked_positive(k, x) for k, x in (("alpha", alpha), ("eta", eta), ("w_min", w_min)))
    if record_every is not None and (int(record_every) != record_every or record_every < 1):
        raise ValueError(f"record_every must be a positive integer or None, got {record_every!r}")
    if isinstance(dynamics, Quasistatic):
        return _train_quasistatic(network, inputs, targets, rule, alpha, eta, dynamics, w_min)
    if isinstance(dynamics, TimeStepped):
        if dynamics.scheme == "implicit":
            if rule != "chemical":
                raise ValueError(f"scheme='implicit' runs the chemical rule only, not {rule!r}")
            return _train_implicit(network, inputs, targets, alpha, eta, dynamics, w_min, state, record_every)
        if rule == "chemical":
            return _train_timestepped(network, inputs, targets, alpha, eta, dynamics, w_min, state, record_every)
        if dynamics.weights == "live":
            raise ValueError(f"rule {rule!r} remodels at the end of each presentation; use weights='deferred'")
        return _train_two_phase(network, inputs, targets, rule, alpha, eta, dynamics, w_min, state, record_every)
    raise TypeError(f"dynamics must be Quasistatic(...) or TimeStepped(...), got {type(dynamics).__name__}")


def uses_banded(network: Network, rule: str, method: str = "auto") -> bool:
    """Whether ``Quasistatic(solver_method=method)`` trains ``network`` with ``rule`` on the
    compiled banded path (``"auto"``: while a factorisation costs <= BANDED_MAX_FLOPS)."""
    if method == "banded":
        if rule != "chemical":
            raise ValueError(f"solver_method='banded' runs the chemical rule only, not {rule!r}")
        return True
    if method != "auto" or rule != "chemical":
        return False
    _, bandwidth = network.topology.band_order(network.n_nodes)
    return network.n_nodes * bandwidth**2 / 2 <= BANDED_MAX_FLOPS


def _train_quasistatic_banded(network, inputs, targets, alpha, eta, dynamics, w_min) -> TrainResult:
    position, bandwidth = network.topology.band_order(network.n_nodes)
    currents = np.stack([network.node_currents(x) for x in inputs])
    w = network.conductance.copy()
    outputs = np.empty_like(targets)
    floored = np.zeros(len(inputs), dtype=np.int64)
    ok = kernels.quasistatic_chemical_steps(
        network.topology.edges, w, position, bandwidth, currents, network.output_pairs[:, 0].astype(np.int32),
        network.output_pairs[:, 1].astype(np.int32), targets, alpha, eta, dynamics.kappa, w_min, outputs, floored,
    )  # fmt: skip
    if not ok:
        raise SimulationError("the grounded Laplacian lost positive definiteness (non-finite conductances?)")
    costs = 0.5 * ((outputs - targets) ** 2).sum(axis=1)
    return TrainResult(network=network.with_conductance(w), outputs=outputs, costs=costs, floored=floored)


def _train_quasistatic(network, inputs, targets, rule, alpha, eta, dynamics, w_min) -> TrainResult:
    if uses_banded(network, rule, dynamics.solver_method):
        return _train_quasistatic_banded(network, inputs, targets, alpha, eta, dynamics, w_min)
    update = RULES[rule]
    outputs = np.empty_like(targets)
    floored = np.zeros(len(inputs), dtype=np.int64)
    method = dynamics.solver_method
    if method == "auto":
        method = LaplacianSolver.choose_method(network.n_nodes)
    factor = RefactoringLaplacian(network, dynamics.sparse_backend) if method == "sparse" else None
    for k in range(len(inputs)):
        if factor is None:
            solver = LaplacianSolver(network, method)
        else:  # the pattern never changes: refactorise numerically, reuse the analysis
            if k:
                factor.refactor(network.conductance)
            solver = factor
        v = solver.solve(network.node_currents(inputs[k]))
        outputs[k] = network.outputs(v)
        dw = update(network, v, targets[k], alpha=alpha, eta=eta, kappa=dynamics.kappa, solver=solver)
        w, floored[k] = apply_update(network.conductance, dw, w_min)
        network = network.with_conductance(w)
    costs = 0.5 * ((outputs - targets) ** 2).sum(axis=1)
    return TrainResult(network=network, outputs=outputs, costs=costs, floored=floored)


def _carried_state(network: Network, state: FieldState | None) -> FieldState:
    """A private copy of the fields to start from (at rest if none), shapes checked."""
    if state is None:
        return FieldState.at_rest(network)
    copy = FieldState(np.array(state.v, dtype=np.float64), np.array(state.u, dtype=np.float64), state.time, state.step)
    if copy.v.shape != (network.n_nodes,) or copy.u.shape != (network.n_nodes,):
        raise ValueError(f"state fields must have shape [{network.n_nodes}]")
    return copy


def _train_timestepped(network, inputs, targets, alpha, eta, dynamics, w_min, state, record_every) -> TrainResult:
    state = _carried_state(network, state)
    out_plus = network.output_pairs[:, 0].astype(np.int32)
    out_minus = network.output_pairs[:, 1].astype(np.int32)
    w = network.conductance.copy()
    v_scratch, u_scratch = np.empty_like(state.v), np.empty_like(state.u)
    dw = np.empty_like(w)
    live = dynamics.weights == "live"
    outputs = np.empty_like(targets)
    floored = np.zeros(len(inputs), dtype=np.int64)
    dts = np.empty(len(inputs))
    frames = ([], [], [], [])  # step, time, v, u
    split = None if live else relax_split(network)  # live weights change w inside a step: one core
    for k in range(len(inputs)):
        dt, n_steps, n_delay = _presentation_steps(dynamics, network, w, k)
        dts[k] = dt
        currents = network.node_currents(inputs[k])
        dw[:] = 0.0
        learn_rate = dt * alpha / dynamics.T
        start_step = state.step
        for feedback_on, phase_steps in ((False, n_delay), (True, n_steps - n_delay)):
            step_args = (network.topology.edges, w, state.v, state.u, currents, out_plus, out_minus, targets[k], eta,
                         feedback_on, dt / dynamics.c_v, dt / dynamics.c_u, dynamics.kappa, learn_rate)  # fmt: skip
            done = 0
            while done < phase_steps:
                chunk = min(dynamics.chunk_steps, phase_steps - done)
                if record_every:
                    chunk = min(chunk, record_every - state.step % record_every)
                if split is None:
                    kernels.learn_steps(*step_args, live, w_min, dw, chunk, v_scratch, u_scratch)
                else:  # the same bits, over the cores
                    kernels.learn_steps_parts(*step_args, w_min, dw, chunk, v_scratch, u_scratch, *split)
                done += chunk
                state.step += chunk
                _check_fields(state, k, live, network, dynamics, w, dt)
                if record_every and state.step % record_every == 0:
                    for frame, value in zip(
                        frames, (state.step, state.time + (state.step - start_step) * dt, state.v, state.u)
                    ):
                        frame.append(np.copy(value))
        state.time += dynamics.T
        outputs[k] = network.outputs(state.v)
        if live:
            floored[k] = int(np.count_nonzero(w <= w_min))
        else:
            w, floored[k] = apply_update(w, dw, w_min)
        network = network.with_conductance(w)
        w = network.conductance.copy()  # the network holds a read-only copy; keep a private one
    costs = 0.5 * ((outputs - targets) ** 2).sum(axis=1)
    fields = _frames(frames, record_every, network.n_nodes)
    return TrainResult(
        network=network, outputs=outputs, costs=costs, floored=floored, state=state, dt=dts, fields=fields
    )


def _train_implicit(network, inputs, targets, alpha, eta, dynamics, w_min, state, record_every) -> TrainResult:
    """The chemical rule with backward-Euler diffusion: one banded factorisation of each field's
    shifted Laplacian per presentation (the weights change only between presentations)."""
    state = _carried_state(network, state)
    edges, n = network.topology.edges, network.n_nodes
    position, bandwidth = network.topology.band_order(n, grounded=False)
    band_v, band_u = np.empty((n, bandwidth + 1)), np.empty((n, bandwidth + 1))
    scratch = (np.empty(n), np.empty(n), np.empty(n))
    band_edges = np.ascontiguousarray(position[edges])
    band_out_plus, band_out_minus = position[network.output_pairs[:, 0]], position[network.output_pairs[:, 1]]
    shared = dynamics.c_u == dynamics.c_v and dynamics.kappa == 1.0  # one matrix serves both fields
    n_steps = max(1, math.ceil(dynamics.T / dynamics.dt - 1e-9))
    dt = dynamics.T / n_steps
    n_delay = min(n_steps, round(dynamics.tau / dt))
    outputs, floored = np.empty_like(targets), np.zeros(len(inputs), dtype=np.int64)
    frames = ([], [], [], [])
    for k in range(len(inputs)):
        w = network.conductance
        if not (
            kernels.shifted_band_factor(edges, w, position, 1.0, dynamics.c_v / dt, band_v)
            and (shared or kernels.shifted_band_factor(edges, w, position, dynamics.kappa, dynamics.c_u / dt, band_u))
        ):
            raise SimulationError(f"presentation {k}: the implicit system lost positive definiteness")
        dw = np.zeros(network.n_edges)
        currents = network.node_currents(inputs[k])
        clock = (state, record_every, frames, state.step, dt, k)
        for feedback_on, phase_steps in ((False, n_delay), (True, n_steps - n_delay)):
            before = (band_edges, w, position, band_v, band_u, state.v, state.u, currents, band_out_plus,
                      band_out_minus, targets[k], eta, feedback_on, dynamics.c_v / dt, dynamics.c_u / dt,
                      dt * alpha / dynamics.T, shared, dw)  # fmt: skip
            _advance(kernels.implicit_learn_steps, before, scratch, phase_steps, *clock)
        state.time += dynamics.T
        outputs[k] = network.outputs(state.v)
        w_new, floored[k] = apply_update(w, dw, w_min)
        network = network.with_conductance(w_new)
    costs = 0.5 * ((outputs - targets) ** 2).sum(axis=1)
    return TrainResult(
        network=network, outputs=outputs, costs=costs, floored=floored, state=state, dt=np.full(len(inputs), dt),
        fields=_frames(frames, record_every, n),
    )  # fmt: skip


def _advance(kernel, before, after, phase_steps, state, record_every, frames, start_step, dt, where):
    """``kernel(*before, n, *after)`` for ``phase_steps`` steps in chunks; record on the cadence,
    stop with a clear error if the pressure blows up."""
    done = 0
    while done < phase_steps:
        chunk = phase_steps - done
        if record_every:
            chunk = min(chunk, record_every - state.step % record_every)
        kernel(*before, chunk, *after)
        done += chunk
        state.step += chunk
        if not np.all(np.isfinite(state.v)):
            raise SimulationError(f"the pressure blew up during presentation {where} (step {state.step}, dt={dt:.6g})")
        if record_every and state.step % record_every == 0:
            values = (state.step, state.time + (state.step - start_step) * dt, state.v, state.u)
            for frame, value in zip(frames, values):
                frame.append(np.copy(value))


def _frames(frames, record_every, n) -> FieldFrames | None:
    if not record_every:
        return None
    return FieldFrames(
        step=np.array(frames[0], dtype=np.int64),
        time=np.array(frames[1], dtype=np.float64),
        pressure=np.array(frames[2], dtype=np.float64).reshape(-1, n),
        concentration=np.array(frames[3], dtype=np.float64).reshape(-1, n),
    )


def _train_two_phase(network, inputs, targets, rule, alpha, eta, dynamics, w_min, state, record_every) -> TrainResult:
    """EP and CL (free phase, stored free drops, nudged phase) and the gradient reference."""
    state = _carried_state(network, state)
    edges = network.topology.edges
    out_plus = network.output_pairs[:, 0].astype(np.int32)
    out_minus = network.output_pairs[:, 1].astype(np.int32)
    scratch = np.empty_like(state.v)
    outputs, floored = np.empty_like(targets), np.zeros(len(inputs), dtype=np.int64)
    dts, frames = np.empty(len(inputs)), ([], [], [], [])
    for k in range(len(inputs)):
        w = network.conductance
        bound = stable_dt(network, dynamics.c_v, 1.0, w)
        _check_runaway(dynamics, bound, w, k)
        if dynamics.dt is not None and dynamics.dt >= bound:
            raise ValueError(f"dt={dynamics.dt:.6g} is above the explicit stability bound {bound:.6g}")
        dt = dynamics.safety * bound if dynamics.dt is None else dynamics.dt
        n_steps = max(2, math.ceil(dynamics.T / dt - 1e-9))
        dt = dynamics.T / n_steps
        dts[k] = dt
        gain = dt / dynamics.c_v
        currents = network.node_currents(inputs[k])
        n_free = n_steps if rule == "gradient" else n_steps // 2
        clock = (state, record_every, frames, state.step, dt, k)
        _advance(kernels.relax, (edges, w, state.v, currents, gain), (scratch,), n_free, *clock)
        outputs[k] = network.outputs(state.v)
        if rule == "gradient":
            solver = LaplacianSolver(network)
            dw = RULES["gradient"](network, state.v, targets[k], alpha=alpha, eta=eta, kappa=1.0, solver=solver)
        else:
            free_drops = network.drops(state.v)  # the stored free state
            dw = np.zeros(network.n_edges)
            clamp_on = rule == "coupled"
            clamped = outputs[k] + eta * (targets[k] - outputs[k])
            source = currents if clamp_on else currents + output_error_currents(network, state.v, targets[k], eta)
            rate = (alpha / 2.0) / (n_steps - n_free)
            before = (edges, w, state.v, source, gain, out_plus, out_minus, clamp_on, clamped, free_drops, rate, dw)
            _advance(kernels.nudged_steps, before, (scratch,), n_steps - n_free, *clock)
        state.time += dynamics.T
        w_new, floored[k] = apply_update(w, dw, w_min)
        network = network.with_conductance(w_new)
    costs = 0.5 * ((outputs - targets) ** 2).sum(axis=1)
    fields = _frames(frames, record_every, network.n_nodes)
    return TrainResult(
        network=network, outputs=outputs, costs=costs, floored=floored, state=state, dt=dts, fields=fields
    )


def _check_fields(state: FieldState, example: int, live: bool, network: Network, dynamics: TimeStepped, w, dt: float):
    if not (np.all(np.isfinite(state.v)) and np.all(np.isfinite(state.u)) and np.all(np.isfinite(w))):
        raise SimulationError(
            f"the fields blew up during presentation {example} (step {state.step}, dt={dt:.6g}); "
            + (
                "with weights='live' the conductances can outgrow the stable dt: lower alpha or dt"
                if live
                else "lower dt"
            )
        )
    if live:
        bound = _coupled_stable_dt(dynamics, network, w)
        if dt >= bound:
            raise SimulationError(
                f"during presentation {example} (step {state.step}) the conductances grew so that dt={dt:.6g} "
                f"is above the stability bound {bound:.6g}; lower alpha, or dt / safety"
            )
