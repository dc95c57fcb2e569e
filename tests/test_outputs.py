"""One write discipline for every output (simulator.outputs): a target held by a live run is
refused even with --overwrite; nothing is replaced unasked, figures included; a replacement
is built beside its target and moved into place only when whole, so that a killed or
failed --overwrite loses nothing; a full disk and a read-only folder get one line."""

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import live_writer

import simulator
from simulator.outputs import Replacement, held, partial_files, write_text
from simulator.trajectory import FileBusy

ROOT = Path(__file__).resolve().parents[1]
IRIS = [sys.executable, str(ROOT / "scenarios" / "iris_diffusion.py")]


def one_line(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(("usage:", " "))]


def test_a_file_held_by_a_live_run_is_refused_even_with_overwrite(tmp_path):
    path = tmp_path / "live.h5"
    with live_writer(path):
        before = path.read_bytes()
        with pytest.raises(FileBusy, match="is being written by a live run"):
            simulator.run({"run": {"epochs": 1}}, out=path, overwrite=True)
        done = subprocess.run([*IRIS, "--smoke", "--out", str(path), "--overwrite"], capture_output=True, text=True)
        assert done.returncode == 3 and one_line(done.stderr) == [
            f"error: {path} is being written by a live run (it holds the file's lock); wait for it to finish, or "
            "choose another path"
        ], done.stderr  # fmt: skip
        assert path.read_bytes() == before and not partial_files(path)
    run = simulator.load_trajectory(path)  # the live run finished its own file, unmixed
    assert run.status == ("complete", "") and run.config == {"epochs": 9}


def test_an_overwrite_keeps_the_original_until_the_new_file_is_whole(tmp_path):
    path = tmp_path / "run.h5"
    simulator.run({"run": {"epochs": 1}}, out=path)
    seen = []

    class Look:  # a progress meter that looks at the target while the new run is under way
        def start(self, total, description=""):
            pass

        def update(self, n=1, **metrics):
            run = simulator.load_trajectory(path)
            partial = list(path.parent.glob(f".{path.name}.partial-{os.getpid()}-*"))
            seen.append((run.config["run"]["epochs"], run.status[0], held(path), len(partial) == 1))

        def close(self):
            pass

    simulator.run({"run": {"epochs": 3}}, out=path, overwrite=True, progress=Look())
    assert seen == [(1, "complete", True, True)] * 3  # the old file, locked; the new one beside it
    run = simulator.load_trajectory(path)
    assert run.config["run"]["epochs"] == 3 and run.status[0] == "complete"
    assert not partial_files(path) and not list(tmp_path.glob(".*partial*"))


