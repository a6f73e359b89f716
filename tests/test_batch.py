"""The batch planner and runner on their own: output names, refusals, per-file outcomes."""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from cnncli.batch import (
    FAILED,
    SKIPPED,
    WRITTEN,
    BatchOptions,
    Job,
    absolute_jobs,
    output_name,
    plan_jobs,
    run_batch,
)
from cnncli.core.errors import UserError


@pytest.mark.parametrize(
    ("template", "suffix", "expected"),
    [
        ("{stem}{suffix}.{ext}", "", "cat.photo.jpg"),
        ("{stem}{suffix}.{ext}", "_edges", "cat.photo_edges.jpg"),
        ("{stem}.png", "", "cat.photo.png"),
        ("{name}.png", "", "cat.photo.jpg.png"),
        ("sobel-{stem}.{ext}", "", "sobel-cat.photo.jpg"),
    ],
)
def test_output_names(template, suffix, expected) -> None:
    assert output_name(Path("dir/cat.photo.jpg"), template, suffix) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{size}.png", "unknown field {size}"),
        ("{stem", "expected '}'"),
        ("{0}.png", "unknown field {0}"),
        ("{stem}/x.png", "not a file name"),
        ("{stem}.", "not a file name"),
    ],
)
def test_bad_name_templates(template, message) -> None:
    with pytest.raises(UserError, match="--name") as caught:
        output_name(Path("a.png"), template)
    assert message in str(caught.value)


def test_plan_keeps_input_order_and_refuses_clashes(tmp_path) -> None:
    jobs = plan_jobs(["b.png", "a.png"], tmp_path, suffix="_x")
    assert jobs == [
        Job(Path("b.png"), tmp_path / "b_x.png"),
        Job(Path("a.png"), tmp_path / "a_x.png"),
    ]
    with pytest.raises(UserError, match="would both be written"):
        plan_jobs(["x/a.png", "y/a.png"], tmp_path)
    with pytest.raises(UserError, match="no input files"):
        plan_jobs([], tmp_path)


def test_batch_only_options_need_an_out_dir() -> None:
    BatchOptions().check_single()
    BatchOptions(quiet=True).check_single()  # harmless on one file
    with pytest.raises(UserError, match="--suffix applies to batch mode"):
        BatchOptions(suffix="_e").check_single()
    with pytest.raises(UserError, match="--scheduler applies to batch mode"):
        BatchOptions(scheduler="local").check_single()


