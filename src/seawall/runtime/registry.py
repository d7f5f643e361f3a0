"""`seawall registry watch REGISTRY`: every repository and tag of a registry, each image's SBOM
stored once by digest, new digests scanned as they appear, stored SBOMs re-matched when the
advisory DB changed — without pulling a layer of an image already stored.

Registries: any OCI distribution registry (`GET /v2/_catalog`, `GET /v2/REPO/tags/list`, manifests
by tag: a few hundred bytes each), and Amazon ECR (`DescribeRepositories`, `DescribeImages`:
digests and tags from the API; layers pulled through the registry API only for new digests).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.core import Finding, Report, Skip, Target
from seawall.core.errors import AuthError, InputError, NetworkError, SeawallError
from seawall.core.text import printable
from seawall.image.auth import ecr_region
from seawall.image.options import SourceOptions
from seawall.runtime.images import snapshot_image
from seawall.runtime.oci_client import Registry
from seawall.runtime.sbomstore import SbomStore


@dataclass(slots=True)
class WatchOptions:
    registry: str  # HOST[:PORT], an ECR host, or ecr:REGION
    store: str | None = None
    db_path: Path | None = None
    repositories: list[str] = field(default_factory=list)  # glob patterns; empty: every repository
    source: SourceOptions = field(default_factory=SourceOptions)
    interval: float = 0.0  # seconds between rounds; 0: one round
    rounds: int = 1  # with an interval: how many rounds (0: until stopped)
    all_findings: bool = False  # every matched advisory, not only those new since the last match
    region: str | None = None
    endpoint_url: str | None = None
    with_files: bool = True  # keep the drift manifest of new images (for `scan running`)


@dataclass(slots=True)
class RoundResult:
    repositories: int = 0
    tags: int = 0
    digests: int = 0
    new_digests: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)


def _wanted(repo: str, patterns: list[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(repo, p) for p in patterns)


def _ecr_listing(options: WatchOptions) -> tuple[str, list[tuple[str, str, str]]]:
    """(registry host, [(repository, tag or "", digest)]) from the ECR API."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    region = options.region
    if options.registry.startswith("ecr:"):
        region = options.registry.removeprefix("ecr:") or region
    else:
        found = ecr_region(options.registry)
        if found:
            region = found[1]
    client = boto3.client("ecr", region_name=region, endpoint_url=options.endpoint_url)
    try:
        host = options.registry if not options.registry.startswith("ecr:") else ""
        out: list[tuple[str, str, str]] = []
        for page in client.get_paginator("describe_repositories").paginate():
            for repo in page.get("repositories") or []:
                name = str(repo["repositoryName"])
                if not host:
                    host = str(repo.get("repositoryUri", "")).split("/", 1)[0]
                if not _wanted(name, options.repositories):
                    continue
                for ipage in client.get_paginator("describe_images").paginate(repositoryName=name):
                    for detail in ipage.get("imageDetails") or []:
                        digest = str(detail.get("imageDigest", ""))
                        for tag in detail.get("imageTags") or [""]:
                            out.append((name, str(tag), digest))
        return host, out
    except NoCredentialsError:
        raise AuthError("ecr: no AWS credentials (environment, profile or instance role)") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise NetworkError(
            f"ecr: {err.get('Code', '')}: {printable(str(err.get('Message', '')))[:200]}"
        ) from None
    except BotoCoreError as exc:
        raise NetworkError(f"ecr: {printable(str(exc))[:200]}") from None


def _is_ecr(registry: str) -> bool:
    return registry.startswith("ecr:") or ecr_region(registry) is not None


