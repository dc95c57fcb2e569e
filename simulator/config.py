"""Run configs: one TOML file (or dict) with a table per concern, checked when built.

::

    [network]    file = "net.json"   (node-link JSON or GraphML), or the lattice: side, d, delta
    [task]       name = "iris" | "regression" | "tuning" | "csv" | "npz", and the task's keys
    [rule]       name = "chemical" | "ep" | "coupled" | "gradient", lr, eta, cost (huber_threshold)
    [dynamics]   name = "quasistatic" | "timestepped" | "advection", and that dynamics' keys
    [run]        seed, epochs, w_min, fields_every

Every key has one type and a range; unknown keys are refused by name; paths are relative to
the config file. ``lr`` is the step along ``-dC/dw`` (``alpha = lr / eta``). Durations of the
time-stepped dynamics (``presentation``, ``feedback_delay``, ``remodel_time``,
``chemical_lifetime``) are in relaxation times of the starting network. The keys of the old
flat Iris configs (``lr = ...``, ``tau = ...``) still load, with a one-line notice naming the new keys.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from . import engine
from .base import ChemsignalDeprecationWarning, Option, checked_options
from .costs import COSTS, Huber
from .engine.training import check_combination
from .network import MAX_DELTA
from .quasistatic import BOUNDARIES
from .rules import RULES
from .tasks import TASKS

__all__ = ["RunConfig", "TABLES", "DEFAULT", "parse_toml", "parse_assignment", "engine_objects", "config_differences"]

TABLES = ("network", "task", "rule", "dynamics", "run")

NETWORK = {
    "file": Option(str, "", doc="a node-link JSON or GraphML file; empty: the paper's lattice"),
    "side": Option(int, 12, low=2, doc="lattice: nodes per side"),
    "d": Option(int, 4, low=1, doc="lattice: links to the d nearest neighbours"),
    "delta": Option(float, 0.25, low=0, high=MAX_DELTA, doc="lattice: displacement of each node"),
    "n_inputs": Option(int, 0, low=0, doc="lattice: input pairs (0: as the task needs)"),
    "n_outputs": Option(int, 0, low=0, doc="lattice: output pairs (0: as the task needs)"),
    "adjacent_outputs": Option(bool, True, doc="lattice: each output pair two nodes a pipe joins (the paper's); "
                               "false: two that no pipe joins"),
    "input_pairs": Option(list, [], doc="file: input pairs in the graph's labels (default: the graph's own)"),
    "output_pairs": Option(list, [], doc="file: output pairs in the graph's labels (default: the graph's own)"),
}
RULE = {
    "name": Option(str, "chemical", doc="a rule of simulator.RULES"),
    "lr": Option(float, 3e-3, positive=True, doc="the step along -dC/dw: alpha * eta"),
    "eta": Option(float, 1.0, positive=True, doc="nudge: feedback current per unit output error"),
    "cost": Option(str, "squared", doc="what the feedback descends: a cost of simulator.COSTS"),
    "huber_threshold": Option(float, 1.0, positive=True, doc="huber: the error beyond which the cost grows linearly"),
    "lr_decay": Option(float, 1.0, positive=True, high=1.0, doc="the rate is multiplied by this every "
                       "lr_decay_every epochs (1: constant, the paper's)"),
    "lr_decay_every": Option(int, 0, low=0, doc="epochs between decays of the rate (0: never)"),
}
RUN = {
    "seed": Option(int, 0, low=0, doc="network, split, teacher and shuffling seed"),
    "epochs": Option(int, 150, low=1, doc="passes over the training examples"),
    "w_min": Option(float, 1e-4, positive=True, doc="conductance floor"),
    "fields_every": Option(int, 100_000, low=0, doc="snapshot the fields every N time (transport) steps; 0: never"),
    "max_step_growth": Option(float, 100.0, low=1, doc="stop (failed) when one presentation changes a pipe by more "
                              "than this many times the largest conductance before it (a warning from 10)"),
    "max_cost_ratio": Option(float, 1000.0, low=1, doc="stop (failed) when a presentation's cost exceeds this many "
                             "times epoch 0's mean training cost (a warning from 100)"),
}
_PHYSICS = {
    "c_v": Option(float, 1.0, positive=True, doc="node compliance of the pressure"),
    "c_u": Option(float, 1.0, positive=True, doc="node compliance of the chemical"),
    "kappa": Option(float, 1.0, positive=True, doc="chemical diffusivity per unit conductance"),
    "drift": Option(float, 0.0, low=0, doc="the chemical drifts with the flow: a share drift of each pipe's flow "
                    "carries it (0: diffusion only, the paper's assumption); a pipe's Peclet number is "
                    "drift |dv| / kappa"),
}
DYNAMICS_OPTIONS = {
    "quasistatic": {
        "kappa": _PHYSICS["kappa"],
        "drift": _PHYSICS["drift"],
        "solver_method": Option(str, "auto", choices=("auto", "banded", "dense", "sparse")),
        "sparse_backend": Option(str, "auto", choices=("auto", "pardiso", "ldl", "splu")),
        "substeps": Option(int, 1, low=1, doc="each presentation as this many steps of lr / substeps (large: the "
                           "gradient flow over a presentation, the physical time-stepped protocol's limit)"),
    },
    "timestepped": {
        "presentation": Option(float, 50.0, positive=True, doc="T per example, in relaxation times"),
        "feedback_delay": Option(float, 0.0, low=0, doc="feedback from this long into a presentation, t_relax"),
        **_PHYSICS,
        "weights": Option(str, "auto", choices=("auto", *engine.WEIGHTS), doc="auto: physical for the chemical "
                          "rule (the pipes remodel at the material's rate), deferred for the two-phase rules"),
        "remodel_time": Option(float, 50.0, positive=True, doc="physical weights: the material's remodelling "
                               "time, relaxation times (gamma = alpha / remodel_time)"),
        "chemical_lifetime": Option(float, 0.0, low=0, doc="the chemical decays at 1 / lifetime (relaxation times); "
                                    "0: it does not decay"),
        "scheme": Option(str, "explicit", choices=("explicit", "implicit")),
        "safety": Option(float, 0.9, positive=True, high=1.0, doc="explicit: fraction of the stability bound"),
        "implicit_steps": Option(float, 10.0, positive=True, doc="implicit: steps per relaxation time"),
        "max_dt_shrink": Option(float, 100.0, low=1, doc="explicit: stop when the stable step falls this many times"),
    },
    "advection": {
        "xi": Option(float, 0.01, low=0, doc="conductance change per unit chemical crossing a pipe"),
        "lam": Option(float, 1.0, low=0, doc="chemical released per unit output error"),
        "release_every": Option(int, 5, low=1, doc="transport steps between releases (the paper's tau)"),
        "transport_steps": Option(int, 20, low=1, doc="transport steps per presentation"),
        "pressure_steps": Option(int, 0, low=0, doc="0: pressures solved; k: k relaxation steps per transport step"),
        "inputs_as": Option(str, "currents", choices=BOUNDARIES["inputs_as"]),
        "outputs_as": Option(str, "pairs", choices=BOUNDARIES["outputs_as"]),
        "diffusion": Option(float, 0.0, low=0, doc="s+/s- diffuse (I + diffusion L) per transport step (0: the "
                            "appendix's pure transport; a pipe's Peclet number is 1 / (diffusion w))"),
    },
}
PATH_KEYS = {"network": ("file",), "task": ("file", "test_file")}
#: The name a table takes when none is given.
DEFAULT_NAMES = {"dynamics": "quasistatic", "task": "iris", "rule": RULE["name"].default}

# Keys that do not apply in some configs, and why: set to anything but their default there,
# they are refused rather than silently ignored.
INAPPLICABLE = (
    (lambda t: t["network"]["file"], "network", ("side", "d", "delta", "n_inputs", "n_outputs", "adjacent_outputs"),
     "they build the lattice, and network.file is set"),
    (lambda t: not t["network"]["file"], "network", ("input_pairs", "output_pairs"),
     "they name nodes of a network file, and network.file is not set"),
    (lambda t: t["dynamics"]["name"] == "advection", "rule", ("lr", "eta", "lr_decay", "lr_decay_every"),
     "the advection mode learns at the rates dynamics.xi and dynamics.lam"),
    (lambda t: t["rule"]["cost"] != "huber", "rule", ("huber_threshold",), "it belongs to rule.cost = \"huber\""),
    (lambda t: t["dynamics"].get("weights") in ("deferred", "live")
     or (t["dynamics"].get("weights") == "auto" and RULES[t["rule"]["name"]].timestepped != "fused"),
     "dynamics", ("remodel_time",), "it belongs to the physical weights (dynamics.weights = \"physical\")"),
    (lambda t: t["dynamics"].get("scheme") == "implicit", "dynamics", ("safety", "max_dt_shrink"),
     "they belong to the explicit scheme"),
    (lambda t: t["dynamics"].get("scheme") == "explicit", "dynamics", ("implicit_steps",),
     "it belongs to the implicit scheme"),
)  # fmt: skip

# The flat keys of the old Iris config (IrisConfig), and where they live now.
LEGACY = {
    "seed": "run.seed", "epochs": "run.epochs", "w_min": "run.w_min", "field_every": "run.fields_every",
    "lr": "rule.lr", "eta": "rule.eta", "rule": "rule.name", "dynamics": "dynamics.name",
    "side": "network.side", "d": "network.d", "delta": "network.delta",
    **{key: f"dynamics.{key}" for key in ("presentation", "c_v", "c_u", "kappa", "weights", "scheme",
                                         "implicit_steps", "max_dt_shrink", "xi", "lam", "release_every",
                                         "transport_steps", "pressure_steps")},
    "tau": "dynamics.feedback_delay",
}  # fmt: skip
RENAMED = {  # (table, dynamics name or "", old key) -> new key
    ("dynamics", "timestepped", "tau"): "feedback_delay",
    ("dynamics", "advection", "tau"): "release_every",
    ("dynamics", "advection", "steps"): "transport_steps",
    ("dynamics", "quasistatic", "advection"): "drift",
    ("dynamics", "timestepped", "advection"): "drift",
    ("run", "", "field_every"): "fields_every",
}


def parse_toml(text: str) -> dict:
    """TOML text to a dict; a syntax error is a ``ValueError`` that says where."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"not valid TOML: {error}") from None


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: The value that returns a key to its default in :meth:`RunConfig.with_values` (``--set KEY=``
#: with nothing after the ``=``, or ``--unset KEY``).
DEFAULT = _Default()


def parse_assignment(text: str) -> tuple[str, object]:
    """``"rule.lr=1e-3"`` -> ``("rule.lr", 0.001)``: the value read as TOML (a bare word is a
    string, so ``dynamics.name=timestepped`` needs no quotes); ``"rule.lr="`` -> ``("rule.lr",
    DEFAULT)``: the key back at its default (an empty string is ``KEY=\"\"``)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    table, dot, name = key.partition(".")
    if not sep or not dot or not name or table not in TABLES:
        raise ValueError(f"--set wants TABLE.KEY=VALUE with TABLE one of {list(TABLES)}; got {text!r}")
    if not value.strip():
        return key, DEFAULT
    try:
        return key, parse_toml(f"value = {value.strip()}")["value"]
    except ValueError:
        return key, value.strip()


def _notice(message: str) -> None:
    warnings.warn(message, ChemsignalDeprecationWarning, stacklevel=4)


def _migrated(values: dict) -> dict:
    """The old flat Iris keys moved into their tables (one notice), old names inside tables renamed."""
    values = {key: dict(value) if isinstance(value, dict) else value for key, value in values.items()}
    # "rule" and "dynamics" were flat keys too: a table name with a plain value is an old key
    flat = [key for key, value in values.items() if key != "sweep" and not (key in TABLES and isinstance(value, dict))]
    old = [key for key in flat if key in LEGACY]
    if old:
        more = f", and {len(old) - 6} more" if len(old) > 6 else ""
        moves = ", ".join(f"{key} as {LEGACY[key]}" for key in old[:6]) + more
        _notice(f"this config has the old flat Iris keys; read {moves}")
        _move_legacy(values, {key: values.pop(key) for key in old})
    for (table, dynamics, key), new in RENAMED.items():
        entries = values.get(table)
        if isinstance(entries, dict) and key in entries and dynamics in ("", entries.get("name", "quasistatic")):
            _notice(f"{table}.{key} is now {table}.{new}")
            entries.setdefault(new, entries.pop(key))
    return values


def _move_legacy(values: dict, flat: dict) -> None:
    if flat.get("rule") == "advection":  # the mode was a rule; its pressures relaxed when "timestepped"
        flat["rule"] = "chemical"
        relaxing = flat.pop("dynamics", "quasistatic") == "timestepped"
        flat["dynamics"] = "advection"
        flat["pressure_steps"] = flat.get("pressure_steps", 50) if relaxing else 0
    dynamics = values.get("dynamics", {})
    name = flat.get("dynamics", dynamics.get("name", "quasistatic") if isinstance(dynamics, dict) else None)
    for key, value in flat.items():
        table, _, new = LEGACY[key].partition(".")
        if table == "dynamics" and new != "name" and new not in DYNAMICS_OPTIONS.get(name, {}):
            continue  # the old config held every key; those of other dynamics do not apply
        entries = values.setdefault(table, {})
        if isinstance(entries, dict):  # (a table that is not one is reported as such, later)
            entries.setdefault(new, value)


@dataclass(frozen=True, eq=False)
class RunConfig:
    """A checked run config: ``tables[table][key]`` (read-only), every key present and typed.

    Build with :meth:`from_dict`, :meth:`from_toml` or :meth:`from_file`; read a value with
    ``config["rule.lr"]``; change some with :meth:`with_values`.
    """

    tables: dict

    @classmethod
    def from_dict(cls, values: dict | None = None, *, base=None) -> "RunConfig":
        """From nested tables (``{"rule": {"lr": 1e-3}, ...}``); relative paths against ``base``."""
        values = _migrated(values or {})
        unknown = sorted(set(values) - set(TABLES) - {"sweep"})
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; a run config has tables {list(TABLES)}")
        tables = {}
        for table in TABLES:
            entries = values.get(table, {})
            if not isinstance(entries, dict):
                raise ValueError(f"{table} must be a table ([{table}]), got {entries!r}")
            tables[table] = _checked_table(table, entries, Path(base) if base is not None else Path.cwd())
        _refuse_inapplicable(tables)
        config = cls(MappingProxyType({table: MappingProxyType(entries) for table, entries in tables.items()}))
        engine_objects(config)  # each concern checked, then their combination
        return config

    @classmethod
    def from_toml(cls, text: str, *, base=None) -> "RunConfig":
        return cls.from_dict(parse_toml(text), base=base)

    @classmethod
    def from_file(cls, path) -> "RunConfig":
        """From a TOML file; paths in it are relative to its folder."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read config file {path}: {error}") from None
        try:
            return cls.from_toml(text, base=path.parent)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    def __getitem__(self, key: str):
        table, _, name = key.partition(".")
        return self.tables[table][name]

    def with_values(self, assignments: dict, *, base=None) -> "RunConfig":
        """A new config with ``{"table.key": value}`` set (a new dynamics or task name starts
        that table from its defaults, keeping only the keys it shares; :data:`DEFAULT` returns
        a key to its default)."""
        values = self.to_dict()
        for key, value in assignments.items():
            table, _, name = key.partition(".")
            if table not in TABLES or not name:
                raise ValueError(f"{key!r} is not TABLE.KEY with TABLE one of {list(TABLES)}")
            name = _renamed_key(table, name, values)
            if value is DEFAULT and name == "name":
                value = DEFAULT_NAMES.get(table)
            elif value is DEFAULT:
                if name not in _options(table, values):
                    raise ValueError(f"unknown config key(s) [{key!r}]; known in [{table}]: "
                                     f"{sorted(_options(table, values))}")  # fmt: skip
                values[table].pop(name, None)
                continue
            if name == "name" and table in ("dynamics", "task") and value != values[table]["name"]:
                registry = DYNAMICS_OPTIONS if table == "dynamics" else {k: task.options for k, task in TASKS.items()}
                values[table] = {k: v for k, v in values[table].items() if k in registry.get(value, {})}
            values[table][name] = value
        return RunConfig.from_dict(values, base=base)

    def to_dict(self) -> dict:
        """The tables as plain (JSON) dicts and lists."""
        return json.loads(json.dumps({table: dict(entries) for table, entries in self.tables.items()}))

    def to_toml(self) -> str:
        """TOML text that :meth:`from_toml` reads back to an equal config."""
        return "\n".join(
            f"[{table}]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in entries.items())
            for table, entries in self.tables.items()
        )

    def __eq__(self, other) -> bool:
        return isinstance(other, RunConfig) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))


