"""Ctrl-C, SIGTERM and SIGHUP: the command unwinds (no temporary file stays, an old
output is untouched), then the ``cnncli`` executable ends by that signal, as a shell
expects of a program it stopped.

Each signal is real, sent by the process to itself (or to its process group, as a
terminal's Ctrl-C is) from inside the write of an output, by a hook a small launcher
installs: the tests wait on that event, not on a clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.terminal import default_signals, run_in_session

RNG = np.random.default_rng(23)

# The executable's entry point, with a hook that sends SIG to TARGET ("self", "group" or
# "parent") once WHEN's temporary file holds its first bytes (the rest not yet written).
# SIGTERM/SIGHUP can be set to be ignored first, as nohup or a service manager does.
# With SECOND, a second signal follows once the batch waits for the files being written
# (its main thread holding stops back; in a worker process: the batch's stop flag), and
# a worker process then stays in its file until it is given up.
LAUNCHER = """
import os, signal, sys, time
import cnncli.files as files
from cnncli import batch, interrupts

SIG, TARGET, WHEN, IGNORED, SECOND = sys.argv[1:6]
SIG = getattr(signal, SIG)
if IGNORED != "-":
    signal.signal(getattr(signal, IGNORED), signal.SIG_IGN)
GROUP, PARENT = os.getpgid(0), os.getpid()
real_write_all = files.write_all

def send(signum):
    if TARGET == "group":
        os.killpg(GROUP, signum)
    else:
        os.kill(PARENT if TARGET == "parent" else os.getpid(), signum)

def waiting_for_files():
    if os.getpid() != PARENT:  # a worker process
        return all(stop.value for _, stop in batch._INSTALLED.values())
    return bool(interrupts._holders)  # the main thread holds the stops back

def until(condition):
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the event never came"
        time.sleep(0.01)

def write_half_then_signal(fd, data, name):
    if os.path.basename(name) != WHEN:
        return real_write_all(fd, data, name)
    half = len(data) // 2
    real_write_all(fd, data[:half], name)
    send(SIG)
    if SECOND != "-":
        until(waiting_for_files)
        send(getattr(signal, SECOND))
        while os.getpid() != PARENT:  # given up: only SIGTERM from the parent ends this
            signal.pause()
    real_write_all(fd, data[half:], name)

