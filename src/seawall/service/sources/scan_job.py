"""`scan`: image scans of a registry's repositories (or of listed images) on a schedule.

    - {name: nightly, type: scan, registry: registry.example:5000, interval: 24h,
       repositories: [shop/frontend], tags: ["1.*", latest], max_tags: 20,
       ca_cert: /etc/seawall/registry-ca.pem, username: scanner, password_env: REGISTRY_PASSWORD,
       db: /var/lib/seawall/vulndb.sqlite, offline: true,
       workloads: {shop/frontend: [k8s/shop/Deployment/frontend]}}
    - {name: pinned, type: scan, images: ["registry:registry.example:5000/shop/api:2.1"]}

With `registry`, the repositories come from the OCI `_catalog` (or `repositories`), the tags from
each repository's tags list, filtered by the `tags` globs (default: every tag) and capped at
`max_tags` per repository (the last ones in the registry's order; the rest is a warning). Every
image goes through the `scan` analyzer (seawall.analyzers), as `seawall scan image` does; its
findings are pinned to the workloads that run it (sources/jobs.py) and stored with the image's
digest, and the image's labels (the report's `target.metadata.labels`) are kept with the image in
the workloads running it. A finding that a later complete run no longer reports is removed from the store.
Credentials: `username` with the password in the environment variable `password_env`, else
SEAWALL_REGISTRY_USERNAME/SEAWALL_REGISTRY_PASSWORD, a docker config or ECR, as for `seawall scan`.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

from seawall import analyzers
from seawall.core import Finding
from seawall.core.errors import InputError, SeawallError
from seawall.core.text import printable
from seawall.service.config import SourceConfig
from seawall.service.sources.base import Context
from seawall.service.sources.jobs import interval_of, mapping_of, pin, strings, workloads_running


class ScanJob:
    type = "scan"

    def __init__(self, cfg: SourceConfig, ctx: Context) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.ctx = ctx
        self.interval = interval_of(cfg, 86400.0)
        self.registry = cfg.get("registry")
        if self.registry is not None and (not isinstance(self.registry, str) or "/" in self.registry):
            raise InputError(f"source {cfg.name}: registry must be HOST[:PORT]")
        self.images = strings(cfg, "images")
        self.repositories = strings(cfg, "repositories")
        self.tags = strings(cfg, "tags") or ["*"]
        self.max_tags = int(cfg.get("max_tags", 20))
        if not self.registry and not self.images:
            raise InputError(f"source {cfg.name}: a scan job needs registry or images")
        self.mapping = mapping_of(cfg)
        ca = cfg.get("ca_cert")
        self.ca_cert = Path(str(ca)) if ca else None
        db = cfg.get("db")
        self.db = Path(str(db)) if db else None
        self.offline = bool(cfg.get("offline", False))
        self.insecure = bool(cfg.get("insecure", False))
        self.username = cfg.get("username")
        self.password_env = cfg.get("password_env")
        self.last: dict[str, Any] = {}
        self.image_labels: dict[str, dict[str, str]] = {}  # digest -> labels of the last run's report

    def _source_options(self) -> Any:
        from seawall.image import SourceOptions

        password = None
        if self.username:
            if not self.password_env or os.environ.get(str(self.password_env)) is None:
                raise InputError(f"source {self.name}: username needs password_env naming a set variable")
            password = os.environ[str(self.password_env)]
        return SourceOptions(
            username=str(self.username) if self.username else None,
            password=password,
            ca_cert=self.ca_cert,
            insecure=self.insecure,
            cache_dir=self.ctx.data_dir / "tmp" / self.name,
        )

    def targets(self, warnings: list[str]) -> list[str]:
        refs = list(self.images)
        if not self.registry:
            return refs
        from seawall.runtime.oci_client import Registry

        reg = Registry(str(self.registry), self._source_options())
        try:
            repos = self.repositories or reg.catalog()
            for repo in repos:
                tags = [t for t in reg.tags(repo) if any(fnmatch.fnmatchcase(t, g) for g in self.tags)]
                if len(tags) > self.max_tags:
                    warnings.append(
                        printable(f"{repo}: {len(tags)} tags, the last {self.max_tags} scanned (max_tags)")
                    )
                    tags = tags[-self.max_tags :]
                refs += [f"registry:{self.registry}/{repo}:{t}" for t in tags]
        finally:
            reg.close()
        return refs

    def run(
        self, known: dict[str, list[dict[str, str]]]
    ) -> tuple[list[Finding], dict[str, str], list[str], bool]:
        """(findings pinned to workloads, image ref -> digest, warnings, complete?)"""
        warnings: list[str] = []
        scan = analyzers.get("scan")
        options = scan.options(
            source=self._source_options(),
            db_path=self.db,
            offline=self.offline,
            use_default_ignore_file=False,
        )
        found: list[Finding] = []
        images: dict[str, str] = {}
        complete = True
        self.last = {"images": 0, "failed": 0}
        self.image_labels = {}
        for ref in self.targets(warnings):
            try:
                report = scan.run(ref, options)
            except SeawallError as exc:  # one image that cannot be read: the others still run
                warnings.append(printable(f"{ref}: {exc.message}"))
                complete = False
                self.last["failed"] += 1
                continue
            self.last["images"] += 1
            digest = report.target.digest if report.target else None
            if digest:
                images[ref] = digest
                labels = report.target.metadata.get("labels") if report.target else None
                if isinstance(labels, dict):  # bounded and redacted by the scan (scan/labels.py)
                    self.image_labels[digest] = labels
            warnings += [printable(f"{ref}: {w}") for w in report.all_warnings()[:5]]
            found += pin(report.findings, ref, digest, workloads_running(ref, digest, known, self.mapping))
        return found, images, warnings, complete
