"""The shape of the code: no module imports one above it, scenarios import no other scenario,
and no function outside the kernels is longer than a screen."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulator"

# Each module of the package and its layer: a module may import only from lower layers (the
# engine's own modules from each other in the order given). Data flows one way.
LAYERS = [
    ["_start", "base"],
    ["schema"],
    ["commandline", "outputs", "provenance"],
    ["kernels"],
    ["network"],
    ["costs", "network_io"],
    ["quasistatic"],
    ["transport"],
    ["rules", "advection", "nonlinear"],
    ["engine.specs", "engine.results", "engine.relaxation", "engine.method", "engine.quasistatic", "engine.explicit",
     "engine.implicit", "engine.two_phase", "engine.advection", "engine.training", "engine.recording", "engine"],
    ["tasks", "trajectory", "progress"],
    ["config", "fields"],
    ["runs", "plots"],
    ["commands"],
    ["sweep", "scenario", "animation", "export"],
    ["cli"],
    ["__main__"],
]  # fmt: skip
RANK = {name: (layer, order) for layer, names in enumerate(LAYERS) for order, name in enumerate(names)}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports, at the top or inside functions."""
    package = module_name(path).split(".")[:-1] if path.name != "__init__.py" else module_name(path).split(".")
    package = [] if package == ["__init__"] else package
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [target] if node.module else [".".join([*base, alias.name]) for alias in node.names]
            found.update(name for name in names if name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
            found.update(m.removeprefix("simulator.") for m in modules if m and m.startswith("simulator."))
    return {name for name in found if name in RANK or name.split(".")[0] in RANK}


def test_every_module_has_a_layer():
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert modules == set(RANK), sorted(modules ^ set(RANK))


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if module_name(p) != "__init__"),
                         ids=lambda p: module_name(p))  # fmt: skip
def test_no_module_imports_one_above_it(path):
    own = RANK[module_name(path)]
    upward = sorted(name for name in imported_modules(path) if RANK.get(name, RANK.get(name.split(".")[0])) >= own)
    assert not upward, f"{module_name(path)} imports {upward}, which are not below it"


def test_scenarios_import_no_other_scenario():
    scenarios = {path.stem for path in (ROOT / "scenarios").glob("*.py")}
    for path in (ROOT / "scenarios").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}  # fmt: skip
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     and node.module}  # fmt: skip
        assert not imported & scenarios, f"{path.name} imports {imported & scenarios}"


def test_no_function_outside_the_kernels_is_longer_than_80_lines():
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "scenarios").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    long = []
    for path in sources:
        if path.name == "kernels.py":  # compiled loops: one function per kernel, by design
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})")
    assert not long, long


def test_exit_codes_are_chosen_in_one_module():
    """The library raises; :mod:`simulator.commands` alone turns what went wrong into an exit
    code. No ``except`` clause elsewhere answers with a code of its own choosing (an ``EXIT_``
    constant or a number); returning the code an error carries (``error.exit_code``) is not a
    choice."""
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "scenarios").glob("*.py")]
    chosen = []
    for path in sources:
        if path.name == "commands.py":
            continue
        for handler in (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ExceptHandler)):
            for node in ast.walk(handler):
                value = node.value if isinstance(node, ast.Return) else None
                if isinstance(value, ast.Tuple):  # (result, code)
                    value = value.elts[-1]
                named = isinstance(value, ast.Name) and value.id.startswith("EXIT_")
                if named or (isinstance(value, ast.Constant) and type(value.value) is int):
                    chosen.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not chosen, chosen


def test_the_run_driver_asks_the_dynamics_never_its_name_or_type():
    """runs.py takes what differs per dynamics from its recording (simulator/engine/recording.py):
    no comparison with a dynamics' name, no isinstance of a dynamics class, no guessed attribute."""
    from simulator.engine import DYNAMICS

    names, classes = set(DYNAMICS), {cls.__name__ for cls in DYNAMICS.values()}
    asks = []
    for node in ast.walk(ast.parse((PACKAGE / "runs.py").read_text())):
        if isinstance(node, ast.Compare):
            compared = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)}
            if compared & names:
                asks.append(f"runs.py:{node.lineno} compares with {sorted(compared & names)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("getattr", "hasattr"):
                asks.append(f"runs.py:{node.lineno} {node.func.id}")
            tested = {n.id for n in ast.walk(node.args[-1]) if isinstance(n, ast.Name)} if node.args else set()
            if node.func.id == "isinstance" and tested & classes:
                asks.append(f"runs.py:{node.lineno} isinstance of a dynamics")
    assert not asks, asks


def test_train_reads_the_dynamics_attributes_it_declares():
    """engine/training.py guesses no attribute (``getattr(dynamics, "substeps", 1)``): every
    dynamics declares what ``train`` reads of it."""
    tree = ast.parse((PACKAGE / "engine" / "training.py").read_text())
    guessed = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and node.func.id in ("getattr", "hasattr")]  # fmt: skip
    assert not guessed, [f"engine/training.py:{line}" for line in guessed]
    from simulator.engine import DYNAMICS

    assert all(isinstance(cls.substeps, int) for cls in DYNAMICS.values())
