"""`seawall scan`: one pass over the image, then vulnerabilities, secrets and config checks.

    report = scan_image("registry:127.0.0.1:5000/demo:1", ScanOptions(scanners={"vuln"}))

The image is read once (`seawall.scan.inventory.inventory`), with the secrets visitor and the
setuid/setgid collector riding along as extra visitors. Then the advisory DB matches the
packages, the image config (ENV, history) is checked for secrets, and the config checks run.
Ignore entries, --ignore-unfixed and the --severity filter apply last.

Database policy: the DB is local and never fetched by a scan. When the DB file does not exist
yet, the advisory subset shipped with seawall is imported into it first (no network), with a
warning that says so; `seawall db update` fetches the full feeds. `--offline` therefore only
forbids network for the DB (a scan never downloads it anyway); pulling a `registry:` image is
still allowed, because the user asked for that image explicitly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.core import Finding, FindingKind, Location, Package, Report, Resource, Severity, Skip, Target
from seawall.core.errors import InputError
from seawall.image import SourceOptions, open_image
from seawall.image.base import FileVisitor, ImageSource, LayerInfo, Limits
from seawall.scan.imagecheck import (
    ImageFacts,
    SpecialFilesVisitor,
    history_with_layers,
    reference_facts,
    run_checks,
)
from seawall.scan.labels import image_labels
from seawall.scan.secrets import SecretScanner, SecretsVisitor, config_secret_findings, redact_text
from seawall.suppress import DEFAULT_IGNORE_FILE, apply_ignores, load_ignore_file

SCANNERS = ("vuln", "secret", "config")
_SCANNER_ALIASES = {"vuln": "vuln", "vulns": "vuln", "vulnerability": "vuln", "vulnerabilities": "vuln",
                    "secret": "secret", "secrets": "secret", "config": "config", "misconfig": "config",
                    "misconfiguration": "config"}
MAX_DB_AGE = dt.timedelta(days=7)


def parse_scanners(value: str | None) -> frozenset[str]:
    if not value:
        return frozenset(SCANNERS)
    out: set[str] = set()
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in _SCANNER_ALIASES:
            raise InputError(f"unknown scanner {part.strip()!r}; choose from vuln, secret, config")
        out.add(_SCANNER_ALIASES[name])
    if not out:
        raise InputError("--scanners names no scanner; choose from vuln, secret, config")
    return frozenset(out)


@dataclass(slots=True)
class ScanOptions:
    scanners: frozenset[str] = frozenset(SCANNERS)
    severities: set[Severity] | None = None
    ignore_unfixed: bool = False
    ignore_file: Path | None = None  # None: ./.seawallignore when it exists
    use_default_ignore_file: bool = True
    offline: bool = False
    db_path: Path | None = None
    vex_files: list[Path] = field(default_factory=list)  # OpenVEX / CycloneDX VEX documents
    source: SourceOptions = field(default_factory=SourceOptions)
    today: dt.date | None = None  # for ignore-file expiry (tests)
    # given the layers, a context manager yielding a visitor that shows progress (CLI, TTY only)
    progress: Callable[[list[LayerInfo]], AbstractContextManager[FileVisitor]] | None = None

    @property
    def limits(self) -> Limits:
        return self.source.limits


def scan_image(ref: str, options: ScanOptions | None = None) -> Report:
    options = options or ScanOptions()
    db = _open_db(options) if "vuln" in options.scanners else None
    try:
        with open_image(ref, options.source) as source:
            return _scan(source, ref, "image", options, db)
    finally:
        if db is not None:
            db.db.close()


def scan_rootfs(directory: str | Path, options: ScanOptions | None = None) -> Report:
    options = options or ScanOptions()
    path = Path(directory)
    if not path.is_dir():
        raise InputError(f"not a directory: {directory}")
    db = _open_db(options) if "vuln" in options.scanners else None
    try:
        with open_image(f"dir:{path}", options.source) as source:
            return _scan(source, str(directory), "rootfs", options, db)
    finally:
        if db is not None:
            db.db.close()


# --- the database -------------------------------------------------------------------------


@dataclass(slots=True)
class _DB:
    db: Any
    warnings: list[str]
    info: dict[str, Any]
    vex: list[Any] = field(default_factory=list)  # seawall.vulndb.vex.Statement


def _open_db(options: ScanOptions) -> _DB:
    from seawall import vulndb
    from seawall.vulndb.vex import load_vex

    vex = load_vex(options.vex_files)  # a bad --vex file is an error before any work
    warnings: list[str] = []
    path = vulndb.resolve_db_path(options.db_path)
    if not path.exists():
        count = _import_shipped(path)
        warnings.append(f"no advisory database at {path}: imported the advisories shipped with seawall "
                        f"({count} advisories, no network); run `seawall db update` for the full feeds")
    elif vulndb.stale_shipped_db(path):
        count = _import_shipped(path)
        warnings.append(f"the advisory database at {path} was built by an older seawall from its shipped "
                        f"data: rebuilt from the shipped advisories ({count}, no network)")
    db = vulndb.open_db(path)
    info: dict[str, Any] = {"path": str(path)}
    age = db.age()
    if age is not None:
        info["age_days"] = age.days
    stale = db.staleness_warning(MAX_DB_AGE)
    if stale:
        warnings.append(stale + (" (when online)" if options.offline else ""))
    return _DB(db=db, warnings=warnings, info=info, vex=vex)


def _import_shipped(path: Path) -> int:
    """First run without a DB: build it from the advisory subset shipped with seawall (offline)."""
    from seawall import vulndb

    feeds = vulndb.shipped_feed_paths()
    if not feeds:
        raise InputError(f"no vulnerability database at {path} and no shipped advisories to import; "
                         "run `seawall db import PATH` or `seawall db update`")
    path.parent.mkdir(parents=True, exist_ok=True)
    return sum(stat.advisories for stat in vulndb.import_paths(feeds, path))


# --- the scan -----------------------------------------------------------------------------


def _scan(source: ImageSource, ref: str, kind: str, options: ScanOptions, db: _DB | None) -> Report:
    from seawall.scan.inventory import inventory

    scanner = SecretScanner()
    secrets_visitor = SecretsVisitor(scanner) if "secret" in options.scanners else None
    special = SpecialFilesVisitor() if "config" in options.scanners else None
    extra: list[FileVisitor] = [v for v in (secrets_visitor, special) if v is not None]
    layers = source.layers()
    with options.progress(layers) if options.progress else nullcontext() as progress:
        if progress is not None:
            extra.append(progress)
        inv = inventory(source, options.limits, extra_visitors=extra)

    name = source.name
    resource = Resource(type="container-image" if kind == "image" else "rootfs", name=name)
    config = inv.config
    history = history_with_layers(config, layers)
    findings: list[Finding] = []
    warnings: list[str] = list(getattr(inv, "warnings", []) or [])

    skips: list[Skip] = []
    vex_dropped = 0
    if db is not None:
        warnings.extend(db.warnings)
        vulns = _vulnerabilities(db.db, inv.packages, inv.os, resource)
        skips.extend(db.db.skips)  # packages the advisory data could not cover, and why
        if db.vex:
            from seawall.vulndb.vex import VexTarget, apply_vex

            vexed = apply_vex(vulns, db.vex, VexTarget(name=name if kind == "image" else None,
                                                       digest=source.digest))
            vulns, vex_dropped = vexed.kept, len(vexed.dropped)
            if vex_dropped:
                warnings.append(vexed.summary())
        findings.extend(vulns)

    env_secret_keys: list[str] = []
    if secrets_visitor is not None:
        findings.extend(secrets_visitor.findings(resource))
        if kind == "image":
            config_findings, env_secret_keys = config_secret_findings(config.env, history, resource, scanner)
            findings.extend(config_findings)
    elif "config" in options.scanners and kind == "image":
        _, env_secret_keys = config_secret_findings(config.env, [], resource, scanner)

    if special is not None:
        ref_kind, tag, digest = reference_facts(ref) if kind == "image" else ("archive", None, None)
        facts = ImageFacts(name=name, config=config, has_config=kind == "image", layers=layers,
                           packages=inv.packages, special_files=special.special, paths=special.paths,
                           env_secret_keys=env_secret_keys, tag=tag, digest=digest,
                           reference_kind=ref_kind)
        findings.extend(run_checks(facts, resource, scanner))

    redactor = _Redactor(scanner)
    findings = _dedupe(_redacted_finding(f, redactor) for f in findings)
    findings, suppressed, ignore_warnings = _filter(findings, options)
    warnings.extend(ignore_warnings)
    findings.sort(key=lambda f: (-f.severity.rank, f.kind.value, f.rule, f.location.path or ""))
    metadata: dict[str, Any] = {
        "scanners": sorted(options.scanners),
        "layers": len(layers),
        "stats": {  # counts only: two scans of the same image give the same report
            "packages": len(inv.packages),
            "files_scanned_for_secrets": secrets_visitor.files_scanned if secrets_visitor else 0,
            "suppressed": suppressed,
            **({"vex_dropped": vex_dropped} if db is not None and db.vex else {}),
        },
    }
    if db is not None and db.info:
        metadata["db"] = db.info
    if kind == "image":  # the author's text, bounded and with secrets redacted (scan/labels.py)
        metadata["labels"], label_warnings = image_labels(config.labels, scanner)
        warnings.extend(label_warnings)
    target = Target(kind=kind, name=name, digest=source.digest, os=inv.os, metadata=metadata)
    return Report(target=target, packages=inv.packages, findings=findings, warnings=warnings,
                  skips=[*inv.skips, *skips])


def _vulnerabilities(db: Any, packages: list[Package], os_info: Any, resource: Resource) -> list[Finding]:
    out: list[Finding] = []
    for f in db.match(packages, os_info):
        if f.kind is FindingKind.VULNERABILITY and f.resource.type in ("", "package"):
            f = dataclasses.replace(f, resource=resource)
        if f.package is not None and f.location.path is None and f.package.locations:
            loc = f.package.locations[0]
            f = dataclasses.replace(f, location=Location(path=loc.path, layer=loc.layer,
                                                         layer_created_by=loc.layer_created_by))
        out.append(f)
    return out


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out: list[Finding] = []
    for f in findings:
        if f.id in seen:
            continue
        seen.add(f.id)
        out.append(f)
    return out


def _filter(findings: list[Finding], options: ScanOptions) -> tuple[list[Finding], int, list[str]]:
    warnings: list[str] = []
    suppressed = 0
    ignore_path = options.ignore_file
    if ignore_path is None and options.use_default_ignore_file and Path(DEFAULT_IGNORE_FILE).is_file():
        ignore_path = Path(DEFAULT_IGNORE_FILE)
    if ignore_path is not None:
        result = apply_ignores(findings, load_ignore_file(ignore_path), options.today)
        findings, suppressed = result.kept, len(result.suppressed)
        warnings.extend(result.warnings)
    if options.ignore_unfixed:
        findings = [f for f in findings if not (f.kind is FindingKind.VULNERABILITY and f.vulnerability
                                                is not None and not f.vulnerability.fixed_versions)]
    if options.severities:
        findings = [f for f in findings if f.severity in options.severities]
    return findings, suppressed, warnings


class _Redactor:
    def __init__(self, scanner: SecretScanner) -> None:
        self.scanner = scanner
        self.cache: dict[str, str] = {}

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        if text not in self.cache:
            self.cache[text] = redact_text(text, self.scanner)
        return self.cache[text]


def _redacted_finding(f: Finding, redactor: _Redactor) -> Finding:
    """Every text that may quote a build command passes through the redactor. History lines are
    already redacted at their source (`LayerInfo.created_by`, seawall.image.manifest); this is a
    safety net for locations built from anything else."""
    loc = f.location
    if loc.layer_created_by:
        text = redactor(loc.layer_created_by)
        if text != loc.layer_created_by:
            f = dataclasses.replace(f, location=dataclasses.replace(loc, layer_created_by=text))
    if f.evidence and f.kind is not FindingKind.SECRET:
        evidence = redactor(f.evidence)
        if evidence != f.evidence:
            f = dataclasses.replace(f, evidence=evidence)
    return f
