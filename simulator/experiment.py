"""The Iris experiment of the paper's section III as one configurable, recorded run.

``run_iris(IrisConfig(...), out="run.h5")`` builds the 12x12, d=4 network, splits and
normalises Iris, and trains with the chosen rule and dynamics. Each epoch: desired outputs are
the current network's response to each class's mean training input; the 75 training examples
are presented in a fresh order drawn from the run's seed; each presentation is one learning
step. After every epoch (and before the first) the network is evaluated at steady state
(:func:`simulator.tasks.evaluate_iris`). Everything goes to an H5MD file if ``out`` is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .advection import Advection, AdvectionResult, AdvectionState, advect_train
from .engine import Quasistatic, TimeStepped, relaxation_time, train
from .network import lattice_network
from .progress import NoProgress
from .rules import RULES
from .tasks import evaluate_iris, iris_task
from .trajectory import Series, TrajectoryWriter

__all__ = ["IrisConfig", "IrisRun", "run_iris", "run_from_command_line", "interruptible", "DYNAMICS"]

DYNAMICS = ("quasistatic", "timestepped")


@dataclass(frozen=True)
class IrisConfig:
    """Everything that defines an Iris run (validated when built).

    seed : network, split and shuffling seed (>= 0)
    epochs : passes over the 75 training examples (>= 1)
    lr : learning rate ``alpha * eta``: the chemical rule's step along ``-dC/dw`` is ``lr / kappa``
    eta : nudge (feedback current per unit output error); exact for the chemical rule at any
        value, the size of the perturbation for ``ep`` and ``coupled`` (``alpha = lr / eta``)
    rule : a learning rule name (``simulator.RULES``), or ``"advection"`` (Appendix A: s+/s-
        carried by the flow, quasistatic pressures; see ``simulator.advection``)
    dynamics : ``"quasistatic"`` (direct solves) or ``"timestepped"`` (explicit relaxation)
    presentation : time-stepped: presentation time ``T`` per example, in relaxation times
        ``c_v / lambda_2`` of the initial network
    tau : time-stepped: release delay of the feedback chemical, in relaxation times, <= presentation
    c_v, c_u, kappa : time-stepped node compliances and chemical diffusivity (kappa also
        quasistatic)
    weights : time-stepped: ``"deferred"`` or ``"live"`` conductance updates (see ``TimeStepped``)
    w_min : conductance floor
    field_every : time-stepped: record pressure and concentration every this many explicit
        steps (0: never)
    side, d, delta : the lattice (``simulator.lattice_network``)
    xi, lam, release_every, transport_steps : advection: conductance change per unit chemical,
        chemical per unit error, transport steps between releases, and per presentation
    pressure_steps : advection with ``dynamics="timestepped"``: explicit pressure-relaxation
        steps after each transport step (quasistatic: the pressures are solved directly)
    """

    seed: int = 0
    epochs: int = 150
    lr: float = 3e-3
    eta: float = 1.0
    rule: str = "chemical"
    dynamics: str = "quasistatic"
    presentation: float = 50.0
    tau: float = 0.0
    c_v: float = 1.0
    c_u: float = 1.0
    kappa: float = 1.0
    weights: str = "deferred"
    w_min: float = 1e-4
    field_every: int = 100_000
    side: int = 12
    d: int = 4
    delta: float = 0.25
    xi: float = 0.01
    lam: float = 1.0
    release_every: int = 5
    transport_steps: int = 20
    pressure_steps: int = 50

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"{f.name} must be an integer, got {value!r}")
            if f.type == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                    raise ValueError(f"{f.name} must be a number, got {value!r}")
                if not np.isfinite(value):
                    raise ValueError(f"{f.name} must be finite, got {value!r}")
            if f.type == "str" and not isinstance(value, str):
                raise ValueError(f"{f.name} must be a string, got {value!r}")
        for key in ("lr", "eta", "presentation", "c_v", "c_u", "kappa", "w_min"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0, got {getattr(self, key)!r}")
        for key, low in (
            ("seed", 0), ("epochs", 1), ("field_every", 0), ("side", 2), ("d", 1), ("release_every", 1),
            ("transport_steps", 1), ("xi", 0), ("lam", 0), ("pressure_steps", 1),
        ):  # fmt: skip
            if getattr(self, key) < low:
                raise ValueError(f"{key} must be >= {low}, got {getattr(self, key)!r}")
        if not 0 <= self.tau <= self.presentation:
            raise ValueError(f"tau must be in [0, presentation={self.presentation}], got {self.tau!r}")
        if self.delta < 0:
            raise ValueError(f"delta must be >= 0, got {self.delta!r}")
        if self.rule not in RULES and self.rule != "advection":
            raise ValueError(f"rule must be one of {sorted(RULES) + ['advection']}, got {self.rule!r}")
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics must be one of {DYNAMICS}, got {self.dynamics!r}")
        if self.weights not in ("deferred", "live"):
            raise ValueError(f"weights must be 'deferred' or 'live', got {self.weights!r}")
        if self.dynamics == "timestepped" and self.rule != "chemical" and self.weights == "live":
            raise ValueError(f"rule {self.rule!r} remodels at the end of each presentation; use weights='deferred'")

    @classmethod
    def from_dict(cls, values: dict) -> "IrisConfig":
        """Build from a mapping (e.g. a TOML table); unknown keys are refused by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class IrisRun:
    """What a run produced (the file, if any, holds all of it and more).

    epochs : [E+1] per-epoch metrics, index 0 before training: a dict of arrays with keys
        ``accuracy_train``, ``accuracy_test``, ``accuracy_test_strict``, ``response_norm``,
        ``clip_fraction``
    costs : [E*75] cost per presentation;  network : the trained network
    wall_time : seconds spent training and evaluating;  path : the run file or None
    """

    config: IrisConfig
    epochs: dict
    costs: np.ndarray
    network: object
    wall_time: float
    path: Path | None = None
    derived: dict = field(default_factory=dict)

    @property
    def final_test_accuracy(self) -> float:
        return float(self.epochs["accuracy_test"][-1])


