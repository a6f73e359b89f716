"""The batch planner and runner on their own: output names, refusals, per-file outcomes."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cnncli.batch import (
    FAILED,
    SKIPPED,
    WRITTEN,
    BatchOptions,
    Job,
    Outcome,
    _resolver,
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


def test_paths_resolve_as_realpath_does(tmp_path, monkeypatch) -> None:
    """The planner resolves each folder once; every kind of path still comes out as
    os.path.realpath has it: links to files and folders, '..' after a link, dangling
    links, names not there yet, absolute and relative paths."""
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "a.png").write_bytes(b"x")
    (tmp_path / "link_dir").symlink_to(real / "sub")
    (real / "sub" / "to_a.png").symlink_to(real / "a.png")
    (real / "dangling.png").symlink_to(tmp_path / "nowhere" / "z.png")
    monkeypatch.chdir(tmp_path)
    paths = [
        "real/a.png",
        "link_dir/to_a.png",
        "link_dir/../a.png",  # '..' after a link: the link's parent, not tmp_path
        "link_dir/new.png",
        "real/dangling.png",
        "real/sub/..",
        "./real/./a.png",
        str(tmp_path / "link_dir" / "to_a.png"),
        "missing/dir/file.png",
    ]
    resolve = _resolver()
    for path in paths * 2:  # the second time round, from its folder cache
        assert resolve(path) == os.path.realpath(path), path


def test_absolute_paths_are_planned_from_a_deleted_working_directory(tmp_path, monkeypatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    (tmp_path / "a.png").write_bytes(b"x")
    jobs = plan_jobs([str(tmp_path / "a.png")], tmp_path / "out")
    assert jobs == [Job(tmp_path / "a.png", tmp_path / "out" / "a.png")]


def test_an_output_that_is_an_input_through_a_link_is_refused(tmp_path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"x")
    (tmp_path / "out").symlink_to(tmp_path / "in")
    with pytest.raises(UserError, match="would overwrite an input file"):
        plan_jobs([str(tmp_path / "in" / "a.png")], tmp_path / "out")


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


def _atomic_copy(source: Path, dest: Path) -> str | None:
    """A stand-in filter that writes as the real ones do (:func:`cnncli.files.write_output`)."""
    from cnncli.files import write_output

    write_output(dest, source.read_bytes())
    return None


def _hidden(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_a_tasks_outputs_appear_only_once_installed_by_the_batch(tmp_path) -> None:
    """A worker that leaves its outputs to the batch's process: whole, hidden, and in
    place only once that process has installed them."""
    from cnncli.batch import OutputsInstalledHere, run_jobs

    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(name.encode())
    out = tmp_path / "out"
    out.mkdir()
    jobs = plan_jobs([str(tmp_path / "a.png"), str(tmp_path / "b.png")], out)
    outcomes = run_jobs(jobs, _atomic_copy, None, install=False)
    assert [(o.status, len(o.written)) for o in outcomes] == [(WRITTEN, 1), (WRITTEN, 1)]
    assert len(_hidden(out)) == 2 and not (out / "a.png").exists()
    installs = OutputsInstalledHere()
    installs.start()
    task: Future[list[Outcome]] = Future()
    installs.watch(task, jobs)
    task.set_result(outcomes)  # the task ends: the installer thread takes it
    reported, done, installed = installs.next_report()
    assert reported is task and done == jobs and not isinstance(installed, BaseException)
    assert [(o.status, o.written) for o in installed] == [(WRITTEN, ()), (WRITTEN, ())]
    assert (out / "a.png").read_bytes() == b"a.png" and (out / "b.png").read_bytes() == b"b.png"
    assert _hidden(out) == []
    installs.finish()


class _Immediate(Executor):
    """Runs each task as it is submitted, in the calling thread, its outputs left to an
    :class:`OutputsInstalledHere` as this machine's executors do, at most ``tasks_ahead``
    tasks unreported."""

    def __init__(self) -> None:
        from cnncli.batch import OutputsInstalledHere

        self.installs = OutputsInstalledHere()
        self.tasks_ahead = 3
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        future: Future[object] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_workers_never_run_more_than_a_few_tasks_ahead_of_the_installs(tmp_path) -> None:
    """On a slow disk the installs fall behind: no more tasks are handed out than a few
    beyond those reported, so a Ctrl-C never waits for a backlog of files to install."""
    names = [f"f{i:02d}.png" for i in range(10)]
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    out = tmp_path / "out"
    out.mkdir()
    executor = _Immediate()
    ahead: list[int] = []
    jobs = plan_jobs([str(tmp_path / n) for n in names], out)
    report = run_batch(
        jobs,
        _atomic_copy,
        executor,
        # Handed out and not yet reported, at each report (the one reported included).
        on_outcome=lambda o: ahead.append(executor.submitted - len(ahead)),
    )
    executor.installs.finish()
    assert report.written == 10 and _hidden(out) == []
    assert max(ahead) <= 3 and ahead[0] == 3  # three handed out before the first report


def test_files_finished_after_a_stopped_batch_stopped_reading_are_installed(tmp_path) -> None:
    """Ctrl-C while another file is being written: that file is finished (as the docs
    promise) and put in place once the workers are done, not left as a temporary file."""
    from cnncli.batch import thread_executor

    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(name.encode())
    out = tmp_path / "out"
    out.mkdir()
    started, stopped = threading.Event(), threading.Event()

    def work(source: Path, dest: Path) -> str | None:
        if source.name == "b.png":
            started.set()
            assert stopped.wait(60)  # still being written when the batch stops
        return _atomic_copy(source, dest)

    def on_outcome(outcome: object) -> None:  # a.png's: Ctrl-C once b.png has started
        assert started.wait(60)
        stopped.set()
        raise KeyboardInterrupt

    jobs = plan_jobs([str(tmp_path / "a.png"), str(tmp_path / "b.png")], out)
    with thread_executor(2) as executor:
        report = run_batch(jobs, work, executor, on_outcome=on_outcome)
        assert report.interrupted and report.written == 1
    assert (out / "b.png").read_bytes() == b"b.png"
    assert _hidden(out) == []


# The start of the forked-batch scripts below: COUNT one-byte inputs f00.in... and out/.
FORKED_INPUTS = """
import json, os, signal, sys
from pathlib import Path
from cnncli import batch
from cnncli.batch import ForkedWorkers, plan_jobs, run_batch
from cnncli.core.errors import UserError
from cnncli.files import write_output

