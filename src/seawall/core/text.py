"""Text from input made safe to show: no I/O, used by every place that prints."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_ALL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, keep_newlines: bool = False) -> str:
    """Control characters (terminal escape sequences, bidi overrides) shown as `?`, so that
    names and values from hostile input can be printed to a terminal or a text format as data.
    Surrogates (file names that were not UTF-8) become U+FFFD. JSON output keeps values intact."""
    pattern = _CONTROL if keep_newlines else _CONTROL_ALL
    text = pattern.sub("?", text)
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return text
