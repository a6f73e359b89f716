"""Reading inputs with limits and writing outputs so that every byte is checked.

Every failure is one ``UserError`` naming the file. Reading stops past a byte limit, so
``/dev/zero`` or an endless pipe as input is an error, not an exhausted memory. Writing:

- a regular file (or a new one) is written to a temporary file beside it, fsynced and
  renamed into place, so a failure never leaves a half-written file or damages the old one
  (a batch's worker leaves a task's outputs for a thread of the batch's process to
  install, :class:`WrittenOutput`, or a cluster's worker installs them on a thread of its
  own, :func:`grouped_writes`);
- a symlink is followed and its target replaced that way (the link stays a link);
- a character or block device or a FIFO is opened and written as it is (renaming a file
  over ``/dev/null`` would destroy it);
- stdout is written with ``os.write`` until every byte is taken, so a full disk, a closed
  stdout or a short write is an error, never a silently truncated output.

A reader that goes away (``cnncli ... | head``) raises :class:`ReaderGone`, which the CLI
turns into a quiet exit. The process ends through :func:`end_process`, which flushes the
streams written here before it ends the process without Python's teardown.
"""

from __future__ import annotations

import io
import itertools
import os
import stat
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from functools import partial
from pathlib import Path
from queue import SimpleQueue
from typing import Any, BinaryIO, NamedTuple, NoReturn, TextIO

from cnncli.core.errors import UserError
from cnncli.interrupts import end_by_signal, ending_signal, signals_held, stops_recorded

STDIO = "-"
STDOUT_NAME = "<stdout>"
READ_CHUNK = 1 << 20
# Files are opened binary and not inherited by child processes, where the platform has
# these flags; a temporary output is never opened through a symlink.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
)


class ReaderGone(Exception):
    """The reader of our stdout closed it (EPIPE): nothing more can be said to anyone.

    Not an ``OSError``, so that nothing between the write and the CLI's one handler
    (Typer catches EPIPE itself and exits 1) takes it for something else.
    """


def display_name(source: str | Path) -> str:
    return "<stdin>" if str(source) == STDIO else str(source)


def read_bytes(source: str | Path, what: str = "an input file", limit: int | None = None) -> bytes:
    """The bytes of ``source`` (``-`` = stdin); ``what`` names the expected kind in errors.

    With ``limit``, reading stops at ``limit + 1`` bytes and a longer input is refused, so a
    device such as ``/dev/zero`` or an endless pipe cannot exhaust memory. A file is read
    with ``os.read`` (an open, an fstat, a read to its end): a batch reads thousands.
    """
    name = display_name(source)
    if str(source) == STDIO:
        if sys.stdin is None:
            raise UserError("<stdin>: stdin is closed")
        handle = sys.stdin.buffer
        return _read_limited(handle.read, _regular_size(_fileno(handle)), name, what, limit)
    try:
        fd = os.open(source, _READ_FLAGS)
    except OSError as exc:
        if os.path.isdir(source):  # one we may not even open
            raise UserError(f"{name}: is a directory, not {what}") from None
        raise _cannot_read(name, exc) from None
    try:
        size = _regular_size(fd)
        if size is None and stat.S_ISDIR(os.fstat(fd).st_mode):
            raise UserError(f"{name}: is a directory, not {what}")
        return _read_limited(partial(os.read, fd), size, name, what, limit)
    except OSError as exc:
        raise _cannot_read(name, exc) from None
    finally:
        os.close(fd)


@contextmanager
def open_input(source: str | Path, what: str) -> Iterator[BinaryIO]:
    """A file opened for reading: a directory, a missing or an unreadable file (or a
    failed read in the ``with`` body) is one user error naming the file."""
    name = display_name(source)
    path = Path(source)
    if path.is_dir():
        raise UserError(f"{name}: is a directory, not {what}")
    try:
        with path.open("rb") as handle:
            yield handle
    except OSError as exc:
        raise _cannot_read(name, exc) from None


