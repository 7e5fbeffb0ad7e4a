"""The HTML pages a run writes beside its files (predict-video's and eval's reports): one look,
escaped text, relative links only, nothing loaded from the network."""

from __future__ import annotations

from html import escape
from pathlib import Path

from tracknet_cli.fileio import atomic_write_text

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; display: block; overflow-x: auto; max-width: 100%; }
td, th { padding: .25em .8em; border-bottom: 1px solid #ddd; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
video, img.wide, svg.wide { width: 100%; height: auto; display: block; background: #f4f4f4; }
figure { display: inline-block; margin: .3em; font-size: .85em; } figure img { display: block; }
.legend span { display: inline-block; margin-right: 1.2em; }
.legend svg { display: inline-block; width: .9em; height: .9em; vertical-align: -.1em; margin-right: .3em; }
"""


def cell(value: object) -> str:
    """A table cell: numbers right-aligned, floats to 3 places, everything escaped."""
    if isinstance(value, float):
        return f'<td class="number">{value:.3f}</td>'
    if isinstance(value, int):
        return f'<td class="number">{value}</td>'
    return f"<td>{escape(str(value))}</td>"


def key_value_table(rows: list[tuple[str, object]]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(str(key))}</th>{cell(value)}</tr>" for key, value in rows) + "</table>"


def records_table(records: list[dict]) -> str:
    """A table with a column per key of the first record."""
    if not records:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(str(key))}</th>" for key in records[0])
    body = "".join("<tr>" + "".join(cell(record.get(key, "")) for key in records[0]) + "</tr>" for record in records)
    return f"<table><tr>{head}</tr>{body}</table>"


def links(files: list[tuple[str, Path]]) -> str:
    """A list of links to files beside the page, by name."""
    return "<ul>" + "".join(f'<li><a href="{escape(file.name)}">{escape(file.name)}</a> ({escape(label)})</li>'
                            for label, file in files) + "</ul>"


def write_page(path: Path, title: str, body: str) -> Path:
    """`body` (HTML) under a heading `title`, into `path`, whole or not at all."""
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
            f"<body>\n<h1>{escape(title)}</h1>\n{body}\n</body></html>\n")
    atomic_write_text(path, page)
    return path