@contextlib.contextmanager
def interruptible():
    """Turn SIGTERM into KeyboardInterrupt for the block, so run files close as interrupted."""

    def stop(signum, frame):
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _series(config: IrisConfig, network) -> list[Series]:
    p, q, m, n = network.n_outputs, network.n_inputs, network.n_edges, network.n_nodes
    per_example = [  # clock "example": one sample per presentation
        Series("observables/cost", (), "example", "", "1/2 |output - target|^2 of each presentation"),
        Series("observables/output", (p,), "example", "pressure", "output drops seen by the learning step"),
        Series("observables/target", (p,), "example", "pressure", "desired output drops of the presentation"),
        Series("observables/example", (), "example", "", "index in the training set", "int64"),
        Series("observables/label", (), "example", "", "class: 0 setosa, 1 versicolor, 2 virginica", "int64"),
        Series("observables/floored", (), "example", "", "pipes caught by the conductance floor", "int64"),
    ]
    per_epoch = [  # clock "epoch": before training and after every epoch
        Series("observables/epoch", (), "epoch", "", "epochs completed", "int64"),
        Series("observables/accuracy_train", (), "epoch", "", "training set, training class means as targets"),
        Series("observables/accuracy_test", (), "epoch", "", "test set, test class means as targets (paper)"),
        Series("observables/accuracy_test_strict", (), "epoch", "", "test set, training class means as targets"),
        Series("observables/response_norm", (), "epoch", "", "Frobenius norm of the transfer matrix"),
        Series("observables/transfer", (p, q), "epoch", description="steady output drops per unit input current"),
        Series("observables/desired_output", (3, p), "epoch", "pressure", "training class means through the network"),
        Series("observables/clip_fraction", (), "epoch", "", "fraction of the epoch's pipe updates floored (NaN at 0)"),
        Series("observables/edges/conductance", (m,), "epoch", "conductance", "pipe conductances"),
    ]  # fmt: skip
    series = per_example + per_epoch
    if config.rule == "advection":
        series += [
            Series("observables/release_cost", (), "release", "", "cost at each release"),
            Series("observables/grad_cosine", (), "release", "", "cos(dW since last release, -dC/dw there)"),
            Series("observables/released_mass", (), "release", "", "chemical released so far (s+ and s-)"),
            Series("observables/drained_mass", (), "release", "", "chemical drained so far"),
            Series("observables/in_network_mass", (), "release", "", "chemical in the network"),
        ]
        if config.field_every:
            series.append(Series("particles/nodes/s_plus", (n,), "field", "", "s+ at the nodes"))
            series.append(Series("particles/nodes/s_minus", (n,), "field", "", "s- at the nodes"))
    if config.dynamics == "timestepped":
        series.append(Series("observables/dt", (), "example", "time", "explicit time step of the presentation"))
        if config.field_every:
            series.append(Series("particles/nodes/pressure", (n,), "field", "pressure", "node pressures v"))
            series.append(
                Series("particles/nodes/concentration", (n,), "field", "concentration", "feedback chemical u")
            )
    return series


