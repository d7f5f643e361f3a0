"""Attribution: every flow endpoint gets a workload key, a replica (instance) and internal/external.

Precedence: the identity the record carries (ECS fields, Hubble endpoints) > the inventory's
IP:port > the inventory's IP > the address itself (`IPAddress:/10.0.3.7` for unclaimed internal
addresses, `External:/1.2.3.4` for the internet, `InstanceMetadata:/169.254.169.254`).

Speed: per batch only the *distinct* addresses are looked up (in Python, cached across batches);
rows get small integer codes for address, workload and instance through one join per side, so
orientation and every group-by work on integers. `Codes` turns them back into strings at the end.
Then each flow is oriented client -> server (replies flipped) so edges read "who called whom".
"""

from __future__ import annotations

import polars as pl

from seawall.network.inventory import Inventory, classify

CODE = pl.UInt32
OTHER_EXTERNAL = "External:/other"  # internet addresses beyond the attributor's bound
INTERNET = "External:/internet"  # internet clients, folded in edges (detectors judge internal clients)


class Codes:
    """String <-> dense integer codes, shared by every batch of one analysis."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def code(self, value: str) -> int:
        c = self.index.get(value)
        if c is None:
            c = self.index[value] = len(self.values)
            self.values.append(value)
        return c

    def decode(self, frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
        lookup = pl.Series(self.values, dtype=pl.String)
        return frame.with_columns(
            pl.lit(lookup).gather(pl.col(c)).alias(c) if frame.height else pl.col(c).cast(pl.String)
            for c in columns
            if c in frame.columns
        )


class Attributor:
    def __init__(self, inventory: Inventory, codes: Codes, max_addresses: int = 2_000_000) -> None:
        self.inventory = inventory
        self.codes = codes
        self.max_addresses = max_addresses
        self.imds_codes: set[int] = set()
        self.other = codes.code(OTHER_EXTERNAL)
        # address hash -> (addr code, key code, inst code or None, internal)
        self._cache: dict[int, tuple[int, int, int | None, bool]] = {}

    def _lookup(self, addr: str) -> tuple[int, int, int | None, bool]:
        c = self.codes.code
        hit = self.inventory.by_ip.get(addr)
        if hit is not None:
            return c(addr), c(hit[0]), c(hit[1]), True
        key, internal = classify(addr)
        if not internal and len(self._cache) >= self.max_addresses:
            # memory stays bounded on logs with millions of internet addresses: the rest share one code
            return self.other, self.other, None, False
        kid = c(key)
        if key.startswith("InstanceMetadata:"):
            self.imds_codes.add(kid)
        return c(addr), kid, None, internal

    def _codes_for(self, addrs: pl.Series) -> pl.DataFrame:
        """aid, kid, iid, int for every row of `addrs`, without joining the wide frame: the
        distinct addresses are looked up once (hash -> cached codes) and gathered back."""
        hashes = addrs.hash(seed=7)
        firsts = pl.DataFrame({"h": hashes, "a": addrs}).filter(pl.col("h").is_first_distinct())
        cache = self._cache
        keys, aids, kids, iids, ints = [], [], [], [], []
        for h, a in firsts.iter_rows():
            v = cache.get(h)
            if v is None:
                v = (
                    self._lookup(a)
                    if a is not None
                    else (self.codes.code(""), self.codes.code(""), None, False)
                )
                if v[0] != self.other:
                    cache[h] = v
            keys.append(h)
            aids.append(v[0])
            kids.append(v[1])
            iids.append(v[2])
            ints.append(v[3])
        pos = hashes.replace_strict(
            pl.Series(keys, dtype=pl.UInt64), pl.int_range(len(keys), eager=True, dtype=pl.UInt32)
        )
        table = pl.DataFrame(
            {"aid": aids, "kid": kids, "iid": iids, "int": ints},
            schema={"aid": CODE, "kid": CODE, "iid": CODE, "int": pl.Boolean},
        )
        return table[pos]

    def _identity_codes(self, frame: pl.DataFrame, side: str) -> pl.DataFrame:
        """key/inst codes of the identity a record carries (null where it carries none), by the
        same distinct-then-gather scheme as addresses."""
        cols = [f"{side}_id_{f}" for f in ("type", "ns", "name", "inst")]
        ids = frame.select(cols)
        hashes = ids.hash_rows(seed=11)
        firsts = ids.with_columns(hashes.alias("__h")).filter(pl.col("__h").is_first_distinct())
        c = self.codes.code
        keys, kcodes, icodes = [], [], []
        for kind, ns, name, inst, h in firsts.iter_rows():
            keys.append(h)
            kcodes.append(c(f"{kind or 'Workload'}:{ns or ''}/{name}") if name else None)
            icodes.append(c(inst) if name and inst else None)
        pos = hashes.replace_strict(
            pl.Series(keys, dtype=pl.UInt64), pl.int_range(len(keys), eager=True, dtype=pl.UInt32)
        )
        table = pl.DataFrame({"__xk": kcodes, "__xi": icodes}, schema={"__xk": CODE, "__xi": CODE})
        return table[pos]

    def attribute(self, frame: pl.DataFrame, sides: tuple[str, ...] = ("src", "dst")) -> pl.LazyFrame:
        """Adds {side}_aid, {side}_key, {side}_inst (codes) and {side}_int for each side."""
        coded = frame.hstack(
            [
                col.alias(f"{side}_{name}")
                for side in sides
                for name, col in zip(
                    ("aid", "key", "inst", "int"),
                    self._codes_for(frame[f"{side}_addr"]).get_columns(),
                    strict=True,
                )
            ]
        )
        lf = coded.lazy()
        for side in sides:
            if self.inventory.by_ip_port and f"{side}_port" in frame.columns:
                ports = pl.DataFrame(
                    {
                        f"{side}_addr": [k[0] for k in self.inventory.by_ip_port],
                        f"{side}_port": [k[1] for k in self.inventory.by_ip_port],
                        "__pk": [self.codes.code(v[0]) for v in self.inventory.by_ip_port.values()],
                        "__pi": [self.codes.code(v[1]) for v in self.inventory.by_ip_port.values()],
                    },
                    schema={f"{side}_addr": pl.String, f"{side}_port": pl.Int32, "__pk": CODE, "__pi": CODE},
                )
                lf = (
                    lf.join(ports.lazy(), on=[f"{side}_addr", f"{side}_port"], how="left")
                    .with_columns(
                        pl.coalesce("__pk", f"{side}_key").alias(f"{side}_key"),
                        pl.coalesce("__pi", f"{side}_inst").alias(f"{side}_inst"),
                        (pl.col("__pk").is_not_null() | pl.col(f"{side}_int")).alias(f"{side}_int"),
                    )
                    .drop("__pk", "__pi")
                )
            if f"{side}_id_name" in frame.columns and frame[f"{side}_id_name"].null_count() < frame.height:
                ident = self._identity_codes(frame, side)
                lf = (
                    lf.with_columns(ident.get_columns())
                    .with_columns(
                        pl.coalesce("__xk", f"{side}_key").alias(f"{side}_key"),
                        pl.when(pl.col("__xk").is_not_null())
                        .then(pl.col("__xi"))
                        .otherwise(pl.col(f"{side}_inst"))
                        .alias(f"{side}_inst"),
                        (pl.col("__xk").is_not_null() | pl.col(f"{side}_int")).alias(f"{side}_int"),
                    )
                    .drop("__xk", "__xi")
                )
        return lf


def orient(lf: pl.LazyFrame) -> pl.LazyFrame:
    """client/server columns: replies (is_reply, or service port -> ephemeral port) flipped."""
    sp, dp = pl.col("src_port"), pl.col("dst_port")
    by_ports = (sp < dp) & (((dp >= 32768) & (sp < 32768)) | ((sp < 1024) & (dp >= 1024)))
    resp = pl.coalesce([pl.col("is_reply"), by_ports.fill_null(False)])
    cols = []
    for field in ("key", "inst", "int", "aid", "port"):
        cols.append(
            pl.when(resp).then(pl.col(f"dst_{field}")).otherwise(pl.col(f"src_{field}")).alias(f"c_{field}")
        )
        cols.append(
            pl.when(resp).then(pl.col(f"src_{field}")).otherwise(pl.col(f"dst_{field}")).alias(f"s_{field}")
        )
    return lf.with_columns(*cols)
