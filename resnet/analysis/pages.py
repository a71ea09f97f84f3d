"""One way to write a page: Jinja2 templates with one shared base (layout, style,
escaping on by default), for the report, the machines page and the dashboard; and
Markdown tables with their cells escaped."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from resnet.text import printable

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("resnet.analysis", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def table_data(frame: pd.DataFrame) -> dict[str, Any]:
    """A DataFrame as plain text cells for the templates' ``table`` macro: the index
    levels first (header cells), then the columns."""
    if frame.empty:
        return {"header": [], "index_width": 0, "rows": []}
    named = [n for n in frame.index.names if n is not None]
    flat = frame.reset_index() if named else frame
    width = len(named)
    return {
        "header": [str(c) for c in flat.columns],
        "index_width": width,
        "rows": [[_text(v) for v in row] for row in flat.itertuples(index=False)],
    }


#: Markdown's markup characters; an underscore only where it could start or end emphasis
#: (GitHub leaves ``images_per_sec`` alone).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*{}\[\]|#]|(?<!\w)_|_(?!\w))")


def markdown_cell(value: Any) -> str:
    """A cell's text with HTML and Markdown markup escaped (it shows as typed)."""
    text = printable(_text(value).replace("\n", " "))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table, every cell escaped."""
    data = table_data(frame)
    lines = ["| " + " | ".join(markdown_cell(h) for h in data["header"]) + " |"]
    lines.append(
        "|" + "|".join(":--" if i < data["index_width"] else "--:" for i in range(len(data["header"]))) + "|"
    )
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in data["rows"]]
    return "\n".join(lines)


def render(template: str, **context: Any) -> str:
    """Render one of the templates (they all extend ``base.html``)."""
    from resnet import __version__

    return ENV.get_template(template).render(tool_version=__version__, **context)


def write_page(path: Path, template: str, **context: Any) -> Path:
    """Render ``template`` into ``path``."""
    path.write_text(render(template, **context), encoding="utf-8")
    return path


#: What a spreadsheet runs as a formula when a cell begins with it (OWASP's CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(frame: pd.DataFrame, index: bool = True) -> str:
    """``frame`` as CSV that a spreadsheet opens as data: a text cell (index included) that
    begins with ``= + - @``, a tab or a carriage return gets a leading ``'`` (numbers stay
    numbers)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(_cell_safe)
    if index and isinstance(out.index, pd.MultiIndex):
        out.index = out.index.set_levels([level.map(_cell_safe) for level in out.index.levels])
    elif index:
        out.index = pd.Index(out.index.map(_cell_safe), name=out.index.name)
    return out.to_csv(index=index)
