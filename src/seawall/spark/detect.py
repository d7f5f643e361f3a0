"""Detection on Apache Spark: the same compiled rules and the same stateful engine as one process.

    result = detect_files(spark, ["s3a://trail/AWSLogs/"], DetectOptions(source="cloudtrail", paths=[]))

1. Inputs are read with Spark's own `binaryFile` source (local paths, `s3a://`, EMRFS): one row
   per file, so a file is the unit of parallelism (CloudTrail delivers thousands of small files).
2. The stateless part runs in the executors through `mapInArrow`: each file is cut into the same
   batches as the single process (seawall.telemetry.lines), and `SourceProgram.evaluate`
   decodes them and tests every rule's predicate — the code one process runs. Only the events a
   rule matched leave the executor, per rule, as Arrow IPC with the columns the stateful part
   reads and their raw lines (for samples).
3. The stateful part (dedupe windows, thresholds, sequences, first-seen) runs as a Spark grouped
   operation keyed by rule (`groupBy(rule).applyInArrow`): each group replays its matches in input
   order (file order, then line) through `Engine.apply`, the single process's stateful code, so
   findings, ids, counts, first/last seen and samples are the same.

First-seen state lives only for the run here (the single process keeps it across runs in its
state file): compare with `seawall detect --no-state`.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl
import pyarrow as pa

from seawall.core import Finding
from seawall.core.errors import InputError
from seawall.detect import DetectOptions
from seawall.telemetry.base import ReadStats
from seawall.telemetry.lines import LineLimits

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from seawall.detect.program import SourceProgram

PAYLOAD_SCHEMA = ("kind string, rule string, ord long, first_lineno long, origin string, "
                  "document boolean, hits string, payload binary")
FINDING_SCHEMA = "rule string, finding string"
STATS, PROBLEM, PAYLOAD = "stats", "problem", "payload"
MAX_FILE_BYTES = 1 << 30  # Spark's binaryFile rows hold a whole file (its own limit is 2 GiB)


@dataclass(frozen=True)
class SparkConfig:
    """What an executor needs to rebuild the program: picklable, small."""

    source: str
    window: float
    builtin: bool
    sigma: bool
    enable: tuple[str, ...]
    rules: tuple[tuple[str, str], ...]  # (file name, text) of --rules files, shipped as data
    limits: LineLimits
    prefilter: bool
    origins: dict[str, str] = field(default_factory=dict)  # Spark's file URI -> origin as given
    order: dict[str, int] = field(default_factory=dict)  # Spark's file URI -> input order

    @property
    def key(self) -> str:
        body = orjson.dumps([self.source, self.builtin, self.sigma, list(self.enable), list(self.rules),
                             self.prefilter])
        return hashlib.sha256(body).hexdigest()


_PROGRAMS: dict[str, SourceProgram] = {}


def _program(config: SparkConfig) -> SourceProgram:
    """The compiled program of this configuration, once per executor process."""
    program = _PROGRAMS.get(config.key)
    if program is None:
        from seawall.detect.analyzer import load_ruleset
        from seawall.detect.program import SourceProgram

        with tempfile.TemporaryDirectory(prefix="seawall-rules-") as tmp:
            paths = []
            for i, (name, text) in enumerate(config.rules):
                path = Path(tmp) / f"{i}-{Path(name).name}"
                path.write_text(text, encoding="utf-8")
                paths.append(path)
            options = DetectOptions(source=config.source, paths=[], rule_paths=paths, builtin=config.builtin,
                                    sigma=config.sigma, enable=list(config.enable))
            ruleset = load_ruleset(options)
        program = SourceProgram(config.source, ruleset.rules, [], prefilter=config.prefilter)
        _PROGRAMS[config.key] = program
    return program


def _open_content(content: bytes) -> io.BufferedIOBase:
    raw = io.BytesIO(content)
    if content[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def _rows_of_file(config: SparkConfig, uri: str, content: bytes) -> Iterator[dict[str, Any]]:
    """The per-rule match payloads of one file, then its reading statistics."""
    from seawall.detect.model import RuleProblem
    from seawall.telemetry.lines import DAMAGE, stream_chunks

    program = _program(config)
    origin = config.origins.get(uri, uri)
    order = config.order.get(uri, 0)
    stats = ReadStats()
    problems: list[RuleProblem] = []
    stats.inputs += 1
    stream = _open_content(content)
    try:
        chunks = stream_chunks(stream, origin, config.limits, stats, program.reader.split_document,  # type: ignore[arg-type]
                               False, None, None)
        for chunk in chunks:
            evaluation = program.evaluate(chunk.lines, chunk.first_lineno, origin, stats, problems,
                                          compact=True)
            if evaluation is None:
                continue
            yield from _payloads(program, evaluation, chunk.lines, chunk.first_lineno, origin, order,
                                 chunk.document)
    except DAMAGE as exc:
        stats.warnings.append(
            f"{origin}: input damaged ({type(exc).__name__}: {exc}); kept what was read before the damage")
    yield {"kind": STATS, "rule": "", "ord": order, "first_lineno": 0, "origin": origin, "document": False,
           "hits": orjson.dumps(dataclasses.asdict(stats)).decode(), "payload": b""}
    for p in problems:
        yield {"kind": PROBLEM, "rule": p.rule_id or "", "ord": order, "first_lineno": 0, "origin": origin,
               "document": False, "hits": orjson.dumps(dataclasses.asdict(p)).decode(), "payload": b""}


def _payloads(program: SourceProgram, evaluation: Any, lines: list[bytes], first_lineno: int, origin: str,
              order: int, document: bool) -> Iterator[dict[str, Any]]:
    df, masks, hits = evaluation.df, evaluation.masks, evaluation.hits
    for cr in program.rules:
        names = [cr.mask(i) for i in range(len(cr.exprs))]
        rule_hits = {n: hits.get(n, 0) for n in names}
        if not any(rule_hits.values()):
            continue
        mine = masks.select(names)
        keep = mine.select(pl.any_horizontal(pl.all())).to_series()
        part = pl.concat([df, mine], how="horizontal").filter(keep)
        rows = part.get_column("_row").to_list()
        part = part.with_columns(pl.Series("_line", [lines[r] for r in rows], dtype=pl.Binary))
        sink = io.BytesIO()
        part.write_ipc(sink, compression="lz4")
        yield {"kind": PAYLOAD, "rule": cr.rule.id, "ord": order, "first_lineno": first_lineno,
               "origin": origin, "document": document, "hits": orjson.dumps(rule_hits).decode(),
               "payload": sink.getvalue()}


def _columns(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    columns = {"kind": pa.string(), "rule": pa.string(), "ord": pa.int64(), "first_lineno": pa.int64(),
               "origin": pa.string(), "document": pa.bool_(), "hits": pa.string(), "payload": pa.binary()}
    arrays = [pa.array([r[name] for r in rows], type=kind) for name, kind in columns.items()]
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))


def stateless(config: SparkConfig) -> Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]:
    """The executor side of step 2: binaryFile batches (path, content) -> match payloads."""
    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            paths = batch.column("path").to_pylist()
            contents = batch.column("content").to_pylist()
            for uri, content in zip(paths, contents, strict=True):
                rows: list[dict[str, Any]] = []
                for row in _rows_of_file(config, uri, content or b""):
                    rows.append(row)
                    if len(rows) >= 256:
                        yield _columns(rows)
                        rows = []
                if rows:
                    yield _columns(rows)
    return run


def table_stateless(config: SparkConfig, mapper: str
                    ) -> Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]:
    """Step 2 for Parquet/OCSF tables: rows (json, path, row) mapped back to source events, then
    the same evaluation; a location is the file and the record number (row + 1)."""
    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from seawall.detect.model import RuleProblem
        from seawall.spark.ocsf import MAPPERS

        program = _program(config)
        to_source = MAPPERS[mapper]
        for batch in batches:
            texts = batch.column("json").to_pylist()
            paths = batch.column("path").to_pylist()
            numbers = batch.column("row").to_pylist()
            stats = ReadStats()
            problems: list[RuleProblem] = []
            rows: list[dict[str, Any]] = []
            start = 0
            while start < len(texts):
                end = start + 1
                while (end < len(texts) and paths[end] == paths[start]
                       and numbers[end] == numbers[end - 1] + 1):
                    end += 1
                origin = config.origins.get(paths[start], paths[start])
                order = config.order.get(paths[start], 0)
                lines = [orjson.dumps(to_source(orjson.loads(t))) for t in texts[start:end]]
                first = numbers[start] + 1
                evaluation = program.evaluate(lines, first, origin, stats, problems, compact=True)
                if evaluation is not None:
                    rows.extend(_payloads(program, evaluation, lines, first, origin, order, True))
                start = end
            rows.append({"kind": STATS, "rule": "", "ord": 0, "first_lineno": 0, "origin": "",
                         "document": False, "hits": orjson.dumps(dataclasses.asdict(stats)).decode(),
                         "payload": b""})
            yield _columns(rows)
    return run


def stateful(config: SparkConfig) -> Callable[[pa.Table], pa.Table]:
    """The executor side of step 3: one rule's payloads, replayed in input order."""
    def run(table: pa.Table) -> pa.Table:
        from seawall.detect.engine import Engine
        from seawall.detect.program import Evaluation
        from seawall.detect.state import StateStore

        program = _program(config)
        engine = Engine(program, window=config.window, state=StateStore(None))
        order = sorted(range(table.num_rows), key=lambda i: (table.column("ord")[i].as_py(),
                                                             table.column("first_lineno")[i].as_py()))
        for i in order:
            part = pl.read_ipc(io.BytesIO(table.column("payload")[i].as_py()))
            hits: dict[str, int] = orjson.loads(table.column("hits")[i].as_py())
            rows, raw = part.get_column("_row").to_list(), part.get_column("_line").to_list()
            lines = dict(zip(rows, raw, strict=True))
            masks = part.select(list(hits))
            df = part.drop([*hits, "_line"])
            ctx = (lines, table.column("first_lineno")[i].as_py(), table.column("origin")[i].as_py(),
                   table.column("document")[i].as_py())
            engine.apply(Evaluation(df, masks, hits), ctx)
        if engine.state is not None:
            engine.state.close()
        findings = engine.findings()
        return pa.table({"rule": pa.array([f.rule for f in findings], type=pa.string()),
                         "finding": pa.array([orjson.dumps(f.to_dict()).decode() for f in findings],
                                             type=pa.string())})
    return run