folder = Path(sys.argv[1])
inputs = []
for i in range(COUNT):
    (folder / f"f{i:02d}.in").write_bytes(b"x")
    inputs.append(str(folder / f"f{i:02d}.in"))
out = folder / "out"
out.mkdir()
"""

LOST_MID_TASK = (
    "COUNT = 40\n"
    + FORKED_INPUTS
    + """
def work(source, dest):
    write_output(dest, b"whole")
    if Path(source).name == "f05.in":
        os._exit(3)  # lost with its temporary file, and with its task's others

forked = ForkedWorkers(2)
wrapped = forked.wrap(work)
try:
    with forked as executor:
        run_batch(plan_jobs(inputs, out), wrapped, executor, per_task=4)
except UserError as exc:
    print(json.dumps(sorted(p.name for p in out.iterdir())))
"""
)


def test_the_temporary_files_of_a_lost_worker_are_removed(tmp_path) -> None:
    """A worker process dies mid-task: the outputs its task had written, not yet handed
    back, stay as temporary files no worker will remove; the batch removes them once
    the pool is down. The outputs installed before stay, each whole."""
    import json

    left = json.loads(_run_script(LOST_MID_TASK, tmp_path))
    assert [name for name in left if name.startswith(".")] == []
    assert all((tmp_path / "out" / name).read_bytes() == b"whole" for name in left)
    assert "f05.in" not in left


KILLED_OUTRIGHT = (
    "COUNT = 40\n"
    + FORKED_INPUTS
    + """
def work(source, dest):
    write_output(dest, b"whole")

def killed(outcome):  # the batch's process killed outright (SIGKILL, the OOM killer)
    os.kill(os.getpid(), signal.SIGKILL)