def test_a_killed_overwrite_loses_nothing_and_the_next_write_clears_its_partial(tmp_path):
    path = tmp_path / "run.h5"
    simulator.run({"run": {"epochs": 1}}, out=path)
    original = path.read_bytes()
    process = subprocess.Popen([*IRIS, "--epochs", "100000", "--out", str(path), "--overwrite"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".run.h5.partial-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # some epochs into the new run
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    assert path.read_bytes() == original  # the original, whole
    left = partial_files(path)
    assert len(left) == 1 and simulator.load_trajectory(left[0]).status[0] == "running"  # the new run, readable
    simulator.run({"run": {"epochs": 1, "seed": 2}}, out=path, overwrite=True)
    assert not partial_files(path) and simulator.load_trajectory(path).seed == 2


def test_figures_are_never_replaced_unasked(tmp_path):
    out = tmp_path / "mine.h5"
    figure = out.with_suffix(".png")
    figure.write_bytes(b"a figure of someone else's")
    done = subprocess.run([*IRIS, "--smoke", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 2 and one_line(done.stderr) == [
        f"error: {figure} exists; pass --overwrite (overwrite=True) to replace it, or choose another path"
    ]  # fmt: skip
    assert not out.exists() and figure.read_bytes() == b"a figure of someone else's"  # refused before any work
    done = subprocess.run([*IRIS, "--smoke", "--out", str(out), "--overwrite"], capture_output=True, text=True)
    assert done.returncode == 0 and figure.read_bytes()[:4] == b"\x89PNG"
    # plot: the same rule, and --overwrite replaces it whole
    from simulator.cli import main

    stamp = figure.stat().st_mtime_ns
    assert main(["plot", str(out)]) == 2 and figure.stat().st_mtime_ns == stamp
    assert main(["plot", str(out), "--overwrite"]) == 0 and figure.stat().st_mtime_ns != stamp
    assert not list(tmp_path.glob(".*partial*"))


def test_a_replacement_that_fails_leaves_the_target_as_it_was(tmp_path):
    target = tmp_path / "manifest.json"
    write_text(target, "old", overwrite=False)
    with pytest.raises(RuntimeError):
        with Replacement(target, overwrite=True) as scratch:
            scratch.write_text("half of the new")
            raise RuntimeError("the writer failed")
    assert target.read_text() == "old" and not list(tmp_path.glob(".*"))
    with pytest.raises(ValueError, match="exists; pass --overwrite"):
        write_text(target, "new", overwrite=False)
    assert write_text(target, "new", overwrite=True).read_text() == "new"


def _limited(size: int):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_gives_one_line_and_a_readable_file(tmp_path):
    """RLIMIT_FSIZE stands for a disk that fills during the run: the run stops before HDF5
    writes a block it cannot hold, says so in one line, and leaves its file readable."""
    out = tmp_path / "full.h5"
    done = subprocess.run([*IRIS, "--out", str(out)], capture_output=True, text=True, preexec_fn=_limited(1_500_000))
    assert done.returncode == 1, done.stderr
    [line] = one_line(done.stderr)
    assert re.fullmatch(rf"error: cannot write {out}: no room for the next \d+ bytes: the process may write files of "
                        r"at most 1500000 bytes; the file is readable up to its last flush \(its status says failed\)",
                        line), line  # fmt: skip
    assert "Traceback" not in done.stderr
    run = simulator.load_trajectory(out)
    run.verify()
    assert run.status[0] == "failed" and "no room" in run.status[1] and run.clock_rows()["epoch"] >= 2
    # an --overwrite that meets a full disk: the original stays, the broken replacement goes
    original = out.read_bytes()
    done = subprocess.run([*IRIS, "--out", str(out), "--overwrite", "--seed", "1"], capture_output=True, text=True,
                          preexec_fn=_limited(1_500_000))  # fmt: skip
    assert done.returncode == 1 and f"{out} is unchanged (the new run was not kept)" in done.stderr, done.stderr
    assert out.read_bytes() == original and not list(tmp_path.glob(".*partial*"))


def _in_own_mount(folder: Path, options: str, command: list[str]) -> subprocess.CompletedProcess:
    """``command`` with a fresh tmpfs (``options``, e.g. ``ro`` or ``size=2m``) on ``folder``,
    in a mount namespace of its own (util-linux ``unshare``; skipped where it is refused)."""
    script = f'mount -t tmpfs -o {options} tmpfs "{folder}" && exec "$@"'
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", *command],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode and ("unshare:" in done.stderr or "mount:" in done.stderr):
        pytest.skip(f"no mount namespace here: {done.stderr.strip()[:120]}")
    return done


def test_a_read_only_folder_gets_one_line(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    out = folder / "run.h5"
    done = _in_own_mount(folder, "ro", [*IRIS, "--smoke", "--out", str(out)])
    assert done.returncode == 2 and one_line(done.stderr) == [
        f"error: cannot write {out}: folder {folder} is read-only"
    ], done.stderr  # fmt: skip


def test_a_small_disk_that_fills_gives_one_line_and_a_readable_file(tmp_path):
    """A real full disk: a 4 MB filesystem that another process fills, once the run has started,
    to 300 kB short of full (a run that would not fit from the start is refused up front)."""
    folder = tmp_path / "small"
    folder.mkdir()
    out = folder / "run.h5"
    check = (f"import simulator; r = simulator.load_trajectory({str(out)!r}); r.verify(); "
             "print(r.status[0], r.clock_rows()['epoch'])")
    fill = (f'while [ ! -e "{out}" ]; do sleep 0.01; done; sleep 0.3; '
            f'free=$(df --output=avail -B1 "{folder}" | tail -1); '
            f'head -c $((free - 300000)) /dev/zero > "{folder}/filler"')  # fmt: skip
    done = _in_own_mount(folder, "size=4m", ["sh", "-c", f'"$0" "$@" & {fill}; wait $!; echo "exit $?"; '
                                              f'"$0" -c "{check}"', *IRIS, "--out", str(out)])  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert lines[-2] == "exit 1" and "its disk is full" in done.stderr and "Traceback" not in done.stderr, done
    assert len(one_line(done.stderr)) == 1, done.stderr
    status, epochs = lines[-1].split()
    assert status == "failed" and int(epochs) < 150, done.stdout


def test_a_figure_that_meets_a_full_disk_gives_one_line_and_keeps_the_run(tmp_path):
    """A disk with room for the run file (and the room a run keeps free) but not its figure."""
    from simulator.trajectory import _RESERVE_BYTES

    probe = tmp_path / "probe.h5"
    subprocess.run([*IRIS, "--epochs", "5", "--out", str(probe)], check=True, capture_output=True)
    figure_bytes = probe.with_suffix(".png").stat().st_size
    assert figure_bytes > _RESERVE_BYTES + 100_000  # else the room a run keeps would hold the figure
    size_kib = (probe.stat().st_size + (_RESERVE_BYTES + figure_bytes) // 2) // 1024
    folder = tmp_path / "small"
    folder.mkdir()
    out = folder / "run.h5"
    check = (f"import simulator; r = simulator.load_trajectory({str(out)!r}); r.verify(); print(r.status[0]); "
             f"import os; print(sorted(os.listdir({str(folder)!r})))")  # fmt: skip
    done = _in_own_mount(folder, f"size={size_kib}k", ["sh", "-c", f'"$0" "$@"; echo "exit $?"; "$0" -c "{check}"',
                                                        *IRIS, "--epochs", "5", "--out", str(out)])  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert lines[-3] == "exit 1" and one_line(done.stderr) == [
        f"error: cannot write {out.with_suffix('.png')}: No space left on device; nothing was written"
    ], done  # fmt: skip
    assert lines[-2:] == ["complete", "['run.h5']"], done.stdout  # the run kept, no figure, no partial file


def test_a_new_file_never_lands_on_one_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "summary.md"
    replacement = Replacement(target, overwrite=False)  # nothing there yet
    replacement.write_path.write_text("ours")
    target.write_text("someone else's, written meanwhile")
    with pytest.raises(ValueError, match="exists; pass --overwrite"):
        replacement.commit()
    assert target.read_text() == "someone else's, written meanwhile" and not list(tmp_path.glob(".*"))


def test_asking_whether_a_file_is_held_never_makes_a_writer_find_it_busy(tmp_path):
    # two sweeps on one folder: one asks about the manifest while the other locks it to rewrite it
    import threading

    from simulator.outputs import WriterLock

    path = tmp_path / "manifest.json"
    path.write_text("[]")
    stop, answers = threading.Event(), []

    def ask():
        while not stop.is_set():
            answers.append(held(path))

    asker = threading.Thread(target=ask)
    asker.start()
    taken, deadline = [], time.monotonic() + 10
    while (len(answers) < 300 or len(taken) < 300) and time.monotonic() < deadline:  # until the two overlap
        lock = WriterLock(path)
        taken.append(lock.acquired)
        lock.release()
    stop.set()
    asker.join()
    assert all(taken) and len(answers) >= 300
    lock = WriterLock(path)
    assert held(path) and lock.acquired
    lock.release()
    assert not held(path)


def test_a_planted_link_at_a_partial_name_is_never_followed(tmp_path):
    """The partial file a replacement is built in is created afresh (O_EXCL, O_NOFOLLOW): a
    symbolic link planted at its name, pointing at someone's file, is removed, not written through."""
    import threading

    precious = tmp_path / "precious.txt"
    precious.write_text("someone's data")
    target = tmp_path / "summary.txt"
    planted = tmp_path / f".{target.name}.partial-{os.getpid()}-{threading.get_native_id()}"
    planted.symlink_to(precious)
    write_text(target, "the summary", overwrite=False)
    assert target.read_text() == "the summary" and precious.read_text() == "someone's data"
    assert not planted.is_symlink() and not planted.exists()
    figure = tmp_path / "figure.png"
    planted = tmp_path / f".{figure.name}.partial-{os.getpid()}-{threading.get_native_id()}"
    planted.symlink_to(precious)
    from matplotlib.figure import Figure

    from simulator.outputs import save_figure

    save_figure(Figure(), figure, overwrite=False)
    assert figure.read_bytes()[:4] == b"\x89PNG" and precious.read_text() == "someone's data"
    run = tmp_path / "run.h5"
    planted = tmp_path / f".{run.name}.partial-{os.getpid()}-{threading.get_native_id()}"
    planted.symlink_to(precious)
    simulator.run({"run": {"epochs": 1}}, out=run)
    assert simulator.load_trajectory(run).status[0] == "complete" and precious.read_text() == "someone's data"


def test_resume_keeps_an_existing_figure_and_says_how_to_redraw_it(tmp_path, capsys):
    from test_resume import StopAfter

    from simulator.cli import main

    path = tmp_path / "run.h5"
    with pytest.raises(KeyboardInterrupt):
        simulator.run({"run": {"epochs": 3}}, out=path, progress=StopAfter(1))
    figure = path.with_suffix(".png")
    figure.write_bytes(b"the user's own figure")
    assert main(["resume", str(path)]) == 0
    assert figure.read_bytes() == b"the user's own figure"
    assert f"{figure} exists and is kept; draw the finished run with: python -m simulator plot {path} --overwrite" in \
        capsys.readouterr().out  # fmt: skip
    figure.unlink()
    with pytest.raises(KeyboardInterrupt):
        simulator.run({"run": {"epochs": 3}}, out=tmp_path / "other.h5", progress=StopAfter(1))
    assert main(["resume", str(tmp_path / "other.h5")]) == 0  # no figure yet: the finished run's is drawn
    assert (tmp_path / "other.png").read_bytes()[:4] == b"\x89PNG"
