"""Whole-file JSON documents read record by record, in memory bounded by the largest record.

A CloudTrail file is one object `{"Records": [ ... ]}` (hundreds of MB once decompressed), a
Kubernetes webhook body an `EventList` (`{"kind": "EventList", ..., "items": [ ... ]}`), an export
of the CLI `{"events": [...]}` or `{"Events": [...]}`; a list of such documents (`[{"Records":
[...]}, ...]`) or a plain array of events also occurs. `records(...)` walks the document with the
standard library's JSON scanner (`raw_decode`, C), one value at a time: the values of the other
keys are decoded (they are small), the elements of a record list are yielded one by one as
`(key, element)` and never held together. An object without a record list is itself one record.

Damage is reported, never silent: a record list that is not a list (`"Records": {...}`), a value
that is not an object where a record must be, invalid JSON, a record larger than the limit.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from typing import Any

RECORD_KEYS = ("Records", "items", "events", "Events")
_WS = " \t\r\n"


class DocumentError(ValueError):
    """The document is damaged at this point (what was yielded before it stands)."""


class _Buffer:
    """Text decoded from a byte stream, read on demand; invalid UTF-8 kept as surrogates."""

    def __init__(self, first: bytes, read: Callable[[], bytes], max_value: int) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self.text = self.decoder.decode(first)
        self.pos = 0
        self.read = read
        self.eof = False
        self.max_value = max_value
        self.scanner = json.JSONDecoder()

    def more(self) -> bool:
        if self.eof:
            return False
        data = self.read()
        if not data:
            self.text += self.decoder.decode(b"", final=True)
            self.eof = True
            return False
        if self.pos > (1 << 20):
            self.text, self.pos = self.text[self.pos :], 0
        self.text += self.decoder.decode(data)
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def expect(self, chars: str) -> str:
        ch = self.peek()
        if not ch or ch not in chars:
            raise DocumentError(f"expected {' or '.join(repr(c) for c in chars)}, found {ch[:1]!r}")
        self.pos += 1
        return ch

    def value(self) -> Any:
        """The next JSON value, decoded (reading on until it is complete)."""
        return self.raw_value()[0]

    def raw_value(self) -> tuple[Any, str]:
        """The next JSON value, decoded, and its text."""
        self.peek()
        while True:
            try:
                obj, end = self.scanner.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                # (a value cut by the end of what was read so far: read on, up to the limit)
                if len(self.text) - self.pos <= self.max_value and self.more():
                    continue
                if not self.eof:
                    raise DocumentError(f"a value larger than {self.max_value >> 20} MiB") from None
                raise DocumentError(f"invalid JSON: {exc.msg}") from None
            except RecursionError:
                raise DocumentError("JSON nested too deeply") from None
            if end == len(self.text) and not self.eof and self.more():
                continue  # a number may go on in the next read
            start, self.pos = self.pos, end
            return obj, self.text[start:end]


Record = tuple[str, Any, str | None]  # (record-list key or "", the record, its JSON text if known)


def records(first: bytes, read: Callable[[], bytes], max_record: int = 4 << 20) -> Iterator[Record]:
    """(record-list key or "", record, its text) for every record of the document; DocumentError
    when the document turns out damaged (after the records before the damage). The text is the
    record's own JSON text (None for an object that is a record itself, read key by key)."""
    buf = _Buffer(first, read, max_record)
    head = buf.peek()
    if head == "[":
        yield from _array(buf, "", top=True)
    elif head == "{":
        yield from _object(buf)
    else:
        raise DocumentError("not a JSON object or array")
    if buf.peek():
        raise DocumentError("data after the end of the document")


def _array(buf: _Buffer, key: str, top: bool = False) -> Iterator[Record]:
    buf.expect("[")
    if buf.peek() == "]":
        buf.pos += 1
        return
    while True:
        if top and buf.peek() == "{":
            yield from _object(buf)  # a list of documents (or of plain records)
        else:
            obj, text = buf.raw_value()
            yield key, obj, text
        if buf.expect(",]") == "]":
            return


def _object(buf: _Buffer) -> Iterator[Record]:
    """An object: its record list streamed; without one, the object itself is a record."""
    buf.expect("{")
    fields: dict[str, Any] = {}
    streamed = False
    if buf.peek() == "}":
        buf.pos += 1
        yield "", fields, None
        return
    while True:
        name = buf.value()
        if not isinstance(name, str):
            raise DocumentError("an object key is not a string")
        buf.expect(":")
        if name in RECORD_KEYS and not streamed:
            if buf.peek() != "[":
                raise DocumentError(f'"{name}" is not a list')
            streamed = True
            yield from _array(buf, name)
        else:
            fields[name] = buf.value()
            if not streamed and len(fields) > 10_000:
                raise DocumentError("an object with more than 10,000 keys")
        if buf.expect(",}") == "}":
            break
    if not streamed:
        yield "", fields, None
