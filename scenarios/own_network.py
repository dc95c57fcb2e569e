"""Your own network and data: a run config that points at a networkx node-link JSON file and a CSV.

    python scenarios/own_network.py                         # quasistatic, the shipped example
    python scenarios/own_network.py --dynamics timestepped  # the same, time-stepped
    python scenarios/own_network.py --smoke                 # seconds (CI)
    python scenarios/own_network.py --make-data DIR         # write a fresh example into DIR

The example in ``scenarios/own_network/`` is what a user brings: ``network.json`` (a random
geometric graph of about 300 nodes, not a lattice, with two input pairs and one output pair,
in the attribute names ``Network.to_networkx`` writes), ``data.csv`` (columns ``x1``, ``x2``,
``y``) and ``data.npz`` (the same arrays), and ``csv.toml`` / ``npz.toml``, the run configs.
The data are a teacher-student task: the targets are the outputs of a second network on the
same pipes and terminals, so every target is reachable. This script runs ``csv.toml`` (as
``python -m simulator run scenarios/own_network/csv.toml`` would) and draws the figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import networkx as nx
import numpy as np

import simulator
from simulator.commandline import ArgumentParser
from simulator.outputs import OutputError, Replacement, check_target, write_text
from simulator.scenario import config_from_file_and_flags, default_out, run_and_draw
from simulator.tasks import teacher_student_data

EXAMPLE = Path(__file__).resolve().parent / "own_network"
SMOKE = {"run.epochs": 2, "dynamics.presentation": 2.0, "run.fields_every": 0}


def make_network(seed: int = 0, nodes: int = 300, radius: float = 0.12) -> simulator.Network:
    """A random geometric graph (its largest component), conductances uniform in [0.05, 0.15],
    two input pairs at random and one output pair on a pipe away from them."""
    rng = np.random.default_rng(seed)
    graph = nx.random_geometric_graph(nodes, radius, seed=seed)
    graph = nx.convert_node_labels_to_integers(graph.subgraph(max(nx.connected_components(graph), key=len)))
    for a, b in graph.edges:
        graph.edges[a, b]["conductance"] = float(rng.uniform(0.05, 0.15))
    terminals = rng.choice(graph.number_of_nodes(), 4, replace=False).tolist()
    graph.graph["input_pairs"] = [terminals[:2], terminals[2:]]
    free = [(a, b) for a, b in graph.edges if a not in terminals and b not in terminals]
    graph.graph["output_pairs"] = [list(free[rng.integers(len(free))])]
    return simulator.as_network(graph)


def make_data(folder: Path, seed: int = 0, examples: int = 200) -> None:
    """Write ``network.json``, ``data.csv`` and ``data.npz`` into ``folder`` (never over a file)."""
    for name in ("network.json", "data.csv", "data.npz"):
        check_target(folder / name, overwrite=False)
    network = make_network(seed)
    inputs, targets, _ = teacher_student_data(network, examples, seed)
    simulator.save_network(network, folder / "network.json")
    rows = "\n".join(f"{x1!r},{x2!r},{y!r}" for (x1, x2), (y,) in zip(inputs.tolist(), targets.tolist()))
    write_text(folder / "data.csv", "x1,x2,y\n" + rows + "\n", overwrite=False)
    with Replacement(folder / "data.npz", overwrite=False) as scratch, open(scratch, "wb") as stream:
        np.savez(stream, inputs=inputs, targets=targets)


def parse(argv=None):
    """``(args, config)`` from the command line (config None with ``--make-data``)."""
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(EXAMPLE / "csv.toml"), help="the run config (default: the example)")
    parser.add_argument("--seed", type=int, help="split and shuffling seed (0)")
    parser.add_argument("--epochs", type=int, help="(from the config)")
    parser.add_argument("--lr", type=float, help="(from the config)")
    parser.add_argument("--dynamics", choices=("quasistatic", "timestepped"), help="(from the config)")
    parser.add_argument("--out", help="run file (default outputs/own_network[_timestepped][_smoke].h5)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out (same flags)")
    parser.add_argument("--smoke", action="store_true", help="two epochs (CI)")
    parser.add_argument("--make-data", type=Path, metavar="DIR", help="write a fresh example into DIR and stop")
    args = parser.parse_args(argv)
    if args.make_data:
        return args, None
    flags = {"seed": "run.seed", "epochs": "run.epochs", "lr": "rule.lr", "dynamics": "dynamics.name"}
    return args, config_from_file_and_flags(parser, args, None, SMOKE, flags)


def main(argv=None) -> int:
    args, config = parse(argv)
    if config is None:
        try:
            make_data(args.make_data)
        except OutputError as error:
            print(f"error: {error}", file=sys.stderr)
            return error.exit_code
        print(f"example network and data: {args.make_data}/")
        return 0
    timed = "_timestepped" if config["dynamics.name"] == "timestepped" else ""
    return run_and_draw(config, default_out(f"own_network{timed}", args.out, args.smoke), args, argv)[1]


if __name__ == "__main__":
    sys.exit(main())
