"""The saved state of a network stream: a small JSON manifest and the partial aggregates as
Arrow IPC tables (no pickle: a snapshot read back is data, never code).

    blob = dump({"source": "vpc-flow", ...}, {"edges": frame, ...})
    manifest, tables = load(blob)

Layout: MAGIC, the manifest's length (8 bytes, big-endian), the manifest (JSON, with the byte
length of every table in order), then the tables one after the other.
"""

from __future__ import annotations

import io
from typing import Any

import orjson
import polars as pl

from seawall.core.errors import InputError

MAGIC = b"seawall.netstate/v1\n"


def dump(manifest: dict[str, Any], tables: dict[str, pl.DataFrame]) -> bytes:
    blobs: list[bytes] = []
    sizes: list[tuple[str, int]] = []
    for name, frame in tables.items():
        buf = io.BytesIO()
        frame.write_ipc(buf, compression="zstd")
        blobs.append(buf.getvalue())
        sizes.append((name, len(blobs[-1])))
    head = orjson.dumps({**manifest, "tables": sizes})
    return b"".join([MAGIC, len(head).to_bytes(8, "big"), head, *blobs])


def load(data: bytes) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """The manifest and tables of `dump`; anything else is an InputError (one line)."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise InputError("damaged network snapshot: not a seawall.netstate/v1 blob")
    pos = len(MAGIC)
    size = int.from_bytes(data[pos : pos + 8], "big")
    pos += 8
    try:
        manifest = orjson.loads(data[pos : pos + size])
    except orjson.JSONDecodeError as exc:
        raise InputError(f"damaged network snapshot: manifest is not JSON ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), list):
        raise InputError("damaged network snapshot: no table index in the manifest")
    pos += size
    tables: dict[str, pl.DataFrame] = {}
    for entry in manifest["tables"]:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], int)):
            raise InputError("damaged network snapshot: bad table index entry")
        name, length = str(entry[0]), entry[1]
        blob = data[pos : pos + length]
        if len(blob) != length:
            raise InputError(f"damaged network snapshot: table {name} is cut short")
        try:
            tables[name] = pl.read_ipc(io.BytesIO(blob))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(f"damaged network snapshot: table {name} ({str(exc).splitlines()[0]})") from exc
        pos += length
    return manifest, tables
