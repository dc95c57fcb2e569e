"""Configs and sweeps from TOML, and a fuzz of every parser a user's text reaches: each input is
either accepted as a valid config or refused with a ValueError that names the problem."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main
from simulator.experiment import IrisConfig, read_config_file
from simulator.sweep import parse_grid, parse_seeds, read_sweep_file
from simulator.trajectory import load_trajectory

ROOT = Path(__file__).resolve().parents[1]
FIELDS = IrisConfig.__dataclass_fields__
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_toml_round_trip_and_one_type_per_key():
    config = IrisConfig(lr=1e-5, rule="ep", epochs=7, tau=0, dynamics="timestepped", presentation=3)
    assert IrisConfig.from_toml(config.to_toml()) == config
    assert type(IrisConfig(lr=1).lr) is float and json.dumps(IrisConfig(lr=1).to_dict()) == json.dumps(
        IrisConfig(lr=1.0).to_dict()
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("lr = ", "not valid TOML"),
        ("bogus = 1", r"unknown config key\(s\) \['bogus'\]"),
        ('lr = "fast"', "lr must be a number"),
        ("lr = -1", "lr must be > 0"),
        ("lr = nan", "lr must be finite"),
        ("epochs = 1.5", "epochs must be an integer"),
        ("seed = true", "seed must be an integer"),
        ("[network]\nside = 4", r"unknown config key\(s\) \['network'\]"),
    ],
)
def test_bad_config_files_are_refused_by_name(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        IrisConfig.from_dict(read_config_file(path))


def load_scenario(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scenarios" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scenario_reads_a_config_file_and_flags_beat_it(tmp_path):
    iris_diffusion = load_scenario("iris_diffusion")
    (tmp_path / "run.toml").write_text("lr = 0.01\nepochs = 9\nseed = 2\n")
    _, config, _ = iris_diffusion.parse(["--config", str(tmp_path / "run.toml"), "--epochs", "3", "--out", "x.h5"])
    assert (config.lr, config.epochs, config.seed) == (0.01, 3, 2)
    _, config, _ = iris_diffusion.parse(["--config", str(tmp_path / "run.toml"), "--smoke", "--out", "x.h5"])
    assert (config.lr, config.epochs, config.presentation) == (0.01, 2, 1.0)  # --smoke beats the file


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
    assert load_trajectory(tmp_path / "runs" / manifest[1]["file"]).config["epochs"] == 1
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
keys = st.one_of(st.sampled_from(sorted(FIELDS)), st.text(min_size=1, max_size=10))


@FUZZ
@given(st.dictionaries(keys, scalars, max_size=6))
def test_fuzz_config_dicts(values):
    try:
        config = IrisConfig.from_dict(values)
    except ValueError as error:
        assert str(error)
        return
    for key, value in config.to_dict().items():  # accepted: a valid config, typed per key
        assert type(value).__name__ == FIELDS[key].type
        if isinstance(value, float):
            assert math.isfinite(value)
    assert IrisConfig.from_toml(config.to_toml()) == config


@FUZZ
@given(st.text(max_size=200))
def test_fuzz_config_text(text):
    try:
        IrisConfig.from_toml(text)
    except ValueError as error:
        assert str(error)


toml_lines = st.lists(
    st.tuples(
        st.sampled_from(sorted(FIELDS) + ["x", "sweep"]),
        st.sampled_from(
            ["1", "0", "-1", "1e-3", "nan", "inf", '"chemical"', '"timestepped"', "true", "[1, 2]", "{}", '"live"']
        ),
    ),  # fmt: skip
    max_size=8,
)


@FUZZ
@given(toml_lines)
def test_fuzz_config_files_of_plausible_lines(lines):
    text = "\n".join(f"{key} = {value}" for key, value in dict(lines).items())
    try:
        IrisConfig.from_toml(text)
    except ValueError as error:
        assert str(error)


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
