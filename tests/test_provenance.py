"""Every run file says what made it: the commit of the checkout that ran it, whether the package
ran from that checkout or as an installed copy (``pip install .``), and a digest of the source."""

import shutil
import subprocess
import sys
from pathlib import Path

import simulator
from simulator.provenance import source_digest
from simulator.trajectory import versions

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "scenarios" / "iris_diffusion.py")


def head() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout


def test_a_run_from_the_checkout_records_its_commit(tmp_path):
    recorded = versions()
    assert recorded["git"].startswith(head().strip()[:7]) and "unknown" not in recorded["git"]
    assert recorded["source_digest"] == source_digest(ROOT / "simulator")
    simulator.run({"run": {"epochs": 1}}, out=tmp_path / "run.h5")
    assert simulator.load_trajectory(tmp_path / "run.h5").versions["git"] == recorded["git"]


def _as_installed_copy(tmp_path, change: str = "") -> tuple[str, str]:
    """``versions()`` and ``other_copy()`` as a scenario of the checkout sees them, with the
    package imported from a copy outside any checkout (as ``pip install .`` leaves it)."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "simulator", site / "simulator", ignore=shutil.ignore_patterns("__pycache__"))
    if change:
        with open(site / "simulator" / "base.py", "a") as stream:
            stream.write(change)
    probe = (f"import sys; sys.argv[0] = {SCRIPT!r}; import simulator, json; assert simulator.__file__.startswith("
             f"{str(site)!r}); from simulator.trajectory import versions; import simulator.provenance as p; "
             "print(json.dumps(versions())); print(p.other_copy())")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    recorded, other = done.stdout.strip().splitlines()
    return recorded, other


def test_an_installed_copy_records_the_checkout_it_ran_from_and_whether_it_matches(tmp_path):
    import json

    recorded, other = _as_installed_copy(tmp_path / "same")
    git = json.loads(recorded)["git"]
    assert git.startswith(head().strip()[:7]) and "unknown" not in git
    assert f"(of {ROOT}; the package ran as an installed copy, same source as that checkout)" in git
    assert other == "None"
    recorded, other = _as_installed_copy(tmp_path / "changed", change="\n# a local edit\n")
    assert "its source differs from that checkout's simulator/" in json.loads(recorded)["git"]
    assert other == str(ROOT)  # the scenarios warn about the two copies
