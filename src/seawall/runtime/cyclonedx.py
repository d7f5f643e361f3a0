"""Stored SBOMs from other tools: a CycloneDX JSON document (Trivy, Syft, cdxgen ...) read into a
`StoredImage` by the image digest it names (`metadata.component`: an `sha256:` version, a
`pkg:oci/...@sha256:...` purl, or a RepoDigest property), packages from each component's purl."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from seawall.bounded import read_file_capped
from seawall.core import Location, OSInfo, Package
from seawall.core.errors import InputError
from seawall.runtime.sbomstore import StoredImage
from seawall.vulndb.names import ecosystem_of_purl

MAX_CYCLONEDX = 256 << 20
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _image_digest(component: dict[str, Any]) -> str | None:
    version = str(component.get("version") or "")
    if _DIGEST.fullmatch(version):
        return version
    purl = unquote(str(component.get("purl") or component.get("bom-ref") or ""))
    found = _DIGEST.search(purl) if purl.startswith("pkg:oci/") else None
    if found:
        return found.group(0)
    for prop in component.get("properties") or []:
        if isinstance(prop, dict) and "digest" in str(prop.get("name", "")).lower():
            found = _DIGEST.search(str(prop.get("value", "")))
            if found:
                return found.group(0)
    return None


def read_cyclonedx(path: Path, digest: str | None = None) -> StoredImage:
    raw = read_file_capped(path, MAX_CYCLONEDX, f"CycloneDX file {path}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputError(f"{path}: not JSON (a CycloneDX JSON document is expected)") from None
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise InputError(f"{path}: not a CycloneDX document (bomFormat is not CycloneDX)")
    meta = (doc.get("metadata") or {}).get("component") or {}
    key = digest or (_image_digest(meta) if isinstance(meta, dict) else None)
    if key is None:
        raise InputError(f"{path}: names no image digest (metadata.component); pass --digest sha256:...")
    packages: list[Package] = []
    os_info: OSInfo | None = None
    distro: str | None = None
    for comp in doc.get("components") or []:
        if not isinstance(comp, dict):
            continue
        if comp.get("type") == "operating-system" and comp.get("name"):
            os_info = OSInfo(id=str(comp["name"]).lower(), version=str(comp.get("version") or "") or None)
            continue
        purl = str(comp.get("purl") or "")
        ecosystem = ecosystem_of_purl(purl)
        if ecosystem is None or not comp.get("name") or not comp.get("version"):
            continue
        name = str(comp["name"])
        if ecosystem == "Maven" and comp.get("group"):
            name = f"{comp['group']}:{name}"
        if ecosystem in ("Debian", "Alpine") and "distro=" in purl:
            distro = purl.split("distro=", 1)[1].split("&", 1)[0]
        source_name = None
        for prop in comp.get("properties") or []:
            if isinstance(prop, dict) and str(prop.get("name", "")).endswith(("SrcName", "source_name")):
                source_name = str(prop.get("value"))
        packages.append(
            Package(
                name=name,
                version=str(comp["version"]),
                ecosystem=ecosystem,
                purl=purl,
                locations=[Location(path=f"cyclonedx:{path.name}")],
                source_name=source_name,
                cataloger="cyclonedx",
            )
        )
    if os_info is None and distro:
        ident, _, version = distro.partition("-")
        os_info = OSInfo(id=ident, version=version or None)
    return StoredImage(
        digest=key, name=str(meta.get("name") or path.name), packages=packages, os=os_info, origin="cyclonedx"
    )
