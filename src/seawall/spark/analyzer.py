"""`seawall detect --engine spark`: the detect analyzer's report, computed on Apache Spark.

Uses the active SparkSession when there is one (a notebook, `spark-submit`), else starts one
with `--spark-master` (default local[N] with N usable CPUs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seawall.core import Report, Target
from seawall.core.errors import InputError
from seawall.core.system import usable_cpus
from seawall.detect import DetectOptions
from seawall.network.options import NetworkOptions


def _session(master: str | None) -> tuple[Any, bool]:
    """The active session (a notebook, spark-submit), else a new local one to stop afterwards."""
    from seawall.spark.session import local_session, spark_available

    problem = spark_available()
    if problem:
        raise InputError(f"--engine spark: {problem}")
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is not None:
        return spark, False
    return local_session(master or f"local[{usable_cpus()}]"), True


def run_network_on_spark(paths: list[str], options: NetworkOptions) -> Report:
    from seawall.spark.network import analyze_files

    spark, own = _session(options.spark_master)
    try:
        return analyze_files(spark, paths, options).report
    finally:
        if own:
            spark.stop()


def run_on_spark(options: DetectOptions) -> Report:
    if options.follow or "-" in options.paths:
        raise InputError("--engine spark reads files, directories and s3a:// prefixes; not stdin or --follow")
    if options.state_path is not None:
        options.state_path = None  # first-seen state lives for the run on Spark (docs/spark.md)
    from seawall.spark.detect import detect_files, detect_table

    spark, own = _session(options.spark_master)
    try:
        if is_table(options.paths):
            result = detect_table(spark, options.paths, options)
        else:
            result = detect_files(spark, options.paths, options)
    finally:
        if own:
            spark.stop()
    target = Target(kind="logs", name=f"{options.source}: " + ", ".join(options.paths)[:200],
                    metadata={"source": options.source, "rules": result.rules, "events": result.stats.events,
                              "lines": result.stats.lines, "engine": "spark"})
    return Report(target=target, findings=result.findings, warnings=result.warnings)


def is_table(paths: list[str]) -> bool:
    """Parquet tables (Security Lake OCSF): `.parquet` files or globs, or local directories of them."""
    for p in paths:
        if p.rstrip("/").endswith(".parquet"):
            return True
        local = Path(p)
        if "://" not in p and local.is_dir() and next(local.rglob("*.parquet"), None) is not None:
            return True
    return False
