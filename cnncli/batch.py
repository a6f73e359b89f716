"""Many inputs in one run: name each output, run the files in parallel, report each one.

A failed file is reported and the batch goes on; outputs are written atomically by the
filter, so an interrupted batch leaves only finished files and ``--skip-existing``
resumes it. The executor is any :class:`concurrent.futures.Executor` (forked worker
processes or threads here, a Dask cluster's executor for ``--scheduler``): how files are
spread stays out of :func:`run_batch`; the outputs of workers on this machine are put in
place by a thread of the batch's own process (:class:`OutputsInstalledHere`). Knows
nothing of terminals: the caller passes ``on_outcome`` to show progress.
"""

from __future__ import annotations

import itertools
import os
import shlex
import signal
import string
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from cnncli.core.cpus import cpu_count
from cnncli.core.enums import BatchStatus
from cnncli.core.errors import UserError
from cnncli.defaults import DEFAULT_NAME
from cnncli.files import INSTALLER, STDIO
from cnncli.interrupts import STOPPING, TERMINATING, signals_held, stops_deferred

if TYPE_CHECKING:
    import ctypes
    from contextlib import AbstractContextManager

    from cnncli.files import WrittenOutput

# (input path, output path) -> the filter's warning or None; raises UserError on a bad file.
FileWork = Callable[[Path, Path], "str | None"]

NAME_FIELDS = ("stem", "ext", "name", "suffix")

WRITTEN, SKIPPED, FAILED = BatchStatus.WRITTEN, BatchStatus.SKIPPED, BatchStatus.FAILED


@dataclass(frozen=True)
class BatchOptions:
    """How a batch names its outputs and reports; ``out_dir`` None means one file."""

    out_dir: Path | None = None
    suffix: str = ""
    name: str = DEFAULT_NAME
    skip_existing: bool = False
    quiet: bool = False
    scheduler: str | None = None  # a Dask scheduler's address, or "local"; None: here

    def check_single(self) -> None:
        """Refuse batch-only options without ``--out-dir`` rather than ignore them."""
        used = {
            "--suffix": bool(self.suffix),
            "--name": self.name != DEFAULT_NAME,
            "--skip-existing": self.skip_existing,
            "--scheduler": self.scheduler is not None,
        }
        for flag, given in used.items():
            if given:
                raise UserError(f"{flag} applies to batch mode", hint="add --out-dir DIR")


@dataclass(frozen=True)
class Job:
    source: Path
    dest: Path


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: BatchStatus
    message: str | None = None  # the error for FAILED, the filter's warning for WRITTEN
    internal: bool = False  # failed on a bug rather than on a bad file
    # WRITTEN by a worker that leaves its outputs to the batch's process to install
    # (OutputsInstalledHere): reported once they are in place.
    written: tuple[WrittenOutput, ...] = ()


@dataclass
class BatchReport:
    written: int = 0
    skipped: int = 0
    failed: int = 0
    warnings: int = 0
    seconds: float = 0.0
    failures: list[Outcome] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the files not reported were not (all) processed

    def add(self, outcome: Outcome) -> None:
        if outcome.status == WRITTEN:
            self.written += 1
            self.warnings += outcome.message is not None
        elif outcome.status == SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(outcome)


