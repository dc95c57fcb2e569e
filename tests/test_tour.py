"""The notebook tour (scenarios/tour.ipynb) runs from top to bottom in its shrunk form, and
what it shows is what it claims: an exact gradient, a movie, a loaded sweep."""

import json
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

TOUR = Path(__file__).resolve().parents[1] / "scenarios" / "tour.ipynb"


def _text(cell) -> str:
    return "".join(o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)


def test_tour_runs_and_shows_what_it_says(tmp_path, monkeypatch):
    monkeypatch.setenv("CHEMSIGNAL_SMOKE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(TOUR, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors
    outputs = {i: _text(cell) for i, cell in enumerate(code)}
    cosine = next(float(t.split("=")[1].split()[0]) for t in outputs.values() if "cosine(update, -gradient)" in t)
    assert cosine > 1 - 1e-6  # the chemical update is the gradient step
    (folder,) = (tmp_path / "outputs").iterdir()
    assert (folder / "iris.h5").is_file() and (folder / "concentration.gif").is_file()
    assert {p.name for p in (folder / "sweep").glob("*.h5")} and (folder / "sweep" / "manifest.json").is_file()
    assert any("rule.lr" in t and "seed" in t for t in outputs.values())  # the sweep's dataset was printed