def _renamed_key(table: str, name: str, tables: dict) -> str:
    """``name``, or its new name if it is an old one (:data:`RENAMED`; one notice): an old key
    set on top of a config would otherwise lose to the new key the config already holds."""
    dynamics = tables["dynamics"]["name"] if table == "dynamics" else ""
    new = RENAMED.get((table, dynamics, name))
    if new is None:
        return name
    _notice(f"{table}.{name} is now {table}.{new}")
    return new


def _options(table: str, tables: dict) -> dict:
    if table == "dynamics":
        return DYNAMICS_OPTIONS[tables["dynamics"]["name"]]
    if table == "task":
        return TASKS[tables["task"]["name"]].options
    return {"network": NETWORK, "rule": RULE, "run": RUN}[table]


def _refuse_inapplicable(tables: dict) -> None:
    for applies, table, keys, why in INAPPLICABLE:
        if applies(tables):
            options = _options(table, tables)
            changed = [f"{table}.{key}" for key in keys if key in tables[table]
                       and tables[table][key] != options[key].checked(key, options[key].default)]  # fmt: skip
            if changed:
                verb = "does" if len(changed) == 1 else "do"
                back = " ".join(f"--set {key}=" for key in changed)
                them = "it" if len(changed) == 1 else "them"
                raise ValueError(f"{', '.join(changed)} {verb} not apply: {why} (remove {them} from the config, or "
                                 f"return {them} to the default with {back})")


