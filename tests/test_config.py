"""Run configs and sweeps from TOML, the old names, and a fuzz of every parser a user's text
reaches: each input is either accepted as a valid config or refused with a ValueError that
names the problem."""

import importlib.util
import json
import math
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator
from simulator.cli import main
from simulator.config import DEFAULT, DYNAMICS_OPTIONS, NETWORK, RULE, RUN, TABLES, RunConfig, parse_assignment
from simulator.sweep import parse_grid, parse_seeds, read_sweep_file
from simulator.trajectory import load_trajectory

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TABLE_KEYS = {"network": NETWORK, "rule": RULE, "run": RUN, "dynamics": DYNAMICS_OPTIONS["timestepped"],
              "task": simulator.tasks.TASKS["iris"].options}  # fmt: skip

# the 25 keys the old flat Iris config wrote (IrisConfig().to_toml()), as old files hold them
OLD_FLAT = (
    'seed = 3\nepochs = 7\nlr = 1e-05\neta = 1.0\nrule = "chemical"\ndynamics = "timestepped"\npresentation = 3.0\n'
    'tau = 1.0\nc_v = 1.0\nc_u = 2.0\nkappa = 1.0\nweights = "deferred"\nw_min = 0.0001\nfield_every = 100000\n'
    "side = 12\nd = 4\ndelta = 0.25\nxi = 0.01\nlam = 1.0\nrelease_every = 5\ntransport_steps = 20\n"
    'pressure_steps = 50\nmax_dt_shrink = 100.0\nscheme = "explicit"\nimplicit_steps = 10.0\n'
)


def test_toml_round_trip_and_one_type_per_key():
    config = RunConfig.from_dict({"rule": {"lr": 1e-5, "name": "ep"}, "run": {"epochs": 7},
                                  "dynamics": {"name": "timestepped", "presentation": 3}})  # fmt: skip
    assert RunConfig.from_toml(config.to_toml()) == config
    one, other = (RunConfig.from_dict({"rule": {"lr": value}}) for value in (1, 1.0))
    assert type(one["rule.lr"]) is float and json.dumps(one.to_dict()) == json.dumps(other.to_dict())
    assert one == other and hash(one) == hash(other)