@dataclass(slots=True)
class SparkDetection:
    findings: list[Finding]
    stats: ReadStats
    warnings: list[str]
    rules: int


def _rule_texts(paths: list[Path]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for path in paths:
        files = [path]
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
        for f in files:
            try:
                out.append((f.name, f.read_text("utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"--rules {f}: cannot read: {exc}") from None
    return tuple(out)


def _local_inputs(paths: list[str]) -> list[str]:
    from seawall.telemetry.lines import expand_inputs

    local = [p for p in paths if "://" not in p]
    remote = [p for p in paths if "://" in p]
    return expand_inputs(local) + remote if local else remote


def _uri(path: str) -> str:
    return path if "://" in path else Path(path).resolve().as_uri()


def _key(uri: str) -> str:
    """One spelling of a file URI: Spark writes `file:/x`, pathlib `file:///x`."""
    if uri.startswith("file:"):
        return "/" + uri[len("file:"):].lstrip("/")
    return uri


def config_for(options: DetectOptions) -> SparkConfig:
    return SparkConfig(source=options.source, window=options.window, builtin=options.builtin,
                       sigma=options.sigma, enable=tuple(options.enable),
                       rules=_rule_texts(options.rule_paths), limits=options.limits,
                       prefilter=options.prefilter)


def files_frame(spark: SparkSession, inputs: list[str]) -> tuple[DataFrame, list[tuple[str, int]]]:
    """(path, length, content) rows of the inputs: Spark's binaryFile source for files,
    directories and the URIs its file systems serve (s3a://, EMRFS); `s3://` objects through boto3
    in the executors when the session has no file system for that scheme (seawall.spark.s3)."""
    s3 = [p for p in inputs if p.startswith("s3://")]
    other = [p for p in inputs if not p.startswith("s3://")]
    frames = []
    listing: list[tuple[str, int]] = []
    if s3:
        if _has_filesystem(spark, "s3"):
            other += s3
        else:
            from seawall.spark.s3 import list_objects, objects_frame

            objects = list_objects(s3)
            if objects:
                frames.append(objects_frame(spark, objects))
                listing += objects
    if other:
        reader = (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                  .option("pathGlobFilter", "[!.]*"))
        loaded = reader.load([_uri(p) if "://" not in p else p for p in other])
        files = loaded.select("path", "length", "content")
        frames.append(files)
        listing += [(r.path, r.length) for r in files.select("path", "length").collect()]
    if not frames:
        raise InputError("no input files under " + ", ".join(inputs)[:300])
    frame = frames[0]
    for more in frames[1:]:
        frame = frame.unionByName(more)
    return frame, listing


def _has_filesystem(spark: SparkSession, scheme: str) -> bool:
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(scheme, conf)  # type: ignore[union-attr]
        return True
    except Exception:  # py4j: ClassNotFound / UnsupportedFileSystemException
        return False


def detect_files(spark: SparkSession, paths: list[str], options: DetectOptions) -> SparkDetection:
    """Run detection over `paths` (files, directories, s3a:// prefixes) on `spark`."""
    from seawall.telemetry import get_reader

    get_reader(options.source)  # validates the source name
    inputs = _local_inputs(paths)
    if not inputs:
        raise InputError("no input files")
    files, listing = files_frame(spark, inputs)
    if not listing:
        raise InputError("no input files under " + ", ".join(paths)[:300])
    big = [path for path, length in listing if length > MAX_FILE_BYTES]
    if big:
        raise InputError(f"{big[0]}: larger than {MAX_FILE_BYTES >> 20} MiB; split it for Spark "
                         "(or run seawall detect in one process)")
    given = {_key(_uri(p)): (i, p) for i, p in enumerate(inputs) if "://" not in p}
    s3_objects = sorted(path for path, _ in listing if path.startswith("s3://"))
    given.update({p: (len(given) + i, p) for i, p in enumerate(s3_objects)})
    uris = sorted((path for path, _ in listing),
                  key=lambda u: (given[_key(u)][0], u) if _key(u) in given else (len(given), u))
    config = dataclasses.replace(
        config_for(options),
        origins={u: given[_key(u)][1] if _key(u) in given else u for u in uris},
        order={u: i for i, u in enumerate(uris)},
    )
    return _collect(spark, files.mapInArrow(stateless(config), PAYLOAD_SCHEMA), config)


def _collect(spark: SparkSession, payload_frame: DataFrame, config: SparkConfig) -> SparkDetection:
    """Step 3 and the driver's part: group the payloads by rule, replay them, gather findings."""
    payloads = payload_frame.persist()
    try:
        side = payloads.filter(payloads.kind != PAYLOAD).select("kind", "ord", "hits").collect()
        grouped = payloads.filter(payloads.kind == PAYLOAD).groupBy("rule").applyInArrow(stateful(config),
                                                                                         FINDING_SCHEMA)
        rows = grouped.collect()
    finally:
        payloads.unpersist()
    stats = ReadStats()
    read_warnings: list[str] = []
    warnings: list[str] = []
    for row in sorted(side, key=lambda r: r.ord):
        data = orjson.loads(row.hits)
        if row.kind == STATS:
            part = ReadStats(**{k: v for k, v in data.items() if k in ReadStats.__dataclass_fields__})
            part.bad = [(o, n, w) for o, n, w in part.bad]
            read_warnings.extend(part.warnings)
            stats.merge(part)
        else:
            warnings.append(f"rule {data.get('rule_id') or data.get('path')} not used: {data.get('reason')}")
    stats.warnings = read_warnings
    findings = [Finding.from_dict(orjson.loads(r.finding)) for r in rows]
    findings.sort(key=lambda f: (f.first_seen or "", f.location.path or "", f.location.line or 0, f.rule))
    program = _program(config)
    return SparkDetection(findings=findings, stats=stats, warnings=stats.summary() + sorted(set(warnings)),
                          rules=len(program.rules))


def findings_frame(spark: SparkSession, findings: list[Finding]) -> DataFrame:
    """Findings as a Spark DataFrame in the report contract's shape (one row per finding, the
    nested members as structs; `extra` as JSON text)."""
    rows = []
    for f in findings:
        d = f.to_dict()
        d["extra"] = orjson.dumps(d.get("extra", {})).decode()
        rows.append(d)
    schema = ("id string, kind string, rule string, title string, severity string, "
              "resource struct<type:string,name:string,namespace:string,workload:string,arn:string>, "
              "location struct<path:string,line:long,end_line:long,layer:string>, evidence string, "
              "remediation string, references array<string>, attack array<string>, count long, "
              "first_seen string, last_seen string, extra string")
    names = [part.split(" ", 1)[0] for part in _split_schema(schema)]
    return spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], schema)


def _split_schema(schema: str) -> list[str]:
    """Top-level `name type` parts of a DDL string (commas inside <> do not split)."""
    parts, depth, current = [], 0, ""
    for ch in schema:
        depth += (ch == "<") - (ch == ">")
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def detect_table(spark: SparkSession, paths: list[str], options: DetectOptions) -> SparkDetection:
    """Detection over Parquet tables of OCSF records (Amazon Security Lake's CloudTrail and EKS
    audit sources) or of the raw events (one JSON object per row in a `json`/`value` column)."""
    from pyspark.sql import functions as F

    from seawall.spark.ocsf import MAPPERS

    if options.source not in MAPPERS:
        raise InputError(f"Parquet/OCSF tables: source {options.source!r} is not supported; "
                         f"use {', '.join(MAPPERS)}")
    frame = spark.read.parquet(*[_uri(p) if "://" not in p else p for p in paths])
    data = [c for c in frame.columns if not c.startswith("_")]
    rows = frame.select(F.to_json(F.struct(*data)).alias("json"), F.col("_metadata.file_path").alias("path"),
                        F.col("_metadata.row_index").alias("row"))
    files = sorted({r.path for r in rows.select("path").distinct().collect()})
    if not files:
        raise InputError("no rows in " + ", ".join(paths)[:300])
    config = dataclasses.replace(config_for(options), origins={f: f for f in files},
                                 order={f: i for i, f in enumerate(files)})
    return _collect(spark, rows.mapInArrow(table_stateless(config, options.source), PAYLOAD_SCHEMA), config)
