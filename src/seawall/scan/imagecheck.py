"""Image configuration checks: one small function per check id, metadata in image_checks.yaml.

The checks read facts gathered during the single image pass (the config, the packages, the
setuid/setgid files and a few telling paths) and never open a layer themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import IO, Any

import yaml

from seawall.checks import CheckSpec, specs_from_list
from seawall.core import Finding, Location, Package, Resource, Severity
from seawall.core.errors import SeawallError
from seawall.image.base import EntryKind, FileEntry, ImageConfig, LayerInfo
from seawall.image.refs import parse_ref
from seawall.secrets import SecretScanner, redact_text

INTERESTING_PATHS = frozenset({"/usr/sbin/sshd", "/usr/sbin/dropbear", "/usr/bin/dropbear"})
SSH_PACKAGES = frozenset({"openssh-server", "openssh-server-pam", "openssh-sshd", "dropbear",
                          "dropbear-bin", "tinysshd"})
ROOT_NAMES = frozenset({"", "root", "0"})


@dataclass(frozen=True, slots=True)
class CheckMeta:
    """An image check: its spec (seawall.checks) and the severity of its `added` variant."""

    spec: CheckSpec
    severity_added: Severity | None = None


@lru_cache(maxsize=1)
def check_metadata() -> dict[str, CheckMeta]:
    origin = "seawall/scan/image_checks.yaml"
    text = resources.files("seawall.scan").joinpath("image_checks.yaml").read_text("utf-8")
    out: dict[str, CheckMeta] = {}
    for spec in specs_from_list(yaml.safe_load(text)["checks"], origin):
        added = spec.extra.get("severity_added")
        out[spec.id] = CheckMeta(spec, Severity.parse(str(added)) if added else None)
    return out


@dataclass(slots=True)
class ImageFacts:
    """What the checks look at. `has_config` is false for a plain root filesystem."""

    name: str
    config: ImageConfig
    has_config: bool = True
    layers: list[LayerInfo] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)
    special_files: list[FileEntry] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)
    env_secret_keys: list[str] = field(default_factory=list)
    tag: str | None = None
    digest: str | None = None
    reference_kind: str = "unknown"  # registry | archive | unknown


@dataclass(slots=True)
class Hit:
    evidence: str
    location: Location = field(default_factory=Location)
    severity: Severity | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CheckFn = Callable[[ImageFacts, SecretScanner], list[Hit]]
CHECKS: dict[str, CheckFn] = {}


def check(check_id: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[check_id] = fn
        return fn
    return register


class SpecialFilesVisitor:
    """Collects setuid/setgid files and telling paths from `wants` alone (never reads content)."""

    def __init__(self) -> None:
        self.special: list[FileEntry] = []
        self.paths: set[str] = set()

    def wants(self, entry: FileEntry) -> bool:
        if entry.kind is EntryKind.FILE and entry.mode & 0o6000:
            self.special.append(entry)
        if entry.path in INTERESTING_PATHS:
            self.paths.add(entry.path)
        return False

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:  # pragma: no cover
        return None


def history_with_layers(config: ImageConfig, layers: Sequence[LayerInfo],
                        ) -> list[tuple[int, str, LayerInfo | None]]:
    """(history index, created_by, the layer it made or None for empty_layer entries)."""
    out: list[tuple[int, str, LayerInfo | None]] = []
    j = 0
    for i, entry in enumerate(config.history):
        layer = None
        if not entry.empty_layer:
            layer = layers[j] if j < len(layers) else None
            j += 1
        out.append((i, entry.created_by or "", layer))
    return out


def reference_facts(ref: str) -> tuple[str, str | None, str | None]:
    """(kind, tag, digest) of an image reference; kind is registry, archive or unknown.

    A registry reference without tag or digest means `latest` (Docker's rule)."""
    try:
        parsed = parse_ref(ref)
    except SeawallError:
        return "unknown", None, None
    kind = "registry" if parsed.transport == "registry" else "archive"
    return kind, parsed.tag, parsed.digest


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@check("SW-IMG-001")
def _root_user(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    if not facts.has_config:
        return []
    user = (facts.config.user or "").strip()
    name = user.split(":", 1)[0].strip()
    if name not in ROOT_NAMES:
        return []
    evidence = "no USER in the image config: the process runs as root" if not user \
        else f"USER {user}"
    return [Hit(evidence=evidence, extra={"user": user})]


@check("SW-IMG-002")
def _env_secrets(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    if not facts.env_secret_keys:
        return []
    return [Hit(evidence="ENV " + ", ".join(facts.env_secret_keys) + " (values redacted)",
                extra={"env": list(facts.env_secret_keys)})]


_ADD_URL = re.compile(r"\bADD\b(?:\s+--\S+)*\s+[\"']?((?:https?|ftp)://[^\s\"']+)", re.IGNORECASE)
_PIPE_SHELL = re.compile(
    r"\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+(?:\S+=\S*\s+)*)?"
    r"(?:/usr)?(?:/bin/)?(?:ba|da|z|k|a)?sh\b"
    r"|\b(?:ba|da|z)?sh\s+-c\s+[\"']?\$\(\s*(?:curl|wget)\b"
    r"|\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b")


def _history_hits(facts: ImageFacts, scanner: SecretScanner, pattern: re.Pattern[str],
                  group: int) -> list[Hit]:
    hits: list[Hit] = []
    for index, created_by, layer in history_with_layers(facts.config, facts.layers):
        m = pattern.search(created_by)
        if not m:
            continue
        shown = redact_text(created_by, scanner)
        hits.append(Hit(
            evidence=_short(redact_text(m.group(group), scanner)) if group else _short(shown),
            location=Location(layer=layer.id if layer else None,
                              layer_created_by=_short(shown, 500)),
            extra={"history_index": index}))
    return hits


@check("SW-IMG-003")
def _add_remote_url(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    return _history_hits(facts, scanner, _ADD_URL, 1)


@check("SW-IMG-004")
def _curl_pipe_shell(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    return _history_hits(facts, scanner, _PIPE_SHELL, 0)


@check("SW-IMG-005")
def _ssh_server(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    hits: list[Hit] = []
    for pkg in facts.packages:
        if pkg.name in SSH_PACKAGES:
            loc = pkg.locations[0] if pkg.locations else Location()
            hits.append(Hit(evidence=f"package {pkg.name} {pkg.version} installed",
                            location=Location(path=loc.path, layer=loc.layer)))
    if not hits:
        for path in sorted(facts.paths):
            hits.append(Hit(evidence=f"SSH server binary {path}", location=Location(path=path)))
    if facts.has_config:
        for port in facts.config.exposed_ports:
            if port.split("/", 1)[0].strip() == "22":
                hits.append(Hit(evidence=f"EXPOSE {port}"))
    return hits


@check("SW-IMG-006")
def _setuid_files(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    meta = check_metadata()["SW-IMG-006"]
    hits: list[Hit] = []
    for entry in sorted(facts.special_files, key=lambda e: e.path):
        bits = [name for bit, name in ((0o4000, "setuid"), (0o2000, "setgid")) if entry.mode & bit]
        added = entry.layer is not None and entry.layer.index > 0
        hits.append(Hit(
            evidence=f"mode {entry.mode & 0o7777:04o} ({'+'.join(bits)}), owner uid {entry.uid}",
            location=Location(path=entry.path, layer=entry.layer.id if entry.layer else None,
                              layer_created_by=_short(redact_text(entry.layer.created_by,
                                                                  scanner), 500)
                              if entry.layer and entry.layer.created_by else None),
            severity=meta.severity_added if added else None,
            extra={"added_by_image": added}))
    return hits


@check("SW-IMG-007")
def _no_healthcheck(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    if not facts.has_config:
        return []
    hc = facts.config.healthcheck
    test = hc.get("Test") or hc.get("test") if hc else None
    if hc and test and not (isinstance(test, list) and test and str(test[0]).upper() == "NONE"):
        return []
    return [Hit(evidence="no HEALTHCHECK in the image config" if not hc else "HEALTHCHECK NONE")]


@check("SW-IMG-008")
def _latest_tag(facts: ImageFacts, scanner: SecretScanner) -> list[Hit]:
    if facts.reference_kind != "registry" or facts.digest:
        return []
    if facts.tag in (None, "latest"):
        return [Hit(evidence=f"{facts.name}: tag latest (or no tag, which means latest)")]
    return []


def run_checks(facts: ImageFacts, resource: Resource, scanner: SecretScanner | None = None,
               only: Sequence[str] | None = None) -> list[Finding]:
    scanner = scanner or SecretScanner()
    metadata = check_metadata()
    findings: list[Finding] = []
    for check_id, fn in CHECKS.items():
        if only is not None and check_id not in only:
            continue
        spec = metadata[check_id].spec
        for hit in fn(facts, scanner):
            findings.append(Finding(
                kind=spec.kind, rule=check_id, title=spec.title,
                severity=hit.severity or spec.severity, resource=resource, location=hit.location,
                evidence=hit.evidence, remediation=spec.remediation,
                references=list(spec.references), attack=list(spec.attack),
                extra={"rationale": spec.description, **hit.extra}))
    return findings