forked = ForkedWorkers(2)
wrapped = forked.wrap(work)
with forked as executor:
    run_batch(plan_jobs(inputs, out), wrapped, executor, per_task=2, on_outcome=killed)
"""
)

# Runs KILLED_OUTRIGHT as a child and waits for its orphaned workers too: this process
# makes itself their reaper (PR_SET_CHILD_SUBREAPER), then lists what is left.
REAPER = """
import ctypes, json, os, subprocess, sys
from pathlib import Path
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0
child = subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]])
while True:
    try:
        os.waitpid(-1, 0)  # every orphaned worker, once it has ended
    except ChildProcessError:
        break
print(json.dumps([child.returncode, sorted(p.name for p in (Path(sys.argv[2]) / "out").iterdir())]))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="Linux's parent-death signal and subreaper")
def test_workers_of_a_batch_killed_outright_remove_the_outputs_they_handed_back(
    tmp_path,
) -> None:
    """Killed with SIGKILL after its first report, the batch's process installs nothing
    more: its workers, told by the kernel that it died, remove the outputs they had
    handed back to it and the ones they were writing. What is in place is whole."""
    import json
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", REAPER, KILLED_OUTRIGHT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    code, left = json.loads(result.stdout)
    assert code == -9
    assert [name for name in left if name.startswith(".")] == []
    assert all((tmp_path / "out" / name).read_bytes() == b"whole" for name in left)


STRAY_SIGNAL = (
    "COUNT = 24\n"
    + FORKED_INPUTS
    + """

def work(source, dest):
    write_output(dest, b"whole")
    if Path(source).name in ("f09.in", "f17.in"):  # outputs handed back before: waiting
        os.kill(os.getpid(), batch.PARENT_DIED)  # someone else's SIGUSR1 to this worker

forked = ForkedWorkers(2)
wrapped = forked.wrap(work)
with forked as executor:
    report = run_batch(plan_jobs(inputs, out), wrapped, executor, per_task=2)
print(json.dumps([report.written, [o.message for o in report.failures], len(list(out.iterdir()))]))
"""
)


def test_a_stray_parent_death_signal_leaves_a_living_batch_alone(tmp_path) -> None:
    """The signal that tells a worker its batch process died, sent by anyone else while
    the batch lives: the worker goes on, and removes none of the outputs it handed back
    (the batch then found them gone: "cannot write (No such file or directory)")."""
    import json

    written, failures, outputs = json.loads(_run_script(STRAY_SIGNAL, tmp_path))
    assert (written, failures, outputs) == (24, [], 24)


def test_a_worker_forgets_the_outputs_installed_but_none_still_waiting(
    tmp_path, monkeypatch
) -> None:
    """What a worker remembers of the outputs it handed back (to remove them if the batch
    dies): past twice the outputs a batch hands out ahead, those renamed away are
    dropped, those still waiting (a slow install) never."""
    from cnncli import batch

    monkeypatch.setattr(batch, "_handed_back", [])
    monkeypatch.setattr(batch, "_handed_back_kept", 2)
    waiting = [tmp_path / f".w{i}.part" for i in range(2)]
    for path in waiting:
        path.write_bytes(b"x")
    batch._keep_handed_back([str(waiting[0]), str(tmp_path / ".gone0.part")])
    batch._keep_handed_back([str(tmp_path / ".gone1.part"), str(waiting[1])])
    assert len(batch._handed_back) == 4  # not yet past twice 2
    batch._keep_handed_back([str(tmp_path / ".gone2.part")])
    assert batch._handed_back == [str(waiting[0]), str(waiting[1])]


class _Forgettable(Future):  # type: ignore[type-arg]
    """A future that can be watched for being freed (a plain Future takes no weakref
    slot of its own on every Python; a subclass always does)."""


class _Tracking(Executor):
    """Runs each task at once, one handed out at a time, and keeps a weak reference to
    each future it returns."""

    def __init__(self) -> None:
        self.futures: list[weakref.ref[Future[object]]] = []
        self.tasks_ahead = 1

    def submit(self, fn, /, *args, **kwargs):
        future: Future[object] = _Forgettable()
        future.set_result(fn(*args, **kwargs))
        self.futures.append(weakref.ref(future))
        return future


