"""The learned baseline: the edges a service map had, and each workload's usual hourly egress."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from seawall.core.errors import InputError

SCHEMA = "seawall.netbaseline/v1"
EXTERNAL = "External:/*"


def edge_class_expr() -> pl.Expr:
    """The server side of an edge as the baseline knows it: external addresses collapse."""
    return pl.when(pl.col("s_int")).then(pl.col("s_key")).otherwise(pl.lit(EXTERNAL))


@dataclass
class Baseline:
    edges: set[tuple[str, str, int, int]] = field(default_factory=set)
    egress: dict[str, dict[str, float]] = field(default_factory=dict)

    def edges_frame(self) -> pl.DataFrame:
        rows = sorted(self.edges)
        return pl.DataFrame(
            {
                "c_key": [r[0] for r in rows],
                "s_class": [r[1] for r in rows],
                "s_port": [r[2] for r in rows],
                "protocol": [r[3] for r in rows],
            },
            schema={"c_key": pl.String, "s_class": pl.String, "s_port": pl.Int32, "protocol": pl.Int16},
        )

    @classmethod
    def learn(cls, edges: pl.DataFrame, egress: pl.DataFrame) -> Baseline:
        known = (
            edges.filter(pl.col("flows") > pl.col("rejects"))
            .select(
                "c_key",
                edge_class_expr().alias("s_class"),
                pl.col("s_port").fill_null(-1),
                pl.col("protocol").fill_null(-1),
            )
            .unique()
        )
        stats = egress.group_by("src_key").agg(
            pl.col("bytes").median().alias("median_hour"),
            pl.col("bytes").max().alias("max_hour"),
            pl.len().alias("hours"),
        )
        return cls(
            edges={(a, b, int(c), int(d)) for a, b, c, d in known.iter_rows()},
            egress={
                k: {"median_hour": float(m), "max_hour": float(x), "hours": float(h)}
                for k, m, x, h in stats.iter_rows()
            },
        )

    def save(self, path: Path) -> None:
        doc = {
            "schema": SCHEMA,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "edges": [list(e) for e in sorted(self.edges)],
            "egress": self.egress,
        }
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            doc: Any = orjson.loads(Path(path).read_bytes())
        except FileNotFoundError as exc:
            raise InputError(f"no such baseline file: {path}") from exc
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a seawall network baseline ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise InputError(f"{path}: not a seawall network baseline (schema {SCHEMA} expected)")
        try:
            edges = {(str(a), str(b), int(c), int(d)) for a, b, c, d in doc.get("edges", [])}
            egress = {
                str(k): {str(n): float(v) for n, v in dict(s).items()}
                for k, s in dict(doc.get("egress", {})).items()
            }
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: malformed baseline ({exc})") from exc
        return cls(edges=edges, egress=egress)
