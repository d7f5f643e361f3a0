"""Network analysis on Apache Spark: a month of an account's flow logs, the same detectors.

1. Each flow log file (Spark's binaryFile, or S3 through boto3) is read in an executor by the
   network analyzer's own file reader and collector (seawall.network.sources, engine.Collector: the
   VPC Flow Logs / Hubble readers, attribution to workloads, the partial aggregates) and handed out
   as its per-file aggregates:
   edges, scans, connection starts, egress per hour, instance-metadata use, DNS names.
2. Spark merges them: rows are bucketed by their client (or source) key and each bucket is
   reduced by `groupBy(table, bucket).applyInArrow` with the engine's own reduce functions, so a
   month of files merges exactly as one process would fold it.
3. The merged aggregates (service-map sized) come back to the driver, which runs every detector
   over them (seawall.network.run_detectors) — the same findings as `seawall detect --source
   vpc-flow` on the same files.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import polars as pl
import pyarrow as pa

from seawall.core import Report, Target
from seawall.core.errors import InputError
from seawall.network.options import NetworkOptions

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from seawall.network.engine import Collected

TABLES = ("edges", "scans", "events", "egress", "imds", "dns")
KEY_OF = {"edges": "c_key", "scans": "c_key", "events": "c_key", "egress": "src_key", "imds": "c_key",
          "dns": "src_key"}
PART_SCHEMA = "table string, bucket int, payload binary"
META = "meta"
BUCKETS = 64


@dataclass(frozen=True)
class NetConfig:
    options: NetworkOptions
    origins: dict[str, str] = field(default_factory=dict)
    buckets: int = BUCKETS


def _ipc(frame: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.write_ipc(sink, compression="lz4")
    return sink.getvalue()


def _file_parts(config: NetConfig, uri: str, content: bytes) -> Iterator[tuple[str, int, bytes]]:
    """The aggregates of one file, cut into buckets of their key column. The file is read by the
    network analyzer's own file reader (the single process's code: whole chunks to Polars' CSV
    reader, not line by line), from a private temporary copy of the executor's bytes."""
    from seawall.network.context import Context
    from seawall.network.engine import Collector
    from seawall.network.inventory import Inventory
    from seawall.network.sources import open_source

    origin = config.origins.get(uri, uri)
    options = config.options
    reader = open_source(options.source, options)
    collector = Collector(Inventory.load(list(options.inventory), options.max_json_bytes), options,
                          Context.load(list(options.context), options.max_json_bytes))
    with tempfile.TemporaryDirectory(prefix="seawall-spark-") as tmp:
        path = Path(tmp) / (Path(uri).name or "flows")
        path.write_bytes(content)
        for batch in reader.read([str(path)]):
            collector.add(batch)
        data = collector.finish(reader.names)
        warnings = [w.replace(str(path), origin) for w in reader.warnings]
    for name in TABLES:
        frame: pl.DataFrame = getattr(data, name)
        if frame.height == 0:
            continue
        key = KEY_OF[name]
        bucketed = frame.with_columns((pl.col(key).cast(pl.String).hash() % config.buckets).cast(pl.Int32)
                                      .alias("_bucket"))
        for (bucket,), part in bucketed.partition_by("_bucket", as_dict=True).items():
            yield name, int(bucket), _ipc(part.drop("_bucket"))
    meta = {"first": data.first, "last": data.last, "origin": origin,
            "names": [[a, sorted(n)] for a, n in data.names.items()],
            "stats": reader.stats.to_dict(), "warnings": warnings}
    yield META, -1, orjson.dumps(meta)


def stateless(config: NetConfig) -> Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]:
    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for uri, content in zip(batch.column("path").to_pylist(), batch.column("content").to_pylist(),
                                    strict=True):
                parts = list(_file_parts(config, uri, content or b""))
                arrays = [pa.array([p[0] for p in parts], pa.string()),
                          pa.array([p[1] for p in parts], pa.int32()),
                          pa.array([p[2] for p in parts], pa.binary())]
                yield pa.RecordBatch.from_arrays(arrays, names=["table", "bucket", "payload"])
    return run


def _reducers(options: NetworkOptions) -> dict[str, Callable[[pl.DataFrame], pl.DataFrame]]:
    from seawall.network import engine

    return engine.reducers(options)