def _cannot_read(name: str, exc: OSError) -> UserError:
    if isinstance(exc, FileNotFoundError):
        return UserError(f"{name}: no such file")
    if isinstance(exc, PermissionError):
        return UserError(f"{name}: permission denied")
    return UserError(f"{name}: cannot read ({exc.strerror or exc})")


def _regular_size(fd: int | None) -> int | None:
    """The length of a regular file open as ``fd``; None for anything else."""
    if fd is None:
        return None
    info = os.fstat(fd)
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _read_limited(
    read: Callable[[int], bytes], size: int | None, name: str, what: str, limit: int | None
) -> bytes:
    """Everything ``read`` gives (up to n bytes a call, ``b""`` at the end), or a UserError
    past ``limit``. ``size``, a regular file's length, is asked for in one call (a second
    finds the end); a file that grew meanwhile, a pipe or a device is read in chunks."""
    if limit is not None and size is not None and size > limit:
        # a regular file says its size: nothing needs reading
        raise UserError(f"{name}: more than {limit:,} bytes, too large for {what}")
    chunks: list[bytes] = []
    total = 0
    want = READ_CHUNK if size is None else size + 1
    while limit is None or total <= limit:
        chunk = read(want if limit is None else min(want, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        want = READ_CHUNK
    raise UserError(f"{name}: more than {limit:,} bytes, too large for {what}")


def read_text(source: str | Path, what: str = "a text file") -> str:
    """The text of ``source`` (``-`` = stdin): UTF-8, or ASCII saved as UTF-16 with its
    byte-order mark (what Windows PowerShell's ``>`` writes; binary bytes that only start
    like one are no text); a UTF-8 byte-order mark is dropped."""
    import codecs

    data = read_bytes(source, what)
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")
            if text.isascii():
                return text
        else:
            return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    raise UserError(
        f"{display_name(source)}: not {what} (not UTF-8 text, nor ASCII saved as UTF-16)",
        hint="save it as UTF-8 (PowerShell: Out-File -Encoding utf8)",
    )


# ------------------------------------------------------------------------- stdout ---

STDOUT_CLOSED = "stdout is closed; nowhere to write the output"


def stdout_closed() -> bool:
    """True when the process was started with its stdout closed (``>&-``)."""
    stream = sys.stdout
    if isinstance(stream, CheckedStdout):
        return stream.closed_at_start
    return stream is None


def write_stdout(data: bytes | memoryview) -> None:
    """Write ``data`` to stdout, every byte of it, or raise a ``UserError`` saying why."""
    stream = sys.stdout
    if stream is None or stdout_closed():
        raise UserError(STDOUT_CLOSED)
    if isinstance(stream, CheckedStdout):
        stream.write_bytes(data)
        return
    stream.flush()
    _write_stream(stream, data)


def _write_stream(stream: TextIO, data: bytes | memoryview) -> None:
    fd = _fileno(stream)
    if fd is None:  # an in-memory stream (tests, an embedding program): nothing to check
        stream.buffer.write(data)
        stream.buffer.flush()
        return
    write_all(fd, data, STDOUT_NAME)


def _fileno(stream: Any) -> int | None:
    try:
        fd = stream.fileno()
    except (AttributeError, io.UnsupportedOperation, ValueError):
        return None
    return fd if isinstance(fd, int) else None


def write_all(fd: int, data: bytes | memoryview, name: str) -> None:
    """``os.write`` until every byte is taken: a short write is retried, then reported.

    Python's buffered streams can drop the rest of a large write that the kernel took only
    in part (a nearly full disk), so outputs go through here instead.
    """
    view = memoryview(data).cast("B")
    try:
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise UserError(f"{name}: cannot write (the output took no more bytes)")
            view = view[written:]
    except BrokenPipeError:
        raise ReaderGone(name) from None
    except OSError as exc:
        raise UserError(f"{name}: cannot write ({exc.strerror or exc})") from None


class CheckedStdout(io.TextIOBase):
    """``sys.stdout`` while a command runs: text is kept until ``flush`` and then written
    with :func:`write_all`, so a full disk or a closed stdout is an error, never lost text.

    Rich, click and ``print`` see an ordinary text stream; what they write is encoded as
    the real stdout would encode it.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._stream = stream
        self._pending: list[str] = []
        self._size = 0
        self.closed_at_start = stream is None

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "errors", None) or "strict"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation(STDOUT_CLOSED)
        return self._stream.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as a text stream says (click probes with bytes)
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self._stream is None:
            raise UserError(STDOUT_CLOSED)
        self._pending.append(text)
        self._size += len(text)
        if self._size >= READ_CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if not self._pending or self._stream is None:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        self.write_bytes(text.encode(self.encoding, self.errors))

    def write_bytes(self, data: bytes | memoryview) -> None:
        if self._stream is None:
            raise UserError(STDOUT_CLOSED)
        self.flush()
        _write_stream(self._stream, data)

    def discard(self) -> None:
        self._pending.clear()
        self._size = 0


@contextmanager
def checked_stdout() -> Iterator[None]:
    """Route ``sys.stdout`` through :class:`CheckedStdout` for the duration; on a normal
    exit the last text is written (and a failure to write it raised) before returning."""
    original = sys.stdout
    checked = CheckedStdout(original)
    sys.stdout = checked
    try:
        yield
        checked.flush()
    except BaseException:
        try:
            checked.flush()  # what was printed before the failure, if the stream takes it
        except (OSError, UserError, ReaderGone):
            checked.discard()
        raise
    finally:
        sys.stdout = original


# ------------------------------------------------------------------------ outputs ---


class _OutputTarget(NamedTuple):
    """What a write to a name meets, from one ``lstat`` for a plain name (the common case)."""

    kind: str  # "stream" (a device or FIFO, written as it is) or "file"
    path: Path  # where the bytes land: the end of the name's symlinks, dangling or not
    info: os.stat_result | None  # that file's status; None if it does not exist (yet)
    linked: bool  # the name is a symlink

    @classmethod
    def of(cls, dest: str | Path) -> _OutputTarget:
        path = Path(dest)
        try:
            named = os.lstat(path)
        except OSError:
            return cls("file", path, None, False)
        info: os.stat_result | None = named
        linked = stat.S_ISLNK(named.st_mode)
        if linked:
            try:  # through the name: /dev/stdout's /proc link has no path to resolve
                info = os.stat(path)
            except OSError:
                info = None
        mode = info.st_mode if info is not None else 0
        streamed = stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)
        if linked and not streamed:
            path = Path(os.path.realpath(path))
        return cls("stream" if streamed else "file", path, info, linked)


def check_output_path(dest: str | Path, *, no_clobber: bool = False) -> None:
    """Refuse an output file we could not write, before any work is done.

    A batch checks every output this way: an existing file or a new name in an existing
    folder costs two system calls (an ``lstat`` and an ``access``), three for a new one.
    """
    target = _OutputTarget.of(dest)
    if target.kind == "stream":
        if not os.access(dest, os.W_OK):
            raise UserError(f"{dest}: not writable")
        return
    parent = target.path.parent
    if target.info is not None:
        if stat.S_ISDIR(target.info.st_mode):
            raise UserError(f"{dest}: is a directory; give an output file name")
        if not stat.S_ISREG(target.info.st_mode):
            raise UserError(f"{dest}: exists and is not a regular file, a device or a FIFO")
    else:  # a new file: its folder's existence is not implied
        try:
            folder = os.stat(parent)
        except OSError:
            raise UserError(f"{dest}: directory {parent} does not exist") from None
        if not stat.S_ISDIR(folder.st_mode):
            raise UserError(f"{dest}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{dest}: directory {parent} is not writable")
    if no_clobber and (target.info is not None or target.linked):
        raise UserError(f"{dest}: already exists (--no-clobber)")


def write_output(dest: str | Path, data: bytes | memoryview, *, no_clobber: bool = False) -> None:
    """Write ``data`` to ``dest``: stdout, a device or FIFO as it is, a file atomically."""
    if str(dest) == STDIO:
        write_stdout(data)
        return
    target = _OutputTarget.of(dest)
    if target.kind == "stream":
        write_through(Path(dest), data)
        return
    if no_clobber and target.linked:
        raise UserError(f"{dest}: already exists (--no-clobber)")
    atomic_write_bytes(target.path, data, no_clobber=no_clobber, name=str(dest))


def write_through(path: Path, data: bytes | memoryview) -> None:
    """Open a device or FIFO for writing and write every byte (no temporary file)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise UserError(f"{path}: cannot open for writing ({exc.strerror or exc})") from None
    try:
        write_all(fd, data, str(path))
    except ReaderGone:
        os.close(fd)
        raise UserError(f"{path}: the reader closed the FIFO before the end") from None
    except BaseException:
        os.close(fd)
        raise
    try:
        os.close(fd)  # a device may report its failure only here
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None


def atomic_write_bytes(
    path: Path, data: bytes | memoryview, *, no_clobber: bool = False, name: str | None = None
) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``.

    Within :func:`grouped_writes` the fsync and the rename wait for the group's commit
    (or are left to whoever the group releases its outputs to).
    """
    group = getattr(_GROUPS, "current", None)
    output = _TemporaryOutput(path, name or str(path), no_clobber)
    try:
        with signals_held():  # not between the open and keeping its descriptor
            output.create()
        output.write(data)
        if group is None:
            output.install()
            return
        group.pending.append(output)  # from here on, the group removes it if not committed
        if group.starts_writeback:
            output.start_writeback()
    except BaseException:  # SIGTERM's SystemExit and Ctrl-C included: no .part stays
        output.discard()
        if group is not None and output in group.pending:
            group.pending.remove(output)
        raise


# Temporary names: ".NAME.PID-COUNT.part"; a name taken (by a crashed run of the same
# process ID) moves on to the next count, at most this many times.
_COUNT = itertools.count()
_NAME_TRIES = 1000


def _remove(path: str | None) -> None:
    if path is not None:
        # Gone already, or someone put a directory in its place: not ours to remove
        # (unlinking a directory is EISDIR on Linux, EPERM on macOS).
        with suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(path)


class _TemporaryOutput:
    """An output being written: a temporary file beside its destination, not yet renamed."""

    def __init__(self, path: Path, shown: str, no_clobber: bool) -> None:
        self.fd: int | None = None
        self.tmp: str | None = None
        self.path = path
        self.shown = shown
        self.no_clobber = no_clobber
        self.mode: int | None = None  # a replaced file's, set again before the rename

    def create(self) -> None:
        """In the destination's directory, so that the rename stays on one filesystem.

        It is made with the mode the output is to have: a replaced file's own, else what
        the umask leaves of ``0o666``, as for any new file. Its name is unique by process
        and count, tried again with the next count if taken; it is known (to
        :meth:`discard`) before the ``open``, so that a signal handled as the ``open``
        returns still leaves nothing behind.
        """
        try:
            self.mode = os.stat(self.path).st_mode & 0o7777
        except FileNotFoundError:
            self.mode = None
        except OSError as exc:  # a symlink loop, a folder we may not search
            raise UserError(f"{self.shown}: cannot write ({exc.strerror or exc})") from None
        folder = self.path.parent
        mode = 0o666 if self.mode is None else self.mode
        stem = f".{self.path.name}.{os.getpid()}"
        for _ in range(_NAME_TRIES):
            self.tmp = os.path.join(folder, f"{stem}-{next(_COUNT)}.part")
            try:
                self.fd = os.open(self.tmp, _CREATE_FLAGS, mode)
            except FileExistsError:
                self.tmp = None  # another's: not to be removed
                continue
            except OSError as exc:
                self.tmp = None
                raise UserError(
                    f"{self.shown}: cannot create a file in {folder} ({exc.strerror})"
                ) from None
            return
        raise UserError(f"{self.shown}: cannot create a file in {folder} (every name taken)")

    def write(self, data: bytes | memoryview) -> None:
        """Every byte, or a UserError (see :func:`write_all`)."""
        assert self.fd is not None
        write_all(self.fd, data, self.shown)

    def install(self) -> None:
        """fsync, then rename it into place (:func:`_install`). A replaced file's mode is
        set again first where the umask took bits from it, or a write cleared them (setuid
        and setgid, for a user without CAP_FSETID). The temporary file is gone afterwards,
        whatever happens."""
        assert self.tmp is not None
        _install(self.tmp, self.path, self.shown, self.no_clobber, self._synced_and_closed)

    def _synced_and_closed(self) -> None:
        try:
            assert self.fd is not None and self.tmp is not None
            _restore_mode(self.fd, self.tmp, self.mode)
            os.fsync(self.fd)
        finally:
            self._close()

    def release(self) -> WrittenOutput:
        """Close it and hand it over, whole but neither synced nor in place, to be
        installed elsewhere (:meth:`WrittenOutput.install`): this object no longer
        removes it. An error closing it (NFS reports a failed write there) removes
        it and raises."""
        assert self.tmp is not None
        try:
            self._close()
        except OSError as exc:
            self.discard()
            raise UserError(f"{self.shown}: cannot write ({exc.strerror or exc})") from None
        written = WrittenOutput(self.tmp, self.path, self.shown, self.no_clobber, self.mode)
        self.tmp = None
        return written

    def start_writeback(self) -> None:
        """Have the kernel start writing the data now, so that the group's fsyncs later
        find it written (see :func:`grouped_writes`)."""
        from cnncli.libc import start_writeback

        if self.fd is not None:
            start_writeback(self.fd)

    def discard(self) -> None:
        """Close and remove the temporary file; harmless if already done."""
        self._close()
        _remove(self.tmp)

    def _close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


def _restore_mode(fd: int, path: str, mode: int | None) -> None:
    """Give a replacement the replaced file's mode where its creation could not: the umask
    took bits from it, or it has setuid or setgid (a write clears them)."""
    if mode is None or not mode & (process_umask() | 0o7000):
        return
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:  # no fchmod (Windows before Python 3.13)
        os.chmod(path, mode)


def _install(tmp: str, path: Path, shown: str, no_clobber: bool, sync: Callable[[], None]) -> None:
    """Run ``sync`` (its fsync), then rename ``tmp`` over ``path`` (with no-clobber, link
    it: that fails if the name appeared meanwhile). ``tmp`` is gone afterwards, whatever
    happens; a failure is a UserError."""
    renamed = False
    try:
        sync()
        if no_clobber:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise UserError(f"{shown}: already exists (--no-clobber)") from None
        else:
            os.replace(tmp, path)
            renamed = True
    except OSError as exc:
        raise UserError(f"{shown}: cannot write ({exc.strerror or exc})") from None
    finally:
        if not renamed:
            _remove(tmp)


class WrittenOutput(NamedTuple):
    """An output whole in its temporary file, not yet synced nor in place: what a batch's
    worker (a process, or a thread) leaves for the batch's installer thread (see
    :func:`cnncli.batch.run_jobs`), so that the worker goes on with its next file instead
    of waiting for the disk. Plain data, sent back through a pipe from a process."""

    tmp: str
    path: Path
    shown: str
    no_clobber: bool
    mode: int | None  # a replaced file's (see _TemporaryOutput.create)

    def install(self) -> UserError | None:
        """Reopen it (never through a symlink), set its mode, fsync it and rename it into
        place (removed if that fails); the error that kept it out, or None."""
        try:
            _install(self.tmp, self.path, self.shown, self.no_clobber, self._synced)
        except UserError as exc:
            return exc
        return None

    def _synced(self) -> None:
        # Never through a symlink, nor blocked on a FIFO put in its place meanwhile.
        flags = _READ_FLAGS | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(self.tmp, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UserError(f"{self.shown}: its temporary file {self.tmp} was replaced")
            _restore_mode(fd, self.tmp, self.mode)
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self) -> None:
        _remove(self.tmp)


def install_in_order(outputs: Sequence[WrittenOutput]) -> list[UserError | None]:
    """Install ``outputs`` (:meth:`WrittenOutput.install`) one by one, in the order
    written: each one's error, or None. One that cannot be put in place does not keep
    the others out."""
    return [output.install() for output in outputs]


def remove_temporary_file(path: str) -> None:
    """Remove a temporary file that may be gone already (installed, or removed)."""
    _remove(path)


def remove_temporary_files(dests: Iterable[str | Path], writers: Collection[int]) -> None:
    """Remove the temporary files that the processes ``writers`` left for ``dests``
    (``.NAME.PID-COUNT.part`` beside each one's target): a worker lost mid-task, or with
    the result that released them, leaves them to no one. One listing a folder."""
    names: dict[Path, set[str]] = {}
    for dest in dests:
        target = _OutputTarget.of(dest)
        if target.kind == "file":
            names.setdefault(target.path.parent, set()).add(target.path.name)
    for folder, wanted in names.items():
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if _temporary_of(entry, wanted, writers):
                _remove(os.path.join(folder, entry))


def _temporary_of(entry: str, names: set[str], writers: Collection[int]) -> bool:
    """Whether ``entry`` is the temporary file of one of ``names`` made by ``writers``."""
    if not (entry.startswith(".") and entry.endswith(".part")):
        return False
    stem, _, count = entry[1 : -len(".part")].rpartition("-")
    name, _, pid = stem.rpartition(".")
    numbers = pid.isascii() and pid.isdigit() and count.isascii() and count.isdigit()
    return numbers and name in names and int(pid) in writers


class WriteGroup:
    """Outputs written by :func:`grouped_writes`: pending, then handed over to be installed
    in the background (:meth:`hand_over`), all of them installed by :meth:`commit`; or,
    all of them, released to be installed elsewhere (:meth:`release`)."""

    def __init__(self, *, starts_writeback: bool = True) -> None:
        self.starts_writeback = starts_writeback  # of each output, as it is written
        self.pending: list[_TemporaryOutput] = []  # written, not handed over yet
        self._handed: list[_TemporaryOutput] = []  # handed over, in the order written
        self._results: list[UserError | None] = []  # of the first handed over, installed
        self._queue: SimpleQueue[_TemporaryOutput | None] = SimpleQueue()
        self._installer: threading.Thread | None = None
        self._installed_all = threading.Event()  # set as the installer ends
        self._stopping = False
        self._failure: BaseException | None = None

    def hand_over(self) -> None:
        """Install the pending outputs on a thread of the group's own, in the order written,
        while the caller goes on with the next file: the fsyncs' waits for the disk then
        overlap its work instead of adding to it. (Where no thread can be started, they
        stay pending, for :meth:`commit` to install.)"""
        if not self.pending:
            return
        if self._installer is None:
            self._queue = SimpleQueue()  # an interrupted commit may have left its end mark
            self._installed_all = threading.Event()
            installer = threading.Thread(
                target=self._install_handed,
                args=(self._queue, self._installed_all),
                name=INSTALLER,
                daemon=True,
            )
            try:
                with signals_held():  # inherited: the stopping signals go to other threads
                    installer.start()
            except RuntimeError:  # no thread to be had (a process limit)
                return
            finally:
                if installer.ident is not None:
                    self._installer = installer
        for output in self.pending:
            self._handed.append(output)
            self._queue.put(output)
        self.pending.clear()

    def _install_handed(
        self, queue: SimpleQueue[_TemporaryOutput | None], done: threading.Event
    ) -> None:
        try:
            while (output := queue.get()) is not None:
                if self._stopping or self._failure is not None:
                    continue  # left for close() to remove
                try:
                    self._results.append(_installed(output))
                except BaseException as exc:  # a bug: raised by commit() in the caller's thread
                    self._failure = exc
        finally:
            done.set()

    def commit(self) -> list[UserError | None]:
        """Install every output, in the order written; each one's error, or None. One output
        that cannot be put in place does not keep the others out. Outputs not handed over
        are installed here, in the caller's thread (no thread started for a last file)."""
        self._join()
        if self._failure is not None:
            raise self._failure
        results, self._results = self._results, []
        self._handed.clear()
        while self.pending:
            results.append(_installed(self.pending[0]))
            del self.pending[0]  # not on SIGTERM or Ctrl-C: then close() removes it
        return results

    def release(self) -> list[WrittenOutput | UserError]:
        """Hand every output over to be installed elsewhere (:meth:`WrittenOutput.install`),
        in the order written, instead of committing them; each one, or the error that lost
        it. Released, they are no longer removed by :meth:`close`. (Not with
        :meth:`hand_over`: those are the installer's.)"""
        assert not self._handed, "outputs handed to the installer are committed, not released"
        released: list[WrittenOutput | UserError] = []
        with signals_held():  # each one either released and in the list, or still pending
            while self.pending:
                try:
                    released.append(self.pending[0].release())
                except UserError as exc:
                    released.append(exc)
                del self.pending[0]
        return released

    def discard(self, start: int = 0) -> None:
        """Remove the pending outputs from ``start`` on (a file that failed after writing)."""
        for output in self.pending[start:]:
            output.discard()
        del self.pending[start:]

    def close(self) -> None:
        """Stop installing, and remove every output not installed (an error, SIGTERM or
        Ctrl-C before the commit); released ones are no longer the group's. An output the
        installer has started is finished first. A second Ctrl-C or SIGTERM meanwhile
        (held where it can be) does not cut this short: it is raised once everything is
        removed."""
        self._stopping = True
        interrupted: BaseException | None = None
        with signals_held():
            for step in (self._join, self._remove_uninstalled):
                while True:
                    try:
                        step()
                        break
                    except (KeyboardInterrupt, SystemExit) as exc:
                        interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    def _remove_uninstalled(self) -> None:
        for output in self._handed[len(self._results) :]:
            output.discard()
        self._handed.clear()
        self.discard()

    def _join(self) -> None:
        """Let the installer finish what it was handed, and end (each step may be repeated).

        It waits for the installer's own event before ``Thread.join``: Python 3.11's join,
        interrupted by a signal's exception, marks a thread still running as stopped (it
        releases the lock the thread holds, bpo-45274's fix), and the next join would
        return at once, with an output still being installed."""
        if self._installer is not None:
            self._queue.put(None)
            self._installed_all.wait()
            self._installer.join()
            self._installer = None


def _installed(output: _TemporaryOutput) -> UserError | None:
    """Install ``output``; the error that kept it out, or None."""
    try:
        output.install()
    except UserError as exc:
        return exc
    return None


INSTALLER = "cnncli-installer"  # the installer threads' name
_GROUPS = threading.local()


@contextmanager
def grouped_writes(*, released: bool = False) -> Iterator[WriteGroup]:
    """Outputs written in this thread meanwhile are fsynced and renamed into place one by
    one, in the order written, on an installer thread or at the group's commit.

    An fsync waits for the disk, some 0.2 ms a file on this machine, where a small image
    takes 2-3 ms to filter. Each output of the group is written to its temporary file
    and its writeback started at once; handed over (:meth:`WriteGroup.hand_over`), it is
    fsynced and renamed on a thread of the group's while the next file is filtered.
    Every output is still fsynced, and so whole on disk, before its name appears; one
    not committed nor released (an error, SIGTERM) is removed. With ``released``, the outputs are to
    be released (:meth:`WriteGroup.release`) and installed elsewhere, by a thread whose
    fsync writes each one: no writeback is started here, a system call each that would
    cost the worker its CPU time.
    """
    group = WriteGroup(starts_writeback=not released)
    outer = getattr(_GROUPS, "current", None)
    _GROUPS.current = group
    try:
        yield group
    finally:
        _GROUPS.current = outer
        group.close()


_UMASK_LOCK = threading.Lock()
_umask: int | None = None


def process_umask() -> int:
    """The process's umask, read once and kept for the life of the process (cnncli never
    changes it): reading it means setting it, which two threads doing at once could leave
    at 0 for the rest of the run (world-writable outputs)."""
    global _umask
    with _UMASK_LOCK:
        if _umask is None:
            _umask = os.umask(0o022)
            os.umask(_umask)
        return _umask


def end_process(code: str | int | None, *, stopped_by: int | None = None) -> NoReturn:
    """Exit with ``code`` as Python would, without its teardown of every module and object.

    Python's own exit frees each of the thousands of objects numpy, Pillow and Typer
    created, one by one: 38-60 ms after an image command, 15-23 ms after a calculator,
    where the kernel frees the whole process at once. As Python's exit does, it first
    waits for the threads that are not daemons, then runs the atexit handlers and
    flushes the standard streams. Anything unusual takes the ordinary way out: a
    profiler or tracer (it writes its results at the ordinary exit), a code that is not a
    status number, a stream that cannot be flushed. A command stopped by Ctrl-C, SIGTERM or
    SIGHUP (``stopped_by``, :func:`cnncli.interrupts.ending_signal`, or one that comes
    while the process ends) ends by that signal, so that a shell loop stops too, even if
    a stream cannot be flushed (a terminal that hung up).
    """
    import atexit

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    # Python's exit first waits for the threads that are not daemons (after telling thread
    # pools to end); the same function, where this Python has it, so that a stop that
    # left one running (a thread pool's join cut short) still ends by its signal here.
    wait_for_threads = getattr(threading, "_shutdown", None)
    if (
        not (code is None or (isinstance(code, int) and 0 <= code <= 255))
        or sys.gettrace() is not None
        or sys.getprofile() is not None
        or run_exit_handlers is None
    ):
        sys.exit(code)
    flushed = True
    with stops_recorded() as late:  # not cut short: a stop now only decides how it ends
        if wait_for_threads is not None and threading.current_thread() is threading.main_thread():
            wait_for_threads()
        elif _threads_python_waits_for():  # (this Python has no threading._shutdown)
            sys.exit(code)
        try:
            run_exit_handlers()
            for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
                if stream is not None:
                    stream.flush()
        except Exception:
            flushed = False
    signum = stopped_by or ending_signal(code) or (late[0] if late else None)
    if signum is not None:  # stopped by a signal: end by it, for the shell (interrupts.py)
        end_by_signal(signum)
    if not flushed:
        sys.exit(code)
    os._exit(code or 0)


def _threads_python_waits_for() -> bool:
    current = threading.current_thread()
    return any(not t.daemon and t is not current for t in threading.enumerate())


# ------------------------------------------------------------------------- stderr ---

# Held while anything writes to stderr (see LockedStderr) and while a C library's output
# to file descriptor 2 is captured, so that no line of ours is captured with it.
STDERR_LOCK = threading.RLock()


class LockedStderr(io.TextIOBase):
    """``sys.stderr`` while a command runs: each write holds :data:`STDERR_LOCK`."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def write(self, text: str) -> int:
        with STDERR_LOCK:
            written = self._stream.write(text)
            self._stream.flush()
            return written

    def flush(self) -> None:
        with STDERR_LOCK:
            self._stream.flush()


@contextmanager
def locked_stderr() -> Iterator[None]:
    """:class:`LockedStderr` for the command. With stderr closed (``2>&-``, where Python
    sets it to None) messages go nowhere, rather than fail as internal errors: the exit
    status still says how the command went."""
    original = sys.stderr
    with ExitStack() as stack:
        target = original
        if target is None:
            target = stack.enter_context(open(os.devnull, "w"))
        sys.stderr = LockedStderr(target)
        try:
            yield
        finally:
            sys.stderr = original


@contextmanager
def c_stderr_captured() -> Iterator[list[str]]:
    """Capture what C code prints to file descriptor 2 meanwhile (libtiff prints its
    decoding errors there itself); the lines are in the yielded list after the block."""
    import tempfile

    lines: list[str] = []
    with STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to keep clean
            yield lines
            return
        try:
            with tempfile.TemporaryFile() as sink:
                os.dup2(sink.fileno(), 2)
                try:
                    yield lines
                finally:
                    os.dup2(saved, 2)
                    sink.seek(0)
                    text = sink.read().decode("utf-8", "replace")
                    lines.extend(line for line in text.splitlines() if line.strip())
        finally:
            os.close(saved)