def run_iris(
    config: IrisConfig = IrisConfig(),
    *,
    out=None,
    overwrite: bool = False,
    progress=None,
    command_line: list[str] | None = None,
) -> IrisRun:
    """Train on Iris as configured; write the trajectory to ``out`` (H5MD) if given.

    ``progress``: a meter (``simulator.progress``), silent by default. ``command_line``: stored
    verbatim in the file. An existing ``out`` is refused unless ``overwrite``.
    """
    progress = NoProgress() if progress is None else progress
    network = lattice_network(side=config.side, d=config.d, delta=config.delta, seed=config.seed)
    task = iris_task(config.seed)
    shuffle = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(2,)))
    n_train = len(task.y_train)

    # what a rule must hold between its two phases, per presentation: each pipe its free drop
    # for EP and CL; nothing for the chemical rule (and the gradient is a reference)
    derived = {"stored_floats_per_presentation": network.n_edges if config.rule in ("ep", "coupled") else 0}
    if config.dynamics == "timestepped" and config.rule != "advection":
        t_relax = relaxation_time(network, config.c_v)
        dynamics = TimeStepped(
            T=config.presentation * t_relax, tau=config.tau * t_relax, c_v=config.c_v, c_u=config.c_u,
            kappa=config.kappa, weights=config.weights,
        )  # fmt: skip
        derived["relaxation_time"], derived["T"], derived["tau_time"] = t_relax, dynamics.T, dynamics.tau
        record_every = config.field_every or None
    else:
        dynamics, record_every = Quasistatic(kappa=config.kappa), None
    timed = dynamics.name == "timestepped"
    if config.rule == "advection":
        record_every = config.field_every or None
        mode = Advection(
            xi=config.xi, lam=config.lam, tau=config.release_every, steps=config.transport_steps,
            pressure_steps=config.pressure_steps if config.dynamics == "timestepped" else 0,
        )  # fmt: skip

    writer = contextlib.nullcontext()
    if out is not None:
        writer = TrajectoryWriter(
            out, network=network, config=config.to_dict(), seed=config.seed, series=_series(config, network),
            timed_clocks=("example", "epoch", "field") if timed else (), command_line=command_line,
            overwrite=overwrite, derived=derived,
        )  # fmt: skip

    history = {
        k: [] for k in ("accuracy_train", "accuracy_test", "accuracy_test_strict", "response_norm", "clip_fraction")
    }
    costs, state = [], None
    start = time.perf_counter()
    with writer as file:
        metrics = evaluate_iris(network, task)
        _record_epoch(file, history, 0, metrics, network, np.nan, n_train, timed, derived)
        progress.start(config.epochs, f"Iris {config.dynamics} seed {config.seed}")
        try:
            for epoch in range(1, config.epochs + 1):
                order = shuffle.permutation(n_train)
                targets = metrics.desired_output[task.y_train[order]]
                if config.rule == "advection":
                    result = _advection_presentations(network, task.x_train[order], targets, mode, config, state)
                else:
                    result = train(
                        network, task.x_train[order], targets, rule=config.rule, alpha=config.lr / config.eta,
                        eta=config.eta, dynamics=dynamics, w_min=config.w_min, state=state, record_every=record_every,
                    )  # fmt: skip
                network, state = result.network, result.state
                costs.append(result.costs)
                if file is not None:
                    steps = (epoch - 1) * n_train + np.arange(1, n_train + 1)
                    values = {
                        "observables/cost": result.costs, "observables/output": result.outputs,
                        "observables/target": targets, "observables/example": order,
                        "observables/label": task.y_train[order], "observables/floored": result.floored,
                    }  # fmt: skip
                    if timed:
                        values["observables/dt"] = result.dt
                    file.append("example", step=steps, time=steps * derived["T"] if timed else None, **values)
                    if config.rule == "advection":
                        _record_advection(file, result.advection)
                    elif result.fields is not None and len(result.fields.step):
                        file.append(
                            "field", step=result.fields.step, time=result.fields.time,
                            **{"particles/nodes/pressure": result.fields.pressure,
                               "particles/nodes/concentration": result.fields.concentration},
                        )  # fmt: skip
                metrics = evaluate_iris(network, task)
                clip = result.floored.sum() / (n_train * network.n_edges)
                _record_epoch(file, history, epoch, metrics, network, clip, n_train, timed, derived)
                progress.update(1, test=metrics.accuracy_test, train=metrics.accuracy_train)
        finally:
            progress.close()
    return IrisRun(
        config=config,
        epochs={k: np.array(v) for k, v in history.items()},
        costs=np.concatenate(costs) if costs else np.empty(0),
        network=network,
        wall_time=time.perf_counter() - start,
        path=None if out is None else Path(out),
        derived=derived,
    )