files.write_all = write_half_then_signal
from cnncli.cli import console_main
sys.argv = ["cnncli", *sys.argv[6:]]
console_main()
"""


def _image(path: Path, size: tuple[int, int] = (48, 64)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, size).astype(np.uint8)).save(path)
    return path


def _launch(
    sig: str, target: str, when: str, *args: str, ignored: str = "-", second: str = "-"
) -> subprocess.CompletedProcess[str]:
    # A hang (the bug some of these tests guard against) ends as returncode -9.
    return run_in_session(
        [sys.executable, "-c", LAUNCHER, sig, target, when, ignored, second, *args]
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_mid_write_leaves_the_old_output_and_ends_the_process_by_it(
    tmp_path: Path, sig: str
) -> None:
    source = _image(tmp_path / "in.png")
    out = tmp_path / "out"
    out.mkdir()
    old = out / "edges.png"
    old.write_bytes(b"the previous output")
    proc = _launch(sig, "self", "edges.png", "sobel", str(source), str(old))
    assert proc.returncode == -getattr(signal, sig), proc.stderr
    assert proc.stderr == ""  # killed, as the shell reports it: no message of ours
    assert old.read_bytes() == b"the previous output"
    assert _leftovers(out) == []


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_signal_ignored_at_start_stays_ignored(tmp_path: Path, sig: str) -> None:
    source = _image(tmp_path / "in.png")
    dest = tmp_path / "edges.png"
    proc = _launch(sig, "self", "edges.png", "sobel", str(source), str(dest), ignored=sig)
    assert proc.returncode == 0, proc.stderr
    assert np.asarray(Image.open(dest)).shape == (48, 64)
    assert _leftovers(tmp_path) == []


def test_the_ordinary_entry_point_keeps_the_exit_status(tmp_path: Path) -> None:
    """``python -m cnncli`` and callers of ``main()`` get a status, not a signal: SIGTERM
    unwinds there too, ending with 128 + 15."""
    source = _image(tmp_path / "in.png")
    dest = tmp_path / "edges.png"
    launcher = LAUNCHER.replace(
        "from cnncli.cli import console_main", "from cnncli.cli import main as console_main"
    )
    hook = ["SIGTERM", "self", "edges.png", "-", "-"]
    proc = subprocess.run(
        [sys.executable, "-c", launcher, *hook, "sobel", str(source), str(dest)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


# The hook sends SIGINT to the whole process group, bash included, as a terminal's
# Ctrl-C does.
LOOP = 'for f in "$@"; do "$CNNCLI_LAUNCH" sobel "$f" "$f.edges.png"; echo "after $f: $?"; done'


def test_ctrl_c_stops_a_shell_loop_over_cnncli(tmp_path: Path) -> None:
    """bash goes on with the loop when its command exits 130 after Ctrl-C ("wait and
    cooperative exit"), and stops when the command died of SIGINT."""
    inputs = [str(_image(tmp_path / f"img{i}.png")) for i in range(3)]
    script, launch = tmp_path / "launcher.py", tmp_path / "launch"
    script.write_text(LAUNCHER)
    when = "img0.png.edges.png"
    launch.write_text(f'#!/bin/sh\nexec {sys.executable} {script} SIGINT group {when} - - "$@"\n')
    launch.chmod(0o755)
    proc = subprocess.run(
        ["bash", "-c", LOOP, "loop", *inputs],
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
        env={**os.environ, "CNNCLI_LAUNCH": str(launch)},
        preexec_fn=default_signals,  # bash cannot undo a SIGINT ignored when it starts
    )
    assert proc.returncode == -signal.SIGINT, proc.stdout + proc.stderr
    assert "after" not in proc.stdout  # the loop ended with the first file
    assert _leftovers(tmp_path) == []
    assert not any(tmp_path.glob("*.edges.png"))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_to_a_batch_leaves_whole_files_and_ends_it_by_sigterm(
    tmp_path: Path, workers: str
) -> None:
    """On threads (``-j 1``) or worker processes (``-j 2``, where the hook runs in a
    worker and signals the parent): the files being written finish or go, none is half."""
    inputs = [str(_image(tmp_path / "in" / f"img{i:02d}.png", (60, 80))) for i in range(12)]
    out = tmp_path / "out"
    args = ["sobel", *inputs, "--out-dir", str(out), "-j", workers]
    target = "self" if workers == "1" else "parent"
    proc = _launch("SIGTERM", target, "img03.png", *args)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    done = sorted(out.iterdir())
    assert "img03.png" in [p.name for p in done]  # the file being written was finished
    assert len(done) < len(inputs)
    assert _leftovers(out) == []
    for path in done:
        assert np.asarray(Image.open(path)).shape == (60, 80)


@pytest.mark.parametrize(
    ("first", "second", "workers"),
    [
        ("SIGTERM", "SIGTERM", "1"),
        ("SIGTERM", "SIGTERM", "2"),
        ("SIGINT", "SIGHUP", "1"),
        ("SIGINT", "SIGHUP", "2"),
    ],
)
def test_a_second_signal_while_a_batch_finishes_its_files(
    tmp_path: Path, first: str, second: str, workers: str
) -> None:
    """``kill`` twice, or Ctrl-C and then the terminal closing. Threads finish the file
    being written; worker processes give it up (its temporary file removed). Either way
    the batch ends, by the second signal, with no half-written file. (A SIGTERM or SIGHUP
    during that wait had hung a batch of worker processes until SIGKILL, or left a
    ``.part`` file on threads.)"""
    inputs = [str(_image(tmp_path / "in" / f"img{i:02d}.png", (60, 80))) for i in range(12)]
    out = tmp_path / "out"
    args = ["sobel", *inputs, "--out-dir", str(out), "-j", workers]
    target = "self" if workers == "1" else "parent"
    proc = _launch(first, target, "img03.png", *args, second=second)
    ended_by = first if first == second else second  # Ctrl-C first: the batch had stopped
    assert proc.returncode == -getattr(signal, ended_by), proc.stderr
    done = [p.name for p in sorted(out.iterdir())]
    assert ("img03.png" in done) == (workers == "1")
    assert _leftovers(out) == []
    for name in done:
        assert np.asarray(Image.open(out / name)).shape == (60, 80)


def test_ctrl_c_in_a_batch_whose_stderr_reader_is_gone_still_ends_by_it(tmp_path: Path) -> None:
    """``cnncli ... 2>&1 | tee log`` and Ctrl-C: tee, in the same process group, is gone
    before the batch's "interrupted" line is written (EPIPE). The line is lost; the batch
    still ends by SIGINT (it had ended with status 1, so a shell loop went on)."""
    inputs = [str(_image(tmp_path / "in" / f"img{i:02d}.png")) for i in range(12)]
    args = ["sobel", *inputs, "--out-dir", str(tmp_path / "out"), "-j", "1"]
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCHER, "SIGINT", "self", "img03.png", "-", "-", *args],
            stdout=subprocess.DEVNULL,
            stderr=writer,
            timeout=120,
            start_new_session=True,
            preexec_fn=default_signals,
        )
    finally:
        os.close(writer)
    assert proc.returncode == -signal.SIGINT