def check_name_template(template: str) -> None:
    """Refuse a ``--name`` template with an unknown ``{field}`` before any file is read."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise UserError(f"--name {template!r}: {exc}") from None
    for name in fields:
        if name not in NAME_FIELDS:
            known = ", ".join("{" + f + "}" for f in NAME_FIELDS)
            raise UserError(f"--name {template!r}: unknown field {{{name}}}; use {known}")


def output_name(source: Path, template: str = DEFAULT_NAME, suffix: str = "") -> str:
    """The output file name for ``source``: ``{stem}``, ``{ext}`` (no dot), ``{name}``."""
    check_name_template(template)
    name = template.format(
        stem=source.stem, ext=source.suffix.lstrip("."), name=source.name, suffix=suffix
    )
    if not name or name in (".", "..") or "/" in name or name.endswith("."):
        raise UserError(
            f"--name {template!r} gives {name!r} for {source}, not a file name",
            hint="e.g. --name '{stem}_edges.png'",
        )
    return name


def plan_jobs(
    inputs: Sequence[str], out_dir: Path, *, template: str = DEFAULT_NAME, suffix: str = ""
) -> list[Job]:
    """One job per input; refuses clashing outputs and outputs that would replace an input."""
    if not inputs:
        raise UserError("no input files given", hint="cnncli sobel imgs/*.png --out-dir edges/")
    if STDIO in inputs:
        raise UserError("'-' (stdin) cannot be one of several inputs; use it without --out-dir")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out-dir {out_dir}: exists and is not a directory")
    resolve = _resolver()
    sources = {resolve(raw) for raw in inputs}
    jobs: list[Job] = []
    claimed: dict[str, Path] = {}
    for raw in inputs:
        source = Path(raw)
        dest = out_dir / output_name(source, template, suffix)
        key = resolve(str(dest))
        if key in sources:
            raise UserError(
                f"{dest} would overwrite an input file",
                hint="choose another --out-dir, or a --suffix / --name",
            )
        if key in claimed:
            raise UserError(
                f"{claimed[key]} and {source} would both be written to {dest}",
                hint=_clash_hint(claimed[key], source, resolve, template),
            )
        claimed[key] = source
        jobs.append(Job(source, dest))
    return jobs


def _clash_hint(first: Path, second: Path, resolve: Callable[[str], str], template: str) -> str:
    """Why two inputs map to one output: the same file twice, a --name without the
    input's name in it, names that differ only by extension, or two folders holding
    the same name."""
    if resolve(str(first)) == resolve(str(second)):
        return "the same input is given twice: give each file once"
    if "{stem}" not in template and "{name}" not in template:
        return "--name needs {stem} or {name}, so that each output is named after its input"
    same_folder = resolve(str(first.parent)) == resolve(str(second.parent))
    if same_folder and first.stem == second.stem:
        keeping = shlex.quote(template.replace("{stem}", "{name}"))  # its extension kept
        return f"the inputs differ only by extension: keep it in the name, --name {keeping}"
    return "inputs from different folders share a name: run one batch per folder"


def _resolver() -> Callable[[str], str]:
    """``os.path.realpath``, each folder resolved once: a batch's paths share a few folders,
    and resolving every one of 500 files' paths afresh took 25 ms before the first file."""
    folders: dict[str, str] = {}
    cwd: list[str] = []  # read once, and only for a relative path (it may have been deleted)

    def resolve(path: str) -> str:
        if not os.path.isabs(path):
            if not cwd:
                cwd.append(os.getcwd())
            path = os.path.join(cwd[0], path)
        head, name = os.path.split(path)
        if name in ("", ".", ".."):
            return os.path.realpath(path)
        if (real := folders.get(head)) is None:
            real = folders[head] = os.path.realpath(head)
        joined = os.path.join(real, name)
        return os.path.realpath(joined) if os.path.islink(joined) else joined

    return resolve


def absolute_jobs(jobs: Sequence[Job]) -> list[Job]:
    """The jobs with absolute paths, for workers that do not share our working directory.

    A cluster's workers run elsewhere, in a directory of their own: they find the files
    only by absolute paths on storage mounted at the same place on every machine.
    """
    return [Job(job.source.absolute(), job.dest.absolute()) for job in jobs]


def make_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out-dir {out_dir}: cannot create ({exc.strerror or exc})") from None


def run_job(job: Job, work: FileWork, skip_if: Callable[[Path], bool] | None = None) -> Outcome:
    """Run one file, turning its failure into an :class:`Outcome` (runs on a worker).

    With ``skip_if``, an output it accepts is kept and the file reported as skipped; the
    check runs here, on the worker, so a resumed batch checks its outputs in parallel.
    """
    try:
        if skip_if is not None and skip_if(job.dest):
            return Outcome(job, SKIPPED)
        warning = work(job.source, job.dest)
    except UserError as exc:
        return Outcome(job, FAILED, str(exc))
    except MemoryError:
        return Outcome(job, FAILED, "out of memory")
    except Exception as exc:  # a bug: report it, keep going with the other files
        return Outcome(job, FAILED, f"internal error: {type(exc).__name__}: {exc}", internal=True)
    return Outcome(job, WRITTEN, warning)


