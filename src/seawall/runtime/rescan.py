"""Re-match every stored SBOM against the advisory DB, without pulling a single layer.

    result = rescan(store, db)        # after `seawall db update`
    result.summary() -> ["CVE-2021-33203 now affects 14 images, 6 of them running in: ns/Deployment/web, ..."]

Each image's matched advisory ids are kept with the DB fingerprint they were matched against;
a rescan compares the new set with the stored one, so what a DB update *added* is known per image.
What is running where comes from the last `seawall scan running` (its containers are recorded).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from seawall.core import Finding, FindingKind, Resource
from seawall.runtime.matching import db_fingerprint
from seawall.runtime.sbomstore import SbomStore

BATCH = 200  # images whose new matches are written in one transaction


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
    for image in store.iter_images():
        result.images += 1
        result.packages += len(image.packages)
        name = (refs.get(image.digest) or [image.name])[0]
        resource = Resource(type="container-image", name=name)
        matched = db.match(image.packages, image.os)
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
