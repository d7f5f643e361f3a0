"""Drift: what changed in a running container's root filesystem since it started, compared with
the layers of its image.

The image side is a *file manifest* made once per image digest, in the same single pass over the
layers that catalogs its packages (`snapshot_image`): every final path with its kind, mode, size,
link target, the layer that wrote it and — for regular files — its SHA-256. It is stored with the
SBOM (seawall.runtime.sbomstore), so a container's image is never read twice.

The live side is read through `/proc/PID/root` (seawall.runtime.livefs: no symlink followed, mount
points skipped, reads bounded). A live file is *added* when the image has no such path, *changed*
when its kind, mode, size or link target differ, or when it was touched after the container
started (its ctime, which a process cannot set back) and its SHA-256 differs from the image's.
Files untouched since start are not read at all.

Each added or changed path is classified (cron, accounts, new executable, changed executable,
package database, configuration, other) and becomes a finding pinned to the workload with its
path, size, hash and whether it is executable; ordinary data files become one summary finding per
container. When drift touched a package database, the live root's packages are catalogued again
and compared with the image's: packages installed at runtime.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from seawall.catalog import CatalogContext, OSReleaseVisitor, new_catalogers
from seawall.catalog.cpe import assign_cpes
from seawall.core import Finding, FindingKind, Location, OSInfo, Package, Resource, Skip
from seawall.image.base import EntryKind, FileEntry, Limits
from seawall.image.fs import FileIndex
from seawall.runtime.livefs import LiveEntry, LiveRoot
from seawall.runtime.rules import drift_rule

MANIFEST_VERSION = 1
KIND_CODE = {EntryKind.FILE: "f", EntryKind.HARDLINK: "f", EntryKind.SYMLINK: "l", EntryKind.DIR: "d"}
CTIME_SLACK = 0.0  # seconds before the start that still count as "after" (the runtime copies the
# root filesystem right before it starts the container: a slack would hash all of it)
MAX_EXAMPLES = 10
MAX_DRIFT_FINDINGS = 500  # per container; the rest are counted in the summary finding

CRON_PREFIXES = (
    "/etc/cron",
    "/var/spool/cron",
    "/etc/anacrontab",
    "/var/spool/anacron",
    "/etc/systemd/system/",
    "/lib/systemd/system/",
    "/usr/lib/systemd/system/",
)
ACCOUNT_FILES = frozenset(
    {"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/subuid", "/etc/subgid"}
)
ACCOUNT_PREFIXES = ("/etc/sudoers.d/", "/root/.ssh/", "/etc/ssh/sshd_config")
PACKAGE_DBS = (
    "/var/lib/dpkg/status",
    "/var/lib/dpkg/status.d/",
    "/lib/apk/db/installed",
    "/var/lib/rpm/",
    "/usr/lib/sysimage/rpm/",
)
PACKAGE_DIRS = ("/site-packages/", "/dist-packages/", "/node_modules/")
SCRIPT_MAGIC = (b"#!", b"\x7fELF")
CONFIG_SUFFIXES = (".conf", ".cfg", ".ini", ".yaml", ".yml", ".json", ".toml", ".properties", ".env")
# written by the container runtime itself when it starts a container (runc, crun, podman, docker)
RUNTIME_WRITTEN = {"/etc/mtab": "/proc/mounts", "/run/.containerenv": None, "/.dockerenv": None}


# -- the image side ---------------------------------------------------------------------------


class HashVisitor:
    """Hashes every final regular file during the image's single pass."""

    name = "drift-hashes"

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.hashes: dict[str, str] = {}

    def wants(self, entry: FileEntry) -> bool:
        return entry.kind in (EntryKind.FILE, EntryKind.HARDLINK) and entry.size <= self.max_size

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        digest = hashlib.sha256()
        while chunk := content.read(1 << 20):
            digest.update(chunk)
        self.hashes[entry.path] = digest.hexdigest()