@dataclass(frozen=True)
class _AdvectionEpoch:
    network: object
    state: AdvectionState
    outputs: np.ndarray
    costs: np.ndarray
    floored: np.ndarray
    advection: AdvectionResult


def _advection_presentations(network, inputs, targets, mode, config, state) -> _AdvectionEpoch:
    result = advect_train(
        network, inputs, targets, mode=mode, w_min=config.w_min, state=state, record_every=config.field_every or None
    )
    costs = 0.5 * ((result.outputs - targets) ** 2).sum(axis=1)
    return _AdvectionEpoch(result.network, result.state, result.outputs, costs, result.floored, result)


def _record_advection(file, result: AdvectionResult):
    file.append("release", step=result.release_step, **{
        "observables/release_cost": result.cost, "observables/grad_cosine": result.grad_cosine,
        "observables/released_mass": result.released, "observables/drained_mass": result.drained,
        "observables/in_network_mass": result.in_network,
    })  # fmt: skip
    if result.frame_step is not None and len(result.frame_step):
        file.append("field", step=result.frame_step, **{
            "particles/nodes/s_plus": result.s_plus_frames, "particles/nodes/s_minus": result.s_minus_frames,
        })  # fmt: skip


def _record_epoch(file, history, epoch, metrics, network, clip, n_train, timed, derived):
    for key in history:
        history[key].append(clip if key == "clip_fraction" else getattr(metrics, key))
    if file is None:
        return
    step = np.array([epoch * n_train])
    file.append(
        "epoch", step=step, time=step * derived["T"] if timed else None,
        **{
            "observables/epoch": [epoch],
            "observables/accuracy_train": [metrics.accuracy_train],
            "observables/accuracy_test": [metrics.accuracy_test],
            "observables/accuracy_test_strict": [metrics.accuracy_test_strict],
            "observables/response_norm": [metrics.response_norm],
            "observables/transfer": metrics.transfer[None],
            "observables/desired_output": metrics.desired_output[None],
            "observables/clip_fraction": [clip],
            "observables/edges/conductance": network.conductance[None],
        },
    )  # fmt: skip


def run_from_command_line(config: IrisConfig, out, *, overwrite: bool, command_line: list[str]):
    """``run_iris`` as scenario scripts want it: a progress bar on a terminal, SIGTERM handled
    like Ctrl-C, and a one-line message instead of a traceback. Returns ``(run, 0)``, or
    ``(None, 2)`` for a refused file and ``(None, 130)`` for an interruption."""
    import sys

    from .progress import TerminalProgress
    from .trajectory import TrajectoryError

    try:
        with interruptible():
            run = run_iris(config, out=out, overwrite=overwrite, progress=TerminalProgress(), command_line=command_line)
    except TrajectoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return None, 2
    except KeyboardInterrupt:
        print(f"interrupted; the partial run is in {out} (status 'interrupted')", file=sys.stderr)
        return None, 130
    return run, 0
