"""What a batch says when it is interrupted, and what its time covers.

The interrupt is a real SIGINT, sent by the process to itself from inside the write of
its second output (a hook around the atomic write, installed by a small launcher), so
the test waits on an event rather than on a clock.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

RNG = np.random.default_rng(19)

LAUNCHER = """
import os, signal, sys, threading, time
import cnncli.imageio as imageio
from cnncli import interrupts
from cnncli.cli import main

real_write = imageio.write_output
written = 0

def write_then_interrupt(*args, **kwargs):
    global written
    real_write(*args, **kwargs)
    written += 1
    if written == 2:  # Ctrl-C, once two outputs are complete, to the main thread as a
        # terminal's goes; this file ends once the batch has taken it (the batch's
        # process installs the outputs: the thread would otherwise race on to the end)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        deadline = time.monotonic() + 60
        while not interrupts._received:
            assert time.monotonic() < deadline, "Ctrl-C never reached the batch"
            time.sleep(0.01)

imageio.write_output = write_then_interrupt
sys.argv = ["cnncli", *sys.argv[1:]]
main()
"""


def images(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:02d}.png"
        Image.fromarray(RNG.integers(0, 256, (30, 40)).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("skip_existing", [False, True])
def test_an_interrupted_batch_says_what_is_done_and_how_to_resume(
    tmp_path: Path, skip_existing: bool
) -> None:
    inputs = images(tmp_path / "in", 12)
    out = tmp_path / "out"
    args = ["sobel", *inputs, "--out-dir", str(out), "-j", "1"]
    extra = ["--skip-existing"] if skip_existing else []
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args, *extra], capture_output=True, text=True
    )
    assert proc.returncode == 130, proc.stderr
    done = len(list(out.iterdir()))
    assert 2 <= done < len(inputs)
    rerun = "the same command" if skip_existing else "the same command with --skip-existing"
    assert proc.stderr == (
        f"sobel: interrupted; {done} of {len(inputs)} outputs are in {out} "
        f"(rerun {rerun} to make the other {len(inputs) - done})\n"
    )
    resumed = subprocess.run(
        [str(Path(sys.executable).parent / "cnncli"), *args, "--skip-existing"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(inputs) - done} written, {done} skipped" in resumed.stderr
    assert len(list(out.iterdir())) == len(inputs)


def test_thread_batch_time_has_no_cluster_note(run_cli, tmp_path: Path) -> None:
    inputs = images(tmp_path / "in", 2)
    result = run_cli("sobel", *inputs, "--out-dir", str(tmp_path / "o"))
    assert re.fullmatch(r"sobel: 2 files in \d+\.\d s: 2 written, 0 failed\n", result.stderr)


@pytest.mark.dask
def test_local_cluster_time_says_it_includes_the_start_up(tmp_path: Path) -> None:
    inputs = images(tmp_path / "in", 2)
    cnncli = str(Path(sys.executable).parent / "cnncli")
    args = [*inputs, "--out-dir", str(tmp_path / "o"), "--scheduler", "local", "-j", "1"]
    done = subprocess.run([cnncli, "sobel", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pattern = r"sobel: 2 files in \d+\.\d s \(cluster start-up included\): 2 written, 0 failed\n"
    assert re.fullmatch(pattern, done.stderr)


def _gray(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize(
    ("inputs", "extra", "hint"),
    [
        (["a.png", "a.png"], [], "the same input is given twice: give each file once"),
        (["a.png", "./a.png"], [], "the same input is given twice: give each file once"),
        (["a.png", "b.png"], ["--name", "same.png"], "--name needs {stem} or {name}"),
        (["x/a.png", "y/a.png"], [], "inputs from different folders share a name"),
        (
            ["a.png", "a.tif"],
            ["--format", "tiff", "--suffix", "_e"],
            "the inputs differ only by extension: keep it in the name, --name '{name}{suffix}.tiff'",
        ),
        (["x/a.png", "y/a.tif"], ["--format", "png"], "inputs from different folders share"),
        (["x/a.png", "x/../x/a.tif"], ["--format", "png"], "the inputs differ only by extension"),
        (
            ["a.png", "a.tif"],
            ["--name", "{stem}'s.png"],
            """the inputs differ only by extension: keep it in the name, --name '{name}'"'"'s.png'""",
        ),
    ],
    ids=["twice", "another name", "no stem", "two folders", "ext", "ext and folders",
         "one folder spelt two ways", "quoted"],
)  # fmt: skip
def test_a_clash_of_outputs_says_why(run_cli, tmp_path, monkeypatch, inputs, extra, hint) -> None:
    monkeypatch.chdir(tmp_path)
    for name in set(inputs):
        _gray(tmp_path / name)
    result = run_cli("sobel", *inputs, "--out-dir", "out", *extra)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and f"(hint: {hint}" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("out_dir", "shown"), [("", "empty"), ("-", "-"), (" ", "empty")])
def test_an_out_dir_that_is_no_folder_name_is_refused(
    run_cli, tmp_path, monkeypatch, out_dir, shown
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(
        "sobel", _gray(tmp_path / "a.png"), _gray(tmp_path / "b.png"), "--out-dir", out_dir
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --out-dir is {shown}: it takes a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_the_extension_hint_can_be_followed(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs = [_gray(tmp_path / "a.png"), _gray(tmp_path / "a.tif")]
    args = ("sobel", *inputs, "--out-dir", "out", "--format", "tiff", "--suffix", "_e")
    assert run_cli(*args).exit_code == 2
    result = run_cli(*args, "--name", "{name}{suffix}.tiff")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.png_e.tiff",
        "a.tif_e.tiff",
    ]
