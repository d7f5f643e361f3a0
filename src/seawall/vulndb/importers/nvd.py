"""NVD's JSON feeds and CVE records: severity keyed by CVE id, and NVD's CPE match criteria.

Formats, told apart by content:
  - NVD 2.0 (API pages and the `nvdcve-2.0-YYYY.json.gz` feeds):
    `{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [{"cve": {"id", "metrics": {...}}}]}`
    streamed one record at a time, or one such `cve` object per file;
  - NVD 1.1 (the retired `nvdcve-1.1-YYYY.json.gz` feeds): `{"CVE_Items": [{"cve": ..., "impact": ...}]}`
    or one item per file;
  - CVE JSON 5 records (CVE List V5, `cves/YYYY/NNxxx/CVE-*.json`): the CNA's and ADP's (CISA
    Vulnrichment) `metrics`.
Each yields `Advisory(id=CVE, affected=[], cvss_vector=..., cpes=[...])`; seawall.vulndb.enrich
gives a finding the CVSS of its CVE when its own advisory carries none. Vector choice: NVD's own
(Primary) assessment before a CNA's (Secondary), then the newest CVSS version (4.0, 3.1, 3.0, 2).

`cpes` are the NVD records' configurations reduced to what CPE matching of applications needs
(seawall.vulndb.cpe): the criteria marked `vulnerable: true` that name an application
(`cpe:2.3:a:`), with their version ranges. A configuration with operator AND ("X running on Y")
keeps its vulnerable applications only when every platform node can be a Linux system (an
application, or a Linux OS): Windows- or macOS-only configurations never reach a container
scan. Negated nodes and AND nodes inside a configuration are left out (rare, and not a statement
about one product). Records with neither CVSS nor criteria are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from seawall.core.errors import InputError
from seawall.vulndb.base import Advisory, CpeMatch, FeedLimits
from seawall.vulndb.cpe import criterion, platform_can_be_linux
from seawall.vulndb.importers.common import (
    iter_json_array_at,
    load_json_document,
    open_text_stream,
    read_head,
)

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_V2_METRICS = (("cvssMetricV40", 0), ("cvssMetricV31", 1), ("cvssMetricV30", 2), ("cvssMetricV2", 3))
_V5_METRICS = (("cvssV4_0", 0), ("cvssV3_1", 1), ("cvssV3_0", 2), ("cvssV2_0", 3))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _description(items: Any) -> str | None:
    if isinstance(items, list):
        for d in items:
            if isinstance(d, dict) and d.get("lang") in ("en", "en-US") and isinstance(d.get("value"), str):
                return d["value"].strip().replace("\n", " ")[:300] or None
    return None


def _v2_vector(metrics: Any) -> str | None:
    found: list[tuple[int, int, str]] = []
    if isinstance(metrics, dict):
        for key, order in _V2_METRICS:
            for m in metrics.get(key) or []:
                data = m.get("cvssData") if isinstance(m, dict) else None
                vector = _str(data.get("vectorString")) if isinstance(data, dict) else None
                if vector:
                    found.append((0 if m.get("type") == "Primary" else 1, order, vector))
    return min(found)[2] if found else None


def _match_of(m: dict[str, Any], key: str) -> CpeMatch | None:
    text = m.get(key)
    if m.get("vulnerable") is not True or not isinstance(text, str):
        return None
    return criterion(text, _str(m.get("versionStartIncluding")) or _str(m.get("versionStartExcluding")),
                     _str(m.get("versionStartExcluding")) is None,
                     _str(m.get("versionEndIncluding")) or _str(m.get("versionEndExcluding")),
                     _str(m.get("versionEndIncluding")) is not None)


def _from_nodes(nodes: list[Any], operator: str, match_key: str, key: str,
                out: dict[tuple[Any, ...], CpeMatch]) -> None:
    """One configuration: its vulnerable applications, unless an AND needs a non-Linux platform."""
    found: list[CpeMatch] = []
    platforms: list[list[str]] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        matches = [m for m in node.get(match_key) or [] if isinstance(m, dict)]
        apps = [c for m in matches if (c := _match_of(m, key)) is not None]
        if node.get("negate") is True:
            if apps:
                return  # "vulnerable unless ...": not evaluated, left out
            continue  # "not running on X": no constraint a container fails
        if apps:
            if str(node.get("operator") or "OR").upper() != "AND" or len(matches) == 1:
                found.extend(apps)
        else:  # the platform of an AND ("running on"), or another part's vulnerable OS/hardware
            platforms.append([m[key] for m in matches if isinstance(m.get(key), str)])
    if operator == "AND" and not all(platform_can_be_linux(p) for p in platforms):
        return
    for c in found:
        out.setdefault((c.vendor, c.product, c.rest, c.start, c.start_incl, c.end, c.end_incl), c)


def cpes_nvd2(configurations: Any) -> list[CpeMatch]:
    """The vulnerable application criteria of NVD 2.0 `configurations`."""
    out: dict[tuple[Any, ...], CpeMatch] = {}
    for conf in configurations if isinstance(configurations, list) else []:
        if isinstance(conf, dict) and conf.get("negate") is not True:
            _from_nodes(conf.get("nodes") or [], str(conf.get("operator") or "OR").upper(), "cpeMatch",
                        "criteria", out)
    return list(out.values())


def cpes_nvd11(configurations: Any) -> list[CpeMatch]:
    """The same from NVD 1.1 `configurations.nodes` (an AND node holds its parts as `children`)."""
    out: dict[tuple[Any, ...], CpeMatch] = {}
    nodes = configurations.get("nodes") if isinstance(configurations, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict):
            continue
        children = node.get("children")
        if isinstance(children, list) and children:
            _from_nodes(children, str(node.get("operator") or "OR").upper(), "cpe_match", "cpe23Uri", out)
        else:
            _from_nodes([node], "OR", "cpe_match", "cpe23Uri", out)
    return list(out.values())


def from_nvd2(cve: Any, what: str) -> Advisory | None:
    """One NVD 2.0 `cve` object."""
    if not isinstance(cve, dict) or not isinstance(cve.get("id"), str):
        raise InputError(f"{what}: an NVD record without 'id'")
    if not _CVE.match(cve["id"]) or cve.get("vulnStatus") == "Rejected":
        return None
    vector = _v2_vector(cve.get("metrics"))
    cpes = cpes_nvd2(cve.get("configurations"))
    if vector is None and not cpes:
        return None
    return Advisory(id=cve["id"], affected=[], cvss_vector=vector, cpes=cpes,
                    summary=_description(cve.get("descriptions")),
                    published=_str(cve.get("published")), modified=_str(cve.get("lastModified")),
                    references=[f"https://nvd.nist.gov/vuln/detail/{cve['id']}"])


def from_nvd11(item: Any, what: str) -> Advisory | None:
    """One NVD 1.1 `CVE_Items` entry."""
    meta = item.get("cve", {}).get("CVE_data_meta", {}) if isinstance(item, dict) else {}
    cve_id = meta.get("ID") if isinstance(meta, dict) else None
    if not isinstance(cve_id, str):
        raise InputError(f"{what}: an NVD 1.1 item without cve.CVE_data_meta.ID")
    impact = item.get("impact") or {}
    vector = None
    for metric, key in (("baseMetricV3", "cvssV3"), ("baseMetricV2", "cvssV2")):
        data = impact.get(metric, {}).get(key) if isinstance(impact.get(metric), dict) else None
        if isinstance(data, dict) and _str(data.get("vectorString")):
            vector = data["vectorString"]
            break
    cpes = cpes_nvd11(item.get("configurations"))
    if (vector is None and not cpes) or not _CVE.match(cve_id):
        return None
    desc = item.get("cve", {}).get("description", {}).get("description_data")
    return Advisory(id=cve_id, affected=[], cvss_vector=vector, cpes=cpes, summary=_description(desc),
                    published=_str(item.get("publishedDate")), modified=_str(item.get("lastModifiedDate")),
                    references=[f"https://nvd.nist.gov/vuln/detail/{cve_id}"])


def from_cve5(doc: Any, what: str) -> Advisory | None:
    """One CVE JSON 5 record: the CNA's metrics, else an ADP's (CISA Vulnrichment)."""
    meta = doc.get("cveMetadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("cveId"), str):
        raise InputError(f"{what}: a CVE record without cveMetadata.cveId")
    if meta.get("state") == "REJECTED" or not _CVE.match(meta["cveId"]):
        return None
    containers = doc.get("containers") or {}
    cna = containers.get("cna") or {}
    found: list[tuple[int, int, str]] = []
    for rank, container in enumerate([cna, *(containers.get("adp") or [])]):
        for m in container.get("metrics") or [] if isinstance(container, dict) else []:
            for key, order in _V5_METRICS:
                data = m.get(key) if isinstance(m, dict) else None
                if isinstance(data, dict) and _str(data.get("vectorString")):
                    found.append((min(rank, 1), order, data["vectorString"]))
    if not found:
        return None
    return Advisory(id=meta["cveId"], affected=[], cvss_vector=min(found)[2],
                    summary=_str(cna.get("title")) or _description(cna.get("descriptions")),
                    published=_str(meta.get("datePublished")), modified=_str(meta.get("dateUpdated")),
                    references=[f"https://www.cve.org/CVERecord?id={meta['cveId']}"])


class NvdImporter:
    """NVD 2.0 / 1.1 feeds, API pages and single records."""

    kind = "nvd"

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head.lstrip()
        return path.is_file() and text[:1] == b"{" and (
            b'"NVD_CVE"' in head or b'"CVE_Items"' in head or b'"CVE_data_meta"' in head
            or (b'"sourceIdentifier"' in head and b'"id"' in head)
            or (b'"vulnerabilities"' in head and b'"resultsPerPage"' in head))

    def feed_name(self, path: Path) -> str:
        stem = path.name.removesuffix(".gz").removesuffix(".json")
        return f"nvd:{stem}"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        head = read_head(path)
        what = str(path)
        if b'"CVE_Items"' in head:
            yield from self._stream(path, "CVE_Items", from_nvd11, limits)
        elif b'"vulnerabilities"' in head and (b'"NVD_CVE"' in head or b'"resultsPerPage"' in head):
            yield from self._stream(path, "vulnerabilities", _nvd2_item, limits)
        else:
            doc = load_json_document(path, limits)
            if not isinstance(doc, dict):
                raise InputError(f"{what}: not an NVD record")
            cve = doc.get("cve")
            if isinstance(cve, dict) and "CVE_data_meta" in cve:
                adv = from_nvd11(doc, what)
            else:
                adv = from_nvd2(cve if isinstance(cve, dict) else doc, what)
            if adv is not None:
                yield adv

    @staticmethod
    def _stream(path: Path, key: str, convert: Callable[[Any, str], Advisory | None],
                limits: FeedLimits) -> Iterator[Advisory]:
        with open_text_stream(path, limits) as stream:
            for item in iter_json_array_at(stream, key, str(path), limits):
                adv = convert(item, str(path))
                if adv is not None:
                    yield adv


def _nvd2_item(item: Any, what: str) -> Advisory | None:
    return from_nvd2(item.get("cve") if isinstance(item, dict) else None, what)


class CveRecordImporter:
    """CVE JSON 5 records (one per file; a directory of them is one feed)."""

    kind = "cve"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and b'"CVE_RECORD"' in head and b'"dataType"' in head

    def feed_name(self, path: Path) -> str:
        return "cve-records"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        adv = from_cve5(load_json_document(path, limits), str(path))
        if adv is not None:
            yield adv
