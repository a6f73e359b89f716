"""The website loads nothing from the network: no web fonts, no CDN, no analytics."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Namespaces and plain hyperlinks are fine; what matters is what a page or a picture loads.
FETCHED_URL = re.compile(r"""(?:url\(|src=|@import\s+)["']?https?://""")


def test_theme_uses_no_web_fonts() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s*font:\s*false\b", config, re.MULTILINE)
    assert "google_analytics" not in config
    assert "analytics:" not in config


def test_generated_pictures_fetch_nothing() -> None:
    svgs = list((ROOT / "docs" / "assets").glob("*.svg"))
    assert svgs, "make docs writes SVG captures into docs/assets"
    for svg in svgs:
        assert not FETCHED_URL.search(svg.read_text(encoding="utf-8")), svg.name


def test_pattern_catches_a_cdn_font() -> None:
    assert FETCHED_URL.search('src: local("X"), url("https://cdn.example/x.woff2")')