def test_every_task_stays_referenced_until_the_batch_ends(tmp_path) -> None:
    """A Dask future frees itself in Python code (``__del__``): freed while the batch
    waits, a Ctrl-C raised in it is swallowed and the batch waits for good (seen once,
    a full test run under load). So no task is freed before the batch returns."""
    names = [f"f{i}.png" for i in range(6)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    executor = _Tracking()
    alive: list[int] = []

    def on_outcome(outcome: object) -> None:
        gc.collect()
        alive.append(sum(ref() is not None for ref in executor.futures))

    jobs = plan_jobs([str(tmp_path / n) for n in names], out)
    run_batch(jobs, _copy, executor, on_outcome=on_outcome)
    assert alive == list(range(1, 7))  # each one handed out, none freed yet


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


# The forked-worker tests run in an interpreter of their own: pytest's may have threads
# (a test's Dask cluster), with which ForkedWorkers rightly falls back to threads.
FORKED_SCRIPT = """
import json, multiprocessing, os, sys
from pathlib import Path
from typing import Any
from cnncli.batch import ForkedWorkers, plan_jobs, run_batch
from cnncli.core.errors import UserError

# The first two files meet here: a worker does one file at a time, so each worker has
# one of them, whichever worker the pool happens to hand the others to.
both_started = multiprocessing.get_context("fork").Barrier(2)
folder = Path(sys.argv[1])
parent = os.getpid()
inputs = sorted(str(p) for p in folder.glob("*.in"))
out = folder / "out"
out.mkdir()

def work(source, dest):  # a closure over `parent`: inherited by fork, never pickled
    if Path(source).name in ("f00.in", "f01.in"):
        both_started.wait(timeout=60)
    data = Path(source).read_bytes()
    if data == b"die":
        os._exit(3)  # a worker lost mid-file (the OOM killer, a crash in a codec)
    if not data:
        raise UserError(f"{Path(source).name}: empty")
    Path(dest).write_text(f"{os.getpid()} {data.decode()}")
    return None

forked = ForkedWorkers(2)
wrapped = forked.wrap(work)
try:
    with forked as executor:
        report = run_batch(plan_jobs(inputs, out), wrapped, executor)
except UserError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    pids = {p.read_text().split()[0] for p in out.iterdir()}
    print(json.dumps({
        "written": report.written,
        "failures": [o.message for o in report.failures],
        "in_parent": str(parent) in pids,
        "workers": len(pids),
    }))
"""


def _run_script(code: str, folder: Path) -> str:
    """``code`` in an interpreter of its own (argv[1]: ``folder``); its stdout."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _run_forked(folder: Path, contents: dict[str, bytes]) -> dict[str, object]:
    import json

    for name, data in contents.items():
        (folder / f"{name}.in").write_bytes(data)
    return json.loads(_run_script(FORKED_SCRIPT, folder))  # type: ignore[no-any-return]


def test_forked_workers_run_a_closure_and_report_every_outcome(tmp_path) -> None:
    """Twelve files on two worker processes; one is empty (a user error)."""
    contents = {f"f{i:02d}": f"{i}".encode() for i in range(12)}
    contents["f05"] = b""
    got = _run_forked(tmp_path, contents)
    assert got == {
        "written": 11,
        "failures": ["f05.in: empty"],
        "in_parent": False,
        "workers": 2,
    }


def test_a_dead_worker_process_is_one_error_not_a_line_per_file(tmp_path) -> None:
    contents = {f"f{i:02d}": f"{i}".encode() for i in range(40)}
    contents["f03"] = b"die"
    got = _run_forked(tmp_path, contents)
    assert got == {
        "error": "a worker process died mid-batch (killed, perhaps for lack of memory); "
        "files not reported as written may not have been processed "
        "(hint: the outputs written are whole: rerun with --skip-existing)"
    }
    assert not list((tmp_path / "out").glob(".*.part"))


def test_where_forking_fails_the_batch_runs_on_threads(tmp_path, monkeypatch) -> None:
    from cnncli.batch import ForkedWorkers

    def no_fork(self, work):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(ForkedWorkers, "_start_processes", no_fork)
    for name in "abc":
        (tmp_path / f"{name}.in").write_bytes(name.encode())
    out = tmp_path / "out"
    out.mkdir()

    def work(source: Path, dest: Path) -> None:
        dest.write_bytes(source.read_bytes() * 2)

    forked = ForkedWorkers(2)
    wrapped = forked.wrap(work)
    with forked as executor:
        report = run_batch(
            plan_jobs([str(tmp_path / f"{n}.in") for n in "abc"], out), wrapped, executor
        )
    assert report.written == 3 and (out / "b.in").read_bytes() == b"bb"


@pytest.mark.parametrize(
    ("files", "workers", "kind", "threads", "per_task"),
    [
        (500, 2, "ForkedWorkers", 1, 8),
        (40, 2, "ForkedWorkers", 1, 2),
        (3, 2, "ForkedWorkers", 1, 1),
        (1, 2, "ThreadWorkers", 2, 1),
        (500, 1, "ThreadWorkers", 1, 1),
        (2, 8, "ThreadWorkers", 4, 1),
    ],
)
def test_many_files_go_to_worker_processes_a_few_large_ones_to_threads(
    monkeypatch, files, workers, kind, threads, per_task
) -> None:
    import cnncli.batch as batch
    from cnncli.batch import choose_execution

    monkeypatch.setattr(batch, "can_fork", lambda: True)
    jobs = [Job(Path(f"{i}.png"), Path(f"o/{i}.png")) for i in range(files)]
    execution = choose_execution(jobs, None, workers)
    assert type(execution.executor).__name__ == kind
    assert (execution.threads, execution.per_task) == (threads, per_task)
    if kind == "ThreadWorkers":
        execution.executor.__exit__(None, None, None)


def test_files_sent_in_groups_are_each_reported(tmp_path) -> None:
    """Seven files in tasks of three (the last of one): seven outcomes, each its own."""
    for i in range(7):
        (tmp_path / f"{i}.png").write_bytes(b"" if i == 4 else b"x")
    out = tmp_path / "out"
    out.mkdir()
    jobs = plan_jobs([str(tmp_path / f"{i}.png") for i in range(7)], out)
    seen: list = []
    with ThreadPoolExecutor(2) as executor:
        report = run_batch(jobs, _copy, executor, on_outcome=seen.append, per_task=3)
    assert sorted(o.job.source.name for o in seen) == [f"{i}.png" for i in range(7)]
    assert (report.written, report.warnings, report.failed) == (7, 1, 0)
    assert len(list(out.iterdir())) == 7


def test_a_lost_task_of_several_files_fails_each_of_them(tmp_path) -> None:
    jobs = [Job(tmp_path / f"{i}.png", tmp_path / "o" / f"{i}.png") for i in range(5)]
    report = run_batch(jobs, _copy, _Cancelling(), per_task=2)
    assert report.failed == 5
    assert {f.job.source.name for f in report.failures} == {f"{i}.png" for i in range(5)}
    assert all(f.message == "not processed: CancelledError" for f in report.failures)


def test_a_pool_that_cannot_be_made_leaves_ctrl_c_working(tmp_path) -> None:
    """SIGINT is blocked while workers are forked; a failure there must unblock it."""
    code = """
import signal, concurrent.futures
from cnncli.batch import ForkedWorkers

class NoPool:
    def __init__(self, *args, **kwargs):
        raise OSError(24, "Too many open files")

concurrent.futures.ProcessPoolExecutor = NoPool
forked = ForkedWorkers(2)
forked.wrap(lambda source, dest: None)
with forked:
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    print(type(forked._inner).__name__, signal.SIGINT in blocked)
"""
    assert _run_script(code, tmp_path).split() == ["ThreadWorkers", "False"]


def test_a_fork_failing_midway_leaves_no_worker_behind(tmp_path) -> None:
    """The second fork fails: the batch runs on threads, the first worker is ended, and
    the interpreter exits (it waited for that worker for ever before)."""
    code = """
import os, sys
from pathlib import Path
from typing import Any
from cnncli.batch import ForkedWorkers, plan_jobs, run_batch

real_fork, forks = os.fork, []
def fork_once():
    forks.append(1)
    if len(forks) == 2:
        raise OSError(11, "Resource temporarily unavailable")
    return real_fork()
os.fork = fork_once
folder = Path(sys.argv[1])
(folder / "out").mkdir()
for i in range(4):
    (folder / f"{i}.in").write_bytes(b"x")
forked = ForkedWorkers(3)
work = forked.wrap(lambda source, dest: Path(dest).write_bytes(b"y") and None)
with forked as executor:
    jobs = plan_jobs([str(folder / f"{i}.in") for i in range(4)], folder / "out")
    report = run_batch(jobs, work, executor)
import multiprocessing
print(type(forked._inner).__name__, report.written, len(multiprocessing.active_children()))
"""
    assert _run_script(code, tmp_path).split() == ["ThreadWorkers", "4", "0"]


def test_two_batches_at_once_in_one_process_each_run_their_own_filter(tmp_path) -> None:
    """Library use: two threads, two batches (on threads, as other threads exist)."""
    code = """
import sys, threading
from pathlib import Path
from typing import Any
from cnncli.batch import ForkedWorkers, plan_jobs, run_batch

folder = Path(sys.argv[1])
both_in = threading.Barrier(2)
reports = {}
def batch(tag):
    (folder / tag).mkdir()
    (folder / f"out{tag}").mkdir()
    for i in range(20):
        (folder / tag / f"{i}.in").write_bytes(b"x")
    forked = ForkedWorkers(2)
    work = forked.wrap(lambda source, dest: Path(dest).write_text(tag) and None)
    with forked as executor:
        both_in.wait()
        jobs = plan_jobs([str(folder / tag / f"{i}.in") for i in range(20)], folder / f"out{tag}")
        reports[tag] = run_batch(jobs, work, executor)
threads = [threading.Thread(target=batch, args=(tag,)) for tag in "AB"]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for tag in "AB":
    written = sorted({p.read_text() for p in (folder / f"out{tag}").iterdir()})
    print(tag, reports[tag].written, reports[tag].failed, "".join(written))
"""
    assert _run_script(code, tmp_path).splitlines() == ["A 20 0 A", "B 20 0 B"]


def test_sigterm_to_a_worker_outside_a_file_is_one_error_in_the_parent(tmp_path) -> None:
    """SIGTERM while a worker checks an existing output (--skip-existing): the worker
    ends, and the parent reports a lost worker, not a SystemExit of its own."""
    code = """
import os, signal, sys
from pathlib import Path
from typing import Any
from cnncli.batch import ForkedWorkers, plan_jobs, run_batch
from cnncli.core.errors import UserError

folder = Path(sys.argv[1])
(folder / "out").mkdir()
inputs = []
for i in range(8):
    (folder / f"f{i}.in").write_bytes(b"x")
    inputs.append(str(folder / f"f{i}.in"))
def complete(dest):
    if dest.name == "f3.in":
        os.kill(os.getpid(), signal.SIGTERM)
    return False
forked = ForkedWorkers(2)
work = forked.wrap(lambda source, dest: Path(dest).write_bytes(b"y") and None)
try:
    with forked as executor:
        run_batch(plan_jobs(inputs, folder / "out"), work, executor, skip_existing=True,
                  complete=complete)
except UserError as exc:
    print("error:", str(exc).split(";")[0])
"""
    assert (
        _run_script(code, tmp_path).strip()
        == "error: a worker process died mid-batch (killed, perhaps for lack of memory)"
    )


def test_a_task_of_several_files_reports_each_as_its_output_was_committed(tmp_path) -> None:
    """Outputs of one task are installed together: a file that fails after writing leaves no
    output, and one whose output cannot be put in place at the commit is failed."""
    from cnncli.batch import run_jobs
    from cnncli.files import atomic_write_bytes

    def work(source: Path, dest: Path) -> None:
        atomic_write_bytes(dest, source.name.encode(), no_clobber=True)
        if source.name == "bad":
            raise UserError("bad: broken after writing")
        if source.name == "raced":
            dest.write_bytes(b"someone else's")  # appears between the write and the commit

    names = ("good", "bad", "raced", "last")
    jobs = [Job(Path(name), tmp_path / f"{name}.out") for name in names]
    outcomes = run_jobs(jobs, work, None)
    assert [outcome.job for outcome in outcomes] == jobs
    assert [outcome.status for outcome in outcomes] == [WRITTEN, FAILED, FAILED, WRITTEN]
    assert "already exists" in (outcomes[2].message or "")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["good.out", "last.out", "raced.out"]
    assert (tmp_path / "good.out").read_bytes() == b"good"
    assert (tmp_path / "raced.out").read_bytes() == b"someone else's"


def _write_job_output(source: Path, dest: Path) -> str | None:
    from cnncli.files import atomic_write_bytes

    atomic_write_bytes(dest, source.name.encode())
    return None


@pytest.mark.parametrize(("files", "installers"), [(1, 0), (3, 1)])
def test_a_task_starts_an_installer_thread_only_for_files_after_its_first(
    tmp_path, monkeypatch, files, installers
) -> None:
    """Each output but the last is installed while the next file is filtered; a task of
    one file has nothing to overlap, and starts no thread."""
    import threading

    from cnncli.batch import run_jobs
    from cnncli.files import INSTALLER

    started: list[str] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    jobs = [Job(tmp_path / f"{i}.in", tmp_path / f"{i}.out") for i in range(files)]
    outcomes = run_jobs(jobs, _write_job_output, None)
    assert [o.status for o in outcomes] == [WRITTEN] * files
    assert started.count(INSTALLER) == installers
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i}.out" for i in range(files)]


def test_leaving_the_thread_pool_starts_no_queued_file() -> None:
    """After Ctrl-C only the running file is finished (the plain pool ran every queued one)."""
    from cnncli.batch import ThreadWorkers

    ran: list[int] = []
    futures: list[Future[None]] = []

    def task(index: int) -> None:
        ran.append(index)
        deadline = time.monotonic() + 30
        while index == 0 and not futures[1].cancelled() and time.monotonic() < deadline:
            time.sleep(0.001)  # the first file runs until the exit has cancelled the rest

    with ThreadWorkers(max_workers=1) as pool:
        futures += [pool.submit(task, i) for i in range(5)]
        while not ran:
            time.sleep(0.001)
    assert ran == [0]
    assert all(future.cancelled() for future in futures[1:])


class _SubmitInterrupted(Executor):
    """Ctrl-C arrives as the third task is submitted; the tasks never run."""

    def __init__(self) -> None:
        self.submitted: list[Future[Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        if len(self.submitted) == 2:
            raise KeyboardInterrupt
        self.submitted.append(Future())
        return self.submitted[-1]


def test_ctrl_c_while_files_are_submitted_cancels_those_submitted(tmp_path) -> None:
    jobs = [Job(tmp_path / f"{i}.png", tmp_path / f"out{i}.png") for i in range(4)]
    executor = _SubmitInterrupted()
    report = run_batch(jobs, lambda source, dest: None, executor)
    assert report.interrupted
    assert len(executor.submitted) == 2
    assert all(future.cancelled() for future in executor.submitted)


RACE = """
import sys
from cnncli import batch
returned = []

def task():
    returned.append(True)
    return "done"

def tracer(frame, event, arg):  # raises SIGTERM's SystemExit as the task ends
    if frame.f_code is not batch._in_worker.__code__:
        return None

    def local(frame, event, arg):
        if event == "line" and returned and batch._running_task:
            raise SystemExit(143)
        return local

    return local

sys.settrace(tracer)
try:
    batch._in_worker(task)
except SystemExit:
    sys.settrace(None)
    print("escaped into the pool's code")
"""


def test_sigterm_as_a_task_ends_still_ends_the_worker() -> None:
    """A SIGTERM raised after the task returned but before the worker marked it ended (a
    trace function raises it there, at each line, deterministically): let out of
    _in_worker, the pool sent it back as the result, and a worker whose parent had died
    then waited on its queue for good."""
    proc = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (143, ""), proc.stderr
