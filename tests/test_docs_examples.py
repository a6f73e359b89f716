"""Every ```console block in README.md and docs/*.md is run, and its shown output checked.

Convention in a ```console block: a line starting with ``$ `` is a command (a trailing
backslash continues it on the next line, and a here-document, ``<<EOF`` or ``<<'EOF'``,
takes the lines up to its delimiter line); the lines after it, up to the next ``$ ``, are
what the command prints (stdout and stderr together, as a terminal shows them).
A command with no lines after it must only succeed (exit status 0).

Each block runs as one bash session (``pipefail`` on) in a fresh temporary directory that
holds a copy of the bundled sample as ``chelsea.png`` and where a clone has it,
``cnncli/data/chelsea.png``, and the small model files the tests make with torch
(``tests/golden/modelfiles/tiny_cnn.*``, for docs/model-files.md), with this virtualenv's
``bin`` first on PATH, ``NO_COLOR=1`` and 80 columns; files, variables and ``cd`` carry
over from one command of a block to the next, as they would for a reader typing them.

Normalisation: trailing spaces and trailing blank lines are ignored; an expected line that
is exactly ``...`` stands for any number of lines (for volatile or long output). A block
whose commands call an optional tool that is not installed (``jq``) is skipped.

docs/reference.md is generated from the app by ``make docs`` and is not checked here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "cnncli" / "data" / "chelsea.png"
MODEL_FILES = sorted((ROOT / "tests" / "golden" / "modelfiles").glob("tiny_cnn.*"))
GENERATED_PAGES = {"reference.md"}
OPTIONAL_TOOLS = ("jq",)
ELLIPSIS = "..."
MARKER = "@@cnncli-docs-step@@"


@dataclass(frozen=True)
class Step:
    command: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    source: str  # "docs/page.md:12"
    steps: tuple[Step, ...]


def doc_files() -> list[Path]:
    pages = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in GENERATED_PAGES)
    return [ROOT / "README.md", *pages]


def parse_blocks(text: str, name: str) -> list[Block]:
    """The ```console blocks of one Markdown file, split into commands and expected output."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*console\b", lines[i])
        if not fence:
            i += 1
            continue
        indent, marks = fence.group(1), fence.group(2)
        start = i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marks):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        blocks.append(Block(f"{name}:{start}", tuple(_steps(body))))
    return blocks


# ``<<EOF``, ``<<-EOF``, ``<<'EOF'``, ``<<"EOF"``; not the here-string ``<<<``.
HEREDOC = re.compile(r"(?<!<)<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def _heredoc_ends(line: str) -> list[tuple[str, bool]]:
    """The delimiters of the here-documents a command line opens, in order (and ``<<-``)."""
    return [(m.group(3), m.group(1) == "-") for m in HEREDOC.finditer(line)]


def _steps(body: list[str]) -> list[Step]:
    steps: list[Step] = []
    command: list[str] | None = None
    expected: list[str] = []
    continuing = False
    pending: list[tuple[str, bool]] = []  # here-documents still to be read, in order
    for line in body:
        if continuing and command is not None:
            command.append(line)
            continuing = line.endswith("\\")
            pending += _heredoc_ends(line)
        elif pending and command is not None:
            # Bodies start after the whole (continued) command line, one after the other.
            command.append(line)
            delimiter, strip_tabs = pending[0]
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                pending.pop(0)
        elif line.startswith("$ "):
            if command is not None:
                steps.append(Step("\n".join(command), tuple(expected)))
            command, expected = [line[2:]], []
            continuing = line.endswith("\\")
            pending = _heredoc_ends(line)
        elif command is not None:
            expected.append(line)
    if command is not None:
        steps.append(Step("\n".join(command), tuple(expected)))
    return steps


def output_matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Line-by-line equality, where an expected ``...`` line matches any run of lines."""
    exp = [line.rstrip() for line in expected]
    act = [line.rstrip() for line in actual]
    while exp and not exp[-1]:
        exp.pop()
    while act and not act[-1]:
        act.pop()

    def match(e: int, a: int) -> bool:
        if e == len(exp):
            return a == len(act)
        if exp[e] == ELLIPSIS:
            return any(match(e + 1, k) for k in range(a, len(act) + 1))
        return a < len(act) and exp[e] == act[a] and match(e + 1, a + 1)

    return match(0, 0)


def all_blocks() -> list[Block]:
    blocks: list[Block] = []
    for path in doc_files():
        if path.exists():
            blocks += parse_blocks(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return blocks


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CNNCLI_DEBUG")}
    bin_dir = str(Path(sys.executable).parent)
    env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), NO_COLOR="1", COLUMNS="80")
    env["TERM"] = "dumb"
    return env


BLOCKS = all_blocks()


def prepare(workdir: Path) -> None:
    """The files a block finds in its directory: the sample (also where a clone has it)
    and the small model files of docs/model-files.md."""
    shutil.copyfile(SAMPLE, workdir / "chelsea.png")
    (workdir / "cnncli" / "data").mkdir(parents=True)
    shutil.copyfile(SAMPLE, workdir / "cnncli" / "data" / "chelsea.png")
    for model_file in MODEL_FILES:
        shutil.copyfile(model_file, workdir / model_file.name)


def run_block(
    block: Block, workdir: Path, env: dict[str, str] | None = None, prelude: str = ""
) -> list[tuple[int, list[str]]]:
    """Run the commands of a block in one bash session, as typed into a terminal.

    Returns each command's exit status and output lines. Shell state (variables, ``cd``)
    carries over from one command to the next, as it would for a reader. ``prelude`` runs
    first, unchecked (set-up commands); ``env`` replaces the default environment.
    """
    bash = shutil.which("bash")
    assert bash is not None
    script = [prelude, "exec 2>&1", "set -o pipefail"]
    for index, step in enumerate(block.steps):
        script += [step.command, f"printf '%s\\n' \"{MARKER} {index} $?\""]
    proc = subprocess.run(
        [bash, "-c", "\n".join(script)],
        cwd=workdir,
        env=_environment() if env is None else env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )
    results: list[tuple[int, list[str]]] = []
    pending: list[str] = []
    for line in proc.stdout.split("\n"):
        head, marker, tail = line.partition(MARKER + " ")
        if marker:
            if head:
                pending.append(head)
            results.append((int(tail.split()[1]), pending))
            pending = []
        else:
            pending.append(line)
    return results


@pytest.mark.parametrize("block", BLOCKS, ids=[b.source for b in BLOCKS])
def test_console_block_runs_and_shows_its_real_output(block: Block, tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    for tool in OPTIONAL_TOOLS:
        uses_tool = any(re.search(rf"(^|[|;&(\s]){tool}\b", s.command) for s in block.steps)
        if uses_tool and shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    prepare(tmp_path)
    results = run_block(block, tmp_path)
    for index, step in enumerate(block.steps):
        assert index < len(results), f"{block.source}: the session ended before `{step.command}`"
        status, output = results[index]
        shown = "\n".join(output)
        assert status == 0, f"{block.source}: `{step.command}` exited {status}:\n{shown}"
        if step.expected:
            assert output_matches(step.expected, output), (
                f"{block.source}: `{step.command}` printed:\n{shown}\n"
                "but the page shows:\n" + "\n".join(step.expected)
            )


# The checker itself must be able to fail: these pin its parsing and matching rules.


def test_parse_splits_commands_and_output() -> None:
    text = "x\n```console\n$ echo a \\\n  b\na b\n$ true\n```\n"
    (block,) = parse_blocks(text, "t.md")
    assert block.steps == (Step("echo a \\\n  b", ("a b",)), Step("true", ()))


def test_parse_keeps_a_here_document_in_its_command() -> None:
    text = (
        "```console\n$ cat > m.txt <<'EOF'\nNet(\n$ not a command\nEOF\n"
        "$ wc -l < m.txt\n2\n$ cat <<< 'x'\nx\n```\n"
    )
    (block,) = parse_blocks(text, "t.md")
    assert block.steps == (
        Step("cat > m.txt <<'EOF'\nNet(\n$ not a command\nEOF", ()),
        Step("wc -l < m.txt", ("2",)),
        Step("cat <<< 'x'", ("x",)),
    )


