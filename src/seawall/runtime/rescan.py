"""Re-match every stored SBOM against the advisory DB, without pulling a single layer.

    result = rescan(store, db)        # after `seawall db update`
    result.summary() -> ["CVE-2021-33203 now affects 14 images, 6 of them running in: ns/Deployment/web, ..."]

Each image's matched advisory ids are kept with the DB fingerprint they were matched against;
a rescan compares the new set with the stored one, so what a DB update *added* is known per image.
What is running where comes from the last `seawall scan running` (its containers are recorded).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from seawall.core import Finding, FindingKind, Location, OSInfo, Package, Resource
from seawall.runtime.matching import db_fingerprint
from seawall.runtime.sbomstore import SbomStore

BATCH = 200  # images whose new matches are written in one transaction
MAX_CACHED = 200_000  # distinct packages whose matches a rescan keeps (then it starts over)


def _package_key(pkg: Package, os: OSInfo | None) -> bytes:
    """Everything a match reads of a package (and the OS it runs on), not where it lies, as a
    128-bit digest (a rescan may hold 200,000 of them)."""
    ident = orjson.dumps(
        [pkg.name, pkg.version, pkg.ecosystem, pkg.purl, pkg.source_name, pkg.source_version, pkg.arch,
         pkg.cpes, pkg.cataloger, pkg.metadata, os.to_dict() if os else None,
         list(os.id_like) if os else None],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )  # fmt: skip
    return hashlib.blake2b(ident, digest_size=16).digest()


class CachedMatcher:
    """`db.match` once per distinct package of a rescan: images of one registry share most of
    their packages (a base image, the same dependencies), so 1,000 stored SBOMs are mostly the
    same few thousand packages. A package's advisories depend only on what it is (name, version,
    ecosystem, purl, source, CPEs, OS), so its findings are reused with the image's own package
    and location put back."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.cache: dict[bytes, list[Finding]] = {}

    def match(self, packages: Sequence[Package], os: OSInfo | None) -> list[Finding]:
        keys = [_package_key(p, os) for p in packages]
        todo: dict[bytes, Package] = {}
        for key, pkg in zip(keys, packages, strict=True):
            if key not in self.cache and key not in todo:
                todo[key] = pkg
        if todo:
            if len(self.cache) + len(todo) > MAX_CACHED:
                self.cache.clear()  # bounded memory; later images are matched afresh
            found = self.db.match(list(todo.values()), os)
            owner = {id(pkg): key for key, pkg in todo.items()}
            if any(f.package is None or id(f.package) not in owner for f in found):
                return list(self.db.match(packages, os))  # findings not tied to one package: no reuse
            for key in todo:
                self.cache[key] = []
            for f in found:
                assert f.package is not None
                self.cache[owner[id(f.package)]].append(f)
        out: list[Finding] = []
        for key, pkg in zip(keys, packages, strict=True):
            for f in self.cache[key]:
                if f.package is pkg:
                    out.append(f)
                else:
                    location = pkg.locations[0] if pkg.locations else Location()
                    out.append(dataclasses.replace(f, package=pkg, location=location))
        return out


@dataclass(slots=True)
class Affected:
    id: str
    images: set[str] = field(default_factory=set)
    workloads: set[str] = field(default_factory=set)
    running_images: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)

    def line(self, new: bool) -> str:
        running = sorted(self.workloads)
        text = f"{self.id} {'now affects' if new else 'affects'} {len(self.images)} image" + (
            "s" if len(self.images) != 1 else ""
        )
        if running:
            shown = ", ".join(running[:10]) + (f" and {len(running) - 10} more" if len(running) > 10 else "")
            if len(self.running_images) == len(self.images):
                text += f", running in: {shown}"
            else:
                text += f", {len(self.running_images)} of them running in: {shown}"
        return text


@dataclass(slots=True)
class RescanResult:
    fingerprint: str
    images: int = 0
    packages: int = 0
    changed_images: int = 0
    new: dict[str, Affected] = field(default_factory=dict)  # vuln id -> images it newly affects
    fixed: dict[str, int] = field(default_factory=dict)  # vuln id -> images it no longer affects
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> list[str]:
        ordered = sorted(self.new.values(), key=lambda a: (-len(a.workloads), -len(a.images), a.id))
        return [a.line(new=True) for a in ordered]

    def to_dict(self) -> dict[str, Any]:
        return {
            "db_fingerprint": self.fingerprint,
            "images": self.images,
            "packages": self.packages,
            "changed_images": self.changed_images,
            "new": [
                {
                    "id": a.id,
                    "images": len(a.images),
                    "running": len(a.running_images),
                    "workloads": sorted(a.workloads),
                    "references": sorted(a.references)[:50],
                }
                for a in sorted(self.new.values(), key=lambda a: a.id)
            ],
            "no_longer": dict(sorted(self.fixed.items())),
        }


def rescan(store: SbomStore, db: Any, only_new: bool = True) -> RescanResult:
    """Match every stored SBOM against `db`; findings for the (image, package, advisory) pairs that
    are new since each image's last match (all of them with `only_new=False`)."""
    fingerprint = db_fingerprint(db)
    result = RescanResult(fingerprint=fingerprint)
    workloads: dict[str, set[str]] = {}
    for r in store.running():
        workloads.setdefault(r.digest, set()).add(r.workload)
    refs: dict[str, list[str]] = {}
    for reference, digest in store.references():
        refs.setdefault(digest, []).append(reference)
    pending: list[tuple[str, str, list[str]]] = []
    matcher = CachedMatcher(db)
    for image in store.iter_images():
        result.images += 1
        result.packages += len(image.packages)
        name = (refs.get(image.digest) or [image.name])[0]
        resource = Resource(type="container-image", name=name)
        matched = matcher.match(image.packages, image.os)
        ids = sorted({f.rule for f in matched if f.kind is FindingKind.VULNERABILITY})
        before = set(image.vulns) if image.vulns is not None else None
        new_ids = set(ids) - before if before is not None else set(ids)
        if before is not None and image.db_fingerprint == fingerprint:
            new_ids = set()  # matched against this very DB already
        if new_ids or (before is not None and before - set(ids)):
            result.changed_images += 1
        for vid in new_ids:
            affected = result.new.setdefault(vid, Affected(vid))
            affected.images.add(image.digest)
            affected.workloads.update(workloads.get(image.digest, ()))
            if image.digest in workloads:
                affected.running_images.add(image.digest)
            affected.references.update(refs.get(image.digest, [image.name]))
        for vid in (before or set()) - set(ids):
            result.fixed[vid] = result.fixed.get(vid, 0) + 1
        for f in matched:
            if f.kind is not FindingKind.VULNERABILITY or (only_new and f.rule not in new_ids):
                continue
            running = sorted(workloads.get(image.digest, ()))
            result.findings.append(
                dataclasses.replace(
                    f,
                    resource=resource,
                    extra={
                        **f.extra,
                        "digest": image.digest,
                        "new": f.rule in new_ids,
                        "references": sorted(refs.get(image.digest, []))[:20],
                        "running_in": running,
                    },
                )
            )
        pending.append((image.digest, fingerprint, ids))
        if len(pending) >= BATCH:
            store.set_matches_many(pending)  # one transaction (one fsync) per batch
            pending = []
    store.set_matches_many(pending)
    return result
