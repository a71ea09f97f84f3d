"""The one rule for text that reaches an output: a terminal, Markdown, OpenMetrics, a page,
a CSV file or an error line."""

from __future__ import annotations

import re

#: Control characters: C0 (CR, LF, ESC, which starts ANSI and OSC sequences), DEL and C1.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text as every output shows it (terminal, Markdown, OpenMetrics, pages, CSV): each
    control character written as its escape (``\\r``, ``\\x1b``), so a label cannot move
    the cursor, split a line or a table row, or colour a terminal."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