def thread_executor(workers: int | None) -> ThreadWorkers:
    """Threads: for a few large files (numpy, Pillow and zlib release the GIL on the heavy
    parts), and where worker processes cannot be forked."""
    return ThreadWorkers(max_workers=workers or cpu_count())


class ThreadWorkers(ThreadPoolExecutor):
    """A thread pool whose shutdown, once waiting for the files being written, is not cut
    short by another Ctrl-C, SIGTERM or SIGHUP (:func:`cnncli.interrupts.stops_deferred`):
    the files are finished and installed (by :class:`OutputsInstalledHere`'s thread)."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers)
        # The workers' outputs, installed here.
        self.installs = OutputsInstalledHere(installers=min(self._max_workers, _MOST_INSTALLERS))
        self.tasks_ahead = 2 * self._max_workers + 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with stops_deferred() if wait else nullcontext():
            super().shutdown(wait=wait, cancel_futures=cancel_futures)
            if wait:
                self.installs.finish()

    def __exit__(self, *exc_info: object) -> None:
        """Files not started are not started (as ForkedWorkers): the pool's own exit would
        run every queued file, with each further Ctrl-C deferred until they are done."""
        self.shutdown(wait=True, cancel_futures=True)


# Each ForkedWorkers' work and stop flag, by its token: installed in its worker processes
# by the initializer (inherited, never pickled), or here while it runs on threads. Keyed,
# so that two batches in one process (library use) never run each other's work.
_INSTALLED: dict[int, tuple[FileWork, ctypes.c_bool]] = {}
_TOKENS = itertools.count()


def _start_forked_worker(
    token: int, work: FileWork, stop: ctypes.c_bool, parent: int, kept: int
) -> None:
    """In each worker: Ctrl-C is the parent's to handle (the files being written finish,
    as on threads); SIGTERM (SIGHUP too, unless ignored) ends it through ``finally``
    blocks, so the file being written leaves no ``.part`` file (those handed back are
    the parent's to install, or to remove); the parent dying ends it too, and then it
    removes the outputs it handed back; the work comes from the parent's memory,
    closures and all."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in TERMINATING:  # SIGHUP stays ignored under nohup
        if signum == signal.SIGTERM or signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, _exit_on_termination)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)  # blocked by the parent to fork
    global _batch_process, _handed_back_kept
    _handed_back_kept = kept
    _batch_process = parent
    _end_with_parent(parent)
    _INSTALLED[token] = (work, stop)


def _exit_on_termination(signum: int, frame: object) -> None:
    """In a task, unwind it (its ``finally`` blocks remove the temporary files); in the
    pool's own code, end at once: an exception there can leave a lock of the pool's queues
    held (or be caught and the worker go on), and the parent, which sends SIGTERM to every
    worker of a broken pool, then waits forever for one blocked on that lock."""
    if not _running_task:
        os._exit(128 + signum)
    raise SystemExit(128 + signum)


_running_task = False  # in a worker process: whether _in_worker is running a task
# In a worker process: the batch's process, and the temporary files of the outputs this
# worker handed back to it to install (run_jobs); past ``_handed_back_kept`` of them,
# those installed (renamed away) are forgotten (_keep_handed_back).
_batch_process = 0
_handed_back: list[str] = []
_handed_back_kept = 0


def _keep_handed_back(tmps: Iterable[str]) -> None:
    """Remember these until installed. Each time the list doubles past the outputs of the
    tasks a batch hands out ahead, the ones renamed away are dropped: a long batch does
    not keep every name, and an output a slow install still holds is never forgotten."""
    _handed_back.extend(tmps)
    if len(_handed_back) > 2 * max(_handed_back_kept, 1):
        _handed_back[:] = [tmp for tmp in _handed_back if os.path.lexists(tmp)]


def _remove_handed_back() -> None:
    """The batch's process is gone (killed outright): the outputs handed back to it and
    not installed yet never will be (one installed is renamed away already)."""
    from cnncli.files import remove_temporary_file

    for tmp in _handed_back:
        remove_temporary_file(tmp)
    _handed_back.clear()


