"""One recorded run for any network, task, rule and dynamics: ``run(config, out=...)``.

Each epoch: the training examples in a fresh order drawn from the run's seed; the task gives
their inputs and targets (fixed, or moving with the network as in the paper's Iris
protocol); ``train`` presents them, one learning step each; then the task scores the network
on both splits at steady state. Everything goes to one H5MD file when ``out`` is given:

* per presentation (clock ``example``): ``cost``, ``output``, ``target``, ``example``,
  ``floored`` (and the task's own, e.g. ``label``; ``dt`` when time-stepped);
* per epoch (clock ``epoch``, epoch 0 before training): ``epoch``, ``cost_train``,
  ``cost_test`` and the task's metrics, ``clip_fraction``, ``edges/conductance``, and a
  checkpoint (the carried fields, how far every other clock had got) from which
  ``resume=True`` continues, sample for sample as an uninterrupted run;
* fields on their cadence (clock ``field``), and per release in the advection mode.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .base import (
    RunWarning,
    SimulationError,
    __version__,
    interruptible,
    raise_if_signalled,  # fmt: skip
)
from .config import RunConfig, config_differences, engine_objects
from .engine import resolve, train
from .engine.recording import Recording, recording_of
from .network import Network, lattice_network
from .network_io import as_network, load_network
from .outputs import held
from .progress import NoProgress
from .quasistatic import transfer_matrix
from .tasks import TASKS, headline
from .trajectory import (
    CHECKPOINT,
    ConfigDiffers,
    FileBusy,
    NothingToResume,
    Series,
    TrajectoryError,
    TrajectoryWriter,
    check_run_file,  # fmt: skip
    load_trajectory,
    stored_bytes_per_sample,
    verify,
)

__all__ = ["RunResult", "run", "interrupted_message", "file_identity", "interruptible",
           "raise_if_signalled"]  # the last two: base


@dataclass(frozen=True)
class RunResult:
    """What a run produced (its file, if any, holds all of it and more).

    config : the run's config;  epochs : ``{metric: [E+1]}`` every scalar per-epoch metric
    (index 0 before training) and ``clip_fraction``;  costs : [presentations] cost of each
    network : the trained network;  wall_time : seconds;  path : the run file or None
    derived : what the run computed from its config (relaxation time, T in time units, ...)
    status : 0 when every epoch ran, -1 when the physics stopped it (``on_failure="return"``;
    ``message`` says why, and the run file's ``run_status`` is ``failed``), as in ``TrainResult``
    warnings : what the blow-up watch saw (also on stderr and in ``parameters/run_warnings``)
    """

    config: RunConfig
    epochs: dict
    costs: np.ndarray
    network: Network
    wall_time: float
    path: Path | None = None
    derived: dict = field(default_factory=dict)
    status: int = 0
    message: str = ""
    warnings: tuple = ()

    @property
    def success(self) -> bool:
        return self.status == 0

    def final(self, metric: str | None = None) -> float:
        """The last epoch's ``metric`` (default: the task's headline, e.g. Iris's ``accuracy_test``)."""
        return float(self.epochs[metric or headline(self.config["task.name"])[0]][-1])


# ---------------------------------------------------------------------- the parts of a run
def build_network(config: RunConfig, task_class) -> Network:
    """The starting network: the ``[network]`` file, or the paper's lattice sized for the task."""
    table = config.tables["network"]
    if table["file"]:
        pairs = {key: table[key] or None for key in ("input_pairs", "output_pairs")}
        return load_network(table["file"], **pairs)
    terminals = task_class.terminals(config.tables["task"]) or (4, 3)
    n_inputs, n_outputs = table["n_inputs"] or terminals[0], table["n_outputs"] or terminals[1]
    return lattice_network(side=table["side"], d=table["d"], delta=table["delta"], seed=config["run.seed"],
                           n_inputs=n_inputs, n_outputs=n_outputs, adjacent_outputs=table["adjacent_outputs"])


def _series(task, network: Network, objects: dict, recording: Recording) -> list[Series]:
    p, n, m = network.n_outputs, network.n_nodes, network.n_edges
    found = [
        Series("observables/cost", (), "example", "", f"{objects['cost'].name} cost of each presentation"),
        Series("observables/output", (p,), "example", "pressure", "output drops seen by the learning step"),
        Series("observables/target", (p,), "example", "pressure", "desired output drops of the presentation"),
        Series("observables/example", (), "example", "", "index in the training set", "int64"),
        *(Series(f"observables/{name}", (), "example", "", text, "int64") for name, text in
          task.example_series().items()),
        Series("observables/floored", (), "example", "", "pipes caught by the conductance floor", "int64"),
        Series("observables/epoch", (), "epoch", "", "epochs completed", "int64"),
        *(Series(f"observables/{name}", metric.shape, "epoch", metric.unit, metric.description) for name, metric in
          task.metrics().items()),
        Series("observables/clip_fraction", (), "epoch", "", "fraction of the epoch's pipe updates floored (NaN at 0)"),
        *(Series(f"observables/{name}", (), "epoch", "", text) for name, text in WATCHED.items()),
        Series("observables/edges/conductance", (m,), "epoch", "conductance", "pipe conductances"),
    ]  # fmt: skip
    found += recording.series(n, m, objects["save"].fields_every)
    return found + _checkpoint_series(recording, found, n, m)


#: The blow-up watch's warning levels (the stops are the config's run.max_step_growth and
#: run.max_cost_ratio, 100 and 1000 by default). Chosen on the default Iris runs of seeds
#: 0-9 (largest one-step growth 0.6-52, largest cost ratio 4-48) and the shipped task configs.
WARN_LEVELS = {"step_growth": 10.0, "cost_ratio": 100.0}
WATCHED = {  # per epoch, by the blow-up watch (NaN at epoch 0)
    "step_growth": "largest change of a pipe in one presentation / largest conductance before it, over the epoch",
    "cost_ratio": "largest presentation cost of the epoch / epoch 0's mean training cost",
}

def _other_clocks(series: list[Series]) -> list[str]:
    return sorted({s.clock for s in series} - {"epoch"})


def _checkpoint_series(recording: Recording, series: list[Series], n: int, m: int) -> list[Series]:
    clocks = _other_clocks(series)
    found = [Series(CHECKPOINT + "rows", (len(clocks),), "epoch", "", f"rows of clocks {clocks} at the epoch's end",
                    "int64")]  # fmt: skip
    for name, (shape, dtype) in recording.checkpoint_fields(n, m).items():
        found.append(Series(CHECKPOINT + name, shape, "epoch", "", f"carried {name}", dtype))
    return found


# ---------------------------------------------------------------------- the run
class _Run:
    """One run being made: its parts, the carried network and state, and its history."""

    def __init__(self, config: RunConfig, network, out, resume: bool):
        self.config, self.out = config, None if out is None else Path(out)
        self.objects = engine_objects(config)
        task_class = TASKS[config["task.name"]]
        if resume:
            if self.out is None:
                raise ValueError("resume needs the run file (out=...)")
            if held(self.out):  # before reading it: a live run's file is its own
                raise FileBusy(f"{self.out} is being written by a live run (it holds the file's lock); wait for it "
                               "to finish")  # fmt: skip
            verify(self.out)  # every checksum, before anything is taken from the file
            start = load_trajectory(self.out).network()  # the network the run started from, as recorded
        else:
            start = build_network(config, task_class) if network is None else as_network(network)
        options = {key: value for key, value in config.tables["task"].items() if key != "name"}
        self.boundary = recording_of(self.objects["dynamics"]).boundary  # how inputs enter, outputs are read
        self.task = task_class.from_config(options, network=start, seed=config["run.seed"], boundary=self.boundary)
        self.task.cost = self.objects["cost"]  # the run's: what it records as cost_train and cost_test
        self.task.check_fits(start)
        _check_targets_fit_the_cost(self.task, config)
        objects = self.objects
        objects["dynamics"], objects["integrator"], objects["weights"], self.derived = resolve(
            start, objects["rule"], objects["dynamics"], objects["physics"], objects["integrator"], objects["weights"]
        )
        # what a rule must hold between its two phases, per presentation (EP, CL: each pipe its free drop)
        self.derived["stored_floats_per_presentation"] = start.n_edges if objects["rule"].stores_free_state else 0
        self.dynamics = objects["dynamics"].name  # (for the progress line)
        self.recording = recording_of(objects["dynamics"])  # what the dynamics records and carries
        self.timed = self.recording.timed
        self.series = _series(self.task, start, objects, self.recording)
        self.network, self.state, self.first_epoch, self.epoch_zero_recorded = start, None, 1, False
        self.shuffle = np.random.default_rng(np.random.SeedSequence(config["run.seed"], spawn_key=(2,)))
        self.history = {name: [] for name, metric in self.task.metrics().items() if metric.shape == ()}
        for name in ("clip_fraction", *WATCHED):
            self.history[name] = []
        self.costs, self.warnings, self.warned, self.watched = [], [], set(), {}

    def projected_bytes(self) -> int:
        """About how many bytes the epochs still to run will add to the run file (the
        time-stepped snapshots counted at the starting network's step)."""
        per_clock: dict[str, float] = {}
        step_and_time = 2 * stored_bytes_per_sample((), np.int64)
        for spec in self.series:
            size = stored_bytes_per_sample(spec.shape, spec.dtype)
            per_clock[spec.clock] = per_clock.get(spec.clock, step_and_time) + size
        epochs = self.config["run.epochs"] - self.first_epoch + 2
        presentations = epochs * self.task.n_train
        rows = {"epoch": epochs, "example": presentations, **self.recording.extra_rows(presentations)}
        steps = presentations * self.recording.field_steps_per_presentation(
            self.network, self.derived, self.objects["integrator"], self.objects["physics"])  # fmt: skip
        every = self.objects["save"].fields_every
        rows["field"] = steps // every if every else 0
        return int(sum(per_clock.get(clock, 0) * count for clock, count in rows.items()))

    def check_room(self) -> None:
        """Refuse, before any work, a run whose file would not fit on its disk."""
        need, free = self.projected_bytes(), shutil.disk_usage(self.out.resolve().parent).free
        if need > free:
            fields = self.objects["save"].fields_every
            raise TrajectoryError(
                f"the run would write about {_bytes(need)} to {self.out} ({self.config['run.epochs']} epochs of "
                f"{self.task.n_train} presentations), and its disk has {_bytes(free)} free: ask for fewer epochs"
                + (", or snapshot the fields less often (run.fields_every)" if fields else "")
            )

    def writer(self, *, overwrite: bool, resume: bool, command_line):
        """The open run file (a fresh one, or the interrupted one cut back to its last epoch)."""
        if self.out is None:
            return contextlib.nullcontext()
        if resume:
            return self._reopen()
        return TrajectoryWriter(
            self.out, network=self.network, config=self.config.to_dict(), seed=self.config["run.seed"],
            series=self.series, timed_clocks=("example", "epoch", "field") if self.timed else (),
            command_line=command_line, overwrite=overwrite, derived=self.derived,
        )  # fmt: skip

    def _reopen(self) -> TrajectoryWriter:
        """Check that the file is this run, find its last complete epoch, restore the network,
        the carried state, the history and the shuffle stream from it, and reopen it cut back
        to that epoch's checkpoint."""
        recorded = load_trajectory(self.out)
        status, _ = recorded.status
        if status == "complete":
            raise NothingToResume(f"{self.out} is complete; there is nothing to resume")
        _check_same_config(self.out, self.config, recorded.config)
        missing = sorted({s.path for s in self.series} - {name.removesuffix("/value") for name, _, _ in
                                                           recorded.datasets()})  # fmt: skip
        if missing:
            raise TrajectoryError(
                f"cannot resume {self.out}: it was written by an earlier version of the file layout ({missing[0]} "
                "is missing); it can still be inspected and plotted"
            )
        rows = recorded.clock_rows()
        torn = recorded.torn()
        if torn:  # what a kill (or an older version's interrupted write) left half-made is not continued from
            warnings.warn(f"{self.out}: left out of the resume: {'; '.join(torn)}", RunWarning, stacklevel=2)
        epoch_rows = rows.get("epoch", 0)
        if epoch_rows == 0:  # stopped before the first evaluation: start over
            rows = dict.fromkeys(rows, 0)
        else:
            row = {s.path: recorded.series(s.path)[2][epoch_rows - 1] for s in self.series if s.clock == "epoch"}
            counts = dict(zip(_other_clocks(self.series), row[CHECKPOINT + "rows"].tolist()))
            rows = {clock: epoch_rows if clock == "epoch" else counts[clock] for clock in rows}
            for key in self.history:
                self.history[key].extend(recorded.series(f"observables/{key}")[2][:epoch_rows].tolist())
            self.costs.append(recorded.series("observables/cost")[2][: rows["example"]])
            self.warned = {text.split(":", 1)[0] for text in recorded.warnings}  # each kind once per run
            self.network = self.network.with_conductance(row["observables/edges/conductance"])
            self.state = self.recording.restored({k.removeprefix(CHECKPOINT): v for k, v in row.items()})
            for _ in range(epoch_rows - 1):  # replay the shuffle stream
                self.shuffle.permutation(self.task.n_train)
            self.first_epoch, self.epoch_zero_recorded = epoch_rows, True
        note = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "from_epoch": epoch_rows - 1,
                "status_before": status, "chemsignal-sim": __version__}  # fmt: skip
        return TrajectoryWriter.reopen(self.out, rows=rows, note=note)

    def evaluate(self) -> dict:
        return self.task.evaluate(self.network, transfer_matrix(self.network, **self.boundary))

    def train_epoch(self, file, epoch: int, evaluation: dict):
        """Present the epoch's examples; record them; watch for blow-ups; stop the run if the
        physics stopped or a blow-up passed its limit."""
        order = self.shuffle.permutation(self.task.n_train)
        inputs, targets = self.task.examples(order, evaluation)
        objects = dict(self.objects)
        if self.config["rule.lr_decay_every"] and "alpha" in objects:  # the rate of this epoch: a function of it alone
            objects["alpha"] *= self.config["rule.lr_decay"] ** ((epoch - 1) // self.config["rule.lr_decay_every"])
        result = train(self.network, inputs, targets, w_min=self.config["run.w_min"], state=self.state,
                       on_failure="return", **objects)  # fmt: skip
        self.network, self.state = result.network, result.state
        self.costs.append(result.costs)
        if file is not None:
            self._record_examples(file, epoch, order, result, targets)
        stop = self.watch(file, epoch, result)
        if not result.success:
            raise SimulationError(result.message)
        if stop:
            raise SimulationError(stop)
        return result

    def watch(self, file, epoch: int, result) -> str:
        """The blow-up watch over the epoch's presentations: a warning (stderr and the file)
        the first time a presentation passes its level in ``WARN_LEVELS``, and the reason to
        stop when one passes the user's limit (``run.max_step_growth``, ``run.max_cost_ratio``)."""
        start_cost = self.history["cost_train"][0] if self.history.get("cost_train") else np.nan
        ratios = result.costs / start_cost if start_cost > 0 else np.full(len(result.costs), np.nan)
        self.watched = {"step_growth": _largest(result.step_growth), "cost_ratio": _largest(ratios)}
        checks = (
            ("step_growth", result.step_growth, "run.max_step_growth",
             lambda k, x: f"one step changed a pipe by {x:.3g}x the largest conductance before it"),
            ("cost_ratio", ratios, "run.max_cost_ratio",
             lambda k, x: f"cost {result.costs[k]:.4g} is {x:.3g}x epoch 0's mean training cost {start_cost:.4g}"),
        )  # fmt: skip
        for name, values, key, say in checks:
            values, limit = np.nan_to_num(values, nan=0.0), self.config[key]
            passed = np.flatnonzero(values > limit)
            over = passed if len(passed) else np.flatnonzero(values > WARN_LEVELS[name])
            if not len(over):
                continue
            where = f"epoch {epoch}, presentation {over[0] + 1} of {self.task.n_train}: {say(over[0], values[over[0]])}"
            if len(passed):
                return f"blew up at {where} (limit {key} = {limit:g})"
            if name not in self.warned:
                self.warned.add(name)
                self._warn(file, f"{name}: {where} (a warning from {WARN_LEVELS[name]:g}; the run stops past {key} = "
                                 f"{limit:g})")  # fmt: skip
        return ""

    def _warn(self, file, text: str) -> None:
        self.warnings.append(text)
        if file is not None:
            file.warn(text)
        warnings.warn(text, RunWarning, stacklevel=2)

    def _record_examples(self, file, epoch: int, order, result, targets) -> None:
        done = len(result.costs)
        steps = (epoch - 1) * self.task.n_train + np.arange(1, done + 1)
        values = {
            "observables/cost": result.costs, "observables/output": result.outputs,
            "observables/target": targets[:done], "observables/example": order[:done],
            "observables/floored": result.floored,
            **{f"observables/{key}": value[:done] for key, value in self.task.example_values(order).items()},
        }  # fmt: skip
        if self.timed:
            values["observables/dt"] = result.dt
        file.append("example", step=steps, time=steps * self.derived["T"] if self.timed else None, **values)
        if result.releases is not None:
            releases = result.releases
            file.append("release", step=releases.step, **{
                "observables/release_cost": releases.cost, "observables/grad_cosine": releases.grad_cosine,
                "observables/released_mass": releases.released, "observables/drained_mass": releases.drained,
                "observables/in_network_mass": releases.in_network,
            })  # fmt: skip
        frames = result.fields
        if frames is not None and len(frames.step):
            prefix = {"conductance": None}  # recorded per epoch already
            fields = {f"particles/nodes/{k}": v for k, v in frames.fields.items() if k not in prefix}
            file.append("field", step=frames.step, time=frames.time, **fields)

    def record_epoch(self, file, epoch: int, evaluation: dict, clip: float) -> None:
        own = {"clip_fraction": clip, **{name: self.watched.get(name, np.nan) for name in WATCHED}}
        for key in self.history:
            self.history[key].append(own[key] if key in own else evaluation[key])
        if file is None:
            return
        rows = [file.rows(clock) for clock in _other_clocks(self.series)]
        carried = self.recording.checkpoint(self.state, self.network)
        checkpoint = {CHECKPOINT + key: value for key, value in {"rows": [rows], **carried}.items()}
        step = np.array([epoch * self.task.n_train])
        file.append(
            "epoch", step=step, time=step * self.derived["T"] if self.timed else None,
            **{"observables/epoch": [epoch], **{f"observables/{key}": [value] for key, value in own.items()},
               "observables/edges/conductance": self.network.conductance[None],
               **{f"observables/{key}": np.asarray(value)[None] for key, value in evaluation.items()}, **checkpoint},
        )  # fmt: skip


def _check_targets_fit_the_cost(task, config: RunConfig) -> None:
    """A cost of class probabilities (the softmax cross-entropy) needs fixed targets that are
    probabilities, not output drops that move with the network."""
    cost = task.cost
    if not cost.probability_targets:
        return
    if task.targets_train is None or task.targets_test is None:
        raise ValueError(f"rule.cost = {cost.name!r} needs targets that are class probabilities; the "
                         f"{config['task.name']} task's targets are output drops that move with the network")
    for targets in (task.targets_train, task.targets_test):
        cost.check_targets(targets)


def _largest(values) -> float:
    """The largest of ``values``, NaN when there are none (no presentation, or no scale)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmax(values)) if np.any(~np.isnan(values)) else np.nan


def _bytes(count: int) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


def _check_same_config(path, given: RunConfig, recorded: dict) -> None:
    """Refuse to resume a file made with another config, naming every key that differs."""
    differing = config_differences(recorded, given.to_dict())
    if differing:
        detail = ", ".join(f"{key} (file {a!r}, given {b!r})" for key, a, b in differing)
        raise ConfigDiffers(f"cannot resume {path}: it was run with another config: {detail}")


def run(
    config: RunConfig | dict | None = None,
    *,
    network=None,
    out=None,
    overwrite: bool = False,
    resume: bool = False,
    progress=None,
    command_line: list[str] | None = None,
    on_failure: str = "raise",
) -> RunResult:
    """Train as ``config`` says; record the run to ``out`` (H5MD) if given.

    Parameters
    ----------
    config : a :class:`RunConfig` (or the dict of its tables; default: Iris as in the paper)
    network : a ``Network`` or networkx graph to start from instead of ``[network]``
    out : the run file; an existing one is refused unless ``overwrite``
    resume : continue the interrupted (or killed) run in ``out``, which must have been made
        with the same config, from its last complete epoch: the finished file equals that of
        an uninterrupted run, sample for sample
    progress : a meter (``simulator.progress``), silent by default
    command_line : stored verbatim in the file
    on_failure : ``"raise"`` (default) raises ``SimulationError`` when the physics stops (the
        file says ``failed``); ``"return"`` returns the result with ``status = "failed"``
    """
    config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    if on_failure not in ("raise", "return"):
        raise ValueError(f"on_failure must be 'raise' or 'return', got {on_failure!r}")
    progress = NoProgress() if progress is None else progress
    if out is not None and not resume:
        check_run_file(out, overwrite)  # before any work: the file, its folder, a live run on it
    this = _Run(config, network, out, resume)
    if this.out is not None:
        this.check_room()
    status, message, start = 0, "", time.perf_counter()
    try:
        with this.writer(overwrite=overwrite, resume=resume, command_line=command_line) as file:
            _epochs(this, file, progress)
    except SimulationError as error:
        if on_failure == "raise":
            raise
        status, message = -1, str(error)
    return RunResult(
        config=config, epochs={k: np.array(v) for k, v in this.history.items()},
        costs=np.concatenate(this.costs) if this.costs else np.empty(0), network=this.network,
        wall_time=time.perf_counter() - start, path=this.out, derived=this.derived, status=status, message=message,
        warnings=tuple(this.warnings),
    )  # fmt: skip


def _epochs(this: _Run, file, progress) -> None:
    evaluation = this.evaluate()
    if not this.epoch_zero_recorded:  # (a run resumed from its epoch 0 alone has it already)
        this.record_epoch(file, 0, evaluation, np.nan)
    epochs = this.config["run.epochs"]
    progress.start(epochs - this.first_epoch + 1, f"{this.config['task.name']} {this.dynamics} "
                                                  f"seed {this.config['run.seed']}")  # fmt: skip
    try:
        for epoch in range(this.first_epoch, epochs + 1):
            result = this.train_epoch(file, epoch, evaluation)
            evaluation = this.evaluate()
            updates = this.task.n_train * this.network.n_edges * this.recording.updates_per_presentation
            clip = result.floored.sum() / updates
            this.record_epoch(file, epoch, evaluation, clip)
            metric = this.task.headline
            progress.update(1, **{metric: evaluation[metric]})
            raise_if_signalled()
    finally:
        progress.close()


def file_identity(path) -> tuple | None:
    """Which file is at ``path`` now (device, inode, size, modification time), or None."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def interrupted_message(out, before: tuple | None) -> str:
    """What an interrupt left at ``out``, in one line (``before``: :func:`file_identity` of the file
    that was there when the command started), with the command that continues the run."""
    now = file_identity(out)
    if now is None:
        return f"interrupted before {out} was written; nothing to resume (run the command again)"
    try:
        status, problem = load_trajectory(out).status[0], ""
    except (TrajectoryError, OSError) as error:
        status, problem = None, str(error)
    resume = f"continue it with: python -m simulator resume {out}"
    if now == before:  # (a run file that can be continued says how)
        unfinished = status not in (None, "complete")
        return f"interrupted before the run changed {out}; it is as it was" + (
            f" (status {status!r}); {resume}" if unfinished else "")  # fmt: skip
    if status is None:
        return f"interrupted; {out} cannot be read ({problem})"
    if status == "complete":
        return f"interrupted as the run ended; {out} is complete"
    return f"interrupted; the partial run is in {out} (status {status!r}); {resume}"
