"""yum `updateinfo.xml` (optionally gzip'd): Amazon Linux (ALAS) and Bottlerocket (BRSA).

`<updates><update type="security"><id>ALAS2-2023-2001</id><title>...</title>
<severity>important</severity><references><reference type="cve" id="CVE-..."/></references>
<pkglist><collection><package name= epoch= version= release= arch=/></collection></pkglist>
</update></updates>`. Matched on the binary rpm name and the release, taken from the advisory
id: ALAS2023-* -> `Amazon Linux:2023`, ALAS2022-* -> 2022, ALAS2* -> 2, ALAS-* -> 1;
BRSA-* (https://advisories.bottlerocket.aws/updateinfo.xml.gz) -> `Bottlerocket` (one rolling
stream: its package versions carry the build). Parsed as a stream; documents with a DOCTYPE or
entities are refused.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from seawall.core.errors import InputError, LimitExceeded
from seawall.vulndb.base import ECOSYSTEM, Advisory, Affected, FeedLimits, Range
from seawall.vulndb.importers.common import open_text_stream, read_head

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def release_of(advisory_id: str) -> str | None:
    aid = advisory_id.upper()
    for prefix, release in (("ALAS2023", "2023"), ("ALAS2022", "2022"), ("ALAS2", "2"), ("ALAS-", "1")):
        if aid.startswith(prefix):
            return release
    return None


def ecosystem_of(advisory_id: str) -> str | None:
    if advisory_id.upper().startswith("BRSA-"):
        return "Bottlerocket"
    release = release_of(advisory_id)
    return f"Amazon Linux:{release}" if release else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(elem: ET.Element, child: str) -> str | None:
    for sub in elem:
        if _local(sub.tag) == child:
            return (sub.text or "").strip() or None
    return None


def parse_update(elem: ET.Element, what: str) -> Advisory | None:
    aid = _text(elem, "id")
    if not aid:
        raise InputError(f"{what}: an <update> without <id>")
    if elem.get("type", "security") != "security":
        return None  # bugfix / enhancement updates are not advisories
    ecosystem = ecosystem_of(aid)
    if ecosystem is None:
        return None
    aliases: list[str] = []
    refs: list[str] = []
    packages: dict[str, str] = {}
    for sub in elem.iter():
        tag = _local(sub.tag)
        if tag == "reference":
            rid = sub.get("id") or ""
            if _CVE.match(rid) and rid not in aliases and rid != aid:
                aliases.append(rid)
            href = sub.get("href")
            if href and len(refs) < 8:
                refs.append(href)
        elif tag == "package":
            name, version, rel = sub.get("name"), sub.get("version"), sub.get("release")
            if not name or not version or not rel:
                continue
            epoch = sub.get("epoch") or "0"
            evr = f"{epoch}:{version}-{rel}" if epoch != "0" else f"{version}-{rel}"
            packages.setdefault(name, evr)
    if not packages:
        return None
    affected = [Affected(ecosystem, name, [Range(ECOSYSTEM, [("introduced", "0"), ("fixed", evr)])])
                for name, evr in packages.items()]
    severity = _text(elem, "severity")
    issued = next((s.get("date") for s in elem if _local(s.tag) == "issued"), None)
    updated = next((s.get("date") for s in elem if _local(s.tag) == "updated"), None)
    return Advisory(id=aid, affected=affected, aliases=aliases,
                    summary=_text(elem, "title") or _text(elem, "description"),
                    severity=severity.lower() if severity else None,
                    published=issued, modified=updated or issued,
                    references=[_page(aid), *refs][:8])


def _page(aid: str) -> str:
    if aid.upper().startswith("BRSA-"):
        return "https://advisories.bottlerocket.aws/"
    return f"https://alas.aws.amazon.com/{_alas_page(aid)}"


def _alas_page(aid: str) -> str:
    release = release_of(aid)
    if release == "2":
        return f"AL2/{aid}.html"
    if release == "2023":
        return f"AL2023/{aid}.html"
    if release == "2022":
        return f"AL2022/{aid}.html"
    return f"{aid}.html"


def iter_updates(path: Path, limits: FeedLimits) -> Iterator[ET.Element]:
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("end",))
    tail = b""
    total = 0
    with open_text_stream(path, limits) as stream:
        while True:
            try:
                chunk = stream.read(1 << 20)
            except (OSError, EOFError) as exc:
                raise InputError(f"{path}: unreadable ({exc})") from None
            if not chunk:
                break
            total += len(chunk)
            if total > limits.max_total_bytes:
                raise LimitExceeded(f"{path}: over {limits.max_total_bytes} bytes")
            window = (tail + chunk).upper()
            if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                raise InputError(f"{path}: XML with a DOCTYPE or entities is refused")
            tail = chunk[-16:]
            try:
                parser.feed(chunk)
                for event in parser.read_events():
                    elem = cast(Any, event)[1]
                    if isinstance(elem, ET.Element) and _local(elem.tag) == "update":
                        yield elem
                        elem.clear()
            except ET.ParseError as exc:
                raise InputError(f"{path}: not valid XML ({exc})") from None
        try:
            parser.close()
            for event in parser.read_events():
                elem = cast(Any, event)[1]
                if isinstance(elem, ET.Element) and _local(elem.tag) == "update":
                    yield elem
        except ET.ParseError as exc:
            raise InputError(f"{path}: not valid XML ({exc})") from None


class UpdateinfoImporter:
    """`alas` and `bottlerocket` feeds: one format, told apart by the first advisory id."""

    def __init__(self, kind: str, prefix: bytes) -> None:
        self.kind = kind
        self.prefix = prefix

    def sniff(self, path: Path, head: bytes) -> bool:
        if not path.is_file() or b"<updates" not in head:
            return False
        m = re.search(rb"<id>\s*([A-Za-z]+)", head)
        return (m is None and self.kind == "alas") or (m is not None and m.group(1).upper() == self.prefix)

    def feed_name(self, path: Path) -> str:
        if self.kind == "bottlerocket":
            return "bottlerocket"
        head = read_head(path, 1 << 16).decode("utf-8", "replace")
        m = re.search(r"<id>\s*(ALAS[^<\s]*)\s*</id>", head)
        release = release_of(m.group(1)) if m else None
        return f"alas:{release}" if release else "alas"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        seen = False
        for elem in iter_updates(path, limits):
            seen = True
            adv = parse_update(elem, str(path))
            if adv is not None:
                yield adv
        if not seen:
            raise InputError(f"{path}: no <update> entries: not an updateinfo.xml")
