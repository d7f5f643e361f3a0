"""`seawall scan running`: every running container of the given inventory sources.

For each container: its image is read once per digest (cached SBOM + drift manifest in the SBOM
store); its live root filesystem is compared with the image (drift, when the container runs on
this machine and /proc/PID/root can be read); the packages that actually run — the image's, or
the live root's when a package database drifted — are matched against the advisory DB; and, when
keys are configured, the image's signatures are verified. Every finding is pinned to the
container's workload. What could not be looked at is a Skip with its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.core import Finding, Report, Severity, Skip, Target
from seawall.core.errors import InputError, SeawallError
from seawall.core.text import printable
from seawall.image import SourceOptions
from seawall.runtime.base import Container, InventorySource
from seawall.runtime.sbomstore import Running, SbomStore, StoredImage


@dataclass(slots=True)
class RuntimeOptions:
    sources: list[str] = field(default_factory=list)  # KIND[:ADDRESS]; empty: the sockets found here
    store: str | None = None  # SBOM store URL or file (default: service DB env, else local SQLite)
    db_path: Path | None = None
    drift: bool = True
    hash_all: bool = False  # hash every live file, not only those touched after start
    vulns: bool = True
    names: list[str] = field(default_factory=list)  # only these containers (name or id prefix)
    labels: list[str] = field(default_factory=list)  # only containers with all these labels (KEY[=VALUE])
    severities: set[Severity] | None = None
    source: SourceOptions = field(default_factory=SourceOptions)
    region: str | None = None
    endpoint_url: str | None = None
    keys: list[Path] = field(default_factory=list)  # trusted signing keys (PEM public keys)
    verify_signatures: bool = False
    inventory_only: bool = False  # list what runs; read no image and no file


def default_sources() -> list[str]:
    """The runtime sockets that exist on this machine (Docker's, then Podman's)."""
    import os

    from seawall.runtime.inventory.podman import default_socket

    found = []
    docker = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not docker.startswith("unix://") or Path(docker.removeprefix("unix://")).exists():
        found.append(f"docker:{docker}")
    podman = os.environ.get("CONTAINER_HOST") or default_socket()
    if Path(podman.removeprefix("unix://")).exists():
        found.append(f"podman:{podman}")
    return found


def _selected(container: Container, names: Sequence[str], labels: Sequence[str] = ()) -> bool:
    if names and not any(container.name == n or container.id.startswith(n) for n in names):
        return False
    for label in labels:
        key, eq, value = label.partition("=")
        if key not in container.labels or (eq and container.labels[key] != value):
            return False
    return True


def scan_running(options: RuntimeOptions) -> Report:
    from seawall.runtime.inventory import open_source
    from seawall.runtime.sbomstore import open_store

    specs = options.sources or default_sources()
    if not specs:
        raise InputError(
            "no container runtime found here (no Docker or Podman socket); name one with "
            "--source docker:unix:///PATH, podman:..., cri:..., kubernetes:pods.json, ecs:CLUSTER"
        )
    store = open_store(options.store)
    db = None
    warnings: list[str] = []
    try:
        if options.vulns and not options.inventory_only:
            from seawall.runtime.matching import open_vulndb

            db, db_warnings = open_vulndb(options.db_path)
            warnings.extend(db_warnings)
        findings: list[Finding] = []
        skips: list[Skip] = []
        described: list[dict[str, Any]] = []
        images: dict[str, StoredImage | Skip] = {}
        for spec in specs:
            source = open_source(spec, region=options.region, endpoint_url=options.endpoint_url)
            try:
                listed = source.containers()
                containers = [c for c in listed if _selected(c, options.names, options.labels)]
                chosen = {c.id for c in containers}
                others = frozenset(f"{c.runtime}:{c.id}" for c in listed if c.id not in chosen)
                running: list[Running] = []
                for container in containers:
                    if options.inventory_only:
                        described.append(container.to_dict())
                        continue
                    summary, found, container_skips, container_warnings = _scan_container(
                        container, source, store, db, options, images
                    )
                    described.append(summary)
                    findings.extend(found)
                    skips.extend(container_skips)
                    warnings.extend(container_warnings)
                    if container.digest_key:
                        running.append(
                            Running(
                                container=f"{container.runtime}:{container.id}",
                                digest=_stored_digest(images.get(container.digest_key), container.digest_key),
                                workload=container.resource().workload or container.name,
                                name=container.name,
                            )
                        )
                if not options.inventory_only:
                    store.set_running(running, scope=f"{source.name}:", keep=others)
            finally:
                source.close()
    finally:
        if db is not None:
            db.close()
        store.close()
    if options.severities:
        findings = [f for f in findings if f.severity in options.severities]
    findings = _dedupe(findings)
    findings.sort(
        key=lambda f: (
            f.resource.workload or "",
            -f.severity.rank,
            f.kind.value,
            f.rule,
            f.location.path or "",
        )
    )
    metadata: dict[str, Any] = {
        "sources": specs,
        "containers": described,
        "images": len({k for k, v in images.items() if isinstance(v, StoredImage)}),
    }
    return Report(
        target=Target(kind="runtime", name=", ".join(specs), metadata=metadata),
        findings=findings,
        warnings=warnings,
        skips=skips,
    )


def _stored_digest(image: StoredImage | Skip | None, key: str) -> str:
    return image.digest if isinstance(image, StoredImage) else key


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out = []
    for f in findings:
        if f.id not in seen:
            seen.add(f.id)
            out.append(f)
    return out


def _scan_container(
    container: Container,
    source: InventorySource,
    store: SbomStore,
    db: Any,
    options: RuntimeOptions,
    images: dict[str, StoredImage | Skip],
) -> tuple[dict[str, Any], list[Finding], list[Skip], list[str]]:
    from seawall.runtime.images import ensure_image

    resource = container.resource()
    summary = container.to_dict()
    findings: list[Finding] = []
    skips: list[Skip] = []
    warnings: list[str] = []
    image = ensure_image(container, source, store, options.source, images)
    if isinstance(image, Skip):
        skips.append(image)
        summary["image_scanned"] = False
        return summary, findings, skips, warnings
    summary["image_scanned"] = True
    summary["packages"] = len(image.packages)
    packages, os_info = image.packages, image.os
    runtime_installed: set[tuple[str, str, str]] = set()
    if options.drift:
        drifted = _drift(container, image, options, resource)
        if isinstance(drifted, Skip):
            skips.append(drifted)
        else:
            drift_found, live_pkgs, live_os, drift_summary, drift_warnings, drift_skips = drifted
            findings.extend(drift_found)
            warnings.extend(drift_warnings)
            skips.extend(drift_skips)
            summary["drift"] = drift_summary
            if live_pkgs is not None:
                before = {(p.ecosystem, p.name, p.version) for p in image.packages}
                runtime_installed = {(p.ecosystem, p.name, p.version) for p in live_pkgs} - before
                packages, os_info = live_pkgs, live_os or os_info
    if db is not None:
        from seawall.runtime.matching import match

        for f in match(db, packages, os_info, resource):
            if f.package is not None:
                key = (f.package.ecosystem, f.package.name, f.package.version)
                f = dataclasses.replace(
                    f,
                    extra={
                        **f.extra,
                        "image": container.image,
                        "image_digest": image.digest,
                        "installed_at_runtime": key in runtime_installed,
                    },
                )
            findings.append(f)
    if options.verify_signatures or options.keys:
        from seawall.runtime.signatures import verify_container

        sig_findings, sig_skips = verify_container(container, options.keys, options.source, resource)
        findings.extend(sig_findings)
        skips.extend(sig_skips)
    return summary, findings, skips, warnings


def _drift(container: Container, image: StoredImage, options: RuntimeOptions, resource: Any) -> Any:
    from seawall.runtime import drift
    from seawall.runtime.livefs import LiveRoot

    if container.pid is None:
        return Skip(
            subject=f"live root filesystem of {printable(container.name)}",
            reason=f"the {container.runtime} source gives no PID on this machine (drift needs the "
            "container's /proc/PID/root: run seawall on its host, or the ecs-task sidecar)",
            category="unsupported",
        )
    if image.files is None:
        return Skip(
            subject=f"live root filesystem of {printable(container.name)}",
            reason="the stored SBOM of its image has no file manifest (imported from CycloneDX)",
            category="unsupported",
        )
    try:
        live = LiveRoot(pid=container.pid, max_entries=options.source.limits.max_entries)
    except SeawallError as exc:
        return Skip(
            subject=f"live root filesystem of {printable(container.name)}",
            reason=exc.message,
            category="unreadable",
        )
    with live:
        result = drift.compare(
            live,
            image.files,
            container.started_at,
            options.source.limits,
            hash_all=options.hash_all,
            keep_entries=True,
        )
        live_pkgs = live_os = None
        changes: list[Any] = []
        removed: list[Any] = []
        warnings = list(result.warnings)
        skips = list(result.skips)
        if result.package_db_changed or any(
            i.path.startswith(("/usr/", "/opt/", "/app/")) and any(d in i.path for d in drift.PACKAGE_DIRS)
            for i in result.items
        ):
            live_pkgs, live_os, cat_warnings, cat_skips = drift.live_packages(
                live, result.live_entries, options.source.limits
            )
            warnings.extend(cat_warnings)
            skips.extend(cat_skips)
            changes, removed = drift.package_changes(image.packages, live_pkgs)
        found = drift.drift_findings(result, resource, changes, removed)
    summary = {
        "entries": result.entries,
        "added": sum(1 for i in result.items if i.change == "added"),
        "changed": sum(1 for i in result.items if i.change == "changed"),
        "removed": len(result.removed),
        "hashed_files": result.hashed,
        "hashed_bytes": result.hashed_bytes,
        "packages_changed": len(changes),
    }
    return found, live_pkgs, live_os, summary, warnings, skips
