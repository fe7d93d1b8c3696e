"""Briefing → self-contained HTML (Jinja, autoescape on) → A4 PDF (WeasyPrint).

The HTML inlines its CSS and SVG charts and names no external URL. The PDF embeds the
DejaVu Sans font that matplotlib ships (a fixed file, so every machine renders the same).
"""

from __future__ import annotations

import atexit
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import matplotlib
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reports.briefing import Briefing

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )


@lru_cache(maxsize=3)
def _css(name: str) -> str:
    return (TEMPLATES / name).read_text()


def render_html(briefing: Briefing) -> str:
    """The page; its print CSS serves the PDF, its screen CSS only a browser."""
    return (
        template_environment()
        .get_template("briefing.html.j2")
        .render(
            briefing=briefing,
            css=_css("briefing.css"),
            screen_css=_css("briefing-screen.css"),
            venues_css=_css("briefing-venues.css"),  # inlined only in a venues briefing
        )
    )


@lru_cache(maxsize=1)
def _pdf_fonts():
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    faces = "\n".join(
        f'@font-face {{ font-family: "DejaVu Sans"; src: url("{(FONT_DIR / file).as_uri()}"); font-weight: {weight}; }}'
        for file, weight in (("DejaVuSans.ttf", "normal"), ("DejaVuSans-Bold.ttf", "bold"))
    )
    return CSS(string=faces, font_config=fonts), fonts


# Release WeasyPrint's font configuration before interpreter teardown (its __del__ needs modules).
atexit.register(_pdf_fonts.cache_clear)


@lru_cache(maxsize=1)
def _fetcher():
    """WeasyPrint may read the bundled font files and data: URIs, nothing else (no network)."""
    from weasyprint.urls import URLFetcher

    class LocalOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:") or url.startswith(FONT_DIR.as_uri()):
                return super().fetch(url, headers)
            raise ValueError(f"refusing to fetch {url!r}: the briefing is self-contained")

    return LocalOnly(allowed_protocols=("file", "data"))


_WEASYPRINT = threading.Lock()  # its font configuration is shared; render one PDF at a time


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a render builds ~10^5 short-lived objects, and
    the collector's repeated passes over them cost about 15 % of the PDF time. The
    garbage is collected as usual once the render is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    with _WEASYPRINT, paused_gc():
        font_css, fonts = _pdf_fonts()
        document = HTML(string=html, url_fetcher=_fetcher(), base_url=str(TEMPLATES))
        return document.write_pdf(stylesheets=[font_css], font_config=fonts)
