"""Shared fixtures: small networks of several sizes (small shapes keep Numba compiles cheap)."""

import contextlib
import signal
import subprocess
import sys
import textwrap

import networkx as nx
import numpy as np
import pytest

import simulator

# SIGINT as a terminal's foreground program has it, here and in every process a test starts: a
# shell starts its background jobs (a CI script under nohup or &) with SIGINT ignored, their
# children inherit that, and the package leaves an ignored signal ignored, as Python does.
signal.signal(signal.SIGINT, signal.default_int_handler)


def random_graph_network(n_nodes: int, seed: int, n_inputs: int = 2, n_outputs: int = 2) -> simulator.Network:
    """A connected random (Watts-Strogatz) network, unlike the lattice builder's."""
    rng = np.random.default_rng(seed)
    graph = nx.connected_watts_strogatz_graph(n_nodes, 4, 0.3, seed=seed)
    for a, b in graph.edges:
        graph.edges[a, b]["conductance"] = rng.uniform(0.05, 0.5)
    nodes = rng.permutation(n_nodes)
    inputs = [tuple(nodes[2 * j : 2 * j + 2]) for j in range(n_inputs)]
    used = set(nodes[: 2 * n_inputs].tolist())
    outputs = []
    for a, b in graph.edges:
        if len(outputs) == n_outputs:
            break
        if a not in used and b not in used:
            outputs.append((a, b))
            used |= {a, b}
    return simulator.Network.from_networkx(graph, input_pairs=inputs, output_pairs=outputs)


NETWORK_CASES = {
    "lattice-3x3": lambda: simulator.lattice_network(side=3, d=3, seed=1, n_inputs=1, n_outputs=1),
    "lattice-5x5": lambda: simulator.lattice_network(side=5, d=4, seed=2, n_inputs=2, n_outputs=2),
    "lattice-12x12": lambda: simulator.lattice_network(side=12, d=4, seed=0),
    "watts-strogatz-30": lambda: random_graph_network(30, seed=3),
    "watts-strogatz-250": lambda: random_graph_network(250, seed=4, n_inputs=3, n_outputs=3),
}


@pytest.fixture(params=sorted(NETWORK_CASES))
def any_network(request) -> simulator.Network:
    return NETWORK_CASES[request.param]()


def random_task(network: simulator.Network, seed: int = 0):
    """Input currents and targets of the scale the Iris task uses."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 5.0, network.n_inputs), rng.normal(0.0, 1.0, network.n_outputs)


@pytest.fixture
def small_network() -> simulator.Network:
    return simulator.lattice_network(side=4, d=3, delta=0.25, seed=1, n_inputs=1, n_outputs=1)


WRITER_THEN_WAIT = textwrap.dedent(
    """
    import sys, simulator
    from simulator.trajectory import Series, TrajectoryWriter
    net = simulator.lattice_network(side=3, n_inputs=1, n_outputs=1)
    with TrajectoryWriter(sys.argv[1], network=net, config={"epochs": 9}, seed=0,
                          series=[Series("observables/epoch", (), "epoch", dtype="int64")]) as out:
        out.append("epoch", step=[0, 75], observables__epoch=[0, 1])
        print("written", flush=True)
        sys.stdin.readline()
    """
)


@contextlib.contextmanager
def live_writer(path):
    """A run file that another process is still writing (epochs 0 and 1 of 9 on disk) for the
    block; the writer then finishes it (status complete)."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER_THEN_WAIT, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "written"
        yield
    finally:
        writer.communicate("\n", timeout=60)
