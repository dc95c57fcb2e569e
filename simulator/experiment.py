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
import json
import math
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .advection import Advection, AdvectionResult, AdvectionState, advect_train
from .engine import FieldState, Quasistatic, SimulationError, TimeStepped, relaxation_time, stable_step, train
from .network import lattice_network
from .progress import NoProgress
from .rules import RULES
from .tasks import evaluate_iris, iris_task
from .trajectory import Series, TrajectoryWriter

__all__ = [
    "IrisConfig", "IrisRun", "run_iris", "run_from_command_line", "interruptible", "DYNAMICS", "parse_toml",
    "read_config_file",
]  # fmt: skip

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
    max_dt_shrink : time-stepped: stop (run status ``failed``, with the reason) when the stable
        time step falls this many times below the initial network's: the conductances are
        running away (measured: trained Iris runs shrink it at most 11x)
    scheme : time-stepped: ``"explicit"`` (the physics step by step) or ``"implicit"``
        (backward-Euler diffusion, ``implicit_steps`` steps per relaxation time; stable at
        any step, so the thickening output pipes do not slow it down; see ``TimeStepped``)
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
    max_dt_shrink: float = 100.0
    scheme: str = "explicit"
    implicit_steps: float = 10.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"{f.name} must be an integer, got {value!r}")
            if f.type == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                    raise ValueError(f"{f.name} must be a number, got {value!r}")
                try:
                    finite = math.isfinite(float(value))
                except OverflowError:  # an int beyond any float
                    finite = False
                if not finite:
                    raise ValueError(f"{f.name} must be finite, got {value!r}")
            if f.type == "str" and not isinstance(value, str):
                raise ValueError(f"{f.name} must be a string, got {value!r}")
            # one type per key, so equal configs write equal files (lr = 1 and lr = 1.0 alike)
            object.__setattr__(self, f.name, {"int": int, "float": float, "str": str}[f.type](value))
        for key in ("lr", "eta", "presentation", "c_v", "c_u", "kappa", "w_min"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0, got {getattr(self, key)!r}")
        for key, low in (
            ("seed", 0), ("epochs", 1), ("field_every", 0), ("side", 2), ("d", 1), ("release_every", 1),
            ("transport_steps", 1), ("xi", 0), ("lam", 0), ("pressure_steps", 1),
        ):  # fmt: skip
            if getattr(self, key) < low:
                raise ValueError(f"{key} must be >= {low}, got {getattr(self, key)!r}")
        if self.scheme not in ("explicit", "implicit"):
            raise ValueError(f"scheme must be 'explicit' or 'implicit', got {self.scheme!r}")
        if self.scheme == "implicit" and (self.rule != "chemical" or self.weights != "deferred"):
            raise ValueError("scheme='implicit' runs the chemical rule with weights='deferred' only")
        if not self.implicit_steps > 0:
            raise ValueError(f"implicit_steps must be > 0, got {self.implicit_steps!r}")
        if not self.max_dt_shrink >= 1:
            raise ValueError(f"max_dt_shrink must be >= 1, got {self.max_dt_shrink!r}")
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

    @classmethod
    def from_toml(cls, text: str) -> "IrisConfig":
        """Build from TOML text: top-level ``key = value`` pairs (a ``[sweep]`` table, which
        sweeps read, is ignored here). Every problem is a ``ValueError``."""
        return cls.from_dict(_config_items(text))

    def to_toml(self) -> str:
        """This config as TOML text that :meth:`from_toml` reads back to an equal config."""
        return "".join(f"{key} = {_toml_value(value)}\n" for key, value in self.to_dict().items())


def parse_toml(text: str) -> dict:
    """TOML text to a dict; a syntax error is a ``ValueError`` that says where."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"not valid TOML: {error}") from None


def read_config_file(path) -> dict:
    """The key/value pairs of a TOML config file (not yet validated: see ``IrisConfig.from_dict``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read config file {path}: {error}") from None
    try:
        return _config_items(text)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _config_items(text: str) -> dict:
    return {key: value for key, value in parse_toml(text).items() if key != "sweep"}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    return repr(value)


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


# Signals received inside an ``interruptible`` block. The handler raises KeyboardInterrupt at
# once, but Python swallows an exception raised while it runs a weakref or GC callback (it
# prints "Exception ignored" and goes on; seen with h5py's object registry), so the run loop
# also looks here after every epoch and raises then: a SIGTERM is never lost.
_received_signals: list[str] = []


@contextlib.contextmanager
def interruptible():
    """Turn SIGTERM and SIGINT into KeyboardInterrupt for the block, so run files close as
    interrupted; a signal whose exception Python swallowed is raised again at the end of the
    epoch (``raise_if_signalled``)."""

    def stop(signum, frame):
        name = signal.Signals(signum).name
        _received_signals.append(name)
        raise KeyboardInterrupt(f"received {name}")

    try:
        previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    _received_signals.clear()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _received_signals.clear()


def raise_if_signalled():
    """Raise the KeyboardInterrupt of a signal received in an ``interruptible`` block, if any."""
    if _received_signals:
        raise KeyboardInterrupt(f"received {_received_signals[-1]}")


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
    if config.dynamics == "timestepped" and config.rule != "advection":  # advection counts transport steps
        series.append(Series("observables/dt", (), "example", "time", "explicit time step of the presentation"))
        if config.field_every:
            series.append(Series("particles/nodes/pressure", (n,), "field", "pressure", "node pressures v"))
            series.append(
                Series("particles/nodes/concentration", (n,), "field", "concentration", "feedback chemical u")
            )
    return series + _checkpoint_series(config, series, n)


# What --resume needs beyond the conductances (already recorded per epoch): the fields carried
# from one presentation to the next, and how many rows every other clock had at the epoch's end.
CHECKPOINT = "observables/checkpoint/"


def _checkpoint_series(config: IrisConfig, series: list[Series], n: int) -> list[Series]:
    clocks = _other_clocks(series)
    found = [
        Series(CHECKPOINT + "rows", (len(clocks),), "epoch", "", f"rows of clocks {clocks} at the epoch's end", "int64")
    ]
    timed = config.dynamics == "timestepped"
    if config.rule == "advection":
        found += [
            Series(CHECKPOINT + "s_plus", (n,), "epoch", "", "s+ at the nodes"),
            Series(CHECKPOINT + "s_minus", (n,), "epoch", "", "s- at the nodes"),
            Series(CHECKPOINT + "released", (), "epoch", "", "chemical released so far"),
            Series(CHECKPOINT + "drained", (), "epoch", "", "chemical drained so far"),
            Series(CHECKPOINT + "transport_step", (), "epoch", "", "transport steps taken", "int64"),
        ]
        if timed:
            found.append(Series(CHECKPOINT + "pressure", (n,), "epoch", "pressure", "relaxing node pressures v"))
    elif timed:
        found += [
            Series(CHECKPOINT + "pressure", (n,), "epoch", "pressure", "node pressures v"),
            Series(CHECKPOINT + "concentration", (n,), "epoch", "concentration", "feedback chemical u"),
            Series(CHECKPOINT + "time", (), "epoch", "time", "elapsed physical time"),
            Series(CHECKPOINT + "explicit_step", (), "epoch", "", "time steps taken (explicit or implicit)", "int64"),
        ]
    return found


def _other_clocks(series: list[Series]) -> list[str]:
    return sorted({s.clock for s in series} - {"epoch"})


def _checkpoint(config: IrisConfig, network, state, rows: list[int]) -> dict:
    """The epoch's checkpoint row (``state`` None: the run has not started)."""
    values = {"rows": [rows]}
    if config.rule == "advection":
        state = AdvectionState.empty(network) if state is None else state
        values.update(
            s_plus=state.s_plus[None], s_minus=state.s_minus[None], released=[state.released],
            drained=[state.drained], transport_step=[state.step],
        )  # fmt: skip
        if config.dynamics == "timestepped":
            values["pressure"] = (np.zeros(network.n_nodes) if state.v is None else state.v)[None]
    elif config.dynamics == "timestepped":
        state = FieldState.at_rest(network) if state is None else state
        values.update(
            pressure=state.v[None], concentration=state.u[None], time=[state.time], explicit_step=[state.step]
        )
    return {CHECKPOINT + key: value for key, value in values.items()}


def _restored_state(config: IrisConfig, row: dict):
    """The carried fields from a checkpoint row (``{name: value}``), as the engine takes them.
    At rest equals "no state yet", so a run resumed at epoch 0 is a fresh run."""
    if config.rule == "advection":
        v = np.array(row["pressure"]) if config.dynamics == "timestepped" else None
        return AdvectionState(
            np.array(row["s_plus"]), np.array(row["s_minus"]), float(row["released"]), float(row["drained"]),
            int(row["transport_step"]), v,
        )  # fmt: skip
    if config.dynamics == "timestepped":
        return FieldState(np.array(row["pressure"]), np.array(row["concentration"]), float(row["time"]),
                          int(row["explicit_step"]))  # fmt: skip
    return None


def run_iris(
    config: IrisConfig = IrisConfig(),
    *,
    out=None,
    overwrite: bool = False,
    progress=None,
    command_line: list[str] | None = None,
    resume: bool = False,
) -> IrisRun:
    """Train on Iris as configured; write the trajectory to ``out`` (H5MD) if given.

    ``progress``: a meter (``simulator.progress``), silent by default. ``command_line``: stored
    verbatim in the file. An existing ``out`` is refused unless ``overwrite``.

    ``resume``: continue the interrupted (or killed) run in ``out``, which must have been
    started with the same config, from its last complete epoch. Every epoch's record ends
    with a checkpoint (the fields carried between presentations and how far every series
    had got); the conductances are the epoch's own, and the shuffle stream is replayed. The
    finished file is identical, sample for sample, to that of an uninterrupted run.
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
        if config.scheme == "implicit":
            dynamics = dataclasses.replace(dynamics, scheme="implicit", dt=t_relax / config.implicit_steps)
        else:
            min_dt = stable_step(dynamics, network, config.rule) / config.max_dt_shrink
            dynamics = dataclasses.replace(dynamics, min_dt=min_dt)
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

    series = _series(config, network)
    history = {
        k: [] for k in ("accuracy_train", "accuracy_test", "accuracy_test_strict", "response_norm", "clip_fraction")
    }
    costs, state, first_epoch = [], None, 1
    writer = contextlib.nullcontext()
    if resume:
        if out is None:
            raise ValueError("resume needs the run file (out=...)")
        writer, epochs_done, row = _reopen(out, config, series, history, costs)
        if row is not None:
            network = network.with_conductance(row["observables/edges/conductance"])
            state = _restored_state(config, {k.removeprefix(CHECKPOINT): v for k, v in row.items()})
            for _ in range(epochs_done):  # replay the shuffle stream
                shuffle.permutation(n_train)
            first_epoch = epochs_done + 1
    elif out is not None:
        writer = TrajectoryWriter(
            out, network=network, config=config.to_dict(), seed=config.seed, series=series,
            timed_clocks=("example", "epoch", "field") if timed else (), command_line=command_line,
            overwrite=overwrite, derived=derived,
        )  # fmt: skip
    other_clocks = _other_clocks(series)

    def record_epoch(epoch, metrics, clip):
        checkpoint = None if file is None else _checkpoint(config, network, state, [file.rows(c) for c in other_clocks])
        _record_epoch(file, history, epoch, metrics, network, clip, n_train, timed, derived, checkpoint)

    start = time.perf_counter()
    with writer as file:
        metrics = evaluate_iris(network, task)
        if first_epoch == 1:
            record_epoch(0, metrics, np.nan)
        progress.start(config.epochs - first_epoch + 1, f"Iris {config.dynamics} seed {config.seed}")
        try:
            for epoch in range(first_epoch, config.epochs + 1):
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
                record_epoch(epoch, metrics, result.floored.sum() / (n_train * network.n_edges))
                progress.update(1, test=metrics.accuracy_test, train=metrics.accuracy_train)
                raise_if_signalled()
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


def _record_epoch(file, history, epoch, metrics, network, clip, n_train, timed, derived, checkpoint):
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
            **checkpoint,
        },
    )  # fmt: skip


def _reopen(out, config: IrisConfig, series, history: dict, costs: list):
    """Open an interrupted run file to continue it: check it is this run, find its last
    complete epoch, cut every clock back to that epoch's checkpoint, and fill ``history`` and
    ``costs`` from the file. Returns ``(writer, epochs done, checkpoint row or None)``."""
    from . import __version__
    from .trajectory import TrajectoryError, load_trajectory

    run = load_trajectory(out)
    status, _ = run.status
    if status == "complete":
        raise TrajectoryError(f"{out} is complete; there is nothing to resume")
    given = json.loads(json.dumps(config.to_dict()))
    differing = sorted(k for k in set(given) | set(run.config) if given.get(k) != run.config.get(k))
    if differing:
        detail = ", ".join(f"{k} (file {run.config.get(k)!r}, given {given.get(k)!r})" for k in differing)
        raise TrajectoryError(f"cannot resume {out}: it was run with another config: {detail}")
    declared = {s.path for s in series}
    missing = sorted(declared - {name.removesuffix("/value") for name, _, _ in run.datasets()})
    if missing:
        raise TrajectoryError(f"cannot resume {out}: it has no checkpoint ({missing[0]} missing; an older file?)")
    rows = run.clock_rows()
    epoch_rows = rows.get("epoch", 0)
    row = None
    if epoch_rows == 0:  # stopped before the first evaluation: start over
        rows = dict.fromkeys(rows, 0)
    else:
        epoch_series = [s.path for s in series if s.clock == "epoch"]
        row = {path: run.series(path)[2][epoch_rows - 1] for path in epoch_series}
        counts = dict(zip(_other_clocks(series), row[CHECKPOINT + "rows"].tolist()))
        rows = {clock: epoch_rows if clock == "epoch" else counts[clock] for clock in rows}
        for key in history:
            history[key].extend(run.series(f"observables/{key}")[2][:epoch_rows].tolist())
        costs.append(run.series("observables/cost")[2][: rows["example"]])
    note = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "from_epoch": epoch_rows - 1,
        "status_before": status, "chemsignal-sim": __version__,
    }  # fmt: skip
    return TrajectoryWriter.reopen(out, rows=rows, note=note), max(epoch_rows - 1, 0), row


def run_from_command_line(config: IrisConfig, out, *, overwrite: bool, command_line: list[str], resume=False):
    """``run_iris`` as scenario scripts want it: a progress bar on a terminal, SIGTERM handled
    like Ctrl-C, and a one-line message instead of a traceback. Returns ``(run, 0)``, or
    ``(None, 2)`` for a refused file and ``(None, 130)`` for an interruption."""
    import sys

    from .progress import TerminalProgress
    from .trajectory import TrajectoryError

    if resume and overwrite:
        print("error: --resume continues the file and --overwrite replaces it; give one", file=sys.stderr)
        return None, 2
    try:
        with interruptible():
            run = run_iris(config, out=out, overwrite=overwrite, progress=TerminalProgress(), command_line=command_line,
                           resume=resume)  # fmt: skip
    except TrajectoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return None, 2
    except KeyboardInterrupt:
        print(f"interrupted; the partial run is in {out} (status 'interrupted')", file=sys.stderr)
        return None, 130
    except SimulationError as error:
        print(f"error: {error}; the run so far is in {out} (status 'failed')", file=sys.stderr)
        return None, 1
    return run, 0