def watch_round(
    options: WatchOptions, store: SbomStore, progress: Callable[[str], None] | None = None
) -> RoundResult:
    """One pass over the registry: references recorded, new digests read and stored."""
    result = RoundResult()
    registry_host = options.registry
    listing: list[tuple[str, str, str]] = []
    reg: Registry | None = None
    try:
        if _is_ecr(options.registry):
            registry_host, listing = _ecr_listing(options)
            result.repositories = len({r for r, _, _ in listing})
        else:
            reg = Registry(registry_host, options.source)
            repos = [r for r in reg.catalog() if _wanted(r, options.repositories)]
            result.repositories = len(repos)
            for repo in repos:
                for tag in reg.tags(repo):
                    found = reg.manifest(repo, tag)
                    if found is not None:
                        listing.append((repo, tag, found[0]))
            result.requests = dict(reg.requests)
        result.tags = len(listing)
        digests: dict[str, str] = {}
        for repo, tag, digest in listing:
            reference = f"{registry_host}/{repo}:{tag}" if tag else f"{registry_host}/{repo}@{digest}"
            store.add_reference(reference, digest, registry_host)
            digests.setdefault(digest, f"{registry_host}/{repo}")
        result.digests = len(digests)
        for digest, repo_ref in sorted(digests.items()):
            if store.has(digest):
                continue
            if progress:
                progress(f"new image {repo_ref}@{digest}")
            try:
                stored = snapshot_image(
                    f"registry:{repo_ref}@{digest}",
                    options.source,
                    digest=digest,
                    name=repo_ref,
                    with_files=options.with_files,
                    origin="registry",
                )
            except SeawallError as exc:
                result.skips.append(
                    Skip(
                        subject=f"image {printable(repo_ref)}@{digest[:19]}",
                        reason=exc.message,
                        category="unreadable",
                    )
                )
                continue
            store.put(stored)
            result.new_digests.append(digest)
    finally:
        if reg is not None:
            reg.close()
    return result


def watch(
    options: WatchOptions,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Rounds of `watch_round`, each followed by a rescan when the DB or the stored set changed."""
    from seawall.runtime.matching import db_fingerprint, open_vulndb
    from seawall.runtime.rescan import rescan
    from seawall.runtime.sbomstore import open_store

    if not options.registry:
        raise InputError("registry watch needs a registry (HOST[:PORT], an ECR host, or ecr:REGION)")
    store = open_store(options.store)
    findings: list[Finding] = []
    skips: list[Skip] = []
    rounds: list[dict[str, Any]] = []
    warnings: list[str] = []
    try:
        n = 0
        while True:
            n += 1
            result = watch_round(options, store, progress)
            skips.extend(result.skips)
            db, db_warnings = open_vulndb(options.db_path)
            try:
                if n == 1:
                    warnings.extend(db_warnings)
                fingerprint = db_fingerprint(db)
                res = rescan(store, db, only_new=not options.all_findings)
            finally:
                db.close()
            findings.extend(res.findings)
            if progress:
                for line in res.summary()[:20]:
                    progress(line)
            rounds.append(
                {
                    "round": n,
                    "repositories": result.repositories,
                    "tags": result.tags,
                    "digests": result.digests,
                    "new_digests": result.new_digests,
                    "requests": result.requests,
                    "db_fingerprint": fingerprint,
                    "rescan": res.to_dict(),
                    "summary": res.summary(),
                }
            )
            if options.interval <= 0 or (options.rounds and n >= options.rounds):
                break
            sleep(options.interval)
    finally:
        store.close()
    target = Target(kind="registry", name=options.registry, metadata={"rounds": rounds})
    return Report(target=target, findings=findings, warnings=warnings, skips=skips)


def rescan_store(store_url: str | None, db_path: Path | None, all_findings: bool = False) -> Report:
    """`seawall registry rescan`: re-match the stored SBOMs now (after `seawall db update`)."""
    from seawall.runtime.matching import open_vulndb
    from seawall.runtime.rescan import rescan
    from seawall.runtime.sbomstore import open_store

    store = open_store(store_url)
    try:
        db, warnings = open_vulndb(db_path)
        try:
            res = rescan(store, db, only_new=not all_findings)
        finally:
            db.close()
    finally:
        store.close()
    target = Target(
        kind="sbom-store",
        name=store_url or "default",
        metadata={"rescan": res.to_dict(), "summary": res.summary()},
    )
    return Report(target=target, findings=res.findings, warnings=warnings)


def import_cyclonedx(paths: list[Path], store_url: str | None) -> list[str]:
    """Store SBOMs made by other tools (CycloneDX JSON) by the digest they name."""
    from seawall.runtime.cyclonedx import read_cyclonedx
    from seawall.runtime.sbomstore import open_store

    store = open_store(store_url)
    digests = []
    try:
        for path in paths:
            image = read_cyclonedx(path)
            store.put(image)
            digests.append(image.digest)
    finally:
        store.close()
    return digests
