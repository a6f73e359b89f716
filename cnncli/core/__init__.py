"""Pure, typed computations: no Typer, no files, no terminal."""
