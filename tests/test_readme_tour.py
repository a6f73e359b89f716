"""The README's tour, typed as a new user types it: in a fresh copy of the repository,
after the README's set-up commands, with nothing on the PATH but the system's own tools
and what those commands put there.

tests/test_docs_examples.py checks each block on its own with this virtualenv on the PATH
and the sample photo in a scratch directory; this test checks the promise a reader acts
on: "the tour runs as typed from the root of the clone after those two commands".

The copy shares this checkout's virtualenv through a symbolic link, and ``make`` is told
that the install is done (``-o``), so the test never installs anything.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.test_docs_examples import Block, output_matches, parse_blocks, run_block

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SYSTEM_PATH = "/usr/bin:/bin"
# What a clone does not have: built or installed things, caches.
NOT_IN_A_CLONE = (".git", ".venv*", "site", "out", "build", "dist", "*.egg-info", "__pycache__")
NOT_IN_A_CLONE += (".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis")


def setup_commands(readme: str) -> list[str]:
    """The commands of the first ``sh`` block of the set-up section, without comments."""
    section = readme[readme.index("## Set up") :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README's set-up section has no ```sh block"
    commands = [line.split("#", 1)[0].strip() for line in match.group(1).splitlines()]
    return [command for command in commands if command]


def test_the_setup_block_is_what_the_tour_test_runs() -> None:
    commands = setup_commands(README.read_text(encoding="utf-8"))
    assert commands == ["make run", "source .venv/bin/activate"]


def _venv() -> Path:
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").exists() or venv.resolve() != (ROOT / ".venv").resolve():
        pytest.skip("needs the checkout's own .venv (make install)")
    return venv


@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("make") is None, reason="needs bash and make"
)
def test_readme_tour_runs_as_typed_in_a_fresh_clone(tmp_path: Path) -> None:
    venv = _venv()
    clone = tmp_path / "cnncli"
    shutil.copytree(ROOT, clone, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE), symlinks=True)
    (clone / ".venv").symlink_to(venv)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CNNCLI_DEBUG")}
    env.update(PATH=SYSTEM_PATH, NO_COLOR="1", COLUMNS="80", TERM="dumb", HOME=str(tmp_path))
    env.pop("VIRTUAL_ENV", None)
    readme = README.read_text(encoding="utf-8")
    log = tmp_path / "setup.log"
    # The control: before the set-up commands no cnncli is on the PATH.
    prelude = [f"command -v cnncli > {log} && exit 97"]
    prelude += [
        'make() { command make -o .venv/.installed-stamp "$@"; }'
    ]  # the name it has in the Makefile
    prelude += [f"{command} >> {log} 2>&1 || exit 98" for command in setup_commands(readme)]
    steps = tuple(step for block in parse_blocks(readme, "README.md") for step in block.steps)
    results = run_block(Block("README.md", steps), clone, env=env, prelude="\n".join(prelude))
    assert results, "the set-up commands failed:\n" + log.read_text()
    # Installing from the copy would point the shared virtualenv at it for good.
    assert "pip install" not in log.read_text()
    assert (clone / "out" / "sobel.png").exists()  # make run ran in the clone
    for index, step in enumerate(steps):
        assert index < len(results), f"the session ended before `{step.command}`"
        status, output = results[index]
        shown = "\n".join(output)
        assert status == 0, f"`{step.command}` exited {status}:\n{shown}"
        if step.expected:
            assert output_matches(step.expected, output), (
                f"`{step.command}` printed:\n{shown}\nbut the README shows:\n"
                + "\n".join(step.expected)
            )