def test_an_old_flat_config_file_loads_with_one_notice(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(OLD_FLAT)
    with pytest.warns(simulator.ChemsignalDeprecationWarning) as notices:
        config = RunConfig.from_file(path)
    notice = str(notices[0].message)
    assert len(notices) == 1 and "old flat Iris keys" in notice
    assert "seed as run.seed, epochs as run.epochs" in notice and "and 19 more" in notice
    expected = RunConfig.from_dict({
        "run": {"seed": 3, "epochs": 7}, "rule": {"lr": 1e-5},
        "dynamics": {"name": "timestepped", "presentation": 3.0, "feedback_delay": 1.0, "c_u": 2.0,
                     "weights": "deferred"},  # the old default, kept as the old file names it
    })  # fmt: skip
    assert config == expected
    # keys of the default (quasistatic) dynamics are kept when the old file does not name it
    with pytest.warns(simulator.ChemsignalDeprecationWarning):
        assert RunConfig.from_dict({"kappa": 0.5, "epochs": 5})["dynamics.kappa"] == 0.5
    # the advection mode was a rule; "timestepped" meant relaxing pressures
    with pytest.warns(simulator.ChemsignalDeprecationWarning):
        advection = RunConfig.from_dict({"rule": "advection", "dynamics": "timestepped", "xi": 0.003})
    assert (advection["dynamics.name"], advection["dynamics.pressure_steps"], advection["rule.name"]) == (
        "advection",
        50,
        "chemical",
    )
    with pytest.warns(simulator.ChemsignalDeprecationWarning) as notices:
        renamed = RunConfig.from_dict({"dynamics": {"name": "advection", "tau": 7, "steps": 9}})
    assert (renamed["dynamics.release_every"], renamed["dynamics.transport_steps"]) == (7, 9)
    assert [str(n.message) for n in notices] == [
        "dynamics.tau is now dynamics.release_every",
        "dynamics.steps is now dynamics.transport_steps",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[rule]\nlr = ", "not valid TOML"),
        ("bogus = 1", r"unknown config key\(s\) \['bogus'\]"),
        ("[rule]\nbogus = 1", r"unknown config key\(s\) \['rule.bogus'\]"),
        ('[rule]\nlr = "fast"', "rule.lr must be a number"),
        ("[rule]\nlr = -1", "rule.lr must be > 0"),
        ("[rule]\nlr = nan", "rule.lr must be finite"),
        ("[run]\nepochs = 1.5", "run.epochs must be an integer"),
        ("[run]\nseed = true", "run.seed must be an integer"),
        ("[network]\nside = 1", "network.side must be >= 2"),
        ('[task]\nname = "csv"\nfile = "x.csv"', "task.inputs is required"),
        ('[network]\nfile = "missing.json"', "missing.json: no such network file"),
    ],
)
def test_bad_config_files_are_refused_by_name(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        simulator.run(RunConfig.from_file(path))


def test_paths_are_relative_to_the_config_file_and_set_overrides(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.toml").write_text('[task]\nname = "npz"\nfile = "data.npz"\n[rule]\nlr = 0.01\n')
    config = RunConfig.from_file(tmp_path / "sub" / "run.toml")
    assert config["task.file"] == str(tmp_path / "sub" / "data.npz")
    assert parse_assignment("rule.lr=1e-3") == ("rule.lr", 1e-3)
    assert parse_assignment("dynamics.name=timestepped") == ("dynamics.name", "timestepped")
    assert parse_assignment("task.factors=[0.5, 2]") == ("task.factors", [0.5, 2])
    for bad in ("lr=1", "bogus.lr=1", "rule.lr"):
        with pytest.raises(ValueError, match="--set wants TABLE.KEY=VALUE"):
            parse_assignment(bad)
    changed = config.with_values({"dynamics.name": "timestepped", "dynamics.presentation": 5.0})
    assert changed["dynamics.presentation"] == 5.0 and changed["task.file"] == config["task.file"]
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['dynamics.xi'\]"):
        config.with_values({"dynamics.xi": 1.0})


def load_scenario(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scenarios" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scenario_reads_a_config_file_and_flags_beat_it(tmp_path):
    iris_diffusion = load_scenario("iris_diffusion")
    (tmp_path / "run.toml").write_text(
        '[rule]\nlr = 0.01\n[run]\nepochs = 9\nseed = 2\n[dynamics]\nname = "timestepped"\n'
    )
    _, config = iris_diffusion.parse(["--config", str(tmp_path / "run.toml"), "--epochs", "3", "--out", "x.h5"])
    assert (config["rule.lr"], config["run.epochs"], config["run.seed"]) == (0.01, 3, 2)
    _, config = iris_diffusion.parse(["--config", str(tmp_path / "run.toml"), "--smoke", "--out", "x.h5"])
    assert (config["rule.lr"], config["run.epochs"], config["dynamics.presentation"]) == (
        0.01,
        2,
        1.0,
    )  # --smoke beats the file
    _, config = iris_diffusion.parse(["--eta", "0.1", "--out", "x.h5"])  # every rule key is a flag now
    assert config["rule.eta"] == 0.1


def test_sweep_from_a_toml_file(tmp_path, capsys):
    sweep = tmp_path / "sweep.toml"
    scenario = ROOT / "scenarios" / "iris_diffusion.py"
    sweep.write_text(
        f'scenario = "{scenario}"\nout = "runs"\nseeds = [4]\n\n[sweep]\nlr = [1e-3, 2e-3]\nepochs = 1\nsmoke = true\n'
    )
    described = read_sweep_file(sweep)
    assert described["grid"] == {"lr": ["0.001", "0.002"]} and described["seeds"] == "4"
    assert described["passthrough"] == ["--epochs", "1", "--smoke"] and described["out"] == str(tmp_path / "runs")
    assert main(["sweep", str(sweep), "--workers", "1"]) == 0
    manifest = json.loads((tmp_path / "runs" / "manifest.json").read_text())
    assert [(e["parameters"], e["status"]) for e in manifest] == [
        ({"lr": "0.001"}, "complete"), ({"lr": "0.002"}, "complete"),
    ]  # fmt: skip
    # flags come before the scenario's: --smoke set epochs to 2, the file's epochs = 1 beats it
    assert load_trajectory(tmp_path / "runs" / manifest[1]["file"]).config["run"]["epochs"] == 1
    assert "| lr0.002 | 1 |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, message",
    [
        ('out = "x"', "scenario = .* is required"),
        ('scenario = "s.py"\nworkers = 3', r"unknown key\(s\) \['workers'\]"),
        ('scenario = "s.py"\nseeds = [1.5]', "seeds must be a list of integers"),
        ('scenario = "s.py"\nsweep = 3', r"sweep must be a table"),
        ('scenario = "s.py"\n[sweep]\nlr = []', "must be a non-empty list"),
        ('scenario = "s.py"\n[sweep]\n"l r" = [1]', "is not a flag name"),
        ('scenario = "s.py"\n[sweep.lr]\na = 1', "not a table"),
        ("scenario = ", "not valid TOML"),
    ],
)
def test_bad_sweep_files_are_refused_by_name(tmp_path, text, message):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_sweep_file(path)


# ---------------------------------------------------------------------- fuzz
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(), max_size=2),
)  # fmt: skip
table_entries = st.one_of(
    *(st.dictionaries(st.one_of(st.sampled_from(sorted(keys) + ["name"]), st.text(min_size=1, max_size=8)), scalars,
                      max_size=4) for keys in TABLE_KEYS.values()),
    scalars,
)  # fmt: skip


