"""One pass over a flow source: attribute, orient, and fold every batch into small partial
aggregates (edges, scan targets, connection times, hourly egress, metadata access, DNS names).
Memory is bounded by the number of distinct edges/targets, not by the input size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from seawall.core.errors import InputError
from seawall.network.attribution import CODE, INTERNET, Attributor, Codes, orient
from seawall.network.base import DNS_SCHEMA, FLOW_SCHEMA, FlowBatch, conform
from seawall.network.inventory import Inventory
from seawall.network.options import NetworkOptions

EDGE_KEYS = ["c_key", "s_key", "s_port", "protocol"]
SCAN_KEYS = ["c_key", "s_key", "s_addr", "s_port"]
PAIR_KEYS = ["c_key", "s_addr", "s_port"]
_COMPACT_EVERY = 8


@dataclass
class Partial:
    """A list of partial frames re-aggregated every few batches."""

    reduce: Callable[[pl.DataFrame], pl.DataFrame]
    parts: list[pl.DataFrame] = field(default_factory=list)

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self.parts.append(frame)
        if len(self.parts) >= _COMPACT_EVERY:
            self.parts = [self.reduce(pl.concat(self.parts, how="vertical_relaxed"))]

    def result(self, empty: pl.DataFrame) -> pl.DataFrame:
        if not self.parts:
            return empty
        return self.reduce(pl.concat(self.parts, how="vertical_relaxed"))

    def compacted(self) -> pl.DataFrame | None:
        """The parts reduced to one (kept so), or None when there is nothing yet."""
        if not self.parts:
            return None
        if len(self.parts) > 1:
            self.parts = [self.reduce(pl.concat(self.parts, how="vertical_relaxed"))]
        return self.parts[0]


def reduce_edges(df: pl.DataFrame) -> pl.DataFrame:
    """Edges of the same (client, server, port, protocol) as one: counts summed, times spanned."""
    return df.group_by(EDGE_KEYS).agg(
        pl.col("bytes").sum(),
        pl.col("packets").sum(),
        pl.col("flows").sum(),
        pl.col("rejects").sum(),
        pl.col("cross_replica").sum(),
        pl.col("first").min(),
        pl.col("last").max(),
        # deterministic whatever the batching: min/max, never first()
        pl.col("s_addr").min(),
        pl.col("c_int").max(),
        pl.col("s_int").max(),
    )


def _scan_reduce(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by(SCAN_KEYS).agg(
        pl.col("flows").sum(), pl.col("rejects").sum(), pl.col("first").min(), pl.col("last").max()
    )


def _egress_reduce(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by(["src_key", "hour"]).agg(pl.col("bytes").sum(), pl.col("flows").sum())


def _imds_reduce(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by(["c_key"]).agg(
        pl.col("flows").sum(), pl.col("first").min(), pl.col("last").max(), pl.col("bytes").sum()
    )


def _dns_reduce(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by(["src_key", "qname"]).agg(
        pl.col("count").sum(), pl.col("first").min(), pl.col("last").max()
    )


@dataclass
class Collected:
    edges: pl.DataFrame
    scans: pl.DataFrame
    events: pl.DataFrame  # c_key, s_addr, s_port, c_addr, c_port, t: connection starts (bounded per pair)
    egress: pl.DataFrame  # src_key, hour, bytes, flows: bytes to external addresses per hour
    imds: pl.DataFrame
    dns: pl.DataFrame  # src_key, qname, count, first, last
    names: dict[str, set[str]]
    first: int | None
    last: int | None


class Collector:
    def __init__(self, inventory: Inventory, options: NetworkOptions) -> None:
        self.options = options
        self.codes = Codes()
        self.attributor = Attributor(inventory, self.codes, options.max_addresses)
        self.edges = Partial(reduce_edges)
        self.scans = Partial(_scan_reduce)
        self.egress = Partial(_egress_reduce)
        self.imds = Partial(_imds_reduce)
        self.dns = Partial(_dns_reduce)
        self.events = Partial(self._events_reduce)
        self.names: dict[str, set[str]] = {}
        self.first: int | None = None
        self.last: int | None = None

    def _events_reduce(self, df: pl.DataFrame) -> pl.DataFrame:
        conn = df.group_by([*PAIR_KEYS, "c_addr", "c_port"]).agg(pl.col("t").min())
        return conn.sort(["t", "c_addr", "c_port"]).group_by(PAIR_KEYS, maintain_order=True).head(
            self.options.beacon_max_events
        )

    def add(self, batch: FlowBatch) -> None:
        if batch.flows.height:
            self._add_flows(conform(batch.flows, FLOW_SCHEMA))
        if batch.dns is not None and batch.dns.height:
            self._add_dns(conform(batch.dns, DNS_SCHEMA))

    def _add_flows(self, flows: pl.DataFrame) -> None:
        # attribute + orient once, keep only the integer-coded columns the aggregations need
        lf = (
            orient(self.attributor.attribute(flows))
            .select(
                "c_key",
                "s_key",
                "c_inst",
                "s_inst",
                "c_int",
                "s_int",
                "src_key",
                "src_int",
                "dst_int",
                "s_port",
                "c_port",
                "protocol",
                "bytes",
                "packets",
                "start",
                "end",
                pl.col("c_aid").alias("c_addr"),
                pl.col("s_aid").alias("s_addr"),
                (pl.col("action") == "REJECT").alias("rej"),
                pl.col("tcp_flags"),
            )
            .collect()
            .lazy()
        )
        reject = pl.col("rej").cast(pl.Int64)
        opts = self.options
        syn = pl.col("tcp_flags").is_null() | ((pl.col("tcp_flags") & 2) > 0)
        beacon_scope = pl.lit(True) if opts.beacon_internal else ~pl.col("s_int")
        imds = sorted(self.attributor.imds_codes)
        internet = self.codes.code(INTERNET)
        frames = pl.collect_all(
            [
                # inbound internet clients fold into one node: edges stay bounded on public services
                lf.with_columns(
                    pl.when(pl.col("c_int"))
                    .then(pl.col("c_key"))
                    .otherwise(pl.lit(internet, CODE))
                    .alias("c_key")
                )
                .group_by(EDGE_KEYS)
                .agg(
                    pl.col("bytes").sum(),
                    pl.col("packets").sum(),
                    pl.len().cast(pl.Int64).alias("flows"),
                    reject.sum().alias("rejects"),
                    ((pl.col("c_key") == pl.col("s_key")) & (pl.col("c_inst") != pl.col("s_inst")))
                    .cast(pl.Int64)
                    .sum()
                    .alias("cross_replica"),
                    pl.col("start").min().alias("first"),
                    pl.col("end").max().alias("last"),
                    pl.col("s_addr").min(),
                    pl.col("c_int").max(),
                    pl.col("s_int").max(),
                ),
                lf.filter(pl.col("c_int") & pl.col("s_int") & (pl.col("c_key") != pl.col("s_key")))
                .group_by(SCAN_KEYS)
                .agg(
                    pl.len().cast(pl.Int64).alias("flows"),
                    reject.sum().alias("rejects"),
                    pl.col("start").min().alias("first"),
                    pl.col("end").max().alias("last"),
                ),
                lf.filter(
                    pl.col("c_int")
                    & beacon_scope
                    & ~pl.col("rej")
                    & pl.col("protocol").is_in([6, 17])
                    & (syn | (pl.col("protocol") == 17))
                )
                .group_by([*PAIR_KEYS, "c_addr", "c_port"])
                .agg(pl.col("start").min().alias("t")),
                lf.filter(pl.col("src_int") & ~pl.col("dst_int"))
                .group_by(["src_key", (pl.col("start") // 3600 * 3600).alias("hour")])
                .agg(pl.col("bytes").sum(), pl.len().cast(pl.Int64).alias("flows")),
                lf.filter(pl.col("s_key").is_in(imds))
                .group_by("c_key")
                .agg(
                    pl.len().cast(pl.Int64).alias("flows"),
                    pl.col("start").min().alias("first"),
                    pl.col("end").max().alias("last"),
                    pl.col("bytes").sum(),
                ),
                lf.select(pl.col("start").min().alias("lo"), pl.col("end").max().alias("hi")),
            ]
        )
        edges, scans, events, egress, imds_hits, span = frames
        self.edges.add(edges)
        self.scans.add(scans)
        self.events.add(events)
        self.egress.add(egress)
        self.imds.add(imds_hits)
        lo, hi = span["lo"][0], span["hi"][0]
        if lo is not None:
            self.first = lo if self.first is None else min(self.first, lo)
        if hi is not None:
            self.last = hi if self.last is None else max(self.last, hi)
        if flows["dst_name"].null_count() < flows.height:
            named = flows.filter(pl.col("dst_name").is_not_null()).select("dst_addr", "dst_name").unique()
            for addr, name in named.iter_rows():
                self.names.setdefault(addr, set()).add(name)

    def _add_dns(self, dns: pl.DataFrame) -> None:
        lf = self.attributor.attribute(dns, ("src",))
        self.dns.add(
            lf.group_by(["src_key", "qname"])
            .agg(
                pl.len().cast(pl.Int64).alias("count"),
                pl.col("time").min().alias("first"),
                pl.col("time").max().alias("last"),
            )
            .collect()
        )

    def _partials(self) -> dict[str, Partial]:
        return {"edges": self.edges, "scans": self.scans, "events": self.events, "egress": self.egress,
                "imds": self.imds, "dns": self.dns}

    def state(self) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
        """What a snapshot holds (seawall.network.snapshot): the partial aggregates, compacted, the
        codes they are written in, the names seen, and the time span."""
        tables = {name: frame for name, part in self._partials().items()
                  if (frame := part.compacted()) is not None}
        tables["codes"] = pl.DataFrame({"value": self.codes.values}, schema={"value": pl.String})
        pairs = [(a, n) for a, names in sorted(self.names.items()) for n in sorted(names)]
        tables["names"] = pl.DataFrame(pairs, schema={"addr": pl.String, "name": pl.String}, orient="row")
        manifest = {"first": self.first, "last": self.last, "imds": sorted(self.attributor.imds_codes)}
        return manifest, tables

    def restore(self, manifest: dict[str, Any], tables: dict[str, pl.DataFrame]) -> None:
        try:
            values = tables["codes"]["value"].to_list()
            self.codes.values = [str(v) for v in values]
            self.codes.index = {v: i for i, v in enumerate(self.codes.values)}
            for name, part in self._partials().items():
                part.parts = [tables[name]] if name in tables and tables[name].height else []
            self.names = {}
            for addr, name in tables["names"].iter_rows():
                self.names.setdefault(str(addr), set()).add(str(name))
            self.first = None if manifest.get("first") is None else int(manifest["first"])
            self.last = None if manifest.get("last") is None else int(manifest["last"])
            self.attributor.imds_codes = {int(c) for c in manifest.get("imds", [])}
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise InputError(f"damaged network snapshot: {exc}") from exc

    def finish(self, source_names: dict[str, set[str]]) -> Collected:
        for addr, names in source_names.items():
            self.names.setdefault(addr, set()).update(names)
        s, i64, b, c = pl.String, pl.Int64, pl.Boolean, CODE
        dec = self.codes.decode
        return Collected(
            edges=dec(
                self.edges.result(
                    pl.DataFrame(
                        schema={
                            "c_key": c,
                            "s_key": c,
                            "s_port": pl.Int32,
                            "protocol": pl.Int16,
                            "bytes": i64,
                            "packets": i64,
                            "flows": i64,
                            "rejects": i64,
                            "cross_replica": i64,
                            "first": i64,
                            "last": i64,
                            "s_addr": c,
                            "c_int": b,
                            "s_int": b,
                        }
                    )
                ),
                ["c_key", "s_key", "s_addr"],
            ),
            scans=dec(
                self.scans.result(
                    pl.DataFrame(
                        schema={
                            "c_key": c,
                            "s_key": c,
                            "s_addr": c,
                            "s_port": pl.Int32,
                            "flows": i64,
                            "rejects": i64,
                            "first": i64,
                            "last": i64,
                        }
                    )
                ),
                ["c_key", "s_key", "s_addr"],
            ),
            events=dec(
                self.events.result(
                    pl.DataFrame(
                        schema={
                            "c_key": c,
                            "s_addr": c,
                            "s_port": pl.Int32,
                            "c_addr": c,
                            "c_port": pl.Int32,
                            "t": i64,
                        }
                    )
                ),
                ["c_key", "s_addr", "c_addr"],
            ),
            egress=dec(
                self.egress.result(
                    pl.DataFrame(schema={"src_key": c, "hour": i64, "bytes": i64, "flows": i64})
                ),
                ["src_key"],
            ),
            imds=dec(
                self.imds.result(
                    pl.DataFrame(schema={"c_key": c, "flows": i64, "first": i64, "last": i64, "bytes": i64})
                ),
                ["c_key"],
            ),
            dns=dec(
                self.dns.result(
                    pl.DataFrame(schema={"src_key": c, "qname": s, "count": i64, "first": i64, "last": i64})
                ),
                ["src_key"],
            ),
            names=self.names,
            first=self.first,
            last=self.last,
        )
