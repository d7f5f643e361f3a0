"""The rpm header blob as the rpmdb stores it (no lead, no magic):

    int32 il (index entries), int32 dl (data bytes), il x {int32 tag, type, offset, count}, data[dl]

All integers big-endian. Every offset and length is checked against the blob; entries that
fall outside are ignored. Region entries (tags 61-63) are skipped; a later entry of the same tag
(the "dribble" after a region) overrides an earlier one, as rpm does.
"""

from __future__ import annotations

import struct

NAME, VERSION, RELEASE, EPOCH = 1000, 1001, 1002, 1003
SIZE, VENDOR, LICENSE, ARCH, SOURCERPM = 1009, 1011, 1014, 1022, 1044
MODULARITYLABEL = 5096
DIRINDEXES, BASENAMES, DIRNAMES, OLDFILENAMES = 1116, 1117, 1118, 1027
MAX_FILES = 1_000_000
WANTED = frozenset({NAME, VERSION, RELEASE, EPOCH, LICENSE, VENDOR, ARCH, SOURCERPM, SIZE, MODULARITYLABEL})

_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
MAX_HEADER = 256 * 1024 * 1024  # rpm's own headerMaxbytes
_ENTRY = struct.Struct(">iIiI")


class HeaderError(ValueError):
    pass


def _layout(blob: bytes | memoryview) -> tuple[int, int, int]:
    """(index entry count, data start, data end) of a header blob, checked against its size."""
    if len(blob) < 8:
        raise HeaderError("header shorter than 8 bytes")
    il, dl = struct.unpack_from(">ii", blob, 0)
    if il < 1 or dl < 0 or il > 0x10000:
        raise HeaderError(f"implausible header sizes il={il} dl={dl}")
    data_start = 8 + 16 * il
    data_end = data_start + dl
    if data_end > len(blob) or data_end > MAX_HEADER:
        raise HeaderError("header data runs past the blob")
    return il, data_start, data_end


def parse_header(blob: bytes | memoryview, wanted: frozenset[int] = WANTED) -> dict[int, str | int]:
    """The wanted tags of one header: strings (first string of arrays/i18n) and int32s."""
    il, data_start, data_end = _layout(blob)
    out: dict[int, str | int] = {}
    for i in range(il):
        tag, typ, offset, count = _ENTRY.unpack_from(blob, 8 + 16 * i)
        if tag not in wanted or offset < 0 or count < 1:
            continue
        start = data_start + offset
        if start >= data_end:
            continue
        if typ == _INT32:
            if start + 4 <= data_end:
                out[tag] = struct.unpack_from(">i", blob, start)[0]
        elif typ in (_STRING, _STRING_ARRAY, _I18NSTRING):
            end = bytes(blob[start:min(data_end, start + 65536)]).find(b"\0")
            if end < 0:
                continue
            out[tag] = bytes(blob[start:start + end]).decode("utf-8", errors="replace")
    return out


def _locate(blob: bytes | memoryview, tags: frozenset[int]) -> tuple[dict[int, tuple[int, int, int]], int]:
    """tag -> (type, start, count) for the wanted tags (later entries win), and the data end."""
    il, data_start, data_end = _layout(blob)
    found: dict[int, tuple[int, int, int]] = {}
    for i in range(il):
        tag, typ, offset, count = _ENTRY.unpack_from(blob, 8 + 16 * i)
        if tag in tags and offset >= 0 and 0 < count <= MAX_FILES and data_start + offset < data_end:
            found[tag] = (typ, data_start + offset, count)
    return found, data_end


def _strings(blob: bytes | memoryview, where: tuple[int, int, int] | None, end: int) -> list[str]:
    if where is None or where[0] != _STRING_ARRAY:
        return []
    _, start, count = where
    parts = bytes(blob[start:end]).split(b"\0", count)
    if len(parts) <= count:  # the last string was not terminated inside the data
        return []
    return [p.decode("utf-8", errors="replace") for p in parts[:count]]


def parse_file_list(blob: bytes | memoryview) -> list[str]:
    """The files a package installed: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i] (or OLDFILENAMES)."""
    found, end = _locate(blob, frozenset({DIRINDEXES, BASENAMES, DIRNAMES, OLDFILENAMES}))
    basenames = _strings(blob, found.get(BASENAMES), end)
    if not basenames:
        return _strings(blob, found.get(OLDFILENAMES), end)
    dirnames = _strings(blob, found.get(DIRNAMES), end)
    where = found.get(DIRINDEXES)
    if where is None or where[0] != _INT32 or where[2] != len(basenames) or where[1] + 4 * where[2] > end:
        return []
    indexes = struct.unpack_from(f">{where[2]}i", blob, where[1])
    return [dirnames[i] + base for i, base in zip(indexes, basenames, strict=True) if 0 <= i < len(dirnames)]