def _checked_table(table: str, entries: dict, base: Path) -> dict:
    if table in ("dynamics", "task"):
        registry = DYNAMICS_OPTIONS if table == "dynamics" else {name: task.options for name, task in TASKS.items()}
        default = DEFAULT_NAMES[table]
        name = entries.get("name", default)
        if not isinstance(name, str) or name not in registry:
            raise ValueError(f"{table}.name must be one of {sorted(registry)}, got {name!r}")
        options = {"name": Option(str, default), **registry[name]}
    else:
        options = {"network": NETWORK, "rule": RULE, "run": RUN}[table]
    checked = checked_options(table, entries, options)
    if table == "rule" and checked["name"] not in RULES:
        raise ValueError(f"rule.name must be one of {sorted(RULES)}, got {checked['name']!r}")
    if table == "rule" and checked["cost"] not in COSTS:
        raise ValueError(f"rule.cost must be one of {sorted(COSTS)}, got {checked['cost']!r}")
    for key in PATH_KEYS.get(table, ()):
        if checked.get(key):
            checked[key] = str((base / checked[key]).resolve())
    return checked


def config_differences(recorded: dict, given: dict) -> list[tuple[str, object, object]]:
    """``[(TABLE.KEY, recorded value, given value)]`` for every key in which two configs (as
    run files store them) differ, each read as this version reads it: an old file's flat
    keys moved into their tables (without the notice), absent keys at their defaults."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChemsignalDeprecationWarning)
        there, here = RunConfig.from_dict(recorded).to_dict(), RunConfig.from_dict(given).to_dict()
    return [
        (f"{table}.{key}", there.get(table, {}).get(key), here[table].get(key))
        for table in here for key in sorted(set(here[table]) | set(there.get(table, {})))
        if there.get(table, {}).get(key) != here[table].get(key)
    ]  # fmt: skip


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def engine_objects(config: RunConfig) -> dict:
    """``train``'s keyword objects for ``config``: ``dynamics``, ``physics``, ``integrator``,
    ``weights`` (and ``rule``, ``alpha``, ``eta``, ``cost``), each checked, then their combination."""
    table, rule = config.tables["dynamics"], config.tables["rule"]
    name = table["name"]
    physics = engine.Physics(**{key: table[key] for key in _PHYSICS if key in table})
    integrator, weights = engine.Explicit(), engine.Deferred()
    if name == "timestepped":
        if not table["feedback_delay"] <= table["presentation"]:  # named as the config names them
            raise ValueError(f"dynamics.feedback_delay must be in [0, presentation={table['presentation']}], got "
                             f"{table['feedback_delay']!r}")  # fmt: skip
        lifetime = engine.RelaxationTimes(table["chemical_lifetime"]) if table["chemical_lifetime"] else None
        dynamics = engine.TimeStepped(T=engine.RelaxationTimes(table["presentation"]), chemical_lifetime=lifetime,
                                      feedback_delay=engine.RelaxationTimes(table["feedback_delay"]))  # fmt: skip
        policy = table["weights"]
        policy = engine.default_weights(RULES[rule["name"]], dynamics).name if policy == "auto" else policy
        remodel_time = engine.RelaxationTimes(table["remodel_time"])
        weights = engine.Physical(remodel_time) if policy == "physical" else engine.WEIGHTS[policy]()
        scheme = {"explicit": dict(safety=table["safety"], max_dt_shrink=table["max_dt_shrink"]),
                  "implicit": dict(steps_per_relaxation_time=table["implicit_steps"])}[table["scheme"]]  # fmt: skip
        integrator = engine.INTEGRATORS[table["scheme"]](**scheme)
    else:  # the other dynamics take their table's keys as they are
        dynamics = engine.DYNAMICS[name](**{key: table[key] for key in DYNAMICS_OPTIONS[name] if key not in _PHYSICS})
    fields_every = config.tables["run"]["fields_every"]
    save = engine.Save(fields_every or None) if name != "quasistatic" else engine.Save()
    cost = Huber(rule["huber_threshold"]) if rule["cost"] == "huber" else COSTS[rule["cost"]]
    objects = dict(rule=RULES[rule["name"]], alpha=rule["lr"] / rule["eta"], eta=rule["eta"], dynamics=dynamics,
                   physics=physics, integrator=integrator, weights=weights, save=save, cost=cost)  # fmt: skip
    check_combination(objects["rule"], dynamics, integrator, weights, save, cost, physics)
    return objects
