"""The collapse of the Iris response under the paper's moving targets: remedies chosen on held-out seeds.

    python scenarios/iris_collapse.py                   # select on seeds 10-49, report on 50-99 (11 min, one core)
    python scenarios/iris_collapse.py --stage select    # every remedy on seeds 10-49: the table and the choice
    python scenarios/iris_collapse.py --stage report --remedies rescaled_lr1e-3   # beside the paper's, seeds 50-99
    python scenarios/iris_collapse.py --smoke           # two seeds per stage, two epochs (CI)

With the paper's moving targets (each epoch's desired outputs are the current network's
outputs for the class-mean inputs) the cost can fall by shrinking the whole response: the
transfer matrix's norm falls from about 2 to 0.1 in 150 epochs, and a network that starts
nearly blind stays so. Each remedy below is a dict of run-config keys on top of the default
run (Iris, the paper's 12x12 d=4 lattice, chemical rule, quasistatic, 150 epochs, lr 3e-3);
every one stays local (each pipe updates from its own two drops): only the targets the
feedback is computed from, the learning rate, or the placement of the terminals differ.

A remedy with the key ``terminals`` (not a config key) picks the network's terminals: the
pipes (positions, links, conductances) are the run seed's lattice; the candidates are its own
terminals and ``CANDIDATES - 1`` redraws of 4 input pairs and 3 output pipes on it, each from
its own stream of the run seed (``SeedSequence(seed, spawn_key=(5, j))``; the run uses keys
1-4); the candidate whose starting network scores highest on the criterion (:data:`CRITERIA`,
the training split only) is trained, the seed's own terminals winning ties. A remedy with the
key ``lr_norm`` scales its rate by ``(lr_norm / |R|)^2``, ``|R|`` the starting network's
response norm (a step of the rule grows as ``|R|^2``): the same step size on every network.

The blow-up watch is off (:data:`WATCH_OFF`): with it, a few runs stop in their first epoch
and would count with their untrained accuracy. Every run trains its 150 epochs; the tables
count the runs the default watch would have stopped ("blow-ups").

**The rule, fixed before any run:** the selection stage runs every remedy on the selection
seeds and chooses the remedy with the highest minimum final test accuracy, then the highest
mean. The report stage runs the paper's protocol and the choice on the report seeds, which
the choice never saw. Accuracy is ``accuracy_test`` after the final epoch (never the best
epoch): moving targets, the test class means' outputs as in the paper; fixed targets, those.

Writes one run file per (remedy, seed) in ``--out`` (default ``outputs/iris_collapse/``) and,
beside the folder, ``iris_collapse_select.{md,json}``, ``iris_collapse_report.{md,json}`` (the
tables; every seed's final accuracies) and ``iris_collapse.png``. Existing outputs are refused
before any work unless ``--overwrite``.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import simulator
from simulator.base import RunWarning, parse_seeds, pin_threads
from simulator.commandline import ArgumentParser, positive_int
from simulator.network import Network, with_new_terminals
from simulator.outputs import save_figure, write_text
from simulator.quasistatic import transfer_matrix
from simulator.runs import build_network
from simulator.scenario import checked_targets, guarded, output_folder
from simulator.tasks import class_means, classify, iris_task

THRESHOLD = 0.85  # the aim: no seed below this, and a mean of at least AIM_MEAN
AIM_MEAN = 0.95
RULE = "the highest minimum final test accuracy over the selection seeds, then the highest mean"
CANDIDATES = 16  # terminal placements per seed: the seed's own and 15 redraws
TERMINAL_STREAM = 5  # spawn key of the redraws (the run's streams are 1-4: split, shuffle, teacher, task inputs)
SMOKE = {"run.epochs": 2}
# The blow-up watch (run.max_step_growth, run.max_cost_ratio) would stop a few runs in their
# first epoch, and a stopped run would count with its untrained accuracy. Off here: every run
# trains its 150 epochs, and a blow-up counts by what it does to the final accuracy. What the
# default watch would have stopped is counted (a step or a cost past its default limits).
WATCH_OFF = {"run.max_step_growth": 1e12, "run.max_cost_ratio": 1e12}
WATCH_LIMITS = {"step_growth": 100.0, "cost_ratio": 1000.0}  # the defaults of run.max_step_growth, max_cost_ratio
LR_REFERENCE_NORM = 1.5  # "lr_norm": the rate is rule.lr at this starting response norm (seeds 10-49: mean 1.47)

# name -> (run-config keys on top of the default run, and two keys of this scenario: "terminals", a
# criterion of CRITERIA; "lr_norm", the rate scaled by (lr_norm / starting response norm)^2; what it is)
REMEDIES = {
    "paper": ({}, "the paper's protocol: moving targets, lr 3e-3"),
    "paper_lr1e-3": ({"rule.lr": 1e-3}, "moving targets, lr 1e-3 (the rate alone, a control)"),
    "fixed": ({"task.targets": "fixed"}, "targets: the starting network's class-mean outputs, kept"),
    "rescaled": ({"task.targets": "rescaled"}, "moving targets times start norm / current norm of the transfer matrix"),
    "rescaled_lr1e-3": ({"task.targets": "rescaled", "rule.lr": 1e-3}, "rescaled, lr 1e-3"),
    "onehot_0.5": ({"task.targets": "onehot", "task.target_scale": 0.5}, "one-hot code, 0.5 starting spreads, kept"),
    "onehot_1": ({"task.targets": "onehot", "task.target_scale": 1.0}, "one-hot code, 1 starting spread, kept"),
    "onehot_2": ({"task.targets": "onehot", "task.target_scale": 2.0}, "one-hot code, 2 starting spreads, kept"),
    "distant_outputs_lr1e-4": ({"network.adjacent_outputs": False, "rule.lr": 1e-4},
                               "each output pair two nodes no pipe joins, the paper's lr 1e-4"),
    "terminals_conditioning": ({"terminals": "conditioning"}, "terminals: best-conditioned transfer matrix"),
    "terminals_outputs_conditioning": ({"terminals": "outputs_conditioning"},
                                       "terminals: best-conditioned class-mean outputs"),
    "terminals_separation": ({"terminals": "separation"}, "terminals: class-mean outputs farthest apart"),
    "terminals_accuracy": ({"terminals": "accuracy"}, "terminals: best starting training accuracy"),
    "terminals_accuracy_rescaled_lr1e-3": ({"terminals": "accuracy", "task.targets": "rescaled", "rule.lr": 1e-3},
                                           "terminals by starting accuracy, rescaled targets, lr 1e-3"),
    "paper_lr_normalised": ({"lr_norm": LR_REFERENCE_NORM}, "moving targets, lr 3e-3 x (1.5 / starting norm)^2"),
    "rescaled_lr_normalised": ({"task.targets": "rescaled", "lr_norm": LR_REFERENCE_NORM},
                               "rescaled, lr 3e-3 x (1.5 / starting norm)^2"),
    "rescaled_lr1e-3_normalised": ({"task.targets": "rescaled", "rule.lr": 1e-3, "lr_norm": LR_REFERENCE_NORM},
                                   "rescaled, lr 1e-3 x (1.5 / starting norm)^2"),
    "terminals_accuracy_rescaled_lr1e-3_normalised": ({"terminals": "accuracy", "task.targets": "rescaled",
                                                       "rule.lr": 1e-3, "lr_norm": LR_REFERENCE_NORM},
                                                      "terminals by starting accuracy, rescaled, lr 1e-3 x (1.5 / "
                                                      "starting norm)^2"),
}  # fmt: skip


# ---------------------------------------------------------------------- the choice of terminals
def _conditioning(matrix: np.ndarray) -> float:
    values = np.linalg.svd(matrix, compute_uv=False)
    return float(values[-1] / values[0])


def _separation(outputs: np.ndarray, labels: np.ndarray, means: np.ndarray) -> float:
    """The two nearest class-mean outputs' distance over the rms distance of an example's
    output from its class mean's (a Fisher ratio: scale-free, 0 for a blind network)."""
    within = np.sqrt(np.mean(np.sum((outputs - means[labels]) ** 2, axis=1)))
    nearest = min(np.linalg.norm(means[a] - means[b]) for a in range(len(means)) for b in range(a))
    return float(nearest / within)