def merge(config: NetConfig) -> Callable[[pa.Table], pa.Table]:
    """One bucket of one table: every file's partial rows, reduced once with the engine's own code."""
    def run(table: pa.Table) -> pa.Table:
        name = table.column("table")[0].as_py()
        frames = [pl.read_ipc(io.BytesIO(b)) for b in table.column("payload").to_pylist()]
        reduced = _reducers(config.options)[name](pl.concat(frames, how="vertical_relaxed"))
        return pa.table({"table": pa.array([name], pa.string()), "bucket": pa.array([-2], pa.int32()),
                         "payload": pa.array([_ipc(reduced)], pa.binary())})
    return run


@dataclass(slots=True)
class SparkNetwork:
    report: Report
    collected: Collected


def analyze_files(spark: SparkSession, paths: list[str], options: NetworkOptions) -> SparkNetwork:
    """Every detector over the flow logs under `paths` (files, directories, s3:// / s3a:// prefixes)."""
    from seawall.network import Analysis, run_detectors
    from seawall.network.base import SourceStats, skips_of
    from seawall.network.baseline import Baseline
    from seawall.network.engine import Collected
    from seawall.network.intel import Intel
    from seawall.network.inventory import Inventory
    from seawall.spark.detect import _key, _local_inputs, _uri, files_frame

    if options.source not in ("vpc-flow", "hubble"):
        raise InputError(f"--engine spark reads vpc-flow and hubble flows, not {options.source}")
    baseline = Baseline.load(options.baseline) if options.baseline is not None else None
    intel = Intel.load(list(options.intel), options.max_json_bytes)
    inventory = Inventory.load(list(options.inventory), options.max_json_bytes)
    inputs = _local_inputs(paths)
    files, listing = files_frame(spark, inputs)
    given = {_key(_uri(p)): p for p in inputs if "://" not in p}
    config = NetConfig(options=options, origins={u: given.get(_key(u), u) for u, _ in listing})
    parts = files.mapInArrow(stateless(config), PART_SCHEMA).persist()
    try:
        meta_rows = parts.filter(parts.table == META).select("payload").collect()
        meta = [orjson.loads(r.payload) for r in meta_rows]
        merged = (parts.filter(parts.table != META).groupBy("table", "bucket")
                  .applyInArrow(merge(config), PART_SCHEMA).collect())
    finally:
        parts.unpersist()
    by_table: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLES}
    for row in merged:
        by_table[row.table].append(pl.read_ipc(io.BytesIO(row.payload)))
    empty = _empty_frames(options)
    frames = {name: pl.concat(parts_, how="vertical_relaxed") if parts_ else empty[name]
              for name, parts_ in by_table.items()}
    names: dict[str, set[str]] = {}
    firsts = [m["first"] for m in meta if m["first"] is not None]
    lasts = [m["last"] for m in meta if m["last"] is not None]
    warnings: list[str] = []
    records = 0
    skipped: dict[str, int] = {}
    for m in sorted(meta, key=lambda m: m["origin"]):
        for addr, ns in m["names"]:
            names.setdefault(addr, set()).update(ns)
        warnings.extend(m["warnings"])
        records += m["stats"].get("records", 0)
        for reason, n in m["stats"].get("skipped", {}).items():
            skipped[reason] = skipped.get(reason, 0) + n
    collected = Collected(names=names, first=min(firsts) if firsts else None,
                          last=max(lasts) if lasts else None, **frames)
    read = SourceStats(files=len(meta), records=records, skipped=skipped)
    analysis = Analysis(source=options.source, paths=list(paths), data=collected, inventory=inventory,
                        stats={"source": options.source, "files": len(meta), "records": records,
                               "edges": collected.edges.height},
                        warnings=warnings, skips=skips_of(options.source, read))
    findings = run_detectors(analysis, options, baseline, intel)
    report = Report(target=Target(kind="flows", name=f"{options.source}: " + ", ".join(paths)[:200],
                                  metadata={**analysis.stats, "engine": "spark"}),
                    findings=findings, warnings=analysis.warnings, skips=analysis.skips)
    return SparkNetwork(report=report, collected=collected)


def _empty_frames(options: NetworkOptions) -> dict[str, pl.DataFrame]:
    from seawall.network import engine
    from seawall.network.inventory import Inventory

    data = engine.Collector(Inventory.load([], options.max_json_bytes), options).finish({})
    return {name: getattr(data, name) for name in TABLES}

