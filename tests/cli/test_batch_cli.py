"""Batch mode (``--out-dir``) as users run it: many files, named outputs, errors per file."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.reference import max_abs_diff, seed_smooth, seed_sobel
from tests.terminal import run_in_session

CNNCLI = str(Path(sys.executable).parent / "cnncli")
RNG = np.random.default_rng(5)


def make_images(folder: Path, count: int, size: tuple[int, int] = (40, 56)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:03d}.png"
        Image.fromarray(RNG.integers(0, 256, size).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def mixed_batch(folder: Path) -> tuple[list[Path], Path, Path, list[str]]:
    """Three good images with a broken and a missing file between them: (good, broken,
    missing, the paths as arguments)."""
    good = make_images(folder, 3)
    broken = folder / "broken.png"
    broken.write_bytes(b"not a png at all")
    missing = folder / "missing.png"
    return good, broken, missing, [str(p) for p in (good[0], broken, good[1], missing, good[2])]


def release(fifo: Path) -> None:
    """Let a reader blocked on ``fifo`` go on (it reads an empty file), if there is one."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no reader (ENXIO): nothing is blocked
        return
    os.close(fd)


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_every_file_matches_the_seed_formula(run_cli, tmp_path) -> None:
    inputs = make_images(tmp_path / "in", 6)
    out = tmp_path / "edges"  # does not exist yet: batch mode makes it
    result = run_cli("sobel", *map(str, inputs), "--out-dir", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in inputs]
    for src in inputs:
        assert max_abs_diff(load(out / src.name), seed_sobel(load(src))) <= 1
    assert "sobel: 6 files in" in result.stderr
    assert "6 written, 0 failed" in result.stderr


def test_one_thread_and_many_give_identical_files(run_cli, tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 5)]
    for jobs in ("1", "3"):
        args = ["smooth", *inputs, "--sigma", "2", "--out-dir", str(tmp_path / jobs), "-j", jobs]
        assert run_cli(*args).exit_code == 0
    for src in inputs:
        name = Path(src).name
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "3" / name).read_bytes()
        assert max_abs_diff(load(tmp_path / "1" / name), seed_smooth(load(Path(src)), 2.0)) <= 1


def test_suffix_and_name_template_choose_output_names(run_cli, tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 2)]
    out = tmp_path / "out"
    assert run_cli("gradient", *inputs, "--out-dir", str(out), "--suffix", "_g").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["img000_g.png", "img001_g.png"]
    assert run_cli("pool", *inputs, "--k", "2", "--out-dir", str(out), "--name", "{stem}.tif")
    assert Image.open(out / "img000.tif").format == "TIFF"
    assert Image.open(out / "img000.tif").size == (28, 20)


def test_bad_files_are_reported_and_the_rest_are_written(run_cli, tmp_path) -> None:
    good, broken, missing, args = mixed_batch(tmp_path / "in")
    out = tmp_path / "out"
    result = run_cli("sobel", *args, "--out-dir", str(out))
    assert result.exit_code == 2
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in good]
    lines = result.stderr.splitlines()
    assert f"error: {broken}: not an image Pillow can read" in lines
    assert f"error: {missing}: no such file" in lines
    assert "3 written, 2 failed" in lines[-1]
    assert broken.read_bytes() == b"not a png at all"


def test_a_filter_error_names_the_file(run_cli, tmp_path) -> None:
    small = tmp_path / "tiny.png"
    Image.new("L", (2, 2)).save(small)
    big = make_images(tmp_path / "in", 1)[0]
    result = run_cli("pool", str(small), str(big), "--k", "5", "--out-dir", str(tmp_path / "o"))
    assert result.exit_code == 2
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith(f"error: {small}: ")
    assert (tmp_path / "o" / big.name).exists()


def test_skip_existing_leaves_done_files_alone(run_cli, tmp_path) -> None:
    inputs = make_images(tmp_path / "in", 4)
    out = tmp_path / "out"
    out.mkdir()
    done = out / inputs[0].name
    Image.fromarray(np.full((3, 5), 7, np.uint8)).save(done)  # an earlier run's output
    earlier = done.read_bytes()
    result = run_cli("sobel", *map(str, inputs), "--out-dir", str(out), "--skip-existing")
    assert result.exit_code == 0, result.stderr
    assert done.read_bytes() == earlier
    assert all((out / p.name).exists() for p in inputs[1:])
    assert "3 written, 1 skipped (already there), 0 failed" in result.stderr


