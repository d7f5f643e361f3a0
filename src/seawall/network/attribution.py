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

import ipaddress
from collections.abc import Iterable

import polars as pl

from seawall.network.context import Context
from seawall.network.inventory import IMDS_ADDRS, INTERNAL_NETS, Inventory, classify, make_key

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


_SEED = 7
_V4 = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"


def ipv4_ranges(nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> list[tuple[int, int]]:
    return [(int(n.network_address), int(n.broadcast_address)) for n in nets if n.version == 4]


def in_ranges(ip: pl.Expr, ranges: list[tuple[int, int]]) -> pl.Expr:
    return pl.any_horizontal([ip.is_between(lo, hi) for lo, hi in ranges] or [pl.lit(False)])


class Attributor:
    """Address -> (address code, workload key code, instance code, internal, infrastructure).

    Addresses are looked up by a 64-bit hash in a sorted table (`search_sorted`): per batch only
    the addresses never seen before are classified, all at once (IPv4 in columns, others in
    Python), and every row gets its codes by one gather."""

    def __init__(self, inventory: Inventory, codes: Codes, max_addresses: int = 2_000_000,
                 context: Context | None = None) -> None:
        self.inventory = inventory
        self.codes = codes
        self.context = context or Context()
        self.max_addresses = max_addresses
        self.imds_codes: set[int] = set()
        self.learned: dict[int, int] = {}  # key code of an address -> the identity its records carry
        self.other = codes.code(OTHER_EXTERNAL)
        self._internal_v4 = ipv4_ranges([*INTERNAL_NETS, *self.context.known_networks])
        self._infra_v4 = ipv4_ranges(self.context.infra_networks)
        self._hash = pl.Series("h", [], pl.UInt64)  # sorted
        self._table = pl.DataFrame(schema={"aid": CODE, "kid": CODE, "iid": CODE, "int": pl.Boolean,
                                           "infra": pl.Boolean})  # rows in the order of _hash
        self._size = 0

    def reset(self) -> None:
        """Forget the address table (it is rebuilt from the codes as addresses come again)."""
        self._hash = self._hash.clear()
        self._table = self._table.clear()
        self._size = 0
        self.imds_codes = set()

    def _find(self, hashes: pl.Series) -> pl.Series:
        """Row of the table for each hash, null where the address is new."""
        if not self._size:
            return pl.Series("pos", [None] * len(hashes), dtype=pl.UInt32)
        pos = self._hash.search_sorted(hashes, side="left").clip(0, self._size - 1).cast(pl.UInt32)
        hit = self._hash.gather(pos) == hashes
        return pl.select(pl.when(hit).then(pos).otherwise(None).alias("pos")).to_series()

    def _classify(self, addrs: list[str]) -> pl.DataFrame:
        """aid, kid, iid, int, infra of new addresses (in order)."""
        frame = pl.DataFrame({"a": addrs}, schema={"a": pl.String})
        octets = frame.select(pl.col("a").str.split_exact(".", 3)).unnest("a")
        ip = pl.lit(0, pl.UInt64)
        for name in octets.columns:
            ip = ip * 256 + pl.col(name).cast(pl.UInt64, strict=False)
        flags = octets.with_columns(frame["a"]).select(
            pl.col("a").str.contains(_V4).alias("v4"),
            in_ranges(ip, self._internal_v4).fill_null(False).alias("int"),
            in_ranges(ip, self._infra_v4).fill_null(False).alias("infra"),
        )
        c = self.codes.code
        by_ip = self.inventory.by_ip
        aids, kids, iids, ints, infras = [], [], [], [], []
        for addr, v4, internal, infra in zip(addrs, flags["v4"], flags["int"], flags["infra"], strict=True):
            hit = by_ip.get(addr)
            if not v4:  # IPv6 (and anything odd): the slow path, rare
                key, internal = classify(addr, self.context.known_networks)
                infra = self.context.is_infra_address(addr)
            elif addr in IMDS_ADDRS:
                key, internal = make_key("InstanceMetadata", None, addr), True
            else:
                key = make_key("IPAddress" if internal else "External", None, addr)
            if hit is not None:
                key, internal = hit[0], True
            aids.append(c(addr))
            kid = c(key)
            kids.append(kid)
            iids.append(c(hit[1]) if hit is not None else None)
            ints.append(bool(internal))
            infras.append(bool(infra))
            if key.startswith("InstanceMetadata:"):
                self.imds_codes.add(kid)
        return pl.DataFrame({"aid": aids, "kid": kids, "iid": iids, "int": ints, "infra": infras},
                            schema=self._table.schema)

    def _codes_for(self, addrs: pl.Series) -> pl.DataFrame:
        """aid, kid, iid, int, infra for every row of `addrs`."""
        addrs = addrs.fill_null("")
        hashes = addrs.hash(seed=_SEED)
        pos = self._find(hashes)
        if pos.null_count():
            new = (pl.DataFrame({"h": hashes, "a": addrs}).filter(pos.is_null())
                   .unique("h", keep="first", maintain_order=True))
            room = self.max_addresses - self._size
            if new.height > room:  # bounded memory: the internet addresses past the bound share one code
                fresh = self._classify(new["a"].to_list())
                keep = fresh["int"] | (pl.int_range(new.height, eager=True) < max(room, 0))
                new, fresh = new.filter(keep), fresh.filter(keep)
            else:
                fresh = self._classify(new["a"].to_list())
            merged = pl.concat([pl.DataFrame({"h": self._hash}).hstack(self._table),
                                new.select("h").hstack(fresh)]).sort("h")
            self._hash, self._table = merged["h"], merged.drop("h")
            self._size = merged.height
            pos = self._find(hashes)
        table = self._table[pos.fill_null(0)]
        if pos.null_count():
            over = pos.is_null()
            table = table.with_columns(
                pl.when(over).then(pl.lit(self.other, CODE)).otherwise(pl.col("aid")).alias("aid"),
                pl.when(over).then(pl.lit(self.other, CODE)).otherwise(pl.col("kid")).alias("kid"),
                pl.when(over).then(None).otherwise(pl.col("iid")).alias("iid"),
                pl.when(over).then(False).otherwise(pl.col("int")).alias("int"),
                pl.when(over).then(False).otherwise(pl.col("infra")).alias("infra"),
            )
        return table

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
                    ("aid", "key", "inst", "int", "infra"),
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
                # a record names the workload of its own ENI's address: remember it for the records
                # of that address logged by other ENIs (VPC Flow Logs v7: the peer's side is bare)
                pairs = pl.DataFrame({"a": coded[f"{side}_key"], "k": ident["__xk"]}).drop_nulls().unique()
                for addr_key, key in pairs.iter_rows():
                    self.learned.setdefault(addr_key, key)
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


# ports that are services whatever the other side's port (a client's port may be any above 1023
# behind NAT or a load balancer, so "the lower port serves" is not enough)
SERVICE_PORTS = (
    22, 25, 53, 80, 88, 110, 123, 143, 389, 443, 445, 465, 587, 636, 853, 993, 995, 1433, 1521, 2049,
    2181, 2375, 2376, 2379, 2380, 3000, 3306, 3389, 4222, 4369, 5000, 5044, 5432, 5601, 5672, 5900,
    5984, 5985, 5986, 6379, 6443, 7000, 7001, 7199, 8000, 8080, 8081, 8086, 8088, 8200, 8443, 8500,
    8888, 9000, 9042, 9090, 9091, 9092, 9093, 9100, 9200, 9300, 9411, 9443, 10250, 10255, 10256,
    11211, 15672, 27017,
)


def orient(lf: pl.LazyFrame, service_ports: Iterable[int] = SERVICE_PORTS) -> pl.LazyFrame:
    """client/server columns: replies (is_reply; else the side on a well-known or service port
    talking to one that is not; else the ephemeral range; else the lower port) flipped; `resp`
    says the record was the server's side."""
    sp, dp = pl.col("src_port"), pl.col("dst_port")
    table = pl.Series([False] * 65536, dtype=pl.Boolean).scatter(
        [p for p in set(service_ports) if 0 < p < 65536], True)
    s_svc = pl.lit(table).gather(sp.cast(pl.UInt32, strict=False).fill_null(0).clip(0, 65535))
    d_svc = pl.lit(table).gather(dp.cast(pl.UInt32, strict=False).fill_null(0).clip(0, 65535))
    by_ports = (
        pl.when((sp < 1024) & (dp >= 1024)).then(True)
        .when((dp < 1024) & (sp >= 1024)).then(False)
        .when(s_svc & ~d_svc).then(True)
        .when(d_svc & ~s_svc).then(False)
        .when((sp < 32768) & (dp >= 32768)).then(True)
        .when((dp < 32768) & (sp >= 32768)).then(False)
        .otherwise(sp < dp)
    )
    lf = lf.with_columns(pl.coalesce([pl.col("is_reply"), by_ports.fill_null(False)]).alias("resp"))
    resp = pl.col("resp")
    cols = []
    for field in ("key", "inst", "int", "aid", "port", "infra"):
        cols.append(
            pl.when(resp).then(pl.col(f"dst_{field}")).otherwise(pl.col(f"src_{field}")).alias(f"c_{field}")
        )
        cols.append(
            pl.when(resp).then(pl.col(f"src_{field}")).otherwise(pl.col(f"dst_{field}")).alias(f"s_{field}")
        )
    return lf.with_columns(*cols)
