"""Alpine secdb (https://secdb.alpinelinux.org/v3.N/{main,community}.json).

`{"distroversion": "v3.11", "reponame": "main", "packages": [{"pkg": {"name": "openssl",
"secfixes": {"1.1.1d-r1": ["CVE-2019-1547", ...]}}}]}` — per (origin) package, the apk version
that fixed each CVE in that branch. A fixed version of "0" means the branch was never affected.
Matched on the apk origin package and the image's Alpine branch (ecosystem `Alpine:v3.11`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from seawall.core.errors import InputError
from seawall.vulndb.base import ECOSYSTEM, Advisory, Affected, FeedLimits, Range
from seawall.vulndb.importers.common import load_json_document, read_head

_ID = re.compile(r"^(?:CVE-\d{4}-\d{4,}|[A-Z][A-Z0-9]*-[0-9][0-9A-Za-z:.-]*)$")
_BRANCH = re.compile(r"^v?(\d+\.\d+|edge)$")


def branch_of(doc: dict[str, object], path: Path) -> str:
    branch = doc.get("distroversion")
    if not isinstance(branch, str) or not _BRANCH.match(branch.strip()):
        raise InputError(f"{path}: Alpine secdb without a valid 'distroversion'")
    branch = branch.strip()
    return branch if branch.startswith("v") or branch == "edge" else f"v{branch}"


class AlpineSecdbImporter:
    kind = "alpine-secdb"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and b'"distroversion"' in head and b'"packages"' in head

    def feed_name(self, path: Path) -> str:
        head = read_head(path, 512).decode("utf-8", "replace")
        branch = re.search(r'"distroversion"\s*:\s*"([^"]{1,20})"', head)
        repo = re.search(r'"reponame"\s*:\s*"([A-Za-z0-9_-]{1,40})"', head)
        branch_name = branch.group(1) if branch else path.parent.name
        return f"alpine-secdb:{branch_name}/{repo.group(1) if repo else path.stem}"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        doc = load_json_document(path, limits)
        if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list | None):
            raise InputError(f"{path}: not an Alpine secdb document (no 'packages' list)")
        ecosystem = f"Alpine:{branch_of(doc, path)}"
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
