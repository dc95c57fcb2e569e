"""Bad input, table-driven: each case is answered by one clear line that names the problem,
with no traceback from deep inside, and leaves no file that claims to be complete."""

import importlib.util
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from matplotlib.figure import Figure

import simulator
from simulator.cli import main as cli_main
from simulator.outputs import save_figure
from simulator.plots import plot_run
from simulator.sweep import run_sweep

SMALL = lambda: simulator.lattice_network(side=3, n_inputs=1, n_outputs=1)  # noqa: E731

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _scenario(name):
    spec = importlib.util.spec_from_file_location(name, SCENARIOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "text.h5").write_text("not hdf5 at all")
    with h5py.File(root / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    good = root / "good.h5"
    simulator.run({"run": {"epochs": 1}}, out=good)
    plot_run(good)  # good.png: a figure that is there already
    (root / "truncated.h5").write_bytes(good.read_bytes()[:2000])
    (root / "existing.h5").write_bytes(b"someone's data")
    (root / "existing.png").write_bytes(b"someone's figure")
    (root / "a_file").write_text("not a folder")
    (root / "folder.h5").mkdir()
    (root / "bad_sweep.toml").write_text('scenario = "x.py"\nworkerz = 2\n')
    (root / "bad_config.toml").write_text("learning_rate = 0.1\n")
    (root / "broken.toml").write_text("lr = = 2\n")
    with pytest.raises(KeyboardInterrupt):  # an interrupted run, to resume
        simulator.run({"run": {"epochs": 1}}, out=root / "stopped.h5", progress=Interrupt())
    (root / "net.json").write_text('{"nodes": [{"id": 0}, {"id": 1}], "edges": [{"source": 0, "target": 1}]}')
    (root / "run_csv.toml").write_text('[task]\nname = "csv"\nfile = "data.csv"\ninputs = ["a"]\ntargets = ["b"]\n')
    (root / "data.csv").write_text("a,c\n1,2\n")
    (root / "run_net.toml").write_text('[network]\nfile = "net.json"\n')
    (root / "iris.toml").write_text("[run]\nepochs = 1\n")
    _bad_data_files(root, good)
    return root


def _bad_data_files(root: Path, good: Path) -> None:
    """Inputs an adversarial user tried (issue 27): data and network files, and run files whose
    parameters or pipes were edited."""
    import json
    import shutil

    np.savez(root / "mismatch.npz", inputs=np.ones((40, 4)), targets=np.ones((30, 3)))
    np.savez(root / "empty.npz")
    np.savez(root / "no_rows.npz", inputs=np.ones((0, 4)), targets=np.ones((0,)))
    (root / "not_zip.npz").write_text("hello")
    (root / "extra_field.csv").write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    (root / "abc.csv").write_text("a,b\n1,abc\n")
    (root / "secret.txt").write_text("root:x:0:0:the first line of someone's file\n")
    for name, data in (("npz_mismatch", "mismatch.npz"), ("npz_empty", "empty.npz"), ("npz_no_rows", "no_rows.npz"),
                       ("npz_not_zip", "not_zip.npz")):  # fmt: skip
        (root / f"{name}.toml").write_text(f'[task]\nname = "npz"\nfile = "{data}"\n[run]\nepochs = 1\n')
    for name, data in (("csv_extra", "extra_field.csv"), ("csv_abc", "abc.csv"), ("csv_secret", "secret.txt")):
        (root / f"{name}.toml").write_text(f'[task]\nname = "csv"\nfile = "{data}"\ninputs = ["a"]\ntargets = ["b"]\n'
                                           '[network]\nside = 4\nd = 3\n[run]\nepochs = 1\n')  # fmt: skip
    net = simulator.lattice_network(side=4, d=3, seed=1, n_inputs=1, n_outputs=1)
    simulator.save_network(net, root / "lattice.json")
    base = json.loads((root / "lattice.json").read_text())
    edits = {
        "net_true": lambda d: d["edges"][0].update(conductance=True),
        "net_abc": lambda d: d["edges"][0].update(conductance="abc"),
        "net_pos": lambda d: d["nodes"][0].update(pos="abc"),
        "net_pairs_7": lambda d: d["graph"].update(input_pairs=7),
        "net_triple": lambda d: d["graph"].update(input_pairs=[[0, 1, 2]]),
    }
    for name, edit in edits.items():
        data = json.loads(json.dumps(base))
        edit(data)
        (root / f"{name}.json").write_text(json.dumps(data))
        (root / f"{name}.toml").write_text(f'[task]\nname = "regression"\nn_train = 10\n[network]\nfile = "{name}.json"'
                                           '\n[run]\nepochs = 1\n')  # fmt: skip
    edited = {
        "config_not_json": lambda f: f["parameters"].attrs.__setitem__("config", "{not json"),
        "no_versions": lambda f: f["parameters"].attrs.__delitem__("versions"),
        "edge_out_of_range": lambda f: f["connectivity/edges"].__setitem__((0, 0), 10**6),
    }
    for name, edit in edited.items():
        shutil.copy(good, root / f"{name}.h5")
        with h5py.File(root / f"{name}.h5", "r+") as f:
            edit(f)


@pytest.fixture(scope="module")
def servers():
    """Two servers that are not Dask schedulers: one accepts and says nothing (a web server
    waiting for a request), one answers at once in HTTP. Both hang up after a few seconds, so
    that an abandoned client ends too. Their ports, as ``{silent}`` and ``{http}``."""
    import socketserver
    import threading

    class Silent(socketserver.BaseRequestHandler):
        def handle(self):
            time.sleep(6)

    class Http(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            time.sleep(6)

    running = {}
    for name, handler in (("silent", Silent), ("http", Http)):
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running[name] = server
    yield {name: server.server_address[1] for name, server in running.items()}
    for server in running.values():
        server.shutdown()
        server.server_close()


class Interrupt:
    def start(self, total, description=""):
        raise KeyboardInterrupt

    def close(self):
        pass


HUGE = "99999999999999999999"
CASES = [
    # (program, arguments, expected text in the one-line error[, exit code: 2 unless given])
    ("iris_diffusion", ["--lr", "-1"], "lr must be > 0, got -1.0"),
    ("iris_diffusion", ["--lr", "-1e-3"], "lr must be > 0, got -0.001"),  # a negative number is a value
    ("iris_diffusion", ["--w-min", "-1e-5"], "w_min must be > 0, got -1e-05"),
    ("iris_diffusion", ["--lr", "nan"], "lr must be finite, got nan"),
    ("iris_diffusion", ["--eta", "-inf"], "eta must be finite, got -inf"),
    ("iris_diffusion", ["--epochs", "0"], "epochs must be >= 1, got 0"),
    ("iris_diffusion", ["--epochs", "2.5"], "argument --epochs: invalid int value: '2.5'"),
    ("iris_diffusion", ["--epochs", HUGE], f"epochs must be at most 9223372036854775807 in size, got {HUGE}"),
    ("iris_diffusion", ["--seed", HUGE], "seed must be at most 9223372036854775807 in size"),
    ("iris_diffusion", ["--epoch", "3"], "unrecognized arguments: --epoch 3"),  # no abbreviations
    ("iris_diffusion", ["--over"], "unrecognized arguments: --over"),
    ("iris_diffusion", ["--epochs", "1000000000", "--out", "{root}/huge.h5"], "the run would write about 11.6 TB"),
    ("iris_diffusion", ["--seed", "-3"], "seed must be >= 0, got -3"),
    ("iris_diffusion", ["--w-min", "0"], "w_min must be > 0, got 0.0"),
    ("iris_diffusion", ["--dynamics", "timestepped", "--presentation", "0"], "presentation must be > 0"),
    ("iris_diffusion", ["--dynamics", "timestepped", "--presentation", "-1e2"], "presentation must be > 0"),
    ("iris_diffusion", ["--dynamics", "timestepped", "--feedback-delay", "100"],
     "feedback_delay must be in [0, presentation=50.0], got 100.0"),
    ("iris_diffusion", ["--presentation", "10"], "--presentation does not apply to dynamics 'quasistatic'"),
    ("iris_diffusion", ["--field-every", "-1"], "fields_every must be >= 0, got -1"),
    ("iris_diffusion", ["--eta", "0"], "eta must be > 0, got 0.0"),
    ("iris_diffusion", ["--dynamics", "implicit"], "argument --dynamics: invalid choice: 'implicit'"),
    ("iris_diffusion", ["--out", "{root}/missing/run.h5"], "folder {root}/missing does not exist"),
    ("iris_diffusion", ["--out", "{root}/existing.h5"], "{root}/existing.h5 exists; pass --overwrite"),
    ("iris_diffusion", ["--out", "{root}/folder.h5", "--overwrite"], "cannot write {root}/folder.h5: it is a folder"),
    ("iris_diffusion", ["--out", "{root}/existing.h5", "--resume"], "existing.h5 is not an HDF5 file"),
    ("iris_diffusion", ["--out", "{root}/good.h5", "--epochs", "1", "--resume"], "is complete; there is nothing to "
     "resume", 4),
    ("iris_advection", ["--xi", "-0.1"], "xi must be >= 0, got -0.1"),
    ("iris_advection", ["--release-every", "0"], "release_every must be >= 1, got 0"),
    ("tuning_advection", ["--release-every", "0"], "release_every must be >= 1, got 0"),
    ("tuning_advection", ["--steps", "30"], "--steps (30) must be a whole number of release periods (20)"),
    ("tuning_advection", ["--lam", "-2"], "lam must be >= 0, got -2.0"),
    ("iris_rules", ["--workers", "0"], "argument --workers: must be a whole number >= 1, got 0"),
    ("iris_rules", ["--seeds", "5:2"], "invalid parse_seeds value: '5:2'"),
    ("iris_seeds", ["--workers", "-2"], "argument --workers: must be a whole number >= 1, got -2"),
    ("quasistatic_limit", ["--at", "-1", "--out", "{root}/limit"], "dynamics.presentation must be > 0"),
    ("peclet", ["--epochs", "0"], "argument --epochs: must be a whole number >= 1, got 0"),
    ("peclet", ["--out", "{root}/existing.h5", "--smoke"], "{root}/existing.h5 is a file; give a folder"),
    ("iris_seeds", ["--out", "{root}/existing.h5/seeds", "--smoke"], "{root}/existing.h5 is a file; give a folder"),
    ("own_network", ["--make-data", "{root}"], "{root}/data.csv exists; pass --overwrite"),
    ("cli", [], "the following arguments are required: command"),
    ("cli", ["bogus"], "argument command: invalid choice: 'bogus'"),
    ("cli", ["inspect", "{root}/nothing.h5"], "{root}/nothing.h5: no such file"),
    ("cli", ["inspect", "{root}"], "is a folder, not a run file"),
    ("cli", ["inspect", "{root}/text.h5"], "{root}/text.h5 is not an HDF5 file (or is truncated)"),
    ("cli", ["inspect", "{root}/foreign.h5"], "{root}/foreign.h5 is not a chemsignal trajectory"),
    ("cli", ["plot", "{root}/truncated.h5"], "{root}/truncated.h5 is not an HDF5 file (or is truncated)"),
    ("cli", ["plot", "{root}/good.h5"], "{root}/good.png exists; pass --overwrite"),
    ("cli", ["plot", "{root}/good.h5", "-o", "{root}/existing.png"], "{root}/existing.png exists; pass --overwrite"),
    ("cli", ["plot", "{root}/good.h5", "-o", "{root}/missing/figure.png"], "folder {root}/missing does not exist"),
    ("cli", ["plot", "{root}/good.h5", "-o", "{root}/figure.xyz"], "give a suffix matplotlib writes"),
    ("cli", ["plot", "{root}/good.h5", "-o", "{root}/figure"], "give a suffix matplotlib writes"),
    ("cli", ["compare", "{root}/good.h5", "{root}/text.h5"], "is not an HDF5 file"),
    ("cli", ["compare", "{root}/good.h5", "{root}/good.h5", "-o", "{root}/existing.png"], "existing.png exists"),
    ("cli", ["sweep", "{scenarios}/iris_diffusion.py", "--grid", "lr", "--out", "{root}/s"], "--grid wants KEY=V1,V2"),
    ("cli", ["sweep", "{scenarios}/iris_diffusion.py", "--seeds", "a:b", "--out", "{root}/s"], "--seeds wants"),
    ("cli", ["sweep", "{root}/no_such_scenario.py", "--out", "{root}/s"], "is not a file"),
    ("cli", ["sweep", "{root}/bad_sweep.toml"], "unknown key(s) ['workerz']"),
    ("cli", ["sweep", "{root}/nothing.toml"], "cannot read sweep file"),
    ("cli", ["sweep", "{root}/iris.toml", "--out", "{root}/a_file"], "--out {root}/a_file is a file"),
    ("cli", ["sweep", "{root}/iris.toml", "--out", "{root}/s", "--workers", "0"], "must be a whole number >= 1"),
    ("cli", ["sweep", "{root}/iris.toml", "--out", "{root}/s", "--set", "run.epochs=2", "--overwrite"],
     "the sweep sets --out, --seed, --overwrite, --resume on every point itself"),
    ("cli", ["sweep", "{scenarios}/iris_diffusion.py", "--out", "{root}/s", "--bogus"],
     "unrecognized arguments: --bogus"),
    ("cli", ["sweep", "{root}/iris.toml", "--out", "{root}/s", "--scheduler", "tcp://127.0.0.1:9",
             "--scheduler-timeout", "1"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 1 s"),
    ("cli", ["sweep", "{root}/iris.toml", "--out", "{root}/s", "--scheduler", "tcp://127.0.0.1:{silent}",
             "--scheduler-timeout", "1"],
     "cannot reach the Dask scheduler at tcp://127.0.0.1:{silent} within 1 s (no answer in Dask's protocol"),
    ("cli", ["sweep", "{root}/iris.toml", "--out", "{root}/s", "--scheduler", "tcp://127.0.0.1:{http}",
             "--scheduler-timeout", "1"], "tcp://127.0.0.1:{http} did not answer as a Dask scheduler"),
    ("cli", ["resume", "{root}/good.h5"], "is complete; there is nothing to resume", 4),
    ("cli", ["resume", "{root}/foreign.h5"], "is not a chemsignal trajectory"),
    ("iris_diffusion", ["--config", "{root}/bad_config.toml"], "unknown config key(s) ['learning_rate']"),
    ("iris_diffusion", ["--preset", "paper", "--config", "{root}/iris.toml"], "give --preset or --config, not both"),
    ("iris_diffusion", ["--preset", "nature"], "invalid choice: 'nature'"),
    ("iris_diffusion", ["--config", "{root}/broken.toml"], "not valid TOML"),
    ("iris_diffusion", ["--config", "{root}/nothing.toml"], "cannot read config file"),
    ("iris_diffusion", ["--resume", "--overwrite", "--out", "{root}/good.h5"], "give one"),
    ("iris_diffusion", ["--resume", "--lr", "0.01", "--epochs", "1", "--out", "{root}/stopped.h5"],
     "another config: rule.lr (file 0.003, given 0.01)", 3),
    ("cli", ["run", "{root}/nothing.toml"], "cannot read config file"),
    ("cli", ["run", "{root}/bad_config.toml"], "unknown config key(s) ['learning_rate']"),
    ("cli", ["run", "{root}/run_net.toml", "--set", "rule.lr=0.1"], "net.json has no 'input_pairs'"),
    ("cli", ["run", "{root}/run_csv.toml", "--set", "run.epochs=1"], "data.csv has no column(s) ['b']"),
    ("cli", ["run", "{root}/run_net.toml", "--set", "rule=1"], "--set wants TABLE.KEY=VALUE"),
    ("cli", ["run", "{root}/run_net.toml", "--set", "rule.lr=-1"], "rule.lr must be > 0, got -1"),
    ("cli", ["run", "{root}/iris.toml", "--set", "run.max_step_growth=0.5"], "run.max_step_growth must be >= 1"),
    ("cli", ["run", "{root}/iris.toml", "--set", f"run.epochs={HUGE}"],
     "run.epochs must be at most 9223372036854775807"),
    ("cli", ["run", "{root}/run_net.toml", "--out", "{root}/existing.h5", "--set", "network.file="],
     "{root}/existing.h5 exists; pass --overwrite"),
    ("cli", ["sweep", "{root}/run_net.toml", "--grid", "rule.etta=1", "--out", "{root}/s2"],
     "unknown config key(s) ['rule.etta']"),
    # issue 27: inputs that gave tracebacks, were taken silently, or were answered unclearly
    ("cli", ["run", "{root}/iris.toml", "--set", "network.side=100000", "--out", "{root}/big.h5"],
     "a 100000x100000 lattice with d = 4 needs about"),
    ("cli", ["run", "{root}/iris.toml", "--set", "network.d=1", "--out", "{root}/d1.h5"],
     "no connected 12x12 lattice with d = 1 in 100 draws; raise d"),
    ("cli", ["run", "{root}/iris.toml", "--set", "network.delta=1e300"], "network.delta must be <= 1e+06, got 1e+300"),
    ("cli", ["run", "{root}/net_pairs_7.toml", "--out", "{root}/n7.h5"],
     "net_pairs_7.json: input_pairs must be a list of node pairs"),
    ("cli", ["run", "{root}/net_triple.toml", "--out", "{root}/n3.h5"],
     "net_triple.json: input_pairs must be a list of node pairs"),
    ("cli", ["run", "{root}/net_true.toml", "--out", "{root}/nt.h5"],
     "net_true.json: edge (0, 1): conductance must be a number"),
    ("cli", ["run", "{root}/net_abc.toml", "--out", "{root}/na.h5"], "net_abc.json: edge (0, 1): conductance must be"),
    ("cli", ["run", "{root}/net_pos.toml", "--out", "{root}/np.h5"],
     "net_pos.json: node 0: pos must be two coordinates"),
    ("cli", ["run", "{root}/npz_mismatch.toml", "--out", "{root}/nm.h5"],
     "mismatch.npz: inputs has 40 rows and targets 30; give one target row per input row"),
    ("cli", ["run", "{root}/npz_empty.toml", "--out", "{root}/ne.h5"], "empty.npz needs arrays 'inputs' and 'targets'"),
    ("cli", ["run", "{root}/npz_no_rows.toml", "--out", "{root}/nr.h5"],
     "no_rows.npz: array 'inputs' holds no examples"),
    ("cli", ["run", "{root}/npz_not_zip.toml", "--out", "{root}/nz.h5"],
     "not_zip.npz is not a .npz file (a zip archive of arrays"),
    ("cli", ["run", "{root}/csv_extra.toml", "--out", "{root}/ce.h5"],
     "extra_field.csv, line 3: 4 field(s), the header has 3"),
    ("cli", ["run", "{root}/csv_abc.toml", "--out", "{root}/ca.h5"], "abc.csv, line 2, column 'b': not a number"),
    ("cli", ["run", "{root}/csv_secret.toml", "--out", "{root}/cs.h5"],
     "secret.txt has no column(s) ['a', 'b']; its first line has 1 field(s) and none of them is a column asked for"),
    *[("cli", [command, "{root}/config_not_json.h5", *extra], "config_not_json.h5 is damaged: attribute "
       "/parameters/@config is not JSON") for command, extra in (("inspect", []), ("plot", []), ("resume", []),
                                                                   ("animate", []), ("export", ["--xdmf"]))],
    ("cli", ["compare", "{root}/good.h5", "{root}/config_not_json.h5", "-o", "{root}/c.png"],
     "config_not_json.h5 is damaged: attribute /parameters/@config is not JSON"),
    ("cli", ["inspect", "{root}/no_versions.h5"], "it has no attribute /parameters/@versions"),
    *[("cli", [command, "{root}/edge_out_of_range.h5", *extra], "/connectivity/edges names nodes outside the file's "
       "144") for command, extra in (("plot", []), ("animate", []), ("export", ["--xdmf"]), ("inspect", []))],
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_gets_one_clear_line(case, files, servers, capsys):
    program, arguments, expected, *code_given = case
    fill = lambda text: text.format(root=files, scenarios=SCENARIOS, **servers)  # noqa: E731
    run = cli_main if program == "cli" else _scenario(program)
    before = {p: p.stat().st_mtime_ns for p in files.rglob("*") if p.is_file()}
    try:
        code = run([fill(a) for a in arguments])
    except SystemExit as stop:  # argparse reports and exits 2
        code = stop.code
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert code == (code_given[0] if code_given else 2), captured
    assert len(errors) == 1 and fill(expected) in errors[0], captured.err
    assert "Traceback" not in captured.err + captured.out
    after = {p: p.stat().st_mtime_ns for p in files.rglob("*") if p.is_file()}
    assert before == {p: t for p, t in after.items() if p in before}  # nothing replaced or touched
    assert not [p for p in after if ".partial-" in p.name]  # no half-built replacement left behind
    assert "root:x:0:0" not in captured.err  # an error names a file's problem, not what it holds
    for path in files.rglob("*.h5"):  # nothing new claims to be complete
        if path not in before and path.is_file():
            assert simulator.load_trajectory(path).status[0] != "complete"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: simulator.Network(np.zeros((3, 2)), [[0, 1]], [1.0], [[0, 1]], []), "disconnected"),
        (lambda: simulator.Network(np.zeros((4, 2)), [[0, 1], [1, 2], [2, 3]], [1.0, 1.0, 1.0], [[0, 1]], [[1, 2]]),
         "node 1 is used twice"),
        (lambda: simulator.Network(np.zeros((2, 2)), [[0, 1]], [-1.0], [[0, 1]], []), "conductance"),
        (lambda: simulator.Network(np.zeros((0, 2)), np.zeros((0, 2), int), [], [], []), "at least 2 nodes, got 0"),
        (lambda: simulator.train(simulator.lattice_network(side=3, n_inputs=1, n_outputs=1), [[1.0]], [[0.0]],
                                 dynamics=simulator.TimeStepped(T=10.0), integrator=simulator.Explicit(dt=100.0)),
         "above the explicit stability"),
        (lambda: simulator.RunConfig.from_dict({"learning_rate": 1}), "unknown config key"),
        (lambda: simulator.as_network(object()), "a network must be a Network, a networkx graph or a file path"),
        (lambda: simulator.TimeStepped(T=-1.0), r"T must be finite and > 0, got -1.0"),
        (lambda: simulator.Physics(c_v=0.0), "c_v must be finite and > 0"),
        (lambda: simulator.Explicit(safety=2.0), r"safety must be in \(0, 1\], got 2.0"),
        (lambda: simulator.train(SMALL(), [[1.0, 2.0]], [[0.0]]), r"inputs must have shape \[B, 1\]"),
        (lambda: simulator.learning_update(SMALL(), [1.0, 2.0], [0.0]), r"inputs must have shape \[1\]"),
        (lambda: simulator.lattice_network(side=1), "side must be an integer >= 2, got 1"),
        (lambda: simulator.save_network(SMALL(), "net.txt"), "write node-link JSON"),
        (lambda: simulator.RunConfig.from_dict({"run": {"epochs": 2**70}}), "must be at most 9223372036854775807"),
        (lambda: simulator.RunConfig.from_dict({"run": {"max_cost_ratio": 0.5}}), "run.max_cost_ratio must be >= 1"),
        (lambda: simulator.run({"run": {"epochs": 1}}, on_failure="ignore"), "on_failure must be 'raise' or"),
        (lambda: simulator.run({"run": {"epochs": 1}}, out=Path(__file__).parent), "it is a folder"),
        (lambda: simulator.run({"run": {"epochs": 10**9}}, out=Path(__file__).parent / "never.h5"),
         "the run would write about 11.6 TB"),
        (lambda: save_figure(Figure(), "figure.xyz", overwrite=False), "give a suffix matplotlib writes"),
        (lambda: run_sweep(__file__, {}, [0], __file__), "is a file; a sweep writes a folder"),
    ],
)  # fmt: skip
def test_bad_api_input_is_refused_by_name(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()