# The signal the kernel sends a worker when the batch's process dies (PR_SET_PDEATHSIG):
# one of its own, so that the worker can tell (SIGTERM comes from the batch too). It
# comes first as the thread that forked the worker ends, while the process's other
# threads may still run (``getppid`` still names it), and again once the worker has a
# new parent: only then is the batch's process gone.
PARENT_DIED = getattr(signal, "SIGUSR1", signal.SIGTERM)


def _end_with_parent(parent: int) -> None:
    """End this worker when its parent dies (Linux's PR_SET_PDEATHSIG): as on SIGTERM,
    after removing the outputs it handed back, which no one will install now."""
    from cnncli.libc import signal_when_parent_dies

    signal.signal(PARENT_DIED, _on_parent_death)
    if not signal_when_parent_dies(PARENT_DIED):  # an orphan then waits for its queue
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        raise SystemExit(0)


def _on_parent_death(signum: int, frame: object) -> None:
    """The batch's process is gone if this worker has another parent now; else it is
    still ending (the signal comes again), or someone else sent it: the worker goes on."""
    if os.getppid() == _batch_process:
        return
    _remove_handed_back()
    _exit_on_termination(signal.SIGTERM, frame)


def _forked_work(token: int, source: Path, dest: Path) -> str | None:
    """What the parent submits for each file: a module function and a token, pickled."""
    from concurrent.futures import CancelledError

    work, stop = _INSTALLED[token]
    if stop.value:
        raise CancelledError  # queued before Ctrl-C, reached after it: not started
    return work(source, dest)


def _in_worker(fn: Callable[..., Any], *args: Any) -> Any:
    """A task in a worker process. SIGTERM mid-task (mid-file, or in the skip check) has
    unwound the temporary file; the process now ends, so that the parent sees a lost
    worker: the pool would otherwise send SystemExit back as the task's result. (Nested,
    so that a SIGTERM raised as the task ends, before the flag is down, is caught too: let
    through, the pool would send it back and the worker, its parent-death signal spent,
    would wait on its queue for good.)"""
    global _running_task
    try:
        try:
            _running_task = True
            return fn(*args)
        finally:
            _running_task = False
    except SystemExit as stopped:
        os._exit(stopped.code if isinstance(stopped.code, int) else 1)