def build_manifest(index: FileIndex, hashes: dict[str, str]) -> dict[str, Any]:
    """`{"v": 1, "layers": [diff_id...], "files": {path: [kind, mode, size, sha256, link, layer]}}`."""
    layers = [layer.diff_id or layer.digest for layer in index.layers]
    position = {layer.index: i for i, layer in enumerate(index.layers)}
    files: dict[str, list[Any]] = {}
    for entry in index:
        code = KIND_CODE.get(entry.kind)
        if code is None:
            continue
        link = entry.link_target if entry.kind is EntryKind.SYMLINK else None
        layer = position.get(entry.layer.index) if entry.layer is not None else None
        files[entry.path] = [
            code,
            entry.mode,
            entry.size if code == "f" else 0,
            hashes.get(entry.path),
            link,
            layer,
        ]
    return {"v": MANIFEST_VERSION, "layers": layers, "files": files}


# -- the live side ----------------------------------------------------------------------------


@dataclass(slots=True)
class DriftItem:
    path: str
    change: str  # added | changed
    kind: EntryKind
    size: int
    mode: int
    executable: bool
    sha256: str | None
    image_sha256: str | None = None
    image_layer: str | None = None
    link_target: str | None = None
    cls: str = "other"

    def describe(self) -> str:
        what = "executable" if self.executable else ("symlink" if self.kind is EntryKind.SYMLINK else "file")
        text = f"{self.change} {what} {self.path} ({self.size} bytes, mode {self.mode:04o}"
        if self.sha256:
            text += f", {self.sha256}"
        if self.link_target:
            text += f", -> {self.link_target}"
        if self.image_sha256:
            text += f"; image had sha256:{self.image_sha256[:16]}..."
        return text + ")"


@dataclass(slots=True)
class DriftResult:
    items: list[DriftItem] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    entries: int = 0
    hashed: int = 0
    hashed_bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    live_entries: list[LiveEntry] = field(default_factory=list)

    @property
    def package_db_changed(self) -> bool:
        return any(i.cls == "packages" for i in self.items)


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    text = iso.strip().replace("Z", "+00:00")
    if "." in text:  # nanoseconds (Go's RFC 3339): keep microseconds
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tz}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.timestamp()


def classify(item: DriftItem, image_executable: bool) -> str:
    path = item.path
    if path.startswith(CRON_PREFIXES):
        return "cron"
    if path in ACCOUNT_FILES or path.startswith(ACCOUNT_PREFIXES):
        return "accounts"
    if path.startswith(PACKAGE_DBS):
        return "packages"
    if item.executable:
        return "changed-executable" if item.change == "changed" and image_executable else "new-executable"
    if path.startswith("/etc/") or (item.change == "changed" and path.endswith(CONFIG_SUFFIXES)):
        return "config"
    return "other"


def compare(
    live: LiveRoot,
    manifest: dict[str, Any],
    started_at: str | None,
    limits: Limits,
    hash_all: bool = False,
    keep_entries: bool = False,
) -> DriftResult:
    """The live root against the image manifest (see the module's docstring)."""
    result = DriftResult()
    files: dict[str, list[Any]] = manifest.get("files") or {}
    layers: list[str] = manifest.get("layers") or []
    started = _epoch(started_at)
    if started is None and not hash_all:
        result.warnings.append("container start time unknown: every file of the image's size is hashed")
    seen: set[str] = set()
    for entry in live.walk(result.warnings):
        result.entries += 1
        if keep_entries:
            result.live_entries.append(entry)
        seen.add(entry.path)
        if entry.kind is EntryKind.DIR or _runtime_written(entry):
            continue
        image = files.get(entry.path)
        touched = hash_all or started is None or entry.ctime >= started - CTIME_SLACK
        item = _diff(live, entry, image, touched, limits, result)
        if item is None:
            continue
        image_exec = bool(image and image[0] == "f" and int(image[1]) & 0o111)
        if image is not None and image[5] is not None and 0 <= image[5] < len(layers):
            item.image_layer = layers[image[5]]
        item.cls = classify(item, image_exec)
        result.items.append(item)
    for path, info in files.items():
        if (
            info[0] != "d"
            and path not in seen
            and not live.is_mounted_over(path)
            and _parent_seen(path, seen)
        ):
            result.removed.append(path)
    result.items.sort(key=lambda i: i.path)
    result.removed.sort()
    return result


def _runtime_written(entry: LiveEntry) -> bool:
    if entry.path not in RUNTIME_WRITTEN:
        return False
    target = RUNTIME_WRITTEN[entry.path]
    return entry.link_target == target if target is not None else entry.size < 4096