def test_a_here_document_reaches_the_command(tmp_path: Path) -> None:
    (block,) = parse_blocks("```console\n$ tr a-z A-Z <<EOF\nab\nEOF\nAB\n```\n", "t.md")
    assert run_block(block, tmp_path) == [(0, ["AB"])]


def test_parse_ignores_other_languages() -> None:
    assert parse_blocks("```bash\n$ false\n```\n```text\n$ false\n```\n", "t.md") == []


def test_matching_is_exact_except_ellipsis_and_trailing_space() -> None:
    assert output_matches(("a", "b"), ["a  ", "b", ""])
    assert not output_matches(("a", "b"), ["a", "c"])
    assert not output_matches(("a",), ["a", "b"])
    assert output_matches(("a", "...", "z"), ["a", "b", "c", "z"])
    assert output_matches(("a", "...", "z"), ["a", "z"])
    assert not output_matches(("a", "...", "z"), ["a", "b"])


def test_a_session_keeps_state_and_reports_each_status(tmp_path: Path) -> None:
    block = Block("t.md:1", (Step("x=4; printf ab", ()), Step("echo $x; false", ())))
    assert run_block(block, tmp_path) == [(0, ["ab"]), (1, ["4"])]


def test_every_page_is_checked() -> None:
    names = {p.name for p in doc_files()}
    assert "README.md" in names
    assert "getting-started.md" in names
