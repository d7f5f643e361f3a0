"""Read the values of a Berkeley DB *hash* database (rpm's /var/lib/rpm/Packages) in Python.

Layout (libdb db_page.h): page 0 is the hash metadata page (magic 0x061561 at offset 12,
page size at 20, last page number at 32); hash pages (type 13, or 2 for unsorted ones) hold
a 26-byte header and an index of 2-byte offsets to key/value items, in pairs. rpm's package
headers are large, so their values are HOFFPAGE items (type 3: page number + total length)
pointing at a chain of overflow pages (type 7, next page at offset 16, bytes used at 22).
Works for both byte orders; every page number, offset and length is bounds-checked, loops in
overflow chains are cut, and the total read is bounded by the file itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

HASH_MAGIC = 0x061561
_VALID_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))
_HASH_UNSORTED, _HASH, _HOFFPAGE, _OVERFLOW, _HASH_META = 2, 13, 3, 7, 8
_PAGE_HEADER = 26


class BdbError(ValueError):
    pass


def is_bdb_hash(head: bytes) -> bool:
    if len(head) < 16:
        return False
    return HASH_MAGIC in (struct.unpack_from("<I", head, 12)[0], struct.unpack_from(">I", head, 12)[0])


def iter_values(data: bytes) -> Iterator[bytes]:
    """Every off-page value of the hash database (the rpm package header blobs)."""
    if len(data) < 512:
        raise BdbError("too short for a Berkeley DB file")
    if struct.unpack_from("<I", data, 12)[0] == HASH_MAGIC:
        order = "<"
    elif struct.unpack_from(">I", data, 12)[0] == HASH_MAGIC:
        order = ">"
    else:
        raise BdbError("not a Berkeley DB hash database (bad magic)")
    page_size, = struct.unpack_from(order + "I", data, 20)
    if page_size not in _VALID_PAGE_SIZES:
        raise BdbError(f"unexpected page size {page_size}")
    if data[24] != 0:
        raise BdbError("encrypted Berkeley DB")
    if data[25] != _HASH_META:
        raise BdbError(f"unexpected metadata page type {data[25]}")
    last_page, = struct.unpack_from(order + "I", data, 32)
    n_pages = min(last_page + 1, len(data) // page_size)
    u16 = struct.Struct(order + "H")
    u32 = struct.Struct(order + "I")
    for pgno in range(1, n_pages):
        base = pgno * page_size
        ptype = data[base + 25]
        if ptype not in (_HASH, _HASH_UNSORTED):
            continue
        entries = u16.unpack_from(data, base + 20)[0]
        entries = min(entries, (page_size - _PAGE_HEADER) // 2)
        for i in range(1, entries, 2):  # values are the odd items of key/value pairs
            off = u16.unpack_from(data, base + _PAGE_HEADER + 2 * i)[0]
            if off + 12 > page_size:
                continue
            item = base + off
            if data[item] != _HOFFPAGE:
                continue
            first = u32.unpack_from(data, item + 4)[0]
            total = u32.unpack_from(data, item + 8)[0]
            value = _read_overflow(data, first, total, page_size, n_pages, u16, u32)
            if value is not None:
                yield value


def _read_overflow(data: bytes, first: int, total: int, page_size: int, n_pages: int,
                   u16: struct.Struct, u32: struct.Struct) -> bytes | None:
    if total > len(data):
        return None
    parts: list[bytes] = []
    got = 0
    seen: set[int] = set()
    pgno = first
    while pgno != 0 and got < total:
        if pgno >= n_pages or pgno in seen:
            return None
        seen.add(pgno)
        base = pgno * page_size
        if data[base + 25] != _OVERFLOW:
            return None
        used = u16.unpack_from(data, base + 22)[0]
        nxt = u32.unpack_from(data, base + 16)[0]
        if not 0 < used <= page_size - _PAGE_HEADER:  # OV_LEN: the bytes used on this page
            if nxt == 0:
                return None
            used = page_size - _PAGE_HEADER
        chunk = data[base + _PAGE_HEADER: base + _PAGE_HEADER + used]
        parts.append(chunk)
        got += len(chunk)
        pgno = nxt
    value = b"".join(parts)
    return value[:total] if len(value) >= total else None