def _parent_seen(path: str, seen: set[str]) -> bool:
    parent = path.rsplit("/", 1)[0]
    return not parent or parent in seen


def _executable(live: LiveRoot, entry: LiveEntry) -> bool:
    if entry.kind is not EntryKind.FILE:
        return False
    if entry.mode & 0o111:
        return True
    if any(d in entry.path for d in PACKAGE_DIRS):
        return False  # a module of a package (its shebang alone does not make it run)
    return live.head(entry.path, 4).startswith(SCRIPT_MAGIC)


def _hash(live: LiveRoot, entry: LiveEntry, limits: Limits, result: DriftResult) -> str | None:
    if entry.size > limits.max_file_size:
        result.skips.append(
            Skip(subject="large file hashed for drift", reason="over --max-file-size", count=1)
        )
        return None
    digest = live.sha256(entry.path, limits.max_file_size)
    if digest is not None:
        result.hashed += 1
        result.hashed_bytes += entry.size
    return digest


def _diff(
    live: LiveRoot,
    entry: LiveEntry,
    image: list[Any] | None,
    touched: bool,
    limits: Limits,
    result: DriftResult,
) -> DriftItem | None:
    def item(change: str, image_sha: str | None = None, sha: str | None = None) -> DriftItem:
        if sha is None and entry.kind is EntryKind.FILE:
            sha = _hash(live, entry, limits, result)
        return DriftItem(
            path=entry.path,
            change=change,
            kind=entry.kind,
            size=entry.size,
            mode=entry.mode,
            executable=_executable(live, entry),
            sha256=sha,
            image_sha256=image_sha,
            link_target=entry.link_target,
        )

    if image is None:
        return item("added")
    code, mode, size, sha, link = image[0], int(image[1]), int(image[2]), image[3], image[4]
    if entry.kind is EntryKind.SYMLINK:
        if code != "l" or link != entry.link_target:
            return item("changed")
        return None
    if code != "f":
        return item("changed")
    if entry.size != size or (entry.mode & 0o7777) != (mode & 0o7777):
        return item("changed", sha)
    if not touched:
        return None
    live_sha = _hash(live, entry, limits, result)
    if live_sha is None or sha is None or live_sha == f"sha256:{sha}":
        return None
    return item("changed", sha, live_sha)


# -- the live root's packages -----------------------------------------------------------------


def live_packages(
    live: LiveRoot, entries: Sequence[LiveEntry], limits: Limits
) -> tuple[list[Package], OSInfo | None, list[str], list[Skip]]:
    """Catalog the live root: the registered catalogers fed from the live files (bounded, no
    symlink followed out of the root: links are resolved inside it, as for an image)."""
    from seawall.scan.inventory import dedupe

    os_visitor = OSReleaseVisitor()
    catalogers = new_catalogers(limits)
    visitors: list[Any] = [os_visitor, *catalogers]
    index = FileIndex(max_symlink_depth=limits.max_symlink_depth)
    for e in entries:
        index.entries[e.path] = FileEntry(
            path=e.path,
            kind=e.kind,
            size=e.size,
            mode=e.mode,
            layer=None,
            link_target=e.link_target,
            uid=e.uid,
            gid=e.gid,
        )
    warnings: list[str] = []
    for fe in list(index.entries.values()):
        if fe.kind is EntryKind.DIR:
            continue
        wanting = [v for v in visitors if v.wants(fe)]
        if not wanting:
            continue
        real = fe.path
        delivered = fe
        if fe.kind is EntryKind.SYMLINK:
            resolved = index.resolve_path(fe.path)
            target = index.get(resolved) if resolved else None
            if target is None or target.kind is not EntryKind.FILE or resolved is None:
                continue
            real = resolved
            delivered = FileEntry(
                path=fe.path,
                kind=EntryKind.FILE,
                size=target.size,
                mode=target.mode,
                layer=None,
                link_target=resolved,
                uid=target.uid,
                gid=target.gid,
            )
        if delivered.size > limits.max_file_size:
            warnings.append(f"{fe.path}: larger than --max-file-size, not read")
            continue
        data = live.read(real, limits.max_file_size)
        if data is None:
            continue
        for visitor in wanting:
            visitor.visit(delivered, io.BytesIO(data))
    os_info = os_visitor.os()
    ctx = CatalogContext(os=os_info, limits=limits, files=index)
    packages: list[Package] = []
    skips: list[Skip] = []
    for cataloger in catalogers:
        packages.extend(cataloger.packages(ctx))
        warnings.extend(cataloger.warnings)
        skips.extend(cataloger.skips)
    out = dedupe(packages)
    assign_cpes(out)
    return out, os_info, warnings, skips


