"""cnncli.files on its own: what atomic writes leave on disk."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


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
