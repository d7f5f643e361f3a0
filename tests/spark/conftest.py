"""One local Spark session for the Spark tests (local[2], bound to 127.0.0.1, no UI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from seawall.spark.session import spark_available


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    problem = spark_available()
    if problem:
        pytest.skip(f"Spark tests need pyspark and Java: {problem}")
    from seawall.spark import local_session

    # executors inherit the environment at start: dummy credentials for the moto S3 test
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        os.environ.setdefault(key, value)
    session = local_session("local[2]", app="seawall-tests")
    yield session
    session.stop()