@dataclass(slots=True)
class PackageChange:
    package: Package
    change: str  # installed | upgraded | downgraded-or-replaced
    image_version: str | None = None


def package_changes(
    image: Sequence[Package], live: Sequence[Package]
) -> tuple[list[PackageChange], list[Package]]:
    """(packages new or of another version in the live root, packages of the image gone from it)."""
    before: dict[tuple[str, str], set[str]] = {}
    for p in image:
        before.setdefault((p.ecosystem, p.name), set()).add(p.version)
    after_keys = {(p.ecosystem, p.name, p.version) for p in live}
    changes: list[PackageChange] = []
    for p in live:
        versions = before.get((p.ecosystem, p.name))
        if versions is None:
            changes.append(PackageChange(p, "installed"))
        elif p.version not in versions:
            changes.append(PackageChange(p, "changed", ", ".join(sorted(versions))))
    removed = [
        p
        for p in image
        if (p.ecosystem, p.name, p.version) not in after_keys
        and not any(q.ecosystem == p.ecosystem and q.name == p.name for q in live)
    ]
    return changes, removed


# -- findings ---------------------------------------------------------------------------------


def _finding(
    cls: str,
    resource: Resource,
    path: str | None,
    evidence: str,
    extra: dict[str, Any],
    package: Package | None = None,
    layer: str | None = None,
) -> Finding:
    rule = drift_rule(cls)
    return Finding(
        kind=FindingKind.DETECTION,
        rule=rule.id,
        title=rule.title,
        severity=rule.severity,
        resource=resource,
        location=Location(path=path, layer=layer),
        evidence=evidence,
        remediation=rule.remediation,
        references=list(rule.references),
        attack=list(rule.attack),
        package=package,
        extra=extra,
    )


def drift_findings(
    result: DriftResult,
    resource: Resource,
    changes: Sequence[PackageChange] = (),
    removed_packages: Sequence[Package] = (),
) -> list[Finding]:
    findings: list[Finding] = []
    other: list[DriftItem] = []
    for item in result.items:
        folded = item.cls == "packages" and bool(changes)  # named package by package below
        if item.cls == "other" or folded or len(findings) >= MAX_DRIFT_FINDINGS:
            other.append(item)
            continue
        extra = {
            "change": item.change,
            "size": item.size,
            "sha256": item.sha256,
            "executable": item.executable,
            "mode": f"{item.mode:04o}",
            "image_sha256": f"sha256:{item.image_sha256}" if item.image_sha256 else None,
        }
        findings.append(
            _finding(
                item.cls,
                resource,
                item.path,
                item.describe(),
                {k: v for k, v in extra.items() if v is not None},
                layer=item.image_layer,
            )
        )
    for change in changes:
        p = change.package
        text = (
            f"{p.ecosystem} package {p.name} {p.version} installed at runtime"
            if change.change == "installed"
            else f"{p.ecosystem} package {p.name} is {p.version} at runtime; "
            f"the image has {change.image_version}"
        )
        path = p.locations[0].path if p.locations else None
        findings.append(
            _finding(
                "packages",
                resource,
                path,
                text,
                {"change": change.change, "image_version": change.image_version}
                if change.image_version
                else {"change": change.change},
                package=p,
            )
        )
    if other or result.removed or removed_packages:
        rule_extra: dict[str, Any] = {
            "files": len(other),
            "examples": [i.describe() for i in other[:MAX_EXAMPLES]],
            "removed_files": len(result.removed),
            "removed_examples": result.removed[:MAX_EXAMPLES],
        }
        if removed_packages:
            rule_extra["removed_packages"] = [f"{p.name} {p.version}" for p in removed_packages[:50]]
        if other:
            evidence = f"{len(other)} other files added or changed since start, e.g. " + "; ".join(
                i.path for i in other[:3]
            )
            findings.append(_finding("other", resource, None, evidence, rule_extra))
    return findings
