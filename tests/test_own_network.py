"""A user's own network and data through ``python -m simulator run``: a networkx node-link JSON
network of about 300 nodes (not a lattice; two input pairs, one output pair) and a CSV of
teacher-student data. The file is complete, the test cost falls at least tenfold, and a
time-stepped run stopped by SIGTERM is finished by ``python -m simulator resume`` into the
same file, sample for sample, as an uninterrupted run."""

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import networkx as nx
import numpy as np
import pytest

import simulator
from simulator.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "own_network"


def scenario():
    spec = importlib.util.spec_from_file_location("own_network", ROOT / "scenarios" / "own_network.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example written afresh: it must be the shipped one."""
    folder = tmp_path_factory.mktemp("own")
    scenario().make_data(folder)
    assert (folder / "network.json").read_text() == (EXAMPLE / "network.json").read_text()
    # the targets come from a teacher network's solves: bit for bit on one machine, and to
    # rounding on another (OpenBLAS picks its kernels by CPU; the shipped file is one machine's)
    fresh, shipped = (np.loadtxt(f / "data.csv", delimiter=",", skiprows=1) for f in (folder, EXAMPLE))
    assert fresh.shape == shipped.shape == (200, 3)
    np.testing.assert_allclose(fresh, shipped, rtol=1e-12, atol=0)
    for name in ("csv.toml", "npz.toml"):
        (folder / name).write_text((EXAMPLE / name).read_text())
    return folder


def test_the_example_is_a_users_network(example):
    network = simulator.load_network(example / "network.json")
    assert 250 <= network.n_nodes <= 350 and (network.n_inputs, network.n_outputs) == (2, 1)
    degrees = np.bincount(network.edges.ravel())
    assert degrees.min() != degrees.max()  # not a lattice: a random geometric graph
    assert nx.is_connected(network.to_networkx())


def test_run_from_a_config_learns_a_reachable_task(example, capsys):
    out = example / "run.h5"
    assert main(["run", str(example / "csv.toml"), "--out", str(out)]) == 0
    assert "complete; test cost" in capsys.readouterr().out
    recorded = simulator.load_trajectory(out)
    assert recorded.status == ("complete", "")
    cost = recorded.series("observables/cost_test")[2]
    assert cost[-1] < cost[0] / 10
    assert len(recorded.series("observables/cost")[2]) == 150 * 20  # 150 training rows, 20 epochs
    assert recorded.series("observables/edges/conductance")[2].shape == (21, simulator.load_network(
        example / "network.json").n_edges)  # fmt: skip
    # the npz form of the same data and the same split: the same run
    other = example / "npz.h5"
    config = simulator.RunConfig.from_file(example / "npz.toml")
    np.testing.assert_array_equal(simulator.run(config, out=other).costs, recorded.series("observables/cost")[2])


def differing(a, b) -> list[str]:
    found = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names = []
        fa.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        for name in (name for name in names if not name.startswith("parameters")):  # parameters: when, how
            if name not in fb or fa[name][()].tobytes() != fb[name][()].tobytes():
                found.append(name)
    return found


def test_sigterm_in_a_time_stepped_run_then_resume_gives_the_uninterrupted_file(example):
    settings = ["--set", "dynamics.name=timestepped", "--set", "dynamics.presentation=2", "--set", "run.epochs=8",
                "--set", "run.fields_every=20000"]  # fmt: skip
    command = [sys.executable, "-m", "simulator", "run", str(example / "csv.toml"), *settings]
    whole = subprocess.run([*command, "--out", str(example / "whole.h5")], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    out = example / "stopped.h5"
    process = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            try:
                if simulator.load_trajectory(out).clock_rows()["epoch"] >= 3:
                    break
            except (simulator.TrajectoryError, KeyError, OSError):
                pass  # not created yet
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and "interrupted" in stderr, "the run finished before the signal"
    stopped = simulator.load_trajectory(out)
    assert stopped.status[0] == "interrupted" and 3 <= stopped.clock_rows()["epoch"] < 9
    resumed = subprocess.run([sys.executable, "-m", "simulator", "resume", str(out)], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert differing(example / "whole.h5", out) == []
    assert simulator.load_trajectory(out).status[0] == "complete"
