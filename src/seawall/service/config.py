"""`seawall.yaml`: what `seawall serve --config FILE` runs.

    listen: 127.0.0.1:8443          # HOST:PORT (port 0: a free port, printed on start)
    data_dir: /var/lib/seawall      # spool, archive, SQLite database
    database: postgresql+psycopg://seawall@db/seawall   # default: SQLite (WAL) in data_dir
    tls: {cert: server.pem, key: server-key.pem}        # HTTPS (the audit webhook requires it)
    incident_window: 3600           # seconds: findings of a workload this close join one incident
    retention: {archive_days: 30, findings_days: 90}
    limits: {max_request_bytes: 16777216, spool_max_bytes: 1073741824}
    sources:
      - {name: audit, type: k8s-audit-webhook}
      - {name: falco, type: falco-http}
      - {name: pods, type: file, format: container-logs, paths: [/var/log/pods]}
      - {name: trail, type: s3, format: cloudtrail, bucket: logs, prefix: AWSLogs/}
      - {name: eks, type: cloudwatch, format: k8s-audit, log_group: /aws/eks/prod/cluster}
      - {name: nightly, type: scan, images: [registry:ecr.example/app:1], interval: 86400}

A config with no `sources` serves the API and a `k8s-audit-webhook` source named `default`.
`SEAWALL_DATABASE_URL` overrides `database`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seawall.core.errors import InputError

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(slots=True)
class SourceConfig:
    name: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


@dataclass(slots=True)
class Limits:
    max_request_bytes: int = 16 * 1024 * 1024  # one webhook request
    max_events_per_request: int = 100_000
    spool_max_bytes: int = 1024 * 1024 * 1024  # receivers answer 503 above this
    batch_lines: int = 50_000  # lines per analyzer batch at most (as `seawall detect` reads files)
    commit_seconds: float = 0.5  # a pipeline commits at least this often while busy
    commit_lines: int = 50_000  # ... or after this many lines
    max_object_bytes: int = 512 * 1024 * 1024  # one S3 object, decompressed
    dedupe_seconds: float = 900.0  # a retried webhook batch within this time is not spooled twice


@dataclass(slots=True)
class Retention:
    archive_days: float = 30.0
    findings_days: float = 90.0


@dataclass(slots=True)
class ServiceConfig:
    path: Path | None
    host: str = "127.0.0.1"
    port: int = 8443
    data_dir: Path = Path(".")
    database: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    incident_window: float = 3600.0
    detect_window: float = 3600.0
    token_refresh_seconds: float = 5.0
    metrics_public: bool = False
    retention: Retention = field(default_factory=Retention)
    limits: Limits = field(default_factory=Limits)
    sources: list[SourceConfig] = field(default_factory=list)
    # the whole document: sections read by their own modules (console, notifications, exports, respond)
    doc: dict[str, Any] = field(default_factory=dict)
    base: Path = Path(".")  # relative paths in those sections are relative to this folder

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{(self.data_dir / 'seawall.db').resolve()}"

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


def _number(doc: dict[str, Any], key: str, default: float, where: str) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InputError(f"{where}: {key} must be a number >= 0")
    return float(value)


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"listen: {text!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse(doc: Any, path: Path | None = None, base: Path | None = None) -> ServiceConfig:
    """A config from its YAML document; relative paths are relative to the file's folder."""
    where = str(path) if path else "config"
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InputError(f"{where}: not a YAML mapping")
    base = base or (path.parent if path else Path.cwd())

    def rel(value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise InputError(f"{where}: {key} must be a path")
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else base / p

    cfg = ServiceConfig(path=path, doc=doc, base=base)
    if "listen" in doc:
        cfg.host, cfg.port = parse_listen(doc["listen"])
    if "data_dir" in doc:
        cfg.data_dir = rel(doc["data_dir"], "data_dir")
    else:
        import platformdirs

        cfg.data_dir = Path(platformdirs.user_data_dir("seawall"))
    database = os.environ.get("SEAWALL_DATABASE_URL") or doc.get("database") or ""
    if not isinstance(database, str):
        raise InputError(f"{where}: database must be a URL")
    cfg.database = database
    tls = doc.get("tls")
    if tls is not None:
        if not isinstance(tls, dict) or "cert" not in tls or "key" not in tls:
            raise InputError(f"{where}: tls needs cert and key")
        cfg.tls_cert, cfg.tls_key = rel(tls["cert"], "tls.cert"), rel(tls["key"], "tls.key")
    cfg.incident_window = _number(doc, "incident_window", cfg.incident_window, where)
    cfg.detect_window = _number(doc, "detect_window", cfg.detect_window, where)
    cfg.metrics_public = bool(doc.get("metrics_public", False))
    for key, target in (("retention", cfg.retention), ("limits", cfg.limits)):
        section = doc.get(key) or {}
        if not isinstance(section, dict):
            raise InputError(f"{where}: {key} must be a mapping")
        for name, _value in section.items():
            if not hasattr(target, name):
                raise InputError(f"{where}: unknown setting {key}.{name}")
            default = getattr(target, name)
            number = _number(section, name, default, where)
            setattr(target, name, type(default)(number))
    raw_sources = doc.get("sources")
    if raw_sources is None:
        raw_sources = [{"name": "default", "type": "k8s-audit-webhook"}]
    if not isinstance(raw_sources, list):
        raise InputError(f"{where}: sources must be a list")
    from seawall.service.sources import SOURCE_TYPES

    seen: set[str] = set()
    for i, item in enumerate(raw_sources):
        if not isinstance(item, dict):
            raise InputError(f"{where}: sources[{i}] must be a mapping")
        name, kind = item.get("name"), item.get("type")
        if not isinstance(name, str) or not SOURCE_NAME.match(name):
            raise InputError(f"{where}: sources[{i}]: name must be letters, digits, '.', '_', '-'")
        if kind not in SOURCE_TYPES:
            raise InputError(
                f"{where}: source {name}: unknown type {kind!r}; choose one of: {', '.join(SOURCE_TYPES)}"
            )
        if name in seen:
            raise InputError(f"{where}: source {name} declared twice")
        seen.add(name)
        settings = {k: v for k, v in item.items() if k not in ("name", "type")}
        for key in ("paths", "inventory"):
            if key in settings:
                values = settings[key]
                if isinstance(values, str):
                    values = [values]
                if not isinstance(values, list):
                    raise InputError(f"{where}: source {name}: {key} must be a list")
                settings[key] = [str(rel(v, f"{name}.{key}")) for v in values]
        cfg.sources.append(SourceConfig(name=name, type=kind, settings=settings))
    return cfg


def load(path: Path) -> ServiceConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse(doc, path.resolve())
