"""Rewrite the shown output of README/docs console blocks from real runs of their commands.

    .venv/bin/python docs/gen/refresh_examples.py [PAGE.md ...]

Runs every ```console block exactly as ``tests/test_docs_examples.py`` does (same session,
environment and sample files) and replaces the output under each command whose shown
output no longer matches with what the command printed. Steps whose shown output has a
``...`` line (volatile output) are left for a person and listed. Review the diff.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_docs_examples import (  # noqa: E402
    ELLIPSIS,
    Block,
    doc_files,
    output_matches,
    parse_blocks,
    prepare,
    run_block,
)


def _run(block: Block) -> list[tuple[int, list[str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(work)
        return run_block(block, work)


def refresh(path: Path) -> list[str]:
    """Refresh one page in place; returns what needs a person's eye."""
    lines = path.read_text(encoding="utf-8").splitlines()
    name = str(path.relative_to(ROOT))
    left: list[str] = []
    # Work bottom-up so that line numbers of earlier blocks stay valid.
    for block in reversed(parse_blocks("\n".join(lines) + "\n", name)):
        results = _run(block)
        start = int(block.source.rsplit(":", 1)[1])  # the first line after the fence
        # Find each step's command line, then its expected lines, in the page.
        cursor = start
        edits: list[tuple[int, int, list[str]]] = []
        for index, step in enumerate(block.steps):
            first_command_line = "$ " + step.command.split("\n")[0]
            while lines[cursor].strip() != first_command_line.strip():
                cursor += 1
            indent = lines[cursor][: len(lines[cursor]) - len(lines[cursor].lstrip())]
            cursor += step.command.count("\n") + 1
            end = cursor + len(step.expected)
            status, output = results[index] if index < len(results) else (1, [])
            if status != 0:
                left.append(f"{name}:{cursor}: `{step.command}` exited {status}")
            elif step.expected and not output_matches(step.expected, output):
                if ELLIPSIS in step.expected:
                    left.append(f"{name}:{cursor}: `{step.command}` (has '...')")
                else:
                    while output and not output[-1].strip():
                        output.pop()
                    edits.append((cursor, end, [indent + o.rstrip() for o in output]))
            cursor = end
        for begin, end, new in reversed(edits):
            lines[begin:end] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return left


def main(argv: list[str]) -> int:
    pages = [Path(a).resolve() for a in argv] or doc_files()
    left = [item for page in pages for item in refresh(page)]
    for item in left:
        print(f"check by hand: {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
