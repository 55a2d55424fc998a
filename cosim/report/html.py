"""A self-contained HTML page: a summary table and sections of figures, video and notes.

Media are referenced by file names relative to the page (they sit beside it), so the folder
can be moved or opened from ``file://`` with no network.  Every text is HTML-escaped.
"""
from __future__ import annotations

import html
from pathlib import Path

__all__ = ["table", "grid", "link", "escape", "image", "video", "note", "pre", "section",
           "page", "write_page"]

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left;
  border-bottom: 1px solid #eee; vertical-align: top; }
figure { margin: 1em 0; } img, video { max-width: 100%; }
figcaption { font-size: 0.9em; color: #555; }
.note { background: #fff6d5; border-left: 4px solid #e0b000; padding: 0.5em 1em; }
td.ok { color: #176317; font-weight: bold; } td.bad { color: #b00020; font-weight: bold; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def table(rows) -> str:
    """A two-column table from ``(name, value)`` pairs."""
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def escape(text) -> str:
    """``text`` safe to put in a page."""
    return _e(text)


def grid(header, rows, raw=(), mark=None) -> str:
    """A table with a header row. Cells are escaped except in the columns ``raw`` (already
    HTML); ``mark`` maps a cell text to a CSS class (e.g. {"FAIL": "bad"})."""
    mark = mark or {}
    head = "".join(f"<th>{_e(h)}</th>" for h in header)

    def cell(i, v):
        cls = f' class="{mark[v]}"' if isinstance(v, str) and v in mark else ""
        return f"<td{cls}>{v if i in raw else _e(v)}</td>"
    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def link(href: str, text: str) -> str:
    """A link to a file relative to the page."""
    return f'<a href="{_e(href)}">{_e(text)}</a>'


def image(src: str, caption: str = "") -> str:
    """A figure of the image file ``src`` (relative to the page)."""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{_e(src)}" alt="{_e(caption or src)}">{cap}</figure>'


def video(src: str, caption: str = "", poster: str | None = None) -> str:
    """An MP4 (H.264) video ``src`` with controls, looping, muted so it may autoplay."""
    post = f' poster="{_e(poster)}"' if poster else ""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return (f'<figure><video controls loop muted autoplay playsinline preload="auto"{post}>'
            f'<source src="{_e(src)}" type="video/mp4"></video>{cap}</figure>')


def note(text: str) -> str:
    """A highlighted remark (e.g. why a figure is missing)."""
    return f'<p class="note">{_e(text)}</p>'


def pre(text: str) -> str:
    """Preformatted text (e.g. the scene file)."""
    return f"<pre>{_e(text)}</pre>"


def section(title: str, *parts: str, anchor: str | None = None) -> str:
    """A titled section of already-built parts."""
    ident = f' id="{_e(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{_e(title)}</h2>{''.join(parts)}</section>"


def page(title: str, sections) -> str:
    """The whole document."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{_e(title)}</h1>{''.join(sections)}</body></html>\n")


def write_page(path, title: str, sections) -> Path:
    path = Path(path)
    path.write_text(page(title, sections), encoding="utf-8")
    return path
