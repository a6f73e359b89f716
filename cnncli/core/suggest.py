"""Did-you-mean: the known name nearest to what was typed, for error hints."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable

# difflib's similarity ratio a suggestion must reach: catches a swapped or missing letter
# (camera.pgn -> camera.png, 0.8) without offering unrelated names.
CUTOFF = 0.75


def nearest(word: str, choices: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The choice most like ``word`` (difflib's ratio), or None if none is close enough."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def glob_for(names: Iterable[str]) -> str:
    """A glob for the files of a folder: ``*.png`` for the most common extension, else ``*``."""
    extensions = Counter(name.rsplit(".", 1)[1] for name in names if "." in name.lstrip("."))
    if not extensions:
        return "*"
    return "*." + extensions.most_common(1)[0][0]