def test_absolute_jobs_for_workers_elsewhere(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (job,) = absolute_jobs(plan_jobs(["in/a.png"], Path("out")))
    assert job == Job(tmp_path / "in" / "a.png", tmp_path / "out" / "a.png")


def _copy(source: Path, dest: Path) -> str | None:
    """A stand-in filter: copies bytes, warns on empty files, fails on missing ones."""
    data = source.read_bytes() if source.exists() else None
    if data is None:
        raise UserError(f"{source}: no such file")
    if source.name == "bug.png":
        raise ValueError("boom")
    dest.write_bytes(data)
    return "empty" if not data else None


def test_run_batch_reports_each_outcome(tmp_path) -> None:
    for name, data in (("a.png", b"a"), ("e.png", b""), ("bug.png", b"b"), ("done.png", b"d")):
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    (out / "done.png").write_bytes(b"old")
    names = ["a.png", "e.png", "missing.png", "bug.png", "done.png"]
    jobs = plan_jobs([str(tmp_path / n) for n in names], out)
    seen = []
    with ThreadPoolExecutor(2) as executor:
        report = run_batch(
            jobs, _copy, executor, skip_existing=True, complete=Path.exists, on_outcome=seen.append
        )
    by_name = {o.job.source.name: o for o in seen}
    assert len(seen) == 5
    assert by_name["done.png"].status == SKIPPED and (out / "done.png").read_bytes() == b"old"
    assert by_name["a.png"].status == WRITTEN and by_name["a.png"].message is None
    assert by_name["e.png"].status == WRITTEN and by_name["e.png"].message == "empty"
    assert by_name["missing.png"].status == FAILED and not by_name["missing.png"].internal
    assert by_name["bug.png"].status == FAILED and by_name["bug.png"].internal
    assert by_name["bug.png"].message == "internal error: ValueError: boom"
    assert (report.written, report.skipped, report.failed, report.warnings) == (2, 1, 2, 1)


def _die(source: Path, dest: Path) -> str | None:
    os._exit(3)  # a worker process lost mid-file


def test_a_lost_worker_fails_its_files_without_stopping_the_report(tmp_path) -> None:
    jobs = [Job(tmp_path / "a.png", tmp_path / "o" / "a.png")]
    with ProcessPoolExecutor(1) as executor:
        report = run_batch(jobs, _die, executor)
    (failure,) = report.failures
    assert failure.internal and failure.message is not None
    assert failure.message.startswith("not processed: BrokenProcessPool")


class _Cancelling(Executor):
    """Cancels every task, as a Dask client does when it loses its scheduler."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future[object] = Future()
        future.cancel()
        future.set_running_or_notify_cancel()
        return future


def test_a_cancelled_task_is_reported_as_not_processed(tmp_path) -> None:
    jobs = [Job(tmp_path / "a.png", tmp_path / "o" / "a.png")]
    report = run_batch(jobs, _copy, _Cancelling())
    (failure,) = report.failures
    assert failure.internal and failure.message == "not processed: CancelledError"


def _out_of_memory(source: Path, dest: Path) -> str | None:
    raise MemoryError


def test_a_file_too_big_for_memory_is_a_user_error_not_a_bug(tmp_path) -> None:
    jobs = [Job(tmp_path / "huge.png", tmp_path / "o" / "huge.png")]
    with ThreadPoolExecutor(1) as executor:
        report = run_batch(jobs, _out_of_memory, executor)
    (failure,) = report.failures
    assert failure.status == FAILED and failure.message == "out of memory"
    assert not failure.internal


def test_no_more_files_compute_at_once_than_there_are_slots(tmp_path) -> None:
    """Eight threads, two slots: a file computes from its start to its disk wait."""
    import threading
    import time

    from cnncli.batch import ComputeSlots
    from cnncli.files import atomic_write_bytes

    lock = threading.Lock()
    computing, peak = 0, 0

    def work(source: Path, dest: Path) -> None:
        nonlocal computing, peak
        with lock:
            computing += 1
            peak = max(peak, computing)
        time.sleep(0.002)  # lets the other threads run: without slots they would join in
        with lock:
            computing -= 1
        atomic_write_bytes(dest, b"done")  # the disk wait gives the slot back

    slotted = ComputeSlots(2).wrap(work)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: slotted(Path("in"), tmp_path / f"{i}.out"), range(64)))
    assert peak <= 2
    assert len(list(tmp_path.iterdir())) == 64


def test_a_file_waiting_for_the_disk_lets_another_compute(tmp_path, monkeypatch) -> None:
    """One slot: the first file's fsync waits for the second file to start, which only
    its slot, given back at the disk wait, lets happen (otherwise: a deadlock, caught)."""
    import threading

    from cnncli.batch import ComputeSlots
    from cnncli.files import atomic_write_bytes

    second_started = threading.Event()
    real_fsync = os.fsync

    def fsync_after_the_second_starts(fd: int) -> None:
        if not second_started.wait(timeout=60):  # a guard against a hang, not a timing
            raise AssertionError("the second file never started: the slot was kept")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_after_the_second_starts)

    def work(source: Path, dest: Path) -> None:
        if source.name == "second":
            second_started.set()
        atomic_write_bytes(dest, source.name.encode())

    slotted = ComputeSlots(1).wrap(work)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(slotted, Path("first"), tmp_path / "1.out")
        second_started_wait = pool.submit(slotted, Path("second"), tmp_path / "2.out")
        first.result(timeout=120)
        second_started_wait.result(timeout=120)
    assert (tmp_path / "1.out").read_bytes() == b"first"


def test_new_files_written_from_many_threads_keep_the_umask(tmp_path, monkeypatch) -> None:
    """New files get 0o666 less the umask, which is read once (reading it means setting it:
    two threads doing that at once could leave it at 0) and left as it was."""
    import cnncli.files as files
    from cnncli.files import atomic_write_bytes

    monkeypatch.setattr(files, "_umask", None)  # as at the start of a run
    before = os.umask(0o027)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: atomic_write_bytes(tmp_path / f"{i}", b"x"), range(200)))
        still = os.umask(0o027)
        assert still == 0o027
    finally:
        os.umask(before)
    modes = {(tmp_path / f"{i}").stat().st_mode & 0o777 for i in range(200)}
    assert modes == {0o640}


def test_glibc_is_told_to_keep_freed_memory() -> None:
    import platform

    from cnncli.allocator import keep_freed_memory

    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_forked_workers_run_a_closure_and_report_every_outcome(tmp_path) -> None:
    """The work is a closure (as the CLI's filters are): the workers inherit it by fork,
    only paths and outcomes cross between the processes."""
    from cnncli.batch import ForkedWorkers

    parent = os.getpid()
    for name in ("a", "b", "c", "d", "e"):
        (tmp_path / f"{name}.png").write_bytes(name.encode())
    (tmp_path / "e.png").write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()

    def work(source: Path, dest: Path) -> str | None:  # a closure over `parent`
        assert os.getpid() != parent, "ran in the parent"
        data = source.read_bytes()
        if not data:
            raise UserError(f"{source.name}: empty")
        dest.write_bytes(data * 2)
        return None

    jobs = plan_jobs([str(tmp_path / f"{n}.png") for n in "abcde"], out)
    forked = ForkedWorkers(2)
    wrapped = forked.wrap(work)
    with forked as executor:
        report = run_batch(jobs, wrapped, executor)
    assert (report.written, report.failed) == (4, 1)
    assert report.failures[0].message == "e.png: empty"
    assert (out / "c.png").read_bytes() == b"cc"


def test_the_cli_batch_on_forked_workers_gives_the_single_file_bytes(tmp_path) -> None:
    """Outputs of a batch spread over processes are those of one file at a time."""
    from functools import partial

    import numpy as np
    from PIL import Image

    from cnncli.batch import ForkedWorkers
    from cnncli.core.edges import SOBEL
    from cnncli.core.enums import EdgeOutput
    from cnncli.core.tone import Tone
    from cnncli.pipeline import IOOptions, edge_filter_for, run_filter

    rng = np.random.default_rng(9)
    inputs = []
    for i in range(6):
        path = tmp_path / f"in{i}.png"
        Image.fromarray(rng.integers(0, 256, (33 + i, 47)).astype(np.uint8)).save(path)
        inputs.append(str(path))
    apply = edge_filter_for(SOBEL, output=EdgeOutput.MAGNITUDE, tone=Tone(), per_channel=False)
    work = partial(run_filter, apply=apply, options=IOOptions(), luminance=True, threads=1)
    for source in inputs:
        work(source, tmp_path / f"one-{Path(source).name}")
    forked = ForkedWorkers(2)
    wrapped = forked.wrap(work)
    out = tmp_path / "out"
    out.mkdir()
    with forked as executor:
        report = run_batch(plan_jobs(inputs, out), wrapped, executor)
    assert report.written == 6
    for source in inputs:
        name = Path(source).name
        assert (out / name).read_bytes() == (tmp_path / f"one-{name}").read_bytes()