def _accuracy(outputs: np.ndarray, labels: np.ndarray, means: np.ndarray) -> float:
    return float(np.mean(classify(outputs, means) == labels))


#: criterion -> (what it scores, score(transfer [3, 4], split) -> tuple, larger is better)
CRITERIA = {
    "conditioning": ("sigma_min / sigma_max of the transfer matrix R [3, 4]", lambda r, s: (_conditioning(r),)),
    "outputs_conditioning": ("sigma_min / sigma_max of the class-mean outputs [3, 3] (training split)",
                             lambda r, s: (_conditioning(class_means(s.x_train, s.y_train) @ r.T),)),
    "separation": ("the two nearest class-mean outputs' distance over the rms within-class distance (training "
                   "split)", lambda r, s: (_separation(*_training_outputs(r, s)),)),
    "accuracy": ("the starting network's training accuracy (nearest class-mean output), then separation",
                 lambda r, s: (_accuracy(*_training_outputs(r, s)), _separation(*_training_outputs(r, s)))),
}  # fmt: skip


def _training_outputs(transfer: np.ndarray, split) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(outputs [N, 3], labels [N], class-mean outputs [3, 3])`` of the training split."""
    return split.x_train @ transfer.T, split.y_train, class_means(split.x_train, split.y_train) @ transfer.T


def terminal_candidates(config: simulator.RunConfig, count: int = CANDIDATES) -> list[Network]:
    """The run seed's lattice with its own terminals, then ``count - 1`` redraws of the terminals
    on the same pipes (the lattice builder's own draw, from stream ``(TERMINAL_STREAM, j)``)."""
    network = build_network(config, simulator.TASKS[config["task.name"]])
    networks = [network]
    for j in range(1, count):
        rng = np.random.default_rng(np.random.SeedSequence(config["run.seed"], spawn_key=(TERMINAL_STREAM, j)))
        networks.append(with_new_terminals(network, rng, adjacent_outputs=config["network.adjacent_outputs"]))
    return networks


def choose_terminals(config: simulator.RunConfig, criterion: str, count: int = CANDIDATES):
    """``(network, index, scores)``: the candidate of :func:`terminal_candidates` whose starting
    network scores highest on ``criterion`` (ties: the lowest index, so the seed's own first),
    its index and every candidate's score (a tuple each)."""
    split = iris_task(config["run.seed"], per_class_train=config["task.per_class_train"], scale=config["task.scale"])
    networks = terminal_candidates(config, count)
    scores = [CRITERIA[criterion][1](transfer_matrix(net), split) for net in networks]
    best = max(range(len(networks)), key=lambda j: (scores[j], -j))
    return networks[best], best, scores


# ---------------------------------------------------------------------- one run
def remedy_config(name: str, seed: int, smoke: bool) -> tuple[simulator.RunConfig, str | None, float | None]:
    """The run config of remedy ``name`` on ``seed`` (the watch off), its terminal criterion and
    its reference norm of the learning rate (each None if it has none)."""
    keys = dict(REMEDIES[name][0])
    criterion, reference = keys.pop("terminals", None), keys.pop("lr_norm", None)
    values = {**WATCH_OFF, **keys, "run.seed": seed, **(SMOKE if smoke else {})}
    return simulator.RunConfig.from_dict({}).with_values(values), criterion, reference


def starting_network(config: simulator.RunConfig, criterion: str | None) -> tuple[Network, dict]:
    """The network a remedy trains (the config's lattice, or the terminals ``criterion`` picks)
    and what the pick was."""
    if criterion is None:
        return build_network(config, simulator.TASKS[config["task.name"]]), {}
    network, index, scores = choose_terminals(config, criterion)
    return network, {"candidate": index, "score": scores[index][0], "own_score": scores[0][0]}


def one_run(job) -> dict:
    """One (remedy, seed) into its run file: its final and starting accuracies, response norm per
    epoch, learning rate, largest step growth and cost ratio, and the terminals' pick. A run the
    physics stops (non-finite values) counts with its last epoch, and says so."""
    name, seed, path, overwrite, smoke, command = job
    config, criterion, reference = remedy_config(name, seed, smoke)
    network, chosen = starting_network(config, criterion)
    if reference is not None:  # the same step at every starting response: a step scales as |R|^2
        norm = float(np.linalg.norm(transfer_matrix(network)))
        config = config.with_values({"rule.lr": config["rule.lr"] * (reference / norm) ** 2})
    with warnings.catch_warnings():  # the watch's warnings (from 10x) are in the run file
        warnings.simplefilter("ignore", RunWarning)
        result = simulator.run(config, network=network if criterion else None, out=path, overwrite=overwrite,
                               on_failure="return", command_line=command)  # fmt: skip
    epochs = result.epochs
    return {
        "remedy": name, "seed": seed, "accuracy_test": float(epochs["accuracy_test"][-1]),
        "accuracy_test_strict": float(epochs["accuracy_test_strict"][-1]),
        "accuracy_test_start": float(epochs["accuracy_test"][0]), "response_norm": epochs["response_norm"].tolist(),
        "stopped": "" if result.status == 0 else f"epoch {len(epochs['accuracy_test']) - 1}: {result.message}",
        "lr": config["rule.lr"], "wall_time": result.wall_time, "terminals": chosen,
        **{f"{key}_max": float(np.nanmax(epochs[key], initial=0.0)) for key in WATCH_LIMITS},
    }  # fmt: skip


# ---------------------------------------------------------------------- the stages
def summary(rows: list[dict]) -> dict:
    """Mean, min, seeds below the threshold and the rest of one remedy's runs."""
    final = np.array([r["accuracy_test"] for r in rows])
    return {
        "mean": float(final.mean()), "min": float(final.min()), "below": int(np.sum(final < THRESHOLD)),
        "seeds_below": [r["seed"] for r in rows if r["accuracy_test"] < THRESHOLD],
        "strict_mean": float(np.mean([r["accuracy_test_strict"] for r in rows])),
        "start_mean": float(np.mean([r["accuracy_test_start"] for r in rows])),
        "norm_start": float(np.mean([r["response_norm"][0] for r in rows])),
        "norm_end": float(np.mean([r["response_norm"][-1] for r in rows])),
        "stopped": sum(bool(r["stopped"]) for r in rows),
        "blow_ups": sum(any(r[f"{k}_max"] > limit for k, limit in WATCH_LIMITS.items()) for r in rows),
        "meets_aim": bool(final.mean() >= AIM_MEAN and final.min() >= THRESHOLD),
    }  # fmt: skip


def choose(summaries: dict) -> str:
    """The selection rule (:data:`RULE`): highest min, then highest mean; the first listed on a tie."""
    names = list(summaries)
    return max(names, key=lambda n: (summaries[n]["min"], summaries[n]["mean"], -names.index(n)))


def stage(pool, stage_name: str, remedies, seeds, args, command) -> dict:
    """Every (remedy, seed) of a stage, run: its record (:func:`record_of`)."""
    jobs = [(name, s, run_path(args.out, name, s), args.overwrite, args.smoke, command) for name in remedies
            for s in seeds]  # fmt: skip
    start = time.perf_counter()
    rows = list(pool.map(one_run, jobs))
    wall = time.perf_counter() - start
    print(f"{stage_name}: {len(jobs)} runs in {wall:.0f} s", flush=True)
    return {**record_of(stage_name, rows, remedies, seeds), "wall_time": wall}


def record_of(stage_name: str, rows: list[dict], remedies, seeds) -> dict:
    """A stage's record from its runs (:func:`one_run`'s rows): per-seed numbers, summaries, and
    each remedy's mean response norm per epoch (over the runs that reached it: a run the
    physics stopped ends early)."""
    runs = {name: [r for r in rows if r["remedy"] == name] for name in remedies}
    keys = ("seed", "accuracy_test", "accuracy_test_strict", "accuracy_test_start", "lr", "step_growth_max",
            "cost_ratio_max", "stopped", "terminals")  # fmt: skip
    per_seed = {name: {key: [r[key] for r in rs] for key in keys} for name, rs in runs.items()}
    curves = {}
    for name, rs in runs.items():
        per_seed[name]["response_norm_start"] = [r["response_norm"][0] for r in rs]
        per_seed[name]["response_norm_end"] = [r["response_norm"][-1] for r in rs]
        padded = np.full((len(rs), max(len(r["response_norm"]) for r in rs)), np.nan)
        for row, r in zip(padded, rs):
            row[: len(r["response_norm"])] = r["response_norm"]
        curves[name] = np.nanmean(padded, axis=0).tolist()
    return {
        "stage": stage_name, "seeds": list(seeds),
        "remedies": {n: {"keys": REMEDIES[n][0], "what": REMEDIES[n][1]} for n in remedies},
        "runs": per_seed, "summary": {name: summary(rs) for name, rs in runs.items()}, "response_norm_mean": curves,
    }  # fmt: skip


def run_path(folder: Path, name: str, seed: int) -> Path:
    return folder / f"{name}_seed{seed}.h5"


def table(record: dict, epochs: int) -> str:
    """The Markdown table of a stage."""
    seeds = record["seeds"]
    lines = [f"Iris, seeds {_span(seeds)} ({record['stage']}), {epochs} epochs, final-epoch test accuracy "
             f"(`accuracy_test`); aim: mean >= {AIM_MEAN}, no seed below {THRESHOLD}", "",
             f"| remedy | what it changes | mean | min | seeds < {THRESHOLD} | strict: mean | before training: mean "
             "| response norm: start -> end (mean) | blow-ups |", "|---" * 9 + "|"]  # fmt: skip
    for name, s in record["summary"].items():
        mark = "**" if name == record.get("chosen") else ""
        lines.append(f"| {mark}{name}{mark} | {record['remedies'][name]['what']} | {mark}{s['mean']:.3f}{mark} | "
                     f"{s['min']:.3f} | {s['below']} | {s['strict_mean']:.3f} | {s['start_mean']:.3f} | "
                     f"{s['norm_start']:.2f} -> {s['norm_end']:.3f} | {s['blow_ups']} |")  # fmt: skip
    lines += [
        "",
        "Blow-ups: runs with a step past 100x the largest conductance or a cost past 1000x its start (the "
        "default watch's limits, off here: those runs train on and count by their final epoch).",
    ]
    if record.get("chosen"):
        lines += ["", f"Rule: {RULE}. Chosen: **{record['chosen']}**."]
    stopped = [f"{name} seed {seed}: {why}" for name, runs in record["runs"].items()
               for seed, why in zip(runs["seed"], runs["stopped"]) if why]  # fmt: skip
    if stopped:
        lines += ["", "Stopped by the physics (counted with their last epoch): " + "; ".join(stopped)]
    for name, s in record["summary"].items():
        if s["seeds_below"] and record["stage"] == "report":
            lines.append(f"\n{name}: seeds below {THRESHOLD}: {', '.join(map(str, s['seeds_below']))}")
    return "\n".join(lines) + "\n"


def _span(seeds) -> str:
    consecutive = list(seeds) == list(range(seeds[0], seeds[-1] + 1))
    return f"{seeds[0]}-{seeds[-1]}" if consecutive else ",".join(map(str, seeds))


# ---------------------------------------------------------------------- the command
def remedies_of(text: str) -> list[str]:
    """``--remedies``: names of :data:`REMEDIES`, comma-separated (the paper's is always run)."""
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in REMEDIES]
    if unknown or not names:
        raise ValueError(f"unknown remedy {', '.join(unknown) or repr(text)}; choose from {', '.join(REMEDIES)}")
    return ["paper", *(name for name in names if name != "paper")]


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("select", "report", "both"), default="both",
                        help="select: every remedy on the selection seeds, and the choice; report: the paper's and "
                             "the choice on the report seeds; both (default): one, then the other")  # fmt: skip
    parser.add_argument("--select-seeds", type=parse_seeds, default=list(range(10, 50)), help="START:STOP or a,b,c "
                        "(10:50)")  # fmt: skip
    parser.add_argument("--report-seeds", type=parse_seeds, default=list(range(50, 100)), help="(50:100)")
    parser.add_argument("--remedies", type=remedies_of, help="select: the remedies compared (default all); report: "
                        "those run beside the paper's (default: the select stage's choice)")  # fmt: skip
    parser.add_argument("--out", type=Path, help="folder for the run files (default outputs/iris_collapse[_smoke]); "
                        "tables and figure beside it")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace existing run files, tables and figure")
    parser.add_argument("--workers", type=positive_int, default=1, help="processes (default 1)")
    parser.add_argument("--smoke", action="store_true", help="two seeds per stage, two epochs (CI)")
    args = parser.parse_args(argv)
    stages = ("select", "report") if args.stage == "both" else (args.stage,)
    select_seeds, report_seeds = (s[:2] if args.smoke else s for s in (args.select_seeds, args.report_seeds))
    args.out = args.out or Path("outputs") / ("iris_collapse_smoke" if args.smoke else "iris_collapse")
    files = {key: args.out.parent / f"{args.out.name}{suffix}" for key, suffix in
             (("select_md", "_select.md"), ("select_json", "_select.json"), ("report_md", "_report.md"),
              ("report_json", "_report.json"), ("figure", ".png"))}  # fmt: skip
    selected = _earlier_selection(parser, args, stages, files["select_json"], report_seeds)
    compared = args.remedies or list(REMEDIES)
    if "select" in stages and set(select_seeds) & set(report_seeds):
        parser.error("--select-seeds and --report-seeds overlap: the report seeds must be held out from the choice")
    output_folder(parser, args.out)
    targets = []
    if "select" in stages:  # (the choice is not known before the selection: its report checks every candidate)
        targets += [run_path(args.out, n, s) for n in compared for s in select_seeds]
        targets += [files["select_md"], files["select_json"]]
        reported = compared
    else:
        reported = list(dict.fromkeys(args.remedies or ["paper", selected["chosen"]]))
    if "report" in stages:
        targets += [run_path(args.out, n, s) for n in reported for s in report_seeds]
        targets += [files["report_md"], files["report_json"], files["figure"]]
    code = checked_targets(targets, args.overwrite)
    if code:
        return code
    command = [sys.argv[0], *(sys.argv[1:] if argv is None else [str(a) for a in argv])]
    epochs = SMOKE["run.epochs"] if args.smoke else simulator.RunConfig.from_dict({})["run.epochs"]
    with ProcessPoolExecutor(max_workers=args.workers, initializer=pin_threads) as pool:
        if "select" in stages:
            selected = stage(pool, "select", compared, select_seeds, args, command)
            selected["chosen"] = choose(selected["summary"])
            _write(selected, files["select_md"], files["select_json"], args, command, epochs)
        if "report" in stages:
            if "select" in stages:
                reported = list(dict.fromkeys(["paper", selected["chosen"]]))
            report = stage(pool, "report", reported, report_seeds, args, command)
            report["chosen"] = selected["chosen"] if selected else None
            _write(report, files["report_md"], files["report_json"], args, command, epochs)
            plot(selected, report, files["figure"], args.overwrite)
            print(f"figure: {files['figure']}")
    print(f"run files: {args.out}/")
    return 0


