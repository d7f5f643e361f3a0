"""The protobuf wire format, just enough for the CRI calls seawall makes (no generated stubs:
the CRI's Go-generated api.proto has no Python package on PyPI that follows its versions).

    encode({1: "id", 2: {1: 1}})          -> bytes   (field number -> str | bytes | int | bool | dict | list)
    decode(data) -> {field: [values]}     (varints as int, length-delimited as bytes)
"""

from __future__ import annotations

from typing import Any

from seawall.core.errors import InputError

MAX_DEPTH = 32


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode(message: dict[int, Any]) -> bytes:
    out = bytearray()
    for field, value in message.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, int):  # bool is an int
                out += _varint(field << 3) + _varint(int(item))
            elif isinstance(item, (str, bytes, dict)):
                raw = (
                    item.encode()
                    if isinstance(item, str)
                    else encode(item)
                    if isinstance(item, dict)
                    else item
                )
                out += _varint(field << 3 | 2) + _varint(len(raw)) + raw
            else:
                raise TypeError(f"cannot encode {type(item).__name__}")
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise InputError("CRI: truncated or malformed protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def decode(data: bytes) -> dict[int, list[Any]]:
    fields: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise InputError("CRI: truncated protobuf field")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise InputError(f"CRI: unsupported protobuf wire type {wire}")
        fields.setdefault(field, []).append(value)
    return fields


def text(fields: dict[int, list[Any]], number: int) -> str:
    values = fields.get(number)
    return values[-1].decode("utf-8", "replace") if values and isinstance(values[-1], bytes) else ""


def number(fields: dict[int, list[Any]], number_: int) -> int:
    values = fields.get(number_)
    value = values[-1] if values and isinstance(values[-1], int) else 0
    return value - (1 << 64) if value >= 1 << 63 else value


def message(fields: dict[int, list[Any]], number_: int) -> dict[int, list[Any]]:
    values = fields.get(number_)
    return decode(values[-1]) if values and isinstance(values[-1], bytes) else {}


def messages(fields: dict[int, list[Any]], number_: int) -> list[dict[int, list[Any]]]:
    return [decode(v) for v in fields.get(number_, []) if isinstance(v, bytes)]


def string_map(fields: dict[int, list[Any]], number_: int) -> dict[str, str]:
    """A `map<string, string>` field (repeated entries {1: key, 2: value})."""
    out: dict[str, str] = {}
    for entry in messages(fields, number_):
        out[text(entry, 1)] = text(entry, 2)
    return out
