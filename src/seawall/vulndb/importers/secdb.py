"""The apk security databases: Alpine secdb, Wolfi and Chainguard (the same JSON shape).

    https://secdb.alpinelinux.org/v3.N/{main,community}.json  {"distroversion": "v3.11", ...}
    https://packages.wolfi.dev/os/security.json               {"urlprefix": "https://packages.wolfi.dev"}
    https://packages.cgr.dev/chainguard/security.json         {"urlprefix": "https://packages.cgr.dev"}

`{"packages": [{"pkg": {"name": "openssl", "secfixes": {"1.1.1d-r1": ["CVE-2019-1547", ...]}}}]}`
-- per (origin) package, the apk version that fixed each CVE. A fixed version of "0" means the
package was never affected (Wolfi also files false positives there). Matched on the apk origin
package: ecosystem `Alpine:v3.11` (the image's branch), `Wolfi` or `Chainguard` (rolling).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seawall.core.errors import InputError
from seawall.vulndb.base import ECOSYSTEM, Advisory, Affected, FeedLimits, Range
from seawall.vulndb.importers.common import load_json_document, read_head

_ID = re.compile(r"^(?:CVE-\d{4}-\d{4,}|[A-Z][A-Z0-9]*-[0-9A-Za-z][0-9A-Za-z:.-]*)$")
_BRANCH = re.compile(r"^v?(\d+\.\d+|edge)$")
_ROLLING = (("packages.wolfi.dev", "Wolfi"), ("wolfi", "Wolfi"), ("cgr.dev", "Chainguard"),
            ("chainguard", "Chainguard"))


def branch_of(doc: dict[str, object], path: Path) -> str:
    branch = doc.get("distroversion")
    if not isinstance(branch, str) or not _BRANCH.match(branch.strip()):
        raise InputError(f"{path}: Alpine secdb without a valid 'distroversion'")
    branch = branch.strip()
    return branch if branch.startswith("v") or branch == "edge" else f"v{branch}"


def ecosystem_of(doc: dict[str, Any], path: Path) -> str:
    """`Alpine:v3.11` from distroversion; `Wolfi` / `Chainguard` from the repository URL."""
    if "distroversion" in doc:
        return f"Alpine:{branch_of(doc, path)}"
    where = f"{doc.get('urlprefix') or ''} {doc.get('reponame') or ''}".lower()
    for marker, ecosystem in _ROLLING:
        if marker in where:
            return ecosystem
    raise InputError(f"{path}: apk security database of an unknown distribution "
                     "(no 'distroversion', 'urlprefix' is not Wolfi's or Chainguard's)")


class SecdbImporter:
    kind = "secdb"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and b'"packages"' in head and (
            b'"distroversion"' in head or b'"apkurl"' in head or b'"urlprefix"' in head)

    def feed_name(self, path: Path) -> str:
        head = read_head(path, 512).decode("utf-8", "replace")
        branch = re.search(r'"distroversion"\s*:\s*"([^"]{1,20})"', head)
        repo = re.search(r'"reponame"\s*:\s*"([A-Za-z0-9_-]{1,40})"', head)
        if branch is None:
            prefix = re.search(r'"urlprefix"\s*:\s*"([^"]{1,200})"', head)
            where = f"{prefix.group(1) if prefix else ''} {repo.group(1) if repo else ''}".lower()
            eco = next((e for m, e in _ROLLING if m in where), "apk")
            return f"{eco.lower()}-secdb"
        return f"alpine-secdb:{branch.group(1)}/{repo.group(1) if repo else path.stem}"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        doc = load_json_document(path, limits)
        if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list | None):
            raise InputError(f"{path}: not an apk security database (no 'packages' list)")
        ecosystem = ecosystem_of(doc, path)
        by_id: dict[str, Advisory] = {}
        for entry in doc.get("packages") or []:
            pkg = entry.get("pkg") if isinstance(entry, dict) else None
            if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
                raise InputError(f"{path}: a 'packages' entry without pkg.name")
            secfixes = pkg.get("secfixes") or {}
            if not isinstance(secfixes, dict):
                raise InputError(f"{path}: {pkg['name']}: 'secfixes' is not an object")
            name = pkg["name"].strip().lower()
            for fixed, ids in secfixes.items():
                if not isinstance(ids, list) or fixed.strip() in ("0", ""):
                    continue
                for item in ids:
                    if not isinstance(item, str):
                        continue
                    for vid in item.split():
                        if not _ID.match(vid):
                            continue
                        adv = by_id.setdefault(vid, Advisory(id=vid, affected=[]))
                        adv.affected.append(Affected(ecosystem, name, [
                            Range(ECOSYSTEM, [("introduced", "0"), ("fixed", fixed.strip())])]))
        yield from by_id.values()
