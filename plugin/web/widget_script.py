"""The widget script as buyers download it: the readable source without comments or indentation.

`plugin/static/widget.js` keeps its comments for the next engineer; a shop's visitors need none
of them. The README promises a script under 10 KB, and that is what is served (checked by
tests/test_widget_style.py). Only whole-line block comments and leading spaces are removed, so
no string or regular expression in the code can be touched.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "static" / "widget.js"
#: A block comment that fills its lines (the source puts no code beside its comments).
WHOLE_LINE_COMMENT = re.compile(r"^[ \t]*/\*(?:(?!\*/).)*\*/[ \t]*\n", re.MULTILINE | re.DOTALL)


def compact(source: str) -> str:
    """The script without whole-line comments and indentation (JavaScript ignores both)."""
    kept = WHOLE_LINE_COMMENT.sub("", source)
    return "\n".join(line.strip() for line in kept.splitlines() if line.strip()) + "\n"


@functools.cache
def served_bytes(modified: float) -> bytes:
    """The compacted script, rebuilt when the file changes (`modified` is its mtime)."""
    return compact(SOURCE.read_text(encoding="utf-8")).encode("utf-8")


def widget_script() -> bytes:
    return served_bytes(SOURCE.stat().st_mtime)
