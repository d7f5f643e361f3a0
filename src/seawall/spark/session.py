"""A SparkSession for seawall: local mode for the CLI and tests, or the one a notebook or
`spark-submit` already has. Executors run the same Python as the driver unless told otherwise."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from seawall.core.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_available() -> str | None:
    """None when pyspark and a Java runtime are there, else why not (one line)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'seawall[spark]')"
    java = os.environ.get("JAVA_HOME")
    if not (java and os.path.exists(os.path.join(java, "bin", "java"))):
        from shutil import which

        if which("java") is None:
            return "no Java runtime (install openjdk-17-jre-headless or set JAVA_HOME)"
    return None


def local_session(master: str = "local[2]", app: str = "seawall", conf: dict[str, str] | None = None,
                  ) -> SparkSession:
    """A local-mode session bound to 127.0.0.1, without the web UI, executors on this Python."""
    problem = spark_available()
    if problem:
        raise InputError(f"--engine spark: {problem}")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(master).appName(app)
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.sql.shuffle.partitions", os.environ.get("SEAWALL_SPARK_PARTITIONS", "8"))
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.python.worker.reuse", "true"))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
