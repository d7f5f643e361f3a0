"""The service map for a time range, from the flows the service archived.

The flow sources (`vpc-flow`, `hubble`) archive their raw lines by hour; the map reads the hours
in range back (at most MAX_BYTES of lines), runs the network analyzer's batch reader over them
with the source's inventory, and builds `seawall.network.servicemap`'s document. The console
draws it with the bundled cytoscape.js; the incident's workload is highlighted.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seawall.service.archive import SUFFIX, _groups

if TYPE_CHECKING:
    from seawall.service.server import Service

MAX_BYTES = 256 << 20
FLOW_FORMATS = ("vpc-flow", "hubble")


def _hours(root: Path, since: str | None) -> list[Path]:
    lo = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
    out = []
    for path in sorted(root.glob(f"*/*{SUFFIX}")):
        try:
            hour = datetime.strptime(f"{path.parent.name} {path.name[:2]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
        except ValueError:
            continue
        # flows arrive after they happen (minutes for live logs, any time for a replay): an hour
        # that ended before `since` holds none newer; later hours may hold older flows
        if lo is not None and hour + timedelta(hours=1) < lo:
            continue
        out.append(path)
    return out


def build(service: Service, since: str | None, until: str | None) -> dict[str, Any]:
    """The map of every flow source's archived hours in [since, until] (all when not given)."""
    from seawall.network import NetworkOptions, analyze
    from seawall.network.servicemap import build as build_map

    maps: list[dict[str, Any]] = []
    warnings: list[str] = []
    for sc in service.config.sources:
        fmt = service.formats.get(sc.name)
        if fmt not in FLOW_FORMATS:
            continue
        root = service.archive_root / sc.name
        if not root.is_dir():
            continue
        with tempfile.TemporaryDirectory(prefix="seawall-map-") as tmp:
            files: list[str] = []
            size = 0
            handles: dict[str, Any] = {}
            try:
                for hour in _hours(root, since):
                    for origin, _first, lines in _groups(hour):
                        fh = handles.get(origin)
                        if fh is None:
                            name = Path(tmp) / f"{len(handles):05d}.log"
                            fh = handles[origin] = open(name, "wb")  # noqa: SIM115 (closed below)
                            files.append(str(name))
                        for line in lines:
                            size += len(line) + 1
                            if size > MAX_BYTES:
                                break
                            fh.write(line + b"\n")
                        if size > MAX_BYTES:
                            warnings.append(
                                f"{sc.name}: only the first {MAX_BYTES >> 20} MiB of flows in range"
                            )
                            break
                    if size > MAX_BYTES:
                        break
            finally:
                for fh in handles.values():
                    fh.close()
            if not files:
                continue
            inventory = [Path(p) for p in sc.get("inventory", []) or []]
            try:
                analysis = analyze(str(fmt), files, NetworkOptions(inventory=inventory))
            except Exception as exc:  # a damaged archive must not take the page down
                warnings.append(f"{sc.name}: {type(exc).__name__}: {exc}"[:300])
                continue
            doc = _in_range(build_map(analysis), since, until)
            doc["source"] = sc.name
            maps.append(doc)
    return _merge(maps, warnings)


def _in_range(doc: dict[str, Any], since: str | None, until: str | None) -> dict[str, Any]:
    """Edges whose flows overlap [since, until], and the nodes they join."""
    if not since and not until:
        return doc
    lo, hi = (since or "")[:19], (until or "9999")[:19]
    edges = [
        e
        for e in doc["edges"]
        if (e.get("last_seen") or "9999")[:19] >= lo and (e.get("first_seen") or "")[:19] <= hi
    ]
    used = {e["source"] for e in edges} | {e["target"] for e in edges}
    first = min((e["first_seen"] for e in edges if e.get("first_seen")), default=None)
    last = max((e["last_seen"] for e in edges if e.get("last_seen")), default=None)
    return {
        **doc,
        "edges": edges,
        "nodes": [n for n in doc["nodes"] if n["id"] in used],
        "time_range": {"first": first, "last": last},
    }


def _merge(maps: list[dict[str, Any]], warnings: list[str]) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    for m in maps:
        for n in m["nodes"]:
            nodes.setdefault(n["id"], n)
        edges.extend(m["edges"])
        warnings.extend(m.get("warnings", []))
    firsts = [m["time_range"]["first"] for m in maps if m["time_range"].get("first")]
    lasts = [m["time_range"]["last"] for m in maps if m["time_range"].get("last")]
    return {
        "schema": "seawall.netmap/v1",
        "sources": [m["source"] for m in maps],
        "time_range": {"first": min(firsts) if firsts else None, "last": max(lasts) if lasts else None},
        "nodes": sorted(nodes.values(), key=lambda n: n["id"]),
        "edges": edges,
        "warnings": warnings[:50],
    }


def _parts(workload: str) -> tuple[str | None, str | None, str]:
    """(kind, namespace, name) of a store workload key: k8s/NS/KIND/NAME, KIND/NS/NAME, ecs/C/NAME."""
    parts = workload.split("/")
    if parts[0] == "k8s" and len(parts) == 4:
        return parts[2], parts[1], parts[3]
    if parts[0] == "k8s" and len(parts) == 2:
        return None, parts[1], ""
    if len(parts) == 3:
        return parts[0], None if parts[1] == "-" else parts[1], parts[2]
    return None, None, parts[-1]


def highlighted(doc: dict[str, Any], workload: str) -> list[str]:
    """Node ids of the map that are `workload` (its pods and replicas included)."""
    kind, ns, name = _parts(workload)
    out = []
    for n in doc["nodes"]:
        if ns is not None and n.get("namespace") != ns:
            continue
        nname = str(n.get("name") or "")
        replica = kind in (None, "Deployment", "Pod") and nname.startswith(name + "-")
        if not name or nname == name or replica or n["id"] == workload:  # no name: a whole namespace
            out.append(n["id"])
    return out


def payload(doc: dict[str, Any], marked: list[str]) -> dict[str, Any]:
    return {"map": doc, "highlight": marked}