def _earlier_selection(parser, args, stages, path: Path, report_seeds) -> dict | None:
    """The select stage's record for a report run alone (its choice, unless ``--remedies``; its
    seeds, which the report seeds must avoid), or None when it is to be made now."""
    if "select" in stages:
        return None
    if not path.exists():
        if args.remedies is None:
            parser.error(f"--stage report needs --remedies, or the select stage's choice in {path}")
        return None
    selected = json.loads(path.read_text())
    if set(selected["seeds"]) & set(report_seeds):
        parser.error(f"--report-seeds overlap the seeds the choice in {path} was made on")
    return selected


def _write(record: dict, md: Path, js: Path, args, command, epochs: int) -> None:
    record.update({"rule": RULE, "threshold": THRESHOLD, "aim_mean": AIM_MEAN, "terminal_candidates": CANDIDATES,
                   "criteria": {k: v[0] for k, v in CRITERIA.items()}, "epochs": epochs, "smoke": args.smoke,
                   "default_config": simulator.RunConfig.from_dict({}).to_dict(), "command": command,
                   "simulator_version": simulator.__version__})  # fmt: skip
    text = table(record, epochs)
    write_text(js, json.dumps(record, indent=1) + "\n", args.overwrite)
    write_text(md, text, args.overwrite)
    print(f"\n{text}\ntable: {md}, every seed: {js}", flush=True)