def test_skip_existing_redoes_outputs_that_are_not_whole_images(run_cli, tmp_path) -> None:
    inputs = make_images(tmp_path / "in", 4)
    out = tmp_path / "out"
    assert run_cli("sobel", *map(str, inputs), "--out-dir", str(out)).exit_code == 0
    good = {p.name: (out / p.name).read_bytes() for p in inputs}
    (out / inputs[0].name).write_bytes(b"")  # a 0-byte file
    (out / inputs[1].name).write_bytes(good[inputs[1].name][:-30])  # cut before its end
    (out / inputs[2].name).write_bytes(b"not an image at all")
    result = run_cli("sobel", *map(str, inputs), "--out-dir", str(out), "--skip-existing")
    assert result.exit_code == 0, result.stderr
    assert "3 written, 1 skipped (already there), 0 failed" in result.stderr
    assert {p.name: (out / p.name).read_bytes() for p in inputs} == good


def test_quiet_drops_the_summary_but_not_the_errors(run_cli, tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 2)]
    result = run_cli("sobel", *inputs, "nope.png", "--out-dir", str(tmp_path / "o"), "--quiet")
    assert result.exit_code == 2
    assert result.stderr == "error: nope.png: no such file\n"


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 3)]
    done = subprocess.run(
        [CNNCLI, "sobel", *inputs, "--out-dir", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr.startswith("sobel: 3 files in ")
    assert "\x1b" not in done.stderr and "━" not in done.stderr


def test_a_progress_bar_on_a_terminal(tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 3)]
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    proc = subprocess.Popen(
        [CNNCLI, "sobel", *inputs, "--out-dir", str(tmp_path / "o")],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env={**env, "TERM": "xterm", "COLUMNS": "100"},
    )
    os.close(child)
    captured = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        captured += chunk
    assert proc.wait(timeout=60) == 0
    text = captured.decode()
    assert "3/3" in text and "━" in text
    assert "sobel: 3 files in" in text


def test_interrupted_batch_leaves_only_whole_files_and_resumes(tmp_path) -> None:
    # Independent of timing: the process sends itself SIGINT from inside the write of its
    # second output (the launcher's hook), so the batch is certainly mid-run.
    from tests.cli.test_batch_messages_cli import LAUNCHER

    inputs = [str(p) for p in make_images(tmp_path / "in", 12, size=(60, 80))]
    out = tmp_path / "out"
    args = ["smooth", *inputs, "--sigma", "2", "--out-dir", str(out), "-j", "1"]
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.count("\n") == 1
    done = sorted(out.iterdir())
    assert 2 <= len(done) < len(inputs)
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in done)  # no .part
    for path in done:
        assert load(path).shape == (60, 80)  # each one complete and readable
    first = {p.name: p.stat().st_mtime_ns for p in done}
    rerun = subprocess.run([CNNCLI, *args, "--skip-existing"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(out.iterdir())) == len(inputs)
    assert {p.name: p.stat().st_mtime_ns for p in done} == first
    assert f"{len(done)} skipped" in rerun.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suffix", "_x"], "error: --suffix applies to batch mode (hint: add --out-dir DIR)"),
        (["--skip-existing"], "error: --skip-existing applies to batch mode"),
        (["--name", "{stem}.png"], "error: --name applies to batch mode"),
        (["--scheduler", "local"], "error: --scheduler applies to batch mode"),
    ],
)
def test_batch_options_without_out_dir_are_refused(run_cli, tmp_path, args, message) -> None:
    (src,) = make_images(tmp_path, 1)
    result = run_cli("sobel", str(src), str(tmp_path / "o.png"), *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert not (tmp_path / "o.png").exists()


def test_without_the_dask_extra_scheduler_says_what_to_install(
    run_cli, tmp_path, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    (src,) = make_images(tmp_path, 1)
    result = run_cli("sobel", str(src), "--out-dir", str(tmp_path / "o"), "--scheduler", "local")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --scheduler needs Dask's distributed scheduler, which is not installed"
        " (hint: pip install 'cnncli[dask]')\n"
    )
    assert not (tmp_path / "o").exists()


def test_batch_mode_without_scheduler_never_imports_dask(tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 2)]
    code = (  # an exit handler: what was imported by the time the command is done
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted("
        "m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))))\n"
        "from cnncli.cli import main\n"
        "main()\n"
    )
    args = ["sobel", *inputs, "--out-dir", str(tmp_path / "o"), "--quiet"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n", done.stderr
    assert len(list((tmp_path / "o").iterdir())) == 2


def test_refusals_before_any_file_is_written(run_cli, tmp_path) -> None:
    a, b = make_images(tmp_path / "in", 2)
    other = tmp_path / "other"
    other.mkdir()
    (other / a.name).write_bytes(a.read_bytes())
    before = a.read_bytes()
    cases = [
        ([str(a), str(b), "--out-dir", str(a.parent)], "would overwrite an input file"),
        ([str(a), str(other / a.name), "--out-dir", str(tmp_path / "o")], "would both be written"),
        ([str(a), "-", "--out-dir", str(tmp_path / "o")], "'-' (stdin) cannot be one of several"),
        ([str(a), "--out-dir", str(b)], "exists and is not a directory"),
        ([str(a), "--out-dir", str(tmp_path / "o"), "--name", "{size}.png"], "unknown field"),
        ([str(a), "--out-dir", str(tmp_path / "o"), "--name", "x/{stem}.png"], "not a file name"),
        ([str(a), "--out-dir", str(tmp_path / "o"), "-j", "0"], "--jobs must be at least 1"),
    ]
    for args, message in cases:
        result = run_cli("sobel", *args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert a.read_bytes() == before
    assert not (tmp_path / "o").exists()


def test_out_dir_that_cannot_be_made(run_cli, tmp_path) -> None:
    (src,) = make_images(tmp_path, 1)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("sobel", str(src), "--out-dir", str(blocker / "sub"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --out-dir {blocker / 'sub'}: cannot create")


def test_sample_in_batch_mode(run_cli, tmp_path) -> None:
    result = run_cli("sobel", "--sample", "--out-dir", str(tmp_path), "--suffix", "_edges")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "chelsea_edges.png").exists()
    extra = run_cli("sobel", "--sample", "x.png", "--out-dir", str(tmp_path))
    assert extra.exit_code == 2
    assert "with --sample and --out-dir give no other paths" in extra.stderr


# Ctrl-C once the output of img003 is complete, from whichever worker process writes it,
# to the whole process group as a terminal sends it (the test runs it in a session of its
# own): the parent's group is taken before the workers are forked.
FORKED_LAUNCHER = """
import os, signal, sys
import cnncli.imageio as imageio
from cnncli.cli import main

GROUP = os.getpgid(0)
real_write = imageio.write_output

def write_then_interrupt(dest, *args, **kwargs):
    real_write(dest, *args, **kwargs)
    if os.path.basename(str(dest)) == "img003.png":
        os.killpg(GROUP, signal.SIGINT)

imageio.write_output = write_then_interrupt
sys.argv = ["cnncli", *sys.argv[1:]]
main()
"""


def test_interrupted_batch_on_worker_processes_leaves_whole_files_and_resumes(tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 16, size=(60, 80))]
    out = tmp_path / "out"
    args = ["sobel", *inputs, "--out-dir", str(out), "-j", "2"]
    proc = subprocess.run(
        [sys.executable, "-c", FORKED_LAUNCHER, *args],
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.count("\n") == 1 and "interrupted" in proc.stderr
    done = sorted(out.iterdir())
    assert 1 <= len(done) < len(inputs)
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in done)  # no .part
    for path in done:
        assert load(path).shape == (60, 80)
    rerun = subprocess.run([CNNCLI, *args, "--skip-existing"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(out.iterdir())) == len(inputs)
    assert f"{len(done)} skipped" in rerun.stderr


# Ctrl-C twice before img003's output is written: the first stops the batch, the second
# comes once the batch is waiting for the files being written (the workers' stop flag is
# set, or the batch's thread pool is shutting down).
TWICE_LAUNCHER = """
import os, signal, sys, threading, time
import cnncli.batch as batch
import cnncli.imageio as imageio
from cnncli.cli import main

GROUP = os.getpgid(0)
PARENT = os.getpid()
real_write = imageio.write_output
shutting_down = threading.Event()
real_shutdown = batch.ThreadWorkers.shutdown

def shutdown(self, *args, **kwargs):
    shutting_down.set()
    return real_shutdown(self, *args, **kwargs)

def finishing():
    return shutting_down.is_set() or any(stop.value for _, stop in batch._INSTALLED.values())

def interrupt_twice_then_write(dest, *args, **kwargs):
    if os.path.basename(str(dest)) == "img003.png":
        os.killpg(GROUP, signal.SIGINT)
        while not finishing():
            time.sleep(0.001)
        os.killpg(GROUP, signal.SIGINT)
        # A worker process waits for the SIGTERM that gives its file up; a thread cannot be
        # stopped, so it only takes long enough for an exit that does not wait to show.
        time.sleep(60 if os.getpid() != PARENT else 0.5)
    real_write(dest, *args, **kwargs)

batch.ThreadWorkers.shutdown = shutdown
imageio.write_output = interrupt_twice_then_write
sys.argv = ["cnncli", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("workers", ["1", "2"])  # threads; worker processes
def test_ctrl_c_twice_ends_the_batch_with_only_whole_files(tmp_path, workers: str) -> None:
    """Threads cannot be stopped: img003 is finished. Worker processes give it up, its
    temporary file removed. (Python 3.11's interrupted Thread.join marked running threads
    stopped: threads abandoned img003, worker processes hung the exit for good.)"""
    inputs = [str(p) for p in make_images(tmp_path / "in", 16, size=(60, 80))]
    out = tmp_path / "out"
    args = ["sobel", *inputs, "--out-dir", str(out), "-j", workers]
    proc = run_in_session([sys.executable, "-c", TWICE_LAUNCHER, *args])  # hung: -9
    stderr = proc.stderr
    assert proc.returncode == 130, stderr
    assert stderr.count("\n") == 1 and "interrupted" in stderr
    done = sorted(out.iterdir())
    assert (out / "img003.png" in done) == (workers == "1")
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in done)  # no .part
    for path in done:
        assert load(path).shape == (60, 80)


# Each output's writer appends its pid to a log: which processes did the work.
PID_LAUNCHER = """
import os, sys
import cnncli.imageio as imageio
from cnncli.cli import main

LOG = sys.argv.pop(1)
real_write = imageio.write_output

def write_and_log(dest, *args, **kwargs):
    real_write(dest, *args, **kwargs)
    with open(LOG, "a") as log:
        log.write(f"{os.getpid()}\\n")

imageio.write_output = write_and_log
print(os.getpid(), file=sys.stderr)
sys.argv = ["cnncli", *sys.argv[1:]]
main()
"""


def test_a_batch_of_many_files_runs_in_worker_processes(tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 12)]
    log = tmp_path / "pids.log"
    args = ["sobel", *inputs, "--out-dir", str(tmp_path / "out"), "-j", "2", "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-c", PID_LAUNCHER, str(log), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    parent = proc.stderr.splitlines()[0]
    writers = log.read_text().split()
    assert len(writers) == 12
    assert parent not in writers and 1 <= len(set(writers)) <= 2
    for source in inputs:
        name = Path(source).name
        single = tmp_path / f"one-{name}"
        assert subprocess.run([CNNCLI, "sobel", source, str(single)]).returncode == 0
        assert (tmp_path / "out" / name).read_bytes() == single.read_bytes()


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (("sobel", "{a}", "{b}", "--out-dir", "{out}"), 0),  # a batch: every file written
        (("sobel", "{a}", "{out}/one.png"), 0),
        (("sobel", "{missing}", "{out}/two.png"), 2),  # the mistake still exits 2
        (("outsize", "--lin", "3", "--k", "9"), 2),
    ],
)
def test_with_stderr_closed_the_exit_status_still_tells(tmp_path, args, status) -> None:
    """``2>&-``: Python sets sys.stderr to None; nothing is said, the status is right."""
    a, b = make_images(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    names = {"a": a, "b": b, "out": out, "missing": tmp_path / "missing.png"}
    argv = [CNNCLI, *(arg.format(**names) for arg in args)]
    done = subprocess.run(
        argv, stderr=subprocess.DEVNULL, stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2)
    )
    assert done.returncode == status
    if args[-1] == "{out}":
        assert sorted(p.name for p in out.iterdir()) == sorted([a.name, b.name])
