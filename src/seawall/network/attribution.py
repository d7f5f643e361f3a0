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

import functools
import ipaddress
from collections.abc import Iterable

import polars as pl

from seawall.network.context import Context
from seawall.network.inventory import IMDS_ADDRS, INTERNAL_NETS, Inventory, classify, make_key

CODE = pl.UInt32
OTHER_EXTERNAL = "External:/other"  # internet addresses beyond the attributor's bound
INTERNET = "External:/internet"  # internet clients, folded in edges (detectors judge internal clients)
OTHER_ROW, INTERNET_ROW = 0, 1  # the rows of Attributor.attrs for these two


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


class AddressIndex:
    """64-bit hash of an address -> its row: a direct-mapped table (a slot per value of the hash's
    high bits, about eight slots per address, so that a lookup is two gathers per row) in front of
    the full table, sorted (binary search, only for the rows whose slot holds another address)."""

    def __init__(self) -> None:
        self._hash = pl.Series("h", [], pl.UInt64)  # sorted
        self._rows = pl.Series("r", [], pl.UInt32)  # in the order of _hash
        self._cache(16)

    def _cache(self, bits: int) -> None:
        self._bits = bits
        self._slot_hash = pl.zeros(1 << bits, pl.UInt64, eager=True)  # 0: empty
        self._slot_row = pl.zeros(1 << bits, pl.UInt32, eager=True)

    def _slot(self, hashes: pl.Series) -> pl.Series:
        return (hashes // (1 << (64 - self._bits))).cast(pl.UInt32)

    def find(self, hashes: pl.Series) -> pl.Series:
        """The row of each hash, null where it is not in the table."""
        slot = self._slot(hashes)
        cached = pl.lit(self._slot_hash).gather(slot) == hashes
        out = pl.select(pl.when(cached).then(pl.lit(self._slot_row).gather(slot)).alias("ai")).to_series()
        if out.null_count() and len(self._hash):
            miss = out.is_null()
            wanted = hashes.filter(miss)
            pos = self._hash.search_sorted(wanted).clip(0, len(self._hash) - 1).cast(pl.UInt32)
            found = pl.select(pl.when(pl.lit(self._hash).gather(pos) == wanted)
                              .then(pl.lit(self._rows).gather(pos))).to_series()
            out = out.scatter(miss.arg_true(), found)
        return out

    def add(self, hashes: pl.Series, rows: pl.Series) -> None:
        """Distinct hashes that are not in the table yet, and their rows."""
        table = pl.DataFrame({"h": pl.concat([self._hash, hashes]), "r": pl.concat([self._rows, rows])})
        table = table.sort("h").rechunk()
        self._hash, self._rows = table["h"], table["r"]
        bits = min(22, max(16, (8 * len(table)).bit_length()))
        if bits != self._bits:  # grown: the slots again, the earliest addresses first
            self._cache(bits)
            hashes, rows = table.sort("r")["h"], table.sort("r")["r"]
        slot = self._slot(hashes)
        free = (pl.DataFrame({"s": slot, "h": hashes, "r": rows})
                .filter(self._slot_hash.gather(slot) == 0).unique("s", keep="first", maintain_order=True))
        self._slot_hash.scatter(free["s"], free["h"])
        self._slot_row.scatter(free["s"], free["r"])


_ATTRS: dict[str, pl.DataType] = {"aid": CODE(), "kid": CODE(), "iid": CODE(), "int": pl.Boolean(),
                                  "infra": pl.Boolean(), "imds": pl.Boolean()}


class Attributor:
    """Address -> (address code, workload key code, instance code, internal, infrastructure).

    Addresses get a dense index by their 64-bit hash (`AddressIndex`): per batch only
    the addresses never seen before are classified, all at once (IPv4 in columns, others in
    Python), and every row gets its codes by gathers from the per-index attribute columns
    (`attrs`)."""

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
        self.reset()

    def reset(self) -> None:
        """Forget the address table (it is rebuilt from the codes as addresses come again)."""
        # rows of `attrs` by address index; row 0: the addresses past the bound (OTHER_EXTERNAL),
        # row 1 (INTERNET_ROW): internet clients folded into one node
        self._index = AddressIndex()  # hash of an address -> its row of attrs
        internet = self.codes.code(INTERNET)
        self.attrs = pl.DataFrame({"aid": [self.other, internet], "kid": [self.other, internet],
                                   "iid": [None, None], "int": [False, False], "infra": [False, False],
                                   "imds": [False, False]}, schema=_ATTRS)
        self.imds_codes = set()

    def index(self, addrs: pl.Series) -> pl.Series:
        """The address index (row of `attrs`) of every row of `addrs` (0: past the bound)."""
        addrs = addrs.fill_null("")
        hashes = addrs.hash(seed=_SEED)
        ai = self._index.find(hashes)
        if ai.null_count():
            missing = ai.is_null()
            new = (pl.DataFrame({"h": hashes, "a": addrs}).filter(missing)
                   .unique("h", keep="first", maintain_order=True))
            fresh = self._classify(new["a"].to_list())
            room = self.max_addresses - (self.attrs.height - 2)
            if new.height > room:  # bounded memory: the internet addresses past the bound share one code
                keep = fresh["int"] | (pl.int_range(new.height, eager=True) < max(room, 0))
                new, fresh = new.filter(keep), fresh.filter(keep)
            self._index.add(new["h"], pl.int_range(self.attrs.height, self.attrs.height + new.height,
                                                   dtype=pl.UInt32, eager=True))
            self.attrs = pl.concat([self.attrs, fresh], rechunk=True)
            ai = ai.scatter(missing.arg_true(), self._index.find(hashes.filter(missing)).fill_null(OTHER_ROW))
        return ai

    def _codes_for(self, addrs: pl.Series) -> pl.DataFrame:
        """aid, kid, iid, int, infra for every row of `addrs`."""
        rows = self.index(addrs)  # first: it may add rows to attrs
        return self.attrs.select("aid", "kid", "iid", "int", "infra")[rows]

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
        imds = [k in self.imds_codes for k in kids]
        return pl.DataFrame({"aid": aids, "kid": kids, "iid": iids, "int": ints, "infra": infras,
                             "imds": imds}, schema=_ATTRS)

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


@functools.cache
def _port_table(ports: tuple[int, ...]) -> pl.Series:
    return pl.zeros(65536, pl.Boolean, eager=True).scatter([p for p in ports if 0 < p < 65536], True)


@functools.cache
def _port_rank(ports: tuple[int, ...]) -> pl.Series:
    """Per port, how much it looks like a server's: the tests of `is_response` in order as bits
    (well-known, service, below the ephemeral range), then the lower port."""
    service = set(ports)
    return pl.Series([(((p < 1024) << 2) | ((p in service and p > 0) << 1) | (p < 32768)) << 16 | (65535 - p)
                      for p in range(65536)], dtype=pl.UInt32)


def ports_in_range(frame: pl.DataFrame) -> bool:
    """Every src_port and dst_port is a port number (0-65535, none missing)."""
    sp, dp = frame["src_port"], frame["dst_port"]
    if not frame.height:
        return True
    if sp.null_count() or dp.null_count():
        return False
    ports = pl.col("src_port", "dst_port")
    lo, hi = frame.select(pl.min_horizontal(ports.min()).alias("lo"),
                          pl.max_horizontal(ports.max()).alias("hi")).row(0)
    return bool(lo >= 0 and hi <= 65535)


def is_response(service_ports: Iterable[int] = SERVICE_PORTS, in_range: bool = False) -> pl.Expr:
    """The record is the server's side: is_reply; else the side on a well-known or service port
    talking to one that is not; else the ephemeral range; else the lower port. `in_range`: the
    ports are all port numbers (`ports_in_range`), so that one lookup per side decides."""
    sp, dp = pl.col("src_port"), pl.col("dst_port")
    ports = tuple(sorted(set(service_ports)))
    if in_range:
        rank = _port_rank(ports)
        return pl.coalesce([pl.col("is_reply"), pl.lit(rank).gather(sp) > pl.lit(rank).gather(dp)])
    table = _port_table(ports)
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
    return pl.coalesce([pl.col("is_reply"), by_ports.fill_null(False)])


def orient(lf: pl.LazyFrame, service_ports: Iterable[int] = SERVICE_PORTS,
           in_range: bool = False) -> pl.LazyFrame:
    """client/server columns: replies (`is_response`) flipped; `resp` says the record was the
    server's side."""
    lf = lf.with_columns(is_response(service_ports, in_range).alias("resp"))
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