# ---------------------------------------------------------------------- the figure
def plot(selected: dict | None, report: dict, path: Path, overwrite: bool) -> Path:
    """(a) the selection seeds' final accuracy by remedy (if that stage's record is at hand),
    (b) the report seeds' by remedy, (c) the report runs' mean response norm over epochs."""
    panels = 3 if selected else 2
    fig = Figure(figsize=(6.5 + 4.5 * panels, 5.2), layout="constrained")
    axes = fig.subplots(1, panels, width_ratios=[1.3, 1.0, 1.0][-panels:])
    if selected:
        _strip(axes[0], selected, f"(a) choice: seeds {_span(selected['seeds'])}")
    _strip(axes[-2], report, f"({'b' if selected else 'a'}) report: seeds {_span(report['seeds'])}")
    ax = axes[-1]
    for name, curve in report["response_norm_mean"].items():
        role = _role(name, report)
        ax.plot(np.arange(len(curve)), curve, lw=2, color=COLOURS[role], label=f"{name} ({role})")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("response norm |R|_F, mean over seeds")
    ax.set_title(f"({'c' if selected else 'b'}) transfer-matrix norm, seeds {_span(report['seeds'])}")
    ax.legend(fontsize=8)
    return save_figure(fig, path, overwrite, dpi=130)