class ForkedWorkers(Executor):
    """A process per core, each filtering one file at a time: for batches of many files.

    Threads in one process share its interpreter lock: a small image's work is some 40
    numpy, Pillow and zlib calls and 30 system calls, each of which hands that lock over
    (34 context switches an image, measured), so two threads did not run even 1.4 times
    as fast as one. Processes do not share it. ``fork`` gives the workers the filter as
    built: only paths and outcomes are pickled. All workers are started on entering, with
    the stopping signals blocked, before a progress bar's thread exists (``fork`` copies
    only the calling thread: a lock another thread held would stay locked in the child).
    Where forking is not safe or fails, the same work runs on threads.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._token = next(_TOKENS)
        self._work: FileWork | None = None
        self._inner: Executor | None = None
        self._processes = False
        # Set when the batch ends (Ctrl-C included): files queued to a worker do not start.
        # Shared memory without a lock: a worker killed while reading it cannot block the
        # parent setting it (a multiprocessing Event's lock would stay held).
        self._stop: ctypes.c_bool | None = None
        # The workers' outputs, installed here.
        self.installs = OutputsInstalledHere(installers=workers)
        self.tasks_ahead = 2 * workers + 1  # see run_batch

    def wrap(self, work: FileWork) -> FileWork:
        self._work = work
        return partial(_forked_work, self._token)

    def __enter__(self) -> ForkedWorkers:
        assert self._work is not None, "wrap the work before entering"
        if threading.active_count() == 1:
            try:
                self._inner = self._start_processes(self._work)
                self._processes = True
            except (OSError, RuntimeError):  # no fork now (a process limit, memory)
                self._inner = None
        if self._inner is None:  # threads of this process run _forked_work instead
            import ctypes

            self._stop = ctypes.c_bool(False)
            _INSTALLED[self._token] = (self._work, self._stop)
            threads = thread_executor(self.workers)
            self.installs = threads.installs  # finished within its own shutdown
            self._inner = threads
        return self

    def _start_processes(self, work: FileWork) -> Executor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from ctypes import c_bool

        context = multiprocessing.get_context("fork")
        self._stop = context.RawValue(c_bool, False)
        for stream in (sys.stdout, sys.stderr):  # else each child flushes it again at exit
            if stream is not None:
                stream.flush()
        # Until each worker has its own handlers (the parent's would raise in the pool's code).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
        pool: ProcessPoolExecutor | None = None
        try:
            pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_start_forked_worker,
                initargs=(
                    self._token,
                    work,
                    self._stop,
                    os.getpid(),
                    self.tasks_ahead * _MOST_PER_TASK,
                ),
            )
            pool.submit(int).result()  # forks every worker now (the fork context does)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a stop comes now
            self.installs.workers.update((pool._processes or {}).keys())
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if pool is not None:
                # A fork that failed midway leaves the workers already forked waiting on
                # their queue, and the interpreter's exit waiting for them: end them.
                forked = list((pool._processes or {}).values())
                pool.shutdown(wait=True, cancel_futures=True)
                for process in forked:
                    process.terminate()
                    process.join()
            raise
        return pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        assert self._inner is not None, "enter before submitting"
        if not self._processes:
            return self._inner.submit(fn, *args, **kwargs)
        return self._inner.submit(_in_worker, partial(fn, **kwargs), *args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        try:
            # On threads, ThreadWorkers' own shutdown holds the stops back.
            deferred = wait and self._processes
            with stops_deferred(self._stop_files_being_written) if deferred else nullcontext():
                if self._stop is not None:
                    self._stop.value = True
                if self._inner is not None:
                    self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)
                if deferred:  # on threads, ThreadWorkers' shutdown has finished the
                    self.installs.finish()  # installs (they are its own)
        finally:
            if wait:
                _INSTALLED.pop(self._token, None)

    def _stop_files_being_written(self) -> None:
        """Stopped again (Ctrl-C, SIGTERM, SIGHUP) while the files being written are
        finished: they are given up. A worker unwinds its file on SIGTERM (its temporary
        file removed) and ends, or ends at once if it has none; the pool, its workers gone,
        then ends as a broken one does; the outputs waiting to be installed are removed
        (threads cannot be stopped: their files are finished and installed)."""
        if not self._processes:
            return
        self.installs.give_up()
        processes = getattr(self._inner, "_processes", None) or {}
        for process in list(processes.values()):
            process.terminate()

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True, cancel_futures=True)

    def raise_if_lost(self, exc: BaseException) -> None:
        """A worker that died (killed for memory, a crash in a codec) breaks the pool: every
        file not reported is lost with it. One error says so, not a line per file."""
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, BrokenProcessPool):
            raise UserError(
                "a worker process died mid-batch (killed, perhaps for lack of memory); "
                "files not reported as written may not have been processed",
                hint="the outputs written are whole: rerun with --skip-existing",
            )


_MOST_PER_TASK = 8
_MOST_INSTALLERS = 8  # threads fsyncing side by side, however many threads filter


def can_fork() -> bool:
    """Linux, where ``fork`` is safe for this; Python 3.11+, whose process pool forks
    every worker at the first task (earlier ones forked on demand, mid-batch)."""
    return sys.platform == "linux" and sys.version_info >= (3, 11)


@dataclass(frozen=True)
class Execution:
    """Where a batch runs: the jobs as the executor needs them, each file's thread share,
    the executor to enter (processes or threads here, or a Dask cluster), and how the work
    is wrapped for it (as a function forked workers inherit)."""

    jobs: list[Job]
    threads: int
    executor: AbstractContextManager[Executor]
    wrapper: Callable[[FileWork], FileWork] | None = None
    per_task: int = 1  # files sent to a worker together

    def wrap(self, work: FileWork) -> FileWork:
        return self.wrapper(work) if self.wrapper is not None else work


def choose_execution(jobs: list[Job], scheduler: str | None, workers: int | None) -> Execution:
    """Worker processes (or threads) on this machine, each file getting a share of the
    cores so that a few large images still use every one; or a Dask cluster."""
    if scheduler is not None:
        from cnncli.cluster import dask_executor

        return Execution(absolute_jobs(jobs), 1, dask_executor(scheduler, workers))
    count = workers or cpu_count()
    threads = max(1, count // max(1, len(jobs)))
    if threads == 1 and count > 1 and can_fork():
        forked = ForkedWorkers(min(count, len(jobs)))
        # Up to 8 files a task, while every worker still gets 8 tasks or more to balance.
        per_task = max(1, min(_MOST_PER_TASK, len(jobs) // (8 * forked.workers)))
        return Execution(jobs, 1, forked, forked.wrap, per_task)
    # A file a task on threads: a task runs to its end once started, and Ctrl-C would
    # wait for all of its files (worker processes check a stop flag before each file).
    return Execution(jobs, threads, thread_executor(count))


def run_jobs(
    jobs: Sequence[Job],
    work: FileWork,
    skip_if: Callable[[Path], bool] | None,
    *,
    install: bool = True,
) -> list[Outcome]:
    """:func:`run_job` for a few files in a row: one task, one round trip to a worker.

    Their outputs are fsynced and renamed in order, on a thread of the task's
    (:func:`cnncli.files.grouped_writes`), and a file is reported written only once its
    output is in place. Without ``install``, they are left whole in their temporary
    files instead, in each outcome's ``written``, for the batch's own process to install
    (:class:`OutputsInstalledHere`).
    """
    from cnncli.files import grouped_writes

    outcomes: list[Outcome] = []
    owners: list[int] = []  # for each output waiting in the group, its outcome's index
    with grouped_writes(released=not install) as group:
        for position, job in enumerate(jobs, start=1):
            waiting = len(group.pending)
            outcome = run_job(job, work, skip_if)
            if outcome.status != WRITTEN:
                group.discard(waiting)  # a failure after writing: its outputs go
            owners += [len(outcomes)] * (len(group.pending) - waiting)
            outcomes.append(outcome)
            if install and position < len(jobs):  # installed while the next file is filtered
                group.hand_over()  # (the last file's, by the commit: no thread to wait for)
        results: Sequence[WrittenOutput | UserError | None]
        if install:
            results = group.commit()
        else:
            # Each output released is known to _handed_back before the parent's death
            # can be handled (in a worker process; PARENT_DIED is not a stop).
            with signals_held(also={PARENT_DIED}):
                results = released = group.release()
                if _running_task:  # in a worker process (see _remove_handed_back)
                    _keep_handed_back(r.tmp for r in released if not isinstance(r, UserError))
    written: dict[int, list[WrittenOutput]] = {}
    for index, result in zip(owners, results, strict=True):
        if isinstance(result, UserError):
            outcomes[index] = Outcome(outcomes[index].job, FAILED, str(result))
        elif result is not None:
            written.setdefault(index, []).append(result)
    for index, outputs in written.items():
        if outcomes[index].status == FAILED:  # another of its outputs was lost
            for output in outputs:
                output.discard()
        else:
            outcomes[index] = replace(outcomes[index], written=tuple(outputs))
    return outcomes


# What the installer reports of each task: the task, its jobs, and its outcomes (their
# outputs in place) or its failure.
_Report = tuple["Future[list[Outcome]]", list[Job], "list[Outcome] | BaseException"]


class OutputsInstalledHere:
    """The tasks of a batch as they end, their outputs fsynced and renamed into place by
    ``installers`` threads of the batch's own process (one a worker: on a slow disk
    their fsyncs wait side by side, as the workers' own did) rather than by each worker;
    reported in turn to the main thread (:meth:`next_report`).

    An fsync waits for the disk (0.2-0.5 ms a small file on this project's machine):
    waited for by a worker, or by a thread of its own sharing its core, it is time no
    file is filtered; the batch's process is otherwise idle. The installer threads take
    no signals, so an output is never cut halfway into place, and the main thread waits
    for reports in a queue, never in a future's lock (a Ctrl-C there can leave the lock
    held, and the worker that later finishes that task waiting for it for good). The
    executor's shutdown, once the workers are done, has the installers finish
    (:meth:`finish`): the outputs of tasks that ended after the batch stopped reading
    them are installed too (Ctrl-C: the files being written are finished), unless the
    batch was stopped again (:meth:`give_up`); and the temporary files of tasks lost
    with a worker are removed. With ``installs`` False (a cluster's workers install their
    own) the tasks are only reported.
    """

    def __init__(self, *, installs: bool = True, installers: int = 1) -> None:
        self.installs = installs
        self.installers = max(1, installers)
        self.workers: set[int] = {os.getpid()}  # the processes that write the temporary files
        self._ended: SimpleQueue[tuple[Future[list[Outcome]], list[Job]] | None] = SimpleQueue()
        self._reports: SimpleQueue[_Report] = SimpleQueue()
        self._lost: list[Job] = []  # of tasks that failed: their temporary files may stay
        self._giving_up = False
        self._running: list[tuple[threading.Thread, threading.Event]] = []

    def start(self) -> None:
        """Start the installer threads: before the first task (a failure to start one then
        costs no file), after any fork (``fork`` copies only the calling thread)."""
        while len(self._running) < self.installers:
            finished = threading.Event()
            installer = threading.Thread(
                target=self._install_each, args=(finished,), name=INSTALLER, daemon=True
            )
            # Started and recorded together (finish puts an end mark for each one), and
            # the mask inherited: the stopping signals go to the main thread.
            with stops_deferred(), signals_held():
                installer.start()
                self._running.append((installer, finished))

    def watch(self, task: Future[list[Outcome]], jobs: list[Job]) -> None:
        """Install the task's outputs once it ends, then report it."""
        task.add_done_callback(lambda ended: self._ended.put((ended, jobs)))

    def next_report(self) -> _Report:
        """The next task ended, its outputs in place (unless given up): the task, its
        jobs, and its outcomes or its failure (a CancelledError for a task that never
        started)."""
        return self._reports.get()

    def give_up(self) -> None:
        """Stopped again: the outputs still waiting are removed, not installed."""
        self._giving_up = True

    def _install_each(self, finished: threading.Event) -> None:
        from concurrent.futures import CancelledError

        try:
            while (ended := self._ended.get()) is not None:
                task, jobs = ended
                if task.cancelled():
                    self._reports.put((task, jobs, CancelledError()))
                    continue
                try:
                    outcomes = self._installed(task.result())
                except BaseException as exc:  # the task's failure, or a bug here
                    self._lost += jobs
                    self._reports.put((task, jobs, exc))
                else:
                    self._reports.put((task, jobs, outcomes))
        finally:
            finished.set()

    def _installed(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Each outcome's outputs put in place; one that cannot be is a FAILED outcome."""
        from cnncli.files import install_in_order

        if not self.installs:
            return outcomes
        owners = [(index, output) for index, o in enumerate(outcomes) for output in o.written]
        if self._giving_up:
            for _, output in owners:
                output.discard()
            given_up = "not installed: the batch was stopped"
            return [Outcome(o.job, FAILED, given_up) if o.written else o for o in outcomes]
        errors: dict[int, UserError] = {}
        results = install_in_order([output for _, output in owners])
        for (index, _), error in zip(owners, results, strict=True):
            if error is not None:
                errors.setdefault(index, error)
        return [
            Outcome(outcome.job, FAILED, str(errors[index]))
            if index in errors
            else replace(outcome, written=())
            for index, outcome in enumerate(outcomes)
        ]

    def finish(self) -> None:
        """Once the workers are done (every task ended or cancelled): install what is
        left, and remove the temporary files of tasks that failed, a worker lost with
        them (a result lost on its way leaves its outputs behind). The wait goes on
        through stops; the caller holds them back (a third one ends the process)."""
        from cnncli.files import remove_temporary_files

        for _ in self._running:
            self._ended.put(None)
        for installer, finished in self._running:
            finished.wait()  # not an interruptible join: see WriteGroup._join
            installer.join()
        self._running.clear()
        if self._lost and self.installs:
            remove_temporary_files([job.dest for job in self._lost], self.workers)
            self._lost.clear()


def run_batch(
    jobs: Sequence[Job],
    work: FileWork,
    executor: Executor,
    *,
    skip_existing: bool = False,
    complete: Callable[[Path], bool] | None = None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    per_task: int = 1,
) -> BatchReport:
    """Run every job on ``executor``; ``on_outcome`` sees each result as it arrives.

    Ctrl-C cancels the files not started and returns the report so far, ``interrupted``.

    With ``skip_existing`` an output is kept if ``complete`` accepts it (by default: a
    whole image that decodes, :func:`cnncli.imageio.is_complete_image`), else made again.
    ``per_task`` files go to the executor together (worker processes: each task is a
    round trip of pickles through pipes, 0.3 ms, a tenth of a small image's time).

    Tasks are handed out as others are reported, at most ``executor.tasks_ahead`` beyond
    them where the executor says (else all at once). An executor with ``installs`` (an
    :class:`OutputsInstalledHere`, finished by its own shutdown) has its workers leave
    their outputs to it; ``executor.raise_if_lost(failure)`` may turn a failure of the
    executor itself into one UserError.
    """
    skip_if = None
    if skip_existing:
        if complete is None:
            from cnncli.imageio import is_complete_image

            complete = is_complete_image
        skip_if = complete
    started = time.perf_counter()
    report = BatchReport()
    step = max(1, per_task)
    groups = iter([list(jobs[i : i + step]) for i in range(0, len(jobs), step)])
    # A local executor's outputs are installed here; a cluster's workers install their own.
    tasks: OutputsInstalledHere | None = getattr(executor, "installs", None)
    own = tasks is None
    if tasks is None:
        tasks = OutputsInstalledHere(installs=False)
    # Tasks submitted and not yet reported, at most: workers never run far ahead of the
    # installs (on a slow disk, a Ctrl-C would otherwise wait for every file they made).
    ahead = getattr(executor, "tasks_ahead", None) or len(jobs)
    extra = {} if own else {"install": False}
    submitted: set[Future[list[Outcome]]] = set()  # and not yet reported
    # Every task stays referenced until the batch ends: a Dask future's __del__ runs
    # Python code, and freed on this thread while it waits, a Ctrl-C raised in it would
    # be swallowed ("Exception ignored in ... __del__"), the batch waiting on for good.
    handed_out: list[Future[list[Outcome]]] = []
    # An executor that can lose everything at once (a lost worker, a cluster's scheduler)
    # raises one UserError for it rather than fail every file in turn.
    raise_if_lost = getattr(executor, "raise_if_lost", lambda failure: None)

    def submit_next() -> int:
        group = next(groups, None)
        if group is None:
            return 0
        with stops_deferred():  # watched once submitted: else its outputs are no one's
            try:
                task = executor.submit(run_jobs, group, work, skip_if, **extra)
            except Exception as exc:  # a pool broken meanwhile
                raise_if_lost(exc)
                raise
            submitted.add(task)
            handed_out.append(task)
            tasks.watch(task, group)
        return 1

    try:
        tasks.start()
        waiting = 0
        while waiting < ahead and submit_next():
            waiting += 1
        while waiting:
            task, done, result = tasks.next_report()
            submitted.discard(task)
            waiting -= 1
            if isinstance(result, BaseException):  # the executor itself failed (a lost worker)
                raise_if_lost(result)
                detail = f": {result}" if str(result) else ""  # a cancelled task: no message
                message = f"not processed: {type(result).__name__}{detail}"
                result = [Outcome(job, FAILED, message, internal=True) for job in done]
            for outcome in result:
                report.add(outcome)
                on_outcome(outcome)
            waiting += submit_next()
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        # After Ctrl-C: start no new file; finished files stay complete. (Held: a stop
        # raised in a future's lock would leave it held, and the task's end waiting.)
        try:
            with stops_deferred():
                for task in submitted:
                    task.cancel()
        finally:
            if own:
                tasks.finish()
    report.seconds = time.perf_counter() - started
    return report
