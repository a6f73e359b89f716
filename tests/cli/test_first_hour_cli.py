"""What a new user meets in the first hour: bare cnncli, hints that fit the command run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnncli.imageio import sample_path

CNNCLI = str(Path(sys.executable).parent / "cnncli")


def test_bare_cnncli_shows_the_help_and_exits_0() -> None:
    proc = subprocess.run([CNNCLI], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "Usage: cnncli" in proc.stdout
    assert "Commands" in proc.stdout
    assert "error" not in proc.stderr
    assert proc.stderr == ""


def test_bare_cnncli_in_process(run_cli) -> None:
    result = run_cli()
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    assert "error" not in result.stderr


IMAGE_COMMANDS = ("smooth", "gradient", "sobel", "pool")
REQUIRED = {"pool": ["--k", "2"]}  # options a command needs before it looks at paths


@pytest.mark.parametrize("command", IMAGE_COMMANDS)
def test_sample_hint_names_the_command_run(run_cli, command: str) -> None:
    result = run_cli(command, *REQUIRED.get(command, []), "--sample", "x.png", "extra.png")
    assert result.exit_code == 2
    assert f"(hint: cnncli {command} --sample x.png)" in result.stderr
    others = [c for c in IMAGE_COMMANDS if c != command]
    assert not any(f"cnncli {other}" in result.stderr for other in others)


@pytest.mark.parametrize("command", IMAGE_COMMANDS)
def test_several_paths_without_out_dir_suggest_out_dir(run_cli, command: str) -> None:
    result = run_cli(command, *REQUIRED.get(command, []), "a.png", "b.png", "c.png")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert f"cnncli {command} a.png b.png c.png --out-dir DIR" in result.stderr


def test_one_existing_path_is_taken_for_the_input(run_cli, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"")
    result = run_cli("gradient", str(photo))
    assert f"cnncli gradient {photo} OUTPUT" in result.stderr
    result = run_cli("gradient", str(tmp_path / "new.png"))
    assert f"cnncli gradient --sample {tmp_path / 'new.png'}" in result.stderr


def _folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_a_folder_as_batch_input_says_so_and_suggests_a_glob(run_cli, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "a.jpg", "b.jpg", "notes.txt")
    edges = tmp_path / "edges"
    result = run_cli("sobel", str(folder), "--out-dir", str(edges))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {folder}: is a directory, not an image file "
        f"(hint: cnncli sobel {folder}/*.jpg --out-dir {edges})\n"
    )
    assert "--name" not in result.stderr
    assert not edges.exists()


def test_a_folder_as_single_input_says_so(run_cli, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    result = run_cli("smooth", str(folder), str(tmp_path / "out.png"))
    assert result.exit_code == 2
    assert "is a directory" in result.stderr
    assert f"cnncli smooth {folder}/* --out-dir DIR" in result.stderr


def test_no_batch_inputs_hint_names_the_command_and_out_dir(run_cli, tmp_path: Path) -> None:
    result = run_cli("gradient", "--out-dir", str(tmp_path / "o"))
    assert f"cnncli gradient photos/*.png --out-dir {tmp_path / 'o'}" in result.stderr


def test_a_near_file_name_is_suggested(run_cli, tmp_path: Path) -> None:
    shutil.copyfile(sample_path(), tmp_path / "camera.png")
    result = run_cli("sobel", str(tmp_path / "camera.pgn"), str(tmp_path / "out.png"))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {tmp_path / 'camera.pgn'}: no such file "
        f"(hint: did you mean {tmp_path / 'camera.png'}?)\n"
    )
    assert not (tmp_path / "out.png").exists()


def test_no_suggestion_without_a_near_name(run_cli, tmp_path: Path) -> None:
    shutil.copyfile(sample_path(), tmp_path / "camera.png")
    result = run_cli("sobel", str(tmp_path / "zebra.png"), str(tmp_path / "out.png"))
    assert result.stderr == f"error: {tmp_path / 'zebra.png'}: no such file\n"


def test_a_near_file_name_is_suggested_in_a_batch(run_cli, tmp_path: Path) -> None:
    shutil.copyfile(sample_path(), tmp_path / "camera.png")
    result = run_cli(
        "sobel", str(tmp_path / "camera.pgn"), "--out-dir", str(tmp_path / "e"), "--quiet"
    )
    assert result.exit_code == 2
    assert f"did you mean {tmp_path / 'camera.png'}?" in result.stderr