COLOURS = {"the paper's": "tab:blue", "chosen": "tab:red", "other": "tab:grey"}


def _role(name: str, record: dict) -> str:
    return "the paper's" if name == "paper" else "chosen" if name == record.get("chosen") else "other"


def _strip(ax, record: dict, title: str) -> None:
    """Each remedy's per-seed final test accuracy: jittered points over a box (quartiles, median,
    the range as whiskers), the mean as a diamond."""
    names = list(record["runs"])
    rng = np.random.default_rng(0)  # the jitter only
    for y, name in enumerate(names):
        values = np.array(record["runs"][name]["accuracy_test"])
        colour = COLOURS[_role(name, record)]
        low, q25, median, q75, high = np.percentile(values, [0, 25, 50, 75, 100])
        ax.hlines(y, low, high, color=colour, lw=0.8)  # whiskers: the range
        ax.barh(y, q75 - q25, left=q25, height=0.6, fill=False, edgecolor=colour)  # the box: the quartiles
        ax.vlines(median, y - 0.3, y + 0.3, color=colour, lw=2)
        ax.scatter(values, y + rng.uniform(-0.22, 0.22, len(values)), s=9, alpha=0.6, color=colour, zorder=3)
        ax.scatter([values.mean()], [y], marker="D", s=40, color="black", zorder=4)
    ax.scatter([], [], marker="D", s=40, color="black", label="mean over seeds")
    ax.scatter([], [], s=9, color=COLOURS["the paper's"], label="the paper's protocol (a point per seed)")
    ax.scatter([], [], s=9, color=COLOURS["chosen"], label="chosen on the selection seeds")
    ax.axvline(THRESHOLD, color="black", ls="--", lw=0.8, label=f"{THRESHOLD}: no seed below, the aim")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_ylim(max(len(names), 4) - 0.5, -0.5)  # top to bottom; a few rows keep their height
    ax.set_xlim(min(min(run["accuracy_test"]) for run in record["runs"].values()) - 0.02, 1.005)
    ax.set_xlabel("final test accuracy (fraction, accuracy_test after the last epoch)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower left")


if __name__ == "__main__":
    sys.exit(guarded(main))