def accepted(config: RunConfig) -> None:
    """An accepted config is complete, typed per key, finite, and round-trips through TOML."""
    for table, entries in config.to_dict().items():
        for key, value in entries.items():
            if isinstance(value, float):
                assert math.isfinite(value), (table, key)
    assert RunConfig.from_toml(config.to_toml()) == config


def load_or_refuse(load) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", simulator.ChemsignalDeprecationWarning)
        try:
            config = load()
        except ValueError as error:
            assert str(error)
            return
    accepted(config)


@FUZZ
@given(st.dictionaries(st.one_of(st.sampled_from(TABLES), st.text(min_size=1, max_size=8)), table_entries, max_size=4))
def test_fuzz_config_dicts(values):
    load_or_refuse(lambda: RunConfig.from_dict(values))


@FUZZ
@given(st.text(max_size=200))
def test_fuzz_config_text(text):
    load_or_refuse(lambda: RunConfig.from_toml(text))


toml_lines = st.lists(
    st.tuples(
        st.sampled_from([f"{table}.{key}" for table, keys in TABLE_KEYS.items() for key in keys] + ["x", "rule.x"]),
        st.sampled_from(
            ["1", "0", "-1", "1e-3", "nan", "inf", '"chemical"', '"timestepped"', "true", "[1, 2]", "{}", '"live"']
        ),
    ),  # fmt: skip
    max_size=8,
)


@FUZZ
@given(toml_lines)
def test_fuzz_config_files_of_plausible_lines(lines):
    text = "\n".join(f"{key} = {value}" for key, value in dict(lines).items())  # dotted keys: TOML tables
    load_or_refuse(lambda: RunConfig.from_toml(text))


@FUZZ
@given(st.text(max_size=40))
def test_fuzz_set_assignments(text):
    try:
        key, value = parse_assignment(text)
    except ValueError as error:
        assert str(error)
        return
    load_or_refuse(lambda: RunConfig.from_dict({}).with_values({key: value}))


@FUZZ
@given(st.lists(st.text(max_size=20), max_size=4), st.text(max_size=20))
def test_fuzz_grid_and_seeds(items, seeds):
    for parse, argument in ((parse_grid, items), (parse_seeds, seeds)):
        try:
            parse(argument)
        except ValueError as error:
            assert str(error)


@FUZZ
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_fuzz_sweep_files(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    try:
        read_sweep_file(path)
    except ValueError as error:
        assert str(error)


def test_set_with_nothing_after_the_equals_returns_a_key_to_its_default():
    tuned = RunConfig.from_dict({"rule": {"lr": 0.01, "eta": 2.0}, "dynamics": {"name": "timestepped",
                                                                                "safety": 0.5}})  # fmt: skip
    assert parse_assignment("rule.lr=") == ("rule.lr", DEFAULT)
    assert parse_assignment('task.file=""') == ("task.file", "")  # an empty string is asked for in quotes
    back = tuned.with_values(dict(parse_assignment(text) for text in ("rule.lr=", "dynamics.safety= ")))
    assert back["rule.lr"] == RULE["lr"].default == 3e-3 and back["rule.eta"] == 2.0
    assert back["dynamics.safety"] == DYNAMICS_OPTIONS["timestepped"]["safety"].default == 0.9
    assert tuned.with_values({"dynamics.name": DEFAULT})["dynamics.name"] == "quasistatic"
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['rule.nope'\]"):
        tuned.with_values({"rule.nope": DEFAULT})


def test_a_key_that_stops_applying_is_named_with_how_to_unset_it(tmp_path, capsys):
    """The user who switches a config with a rate to the advection mode is told how to drop the rate."""
    config = tmp_path / "c.toml"
    config.write_text("[rule]\nlr = 0.01\n[run]\nepochs = 1\n")
    out = tmp_path / "r.h5"
    assert main(["run", str(config), "--set", "dynamics.name=advection", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        "chemsignal run: error: rule.lr does not apply: the advection mode learns at the rates dynamics.xi and "
        "dynamics.lam (remove it from the config, or return it to the default with --set rule.lr=)")
    assert not out.exists()
    assert main(["run", str(config), "--set", "dynamics.name=advection", "--unset", "rule.lr", "--out", str(out)]) == 0
    assert load_trajectory(out).config["rule"]["lr"] == 3e-3
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal
        main(["run", str(config), "--unset", "rule.lr=1", "--out", str(tmp_path / "x.h5")])
    assert refused.value.code == 2
    assert "--unset takes TABLE.KEY without a value, got 'rule.lr=1'" in capsys.readouterr().err
