"""Make the pictures the docs embed, by running the installed cnncli on the bundled sample.

Run by ``make docs``; nothing here is drawn by hand. Writes under docs/assets/:
- the sample and what each filter command makes of it, and a labelled side-by-side figure
  (Pillow only);
- the sample before and after ``cnncli pool``, the pooled images enlarged with
  nearest-neighbour so that every output pixel shows;
- SVG captures of rich terminal output (rich's ``Console.export_svg``), from the command
  run with colour forced on, exactly as a terminal would show it.
A picture whose command is not in this version of cnncli is skipped with a note.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "docs" / "assets"
SAMPLE = ROOT / "cnncli" / "data" / "chelsea.png"
CNNCLI = str(Path(sys.executable).parent / "cnncli")
TERMINAL_COLUMNS = 100


@dataclass(frozen=True)
class FilterPicture:
    name: str  # docs/assets/<name>.png
    label: str  # caption in the side-by-side figure
    args: tuple[str, ...]  # cnncli arguments; the output path is appended


@dataclass(frozen=True)
class TerminalCapture:
    name: str  # docs/assets/<name>.svg
    title: str  # window title in the SVG
    args: tuple[str, ...]


FILTERS = (
    FilterPicture("smooth", "cnncli smooth --sigma 2", ("smooth", "--sample", "--sigma", "2")),
    FilterPicture("gradient", "cnncli gradient", ("gradient", "--sample")),
    FilterPicture("sobel", "cnncli sobel", ("sobel", "--sample")),
    FilterPicture(
        "sobel-angle", "cnncli sobel --output angle", ("sobel", "--sample", "--output", "angle")
    ),
)

FIGURE = ("smooth", "gradient", "sobel")  # with the sample: the side-by-side figure

POOLS = (  # the tiles after the sample in docs/assets/pool.png (names: temporary files)
    FilterPicture(
        "pool-adaptive-avg",
        "cnncli pool --adaptive 64,64 --op avg",
        ("pool", "--sample", "--adaptive", "64,64", "--op", "avg"),
    ),
    FilterPicture(
        "pool-max", "cnncli pool --k 8 --op max", ("pool", "--sample", "--k", "8", "--op", "max")
    ),
)

CAPTURES = (
    TerminalCapture(
        "outsize-explain",
        "cnncli outsize --lin 4 --k 2 --s 3 --p 1 --pool --ceil --explain",
        (
            "outsize",
            "--lin",
            "4",
            "--k",
            "2",
            "--s",
            "3",
            "--p",
            "1",
            "--pool",
            "--ceil",
            "--explain",
        ),
    ),
    TerminalCapture("summary-alexnet", "cnncli summary alexnet", ("summary", "alexnet")),
)


def available_commands() -> set[str]:
    import typer

    from cnncli.cli import app

    group = typer.main.get_command(app)
    return set(group.list_commands(None))  # type: ignore[arg-type]


def run_cnncli(args: tuple[str, ...], cwd: Path, *, colour: bool = False) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["COLUMNS"] = str(TERMINAL_COLUMNS)
    if colour:
        env["FORCE_COLOR"] = "1"
    proc = subprocess.run(
        [CNNCLI, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"cnncli {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def side_by_side(
    tiles: list[tuple[str, Path]], dest: Path, columns: int = 2, scale: float = 0.8
) -> None:
    """A grid of images, each with its caption above it; a column is as wide as its widest."""
    from PIL import Image, ImageDraw, ImageFont

    images = []
    for label, path in tiles:
        img = Image.open(path).convert("RGB")
        size = (round(img.width * scale), round(img.height * scale))
        images.append((label, img.resize(size, Image.Resampling.LANCZOS)))
    font = ImageFont.load_default(size=16)
    caption, gap = 26, 8
    widths = [0] * columns
    for index, (label, img) in enumerate(images):
        text = round(font.getlength(label)) + 4
        widths[index % columns] = max(widths[index % columns], img.width, text)
    height = max(img.height for _, img in images)
    rows = -(-len(images) // columns)
    sheet = Image.new(
        "RGB",
        (sum(widths) + (columns + 1) * gap, rows * (height + caption) + (rows + 1) * gap),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    for index, (label, img) in enumerate(images):
        column = index % columns
        x = gap + sum(widths[:column]) + column * gap
        y = gap + (index // columns) * (height + caption + gap)
        draw.text((x + 2, y + 4), label, fill="black", font=font)
        sheet.paste(img, (x, y + caption))
    sheet.save(dest, optimize=True)


def terminal_svg(ansi_output: str, title: str, dest: Path) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=TERMINAL_COLUMNS, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(Text.from_ansi(ansi_output.rstrip("\n")), soft_wrap=True)
    svg = console.export_svg(title=title)
    # rich points its @font-face at a CDN; keep only the local() fonts so the docs load nothing.
    svg = re.sub(r',\s*url\("https?://[^"]*"\) format\("[a-z0-9]+"\)', "", svg)
    dest.write_text(svg, encoding="utf-8")


def make_filter_pictures(commands: set[str], work: Path) -> None:
    present = [f for f in FILTERS if f.args[0] in commands]
    for missing in (f for f in FILTERS if f.args[0] not in commands):
        print(f"skip {missing.name}.png: no '{missing.args[0]}' command yet")
    if not present:
        return
    tiles = [("the sample (cnncli/data/chelsea.png)", SAMPLE)]
    for picture in present:
        dest = ASSETS / f"{picture.name}.png"
        run_cnncli((*picture.args, str(dest)), work)
        if picture.name in FIGURE:
            tiles.append((picture.label, dest))
        print(f"wrote {dest.relative_to(ROOT)}")
    side_by_side(tiles, ASSETS / "filters.png")
    print(f"wrote {(ASSETS / 'filters.png').relative_to(ROOT)}")


def enlarged(source: Path, height: int, dest: Path) -> None:
    """``source`` scaled by nearest-neighbour to ``height`` rows: pooled pixels stay blocks."""
    from PIL import Image

    img = Image.open(source)
    width = round(img.width * height / img.height)
    img.resize((width, height), Image.Resampling.NEAREST).save(dest)


def make_pool_picture(commands: set[str], work: Path) -> None:
    if "pool" not in commands:
        print("skip pool.png: no 'pool' command yet")
        return
    from PIL import Image

    sample = Image.open(SAMPLE)
    height = sample.height
    tiles = [(f"the sample ({sample.width}x{sample.height})", SAMPLE)]
    for picture in POOLS:
        raw, big = work / f"{picture.name}.png", work / f"{picture.name}-big.png"
        run_cnncli((*picture.args, str(raw)), work)
        size = "x".join(map(str, Image.open(raw).size))
        enlarged(raw, height, big)
        tiles.append((f"{picture.label} ({size})", big))
    dest = ASSETS / "pool.png"
    side_by_side(tiles, dest, columns=len(tiles), scale=1.0)
    print(f"wrote {dest.relative_to(ROOT)}")


def make_captures(commands: set[str], work: Path) -> None:
    for capture in CAPTURES:
        if capture.args[0] not in commands:
            print(f"skip {capture.name}.svg: no '{capture.args[0]}' command yet")
            continue
        dest = ASSETS / f"{capture.name}.svg"
        terminal_svg(run_cnncli(capture.args, work, colour=True), capture.title, dest)
        print(f"wrote {dest.relative_to(ROOT)}")


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    commands = available_commands()
    with tempfile.TemporaryDirectory() as tmp:
        make_filter_pictures(commands, Path(tmp))
        make_pool_picture(commands, Path(tmp))
        make_captures(commands, Path(tmp))


if __name__ == "__main__":
    main()
