"""cnncli.files on its own: what atomic writes leave on disk."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest


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


def _listing(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def _descriptors_in(folder) -> list[str]:
    """The files under ``folder`` this process has open (other tests' threads may open
    and close descriptors of their own meanwhile: only these are counted)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith(f"{folder}/"):
            found.append(target)
    return found


def _installing_into(folder, fd: int) -> bool:
    """An installer thread syncing a file of ``folder`` (not one of another test's)."""
    import threading

    if threading.current_thread().name != "cnncli-installer":
        return False
    return os.readlink(f"/proc/self/fd/{fd}").startswith(f"{folder}/")


_SENT = []  # the SIGTERMs a test sent itself


def _sigterm_the_main_thread() -> None:
    """SIGTERM for the main thread, the one thread of a worker that takes it (the test
    process may have other threads, from other tests, that the kernel could pick)."""
    import threading

    _SENT.append(signal.SIGTERM)
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)


def _sigterm_the_process() -> None:
    _SENT.append(signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def _ended_by_sigterm() -> Iterator[None]:
    """SIGTERM raises SystemExit, as in a batch's worker; the block must end that way.
    Only the signals the test sent count (one from elsewhere, such as a cluster of
    another test shutting down, is not the test's)."""

    def exit_on_sigterm(signum: int, frame: object) -> None:
        if _SENT:
            _SENT.pop()
            raise SystemExit(128 + signum)

    _SENT.clear()
    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        yield
    except SystemExit:
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    raise AssertionError("the block ended before SIGTERM was handled")


def test_grouped_writes_appear_only_at_the_commit_each_whole(tmp_path) -> None:
    from cnncli.files import atomic_write_bytes, grouped_writes

    (tmp_path / "b").write_bytes(b"old")
    os.chmod(tmp_path / "b", 0o600)
    with grouped_writes() as group:
        atomic_write_bytes(tmp_path / "a", b"first")
        atomic_write_bytes(tmp_path / "b", b"second")
        assert not (tmp_path / "a").exists()
        assert (tmp_path / "b").read_bytes() == b"old"  # not replaced before the commit
        assert group.commit() == [None, None]
    assert (tmp_path / "a").read_bytes() == b"first"
    assert (tmp_path / "b").read_bytes() == b"second"
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o600  # the replaced file's mode
    assert _listing(tmp_path) == ["a", "b"]  # no temporary file left


def test_a_group_left_without_its_commit_leaves_nothing(tmp_path) -> None:
    """An error, or SIGTERM's SystemExit, between the writes and the commit."""
    from cnncli.files import atomic_write_bytes, grouped_writes

    (tmp_path / "b").write_bytes(b"old")
    try:
        with grouped_writes():
            atomic_write_bytes(tmp_path / "a", b"first")
            atomic_write_bytes(tmp_path / "b", b"second")
            raise SystemExit(143)
    except SystemExit:
        pass
    assert _listing(tmp_path) == ["b"]
    assert (tmp_path / "b").read_bytes() == b"old"


def test_a_commit_reports_each_outputs_own_error(tmp_path) -> None:
    from cnncli.core.errors import UserError
    from cnncli.files import atomic_write_bytes, grouped_writes

    with grouped_writes() as group:
        atomic_write_bytes(tmp_path / "a", b"first", no_clobber=True)
        atomic_write_bytes(tmp_path / "b", b"second", no_clobber=True)
        (tmp_path / "a").write_bytes(b"appeared meanwhile")
        first, second = group.commit()
    assert isinstance(first, UserError) and "already exists" in str(first)
    assert second is None
    assert (tmp_path / "a").read_bytes() == b"appeared meanwhile"
    assert (tmp_path / "b").read_bytes() == b"second"
    assert _listing(tmp_path) == ["a", "b"]


def test_discarded_outputs_of_a_group_are_removed(tmp_path) -> None:
    from cnncli.files import atomic_write_bytes, grouped_writes

    with grouped_writes() as group:
        atomic_write_bytes(tmp_path / "a", b"kept")
        atomic_write_bytes(tmp_path / "b", b"dropped")
        group.discard(1)
        assert group.commit() == [None]
    assert _listing(tmp_path) == ["a"]


def _released(folder, contents: dict[str, bytes]):
    """Outputs written in a group and released to be installed elsewhere."""
    from cnncli.files import atomic_write_bytes, grouped_writes

    with grouped_writes(released=True) as group:
        for name, data in contents.items():
            atomic_write_bytes(folder / name, data)
        released = group.release()
    return released


def test_released_outputs_stay_whole_and_hidden_until_installed(tmp_path) -> None:
    """A worker's outputs, left for the batch's process: the group no longer removes
    them, no name appears before the install, and the install keeps a replaced file's
    mode (0o666 is more than the umask lets a new file have)."""
    from cnncli.files import install_in_order, process_umask

    (tmp_path / "b").write_bytes(b"old")
    os.chmod(tmp_path / "b", 0o666)
    released = _released(tmp_path, {"a": b"first", "b": b"second"})
    assert [output.path.name for output in released] == ["a", "b"]
    assert "a" not in _listing(tmp_path) and (tmp_path / "b").read_bytes() == b"old"
    assert len([name for name in _listing(tmp_path) if name.endswith(".part")]) == 2
    assert process_umask() & 0o666  # else the mode below proves nothing
    assert install_in_order(released) == [None, None]
    assert _listing(tmp_path) == ["a", "b"]
    assert (tmp_path / "a").read_bytes() == b"first"
    assert (tmp_path / "b").read_bytes() == b"second"
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o666


def _watch_fsyncs_and_renames(monkeypatch) -> list[tuple[str, str]]:
    """The fsyncs and renames made, in order (the real calls, watched, not replaced)."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst) -> None:
        calls.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_each_released_output_is_fsynced_before_its_name_appears(tmp_path, monkeypatch) -> None:
    """Installed elsewhere, an output is reopened and fsynced first: a write
    error the worker never saw is still told, and a crash after the rename finds the
    file whole. The system calls are watched, not replaced."""
    from cnncli.files import install_in_order

    released = _released(tmp_path, {name: name.encode() for name in "abc"})
    calls = _watch_fsyncs_and_renames(monkeypatch)
    assert install_in_order(released) == [None, None, None]
    replaced = [path for kind, path in calls if kind == "replace"]
    assert len(replaced) == 3
    for path in replaced:
        assert calls.index(("fsync", path)) < calls.index(("replace", path))
    assert _listing(tmp_path) == ["a", "b", "c"]


def test_temporary_files_left_by_lost_writers_are_removed_and_no_others(tmp_path) -> None:
    """A worker lost mid-task (or with the result that released its outputs) leaves
    ``.NAME.PID-COUNT.part`` files: the batch removes those of its own workers for the
    lost files, and nothing else (another process's, another file's, a user's own)."""
    from cnncli.files import remove_temporary_files

    names = [
        ".a.png.100-0.part",  # ours, lost: removed
        ".a.png.100-7.part",  # ours, lost: removed
        ".a.png.555-0.part",  # another process's: kept
        ".b.png.100-1.part",  # ours, for a file not lost: kept
        ".a.png.100-x.part",  # not a name we make: kept
        ".a.png.\u00b2-1.part",  # nor this (a digit, not an ASCII one)
        "a.png",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    remove_temporary_files([tmp_path / "a.png"], {100, 101})
    assert _listing(tmp_path) == sorted(names[2:])


def test_only_outputs_synced_one_by_one_start_their_writeback_as_written(
    tmp_path, monkeypatch
) -> None:
    """A group installed by its own thread starts each output's writeback at once (its
    fsync later finds the data on its way); released outputs, fsynced later by whoever
    installs them, are spared that system call each."""
    import cnncli.libc as libc
    from cnncli.files import atomic_write_bytes, grouped_writes

    started: list[int] = []
    real = libc.start_writeback
    monkeypatch.setattr(libc, "start_writeback", lambda fd: started.append(fd) or real(fd))
    with grouped_writes() as group:
        atomic_write_bytes(tmp_path / "a", b"a")
        group.commit()
    assert len(started) == 1
    with grouped_writes(released=True) as group:
        atomic_write_bytes(tmp_path / "b", b"b")
        (output,) = group.release()
    assert len(started) == 1
    assert not isinstance(output, Exception) and output.install() is None
    assert _listing(tmp_path) == ["a", "b"]


def test_a_released_output_whose_temporary_file_was_swapped_is_refused(tmp_path) -> None:
    """Someone who may write to the folder puts a FIFO in the temporary file's place:
    the install refuses it at once instead of waiting for a writer forever."""
    from cnncli.core.errors import UserError
    from cnncli.files import install_in_order

    (output,) = _released(tmp_path, {"a": b"first"})
    os.unlink(output.tmp)
    os.mkfifo(output.tmp)
    (error,) = install_in_order([output])
    assert isinstance(error, UserError) and "was replaced" in str(error)
    assert _listing(tmp_path) == []


def test_outputs_installed_in_order_each_report_their_own_error(tmp_path) -> None:
    from cnncli.core.errors import UserError
    from cnncli.files import atomic_write_bytes, grouped_writes, install_in_order

    with grouped_writes(released=True) as group:
        atomic_write_bytes(tmp_path / "a", b"first", no_clobber=True)
        atomic_write_bytes(tmp_path / "b", b"second", no_clobber=True)
        released = group.release()
    (tmp_path / "a").write_bytes(b"appeared meanwhile")
    first, second = install_in_order(released)
    assert isinstance(first, UserError) and "already exists" in str(first)
    assert second is None
    assert (tmp_path / "a").read_bytes() == b"appeared meanwhile"
    assert _listing(tmp_path) == ["a", "b"]  # the refused one's temporary file is gone


def test_each_grouped_output_is_fsynced_before_its_name_appears(tmp_path, monkeypatch) -> None:
    """The guarantee of a single write, kept in a group: a crash or power cut after the
    rename finds the file whole. The system calls are watched, not replaced."""
    from cnncli.files import atomic_write_bytes, grouped_writes

    calls = _watch_fsyncs_and_renames(monkeypatch)
    with grouped_writes() as group:
        for name in "abc":
            atomic_write_bytes(tmp_path / name, name.encode())
        assert calls == []  # nothing synced or renamed while the group is written
        group.commit()
    replaced = [path for kind, path in calls if kind == "replace"]
    assert len(replaced) == 3
    for path in replaced:
        assert calls.index(("fsync", path)) < calls.index(("replace", path))


def test_an_interruption_while_an_output_joins_its_group_leaves_nothing(
    tmp_path, monkeypatch
) -> None:
    """SIGTERM (SystemExit in a worker) as writeback is started: the output is removed."""
    import cnncli.libc as libc
    from cnncli.files import atomic_write_bytes, grouped_writes

    def interrupted(fd: int) -> bool:
        raise SystemExit(143)

    monkeypatch.setattr(libc, "start_writeback", interrupted)
    try:
        with grouped_writes():
            atomic_write_bytes(tmp_path / "a", b"first")
    except SystemExit:
        pass
    assert _listing(tmp_path) == []
    assert _descriptors_in(tmp_path) == []  # its descriptor closed


def _install_raising(monkeypatch, name: str, failure: BaseException) -> None:
    """Installing the output named ``name`` raises ``failure``; the others are installed."""
    import cnncli.files as files

    real_install = files._TemporaryOutput.install

    def install(self) -> None:  # type: ignore[no-untyped-def]
        if self.path.name == name:
            raise failure
        real_install(self)

    monkeypatch.setattr(files._TemporaryOutput, "install", install)


def _write_a_b_c(folder, *, hand_over: bool) -> None:
    """Outputs a, b and c in one group, handed over one by one or not, then committed."""
    from cnncli.files import atomic_write_bytes, grouped_writes

    with grouped_writes() as group:
        for name in "abc":
            atomic_write_bytes(folder / name, name.encode())
            if hand_over:
                group.hand_over()
        group.commit()


def test_an_interruption_midway_through_a_commit_leaves_only_whole_outputs(
    tmp_path, monkeypatch
) -> None:
    """SIGTERM as the second of three outputs is about to be installed: the first stays,
    the other two are removed with their descriptors."""
    _install_raising(monkeypatch, "b", SystemExit(143))
    with pytest.raises(SystemExit):
        _write_a_b_c(tmp_path, hand_over=False)
    assert _listing(tmp_path) == ["a"]
    assert (tmp_path / "a").read_bytes() == b"a"
    assert _descriptors_in(tmp_path) == []


def test_a_replaced_file_keeps_a_mode_the_umask_would_not_give(tmp_path, monkeypatch) -> None:
    """The temporary file is made with the replaced file's mode; the umask (here 022)
    takes bits from what ``open`` creates, so they are set again."""
    import cnncli.files as files

    target = tmp_path / "shared.png"
    target.write_bytes(b"old")
    os.chmod(target, 0o666)
    monkeypatch.setattr(files, "_umask", None)
    before = os.umask(0o022)
    try:
        files.atomic_write_bytes(target, b"new")
    finally:
        os.umask(before)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o7777 == 0o666
    assert _listing(tmp_path) == ["shared.png"]


def test_a_temporary_name_already_taken_is_left_alone(tmp_path, monkeypatch) -> None:
    """A name a crashed run with the same process ID left: the next count is used."""
    import itertools

    import cnncli.files as files

    monkeypatch.setattr(files, "_COUNT", itertools.count(7))
    stale = tmp_path / f".a.{os.getpid()}-7.part"
    stale.write_bytes(b"someone else's")
    files.atomic_write_bytes(tmp_path / "a", b"written")
    assert (tmp_path / "a").read_bytes() == b"written"
    assert stale.read_bytes() == b"someone else's"
    assert _listing(tmp_path) == [stale.name, "a"]


def test_outputs_handed_over_are_installed_while_the_caller_goes_on(tmp_path, monkeypatch):
    """The installer thread syncs the first output while this thread writes the second."""
    import threading

    from cnncli.files import atomic_write_bytes, grouped_writes

    syncing, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if _installing_into(tmp_path, fd) and not release.is_set():
            syncing.set()
            assert release.wait(60)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with grouped_writes() as group:
        atomic_write_bytes(tmp_path / "a", b"first")
        group.hand_over()
        assert syncing.wait(60)  # the installer holds the first output in its fsync...
        atomic_write_bytes(tmp_path / "b", b"second")  # ... and this thread is not held up
        assert not (tmp_path / "a").exists()
        release.set()
        assert group.commit() == [None, None]
    assert (tmp_path / "a").read_bytes() == b"first"
    assert (tmp_path / "b").read_bytes() == b"second"
    assert _listing(tmp_path) == ["a", "b"]


def test_sigterm_while_an_output_is_installed_leaves_only_whole_outputs(tmp_path, monkeypatch):
    """SIGTERM sent as the installer syncs the first output reaches this thread (the
    installer never takes it): the output being installed is finished, the rest removed."""
    import threading

    from cnncli.files import atomic_write_bytes, grouped_writes

    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if _installing_into(tmp_path, fd):
            _sigterm_the_main_thread()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with _ended_by_sigterm(), grouped_writes() as group:
        for name in "abc":
            atomic_write_bytes(tmp_path / name, name.encode())
            group.hand_over()
        group.commit()
    left = _listing(tmp_path)
    assert left[:1] == ["a"] and not [name for name in left if name.endswith(".part")]
    for name in left:
        assert (tmp_path / name).read_bytes() == name.encode()
    assert "cnncli-installer" not in {thread.name for thread in threading.enumerate()}
    assert _descriptors_in(tmp_path) == []


def test_without_a_thread_to_spare_a_group_installs_its_outputs_itself(tmp_path, monkeypatch):
    import threading

    from cnncli.files import atomic_write_bytes, grouped_writes

    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    with grouped_writes() as group:
        for name in "ab":
            atomic_write_bytes(tmp_path / name, name.encode())
            group.hand_over()
        assert not (tmp_path / "a").exists()  # pending, not installed yet
        assert group.commit() == [None, None]
    assert _listing(tmp_path) == ["a", "b"]


def test_sigterm_as_the_temporary_file_is_created_leaves_nothing(tmp_path, monkeypatch):
    """The signal arrives during the ``open`` itself: it is handled once the new file is
    known to the code that removes it."""
    from cnncli.files import atomic_write_bytes

    real_open = os.open

    def open_and_signal(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        if str(path).endswith(".part"):
            _sigterm_the_main_thread()
        return fd

    monkeypatch.setattr(os, "open", open_and_signal)
    with _ended_by_sigterm():
        atomic_write_bytes(tmp_path / "a", b"never")
    assert _listing(tmp_path) == []
    assert _descriptors_in(tmp_path) == []


def test_a_replaced_file_keeps_its_setuid_and_sticky_bits(tmp_path) -> None:
    """``open`` gives the temporary file these bits too (the umask takes none of them)."""
    from cnncli.files import atomic_write_bytes

    target = tmp_path / "tool"
    target.write_bytes(b"old")
    os.chmod(target, 0o5755)
    atomic_write_bytes(target, b"new")
    assert target.stat().st_mode & 0o7777 == 0o5755


def test_an_error_that_is_a_bug_on_the_installer_thread_reaches_the_commit(
    tmp_path, monkeypatch
) -> None:
    """Not a UserError (a bug): raised by the commit, in the caller's thread; the outputs
    not installed are removed."""
    _install_raising(monkeypatch, "a", ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        _write_a_b_c(tmp_path, hand_over=True)
    assert [name for name in _listing(tmp_path) if name.endswith(".part")] == []
    assert _descriptors_in(tmp_path) == []


def test_a_symlink_loop_is_an_error_and_stays_a_link(tmp_path) -> None:
    from cnncli.core.errors import UserError
    from cnncli.files import write_output

    loop = tmp_path / "loop.png"
    os.symlink("loop.png", loop)
    try:
        write_output(loop, b"data")
    except UserError as exc:
        assert "cannot write" in str(exc)
    else:
        raise AssertionError("a symlink loop was written")
    assert loop.is_symlink()
    assert _listing(tmp_path) == ["loop.png"]


def test_setuid_bits_survive_a_writer_without_cap_fsetid() -> None:
    """Linux clears setuid (and setgid on a group-executable file) when someone without
    CAP_FSETID writes to a file: the replaced file's mode is set again after the write.
    As root the test writes as ``nobody``, in a child process, in a folder of its own
    that ``nobody`` can reach (pytest's are root's alone)."""
    import shutil
    import tempfile

    from cnncli.files import atomic_write_bytes

    folder = Path(tempfile.mkdtemp())

    def replace_both() -> tuple[int, int]:
        modes = []
        for name, mode in (("setuid", 0o4755), ("setgid", 0o2775)):
            target = folder / name
            target.write_bytes(b"old")
            os.chmod(target, mode)
            atomic_write_bytes(target, b"new")
            modes.append(target.stat().st_mode & 0o7777)
        return modes[0], modes[1]

    try:
        if os.geteuid() != 0:
            assert replace_both() == (0o4755, 0o2775)
            return
        os.chmod(folder, 0o777)
        child = os.fork()
        if child == 0:  # pragma: no cover (the child's exit code is the result)
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                code = 0 if replace_both() == (0o4755, 0o2775) else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        shutil.rmtree(folder)


def test_sigterm_sent_to_the_process_as_a_file_is_created_leaves_no_file(
    tmp_path, monkeypatch
) -> None:
    """With another thread alive the kernel may give it the signal, whatever the mask of
    the thread writing; the Python handler then runs in the main thread just after the
    ``open``: the temporary file's name is known by then, and it is removed."""
    import threading
    import time

    from cnncli.files import atomic_write_bytes

    real_open = os.open

    def open_and_signal(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        if str(path).endswith(".part"):
            _sigterm_the_process()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until the handler runs: before the return
                pass
        return fd

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, args=(60,))
    other.start()
    monkeypatch.setattr(os, "open", open_and_signal)
    try:
        with _ended_by_sigterm():
            atomic_write_bytes(tmp_path / "a", b"never")
    finally:
        stop.set()
        other.join()
    assert _listing(tmp_path) == []


def test_a_second_sigterm_while_a_group_cleans_up_does_not_cut_it_short(
    tmp_path, monkeypatch
) -> None:
    """Three outputs handed over; SIGTERM ends the group as the installer syncs the first.
    A second one, sent to the process while the group waits for that output, reaches the
    main thread through another thread: the group still removes the other two."""
    import threading
    import time

    from cnncli.files import atomic_write_bytes, grouped_writes

    real_fsync = os.fsync
    groups = []
    written = threading.Event()

    def fsync(fd: int) -> None:
        if _installing_into(tmp_path, fd):
            assert written.wait(60)
            _sigterm_the_process()
            deadline = time.monotonic() + 60
            while not groups[0]._stopping and time.monotonic() < deadline:
                time.sleep(0.001)  # until the group is closing: then the second signal
            _sigterm_the_process()
        real_fsync(fd)

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, args=(60,))
    other.start()
    monkeypatch.setattr(os, "fsync", fsync)
    try:
        with _ended_by_sigterm(), grouped_writes() as group:
            groups.append(group)
            for name in "abc":
                atomic_write_bytes(tmp_path / name, name.encode())
                group.hand_over()
            written.set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the first SIGTERM is handled here
                pass
    finally:
        stop.set()
        other.join()
    assert _listing(tmp_path) == ["a"]
    assert (tmp_path / "a").read_bytes() == b"a"


def test_every_temporary_name_taken_is_one_error_and_leaves_them(tmp_path, monkeypatch):
    import itertools

    import cnncli.files as files
    from cnncli.core.errors import UserError

    monkeypatch.setattr(files, "_COUNT", itertools.count(0))
    monkeypatch.setattr(files, "_NAME_TRIES", 2)
    taken = [tmp_path / f".a.{os.getpid()}-{count}.part" for count in (0, 1)]
    for path in taken:
        path.write_bytes(b"someone else's")
    with pytest.raises(UserError, match=r"cannot create a file in .* \(every name taken\)"):
        files.atomic_write_bytes(tmp_path / "a", b"never")
    assert _listing(tmp_path) == sorted(path.name for path in taken)
    assert all(path.read_bytes() == b"someone else's" for path in taken)
