"""Secrets in image files, in ENV and in history lines.

The detector is `seawall.secrets` (rules as data in `seawall/secrets/rules.yaml`). A file is
scanned once, as bytes: binaries (a NUL in the first bytes), large files and package-managed
paths are skipped; each rule's regex runs only when one of its keywords occurs in the file.
The secret itself never leaves this module:
findings carry `redact(secret)` (its first characters + "****") and a line number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import IO

from seawall.core import Finding, FindingKind, Location, Resource
from seawall.image.base import EntryKind, FileEntry, Hidden, HiddenHow, LayerInfo
from seawall.secrets import ASSIGNMENT, REDACTED, SecretMatch, SecretScanner, redact, redact_text

__all__ = ["REDACTED", "SecretScanner", "SecretsVisitor", "config_secret_findings", "redact",
           "redact_text", "secret_finding"]


def secret_finding(match: SecretMatch, resource: Resource, location: Location,
                   source: str) -> Finding:
    return Finding(
        kind=FindingKind.SECRET, rule=match.rule, title=match.title, severity=match.severity,
        resource=resource, location=location, evidence=match.evidence,
        remediation=match.remediation, references=list(match.references),
        extra={"source": source})


_Copy = tuple[FileEntry, SecretMatch, Hidden | None]  # one copy of a secret: file, match, why hidden


class SecretsVisitor:
    """A FileVisitor: scans each eligible file of the image once — the final files, and (like
    Trivy, which scans every layer) the files an upper layer deleted or replaced: their bytes are
    still in the image for anyone who pulls it (`wants_hidden`, see seawall.image.base).

    It also reads dpkg's status file for the `Conffiles` lists: matches in a conffile whose
    MD5 is still the packaged one are the distribution's sample values, dropped at the end."""

    wants_hidden = True

    def __init__(self, scanner: SecretScanner | None = None) -> None:
        self.scanner = scanner or SecretScanner()
        self.rules = self.scanner.rules
        # (entry, matches, md5, why hidden or None for a final file), in the order of the pass:
        # for one path the final copy comes first, then the hidden copies top-down
        self.results: list[tuple[FileEntry, list[SecretMatch], str, Hidden | None]] = []
        self.conffiles: dict[str, str] = {}
        self.files_scanned = 0
        self.bytes_scanned = 0

    def wants(self, entry: FileEntry) -> bool:
        if entry.path == DPKG_STATUS and self.rules.skip_unmodified_conffiles:
            return entry.kind is EntryKind.FILE
        return (entry.kind is EntryKind.FILE and 0 < entry.size <= self.rules.max_file_size
                and not self.rules.skips(entry.path))

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        if entry.path == DPKG_STATUS:
            self.conffiles = parse_conffiles(content.read(MAX_STATUS_BYTES))
            return
        self._scan(entry, content, None)

    def visit_hidden(self, entry: FileEntry, content: IO[bytes], hidden: Hidden) -> None:
        if entry.path == DPKG_STATUS:
            return  # only the final status file says which conffiles are unmodified
        self._scan(entry, content, hidden)

    def _scan(self, entry: FileEntry, content: IO[bytes], hidden: Hidden | None) -> None:
        head = content.read(self.rules.sniff_size)
        if b"\0" in head:
            return
        data = head + content.read(self.rules.max_file_size + 1 - len(head))
        if len(data) > self.rules.max_file_size:
            return
        self.files_scanned += 1
        self.bytes_scanned += len(data)
        matches = self.scanner.scan_bytes(data, entry.path)
        if matches:
            self.results.append((entry, matches, hashlib.md5(data, usedforsecurity=False).hexdigest(),
                                 hidden))

    def findings(self, resource: Resource) -> list[Finding]:
        """One finding per (path, rule, secret): in the topmost layer that holds it, with the
        other layers that hold the same secret at that path in `extra.also_in_layers`."""
        groups: dict[tuple[str, str, str, str | None], list[_Copy]] = {}
        for entry, matches, md5, hidden in self.results:
            if self.conffiles.get(entry.path) == md5:
                continue  # an unmodified file of an OS package
            for m in matches:
                groups.setdefault((entry.path, m.rule, m.secret, m.partner), []).append((entry, m, hidden))
        out: list[Finding] = []
        for copies in groups.values():
            entry, m, hidden = copies[0]
            also = [c[0].layer.id for c in copies[1:] if c[0].layer is not None]
            out.append(self._finding(entry, m, hidden, also, resource))
        return out

    def _finding(self, entry: FileEntry, m: SecretMatch, hidden: Hidden | None, also: list[str],
                 resource: Resource) -> Finding:
        layer = entry.layer
        loc = Location(path=entry.path, line=m.line, layer=layer.id if layer else None,
                       layer_created_by=redact_text(layer.created_by, self.scanner)
                       if layer and layer.created_by else None)
        f = secret_finding(m, resource, loc, "file")
        if hidden is not None and layer is not None:
            verb = "deleted" if hidden.how is HiddenHow.DELETED else "replaced"
            f.title = f"{verb.capitalize()} in a later layer, still in the image: {m.title}"
            f.evidence = f"{m.evidence}; still in layer {layer.id}, {verb} by layer {hidden.by.id}"
            f.extra.update({"hidden": hidden.how.value, "hidden_by_layer": hidden.by.id,
                            "still_in_layer": layer.id})
        if also:
            f.extra["also_in_layers"] = also
        return f


DPKG_STATUS = "/var/lib/dpkg/status"
MAX_STATUS_BYTES = 64 * 1024 * 1024
_CONFFILE_LINE = re.compile(rb"^ (/\S+) ([0-9a-f]{32})(?: \S+)*$", re.MULTILINE)


def parse_conffiles(status: bytes) -> dict[str, str]:
    """path -> md5 of every conffile that dpkg's status lists (` /etc/x.conf <md5>` lines)."""
    return {m.group(1).decode("utf-8", "replace"): m.group(2).decode()
            for m in _CONFFILE_LINE.finditer(status)}


def config_secret_findings(env: Sequence[str], history: Iterable[tuple[int, str, LayerInfo | None]],
                           resource: Resource, scanner: SecretScanner | None = None,
                           ) -> tuple[list[Finding], list[str]]:
    """Secrets in ENV and history lines. Returns (findings, names of ENV keys with secrets)."""
    scanner = scanner or SecretScanner()
    findings: list[Finding] = []
    env_keys: list[str] = []
    seen: set[str] = set()
    for m in scanner.scan_env(env):
        key = env[m.line - 1].partition("=")[0] if 0 < m.line <= len(env) else None
        if key:
            env_keys.append(key)
        if m.partner_line and 0 < m.partner_line <= len(env):
            env_keys.append(env[m.partner_line - 1].partition("=")[0])
        seen.add(m.secret)
        if m.partner:
            seen.add(m.partner)
        findings.append(Finding(
            kind=FindingKind.SECRET, rule=m.rule, title=f"{m.title} (in ENV)",
            severity=m.severity, resource=resource, location=Location(path=None),
            evidence=f"ENV {key}: {m.evidence}" if key else m.evidence,
            remediation=m.remediation, references=list(m.references),
            extra={"source": "config.env", "env": key} if key else {"source": "config.env"}))
    for index, created_by, layer in history:
        # `ENV K=V` and build arguments (`|2 NPM_TOKEN=... /bin/sh -c ...`) as ENV entries, so
        # variables whose name says secret are found here too; then every rule on the line
        assignments = [f"{k}={v.strip(chr(34) + chr(39))}" for k, v in ASSIGNMENT.findall(created_by)]
        for m in [*scanner.scan_env(assignments), *scanner.scan_text(created_by)]:
            if m.secret in seen:
                continue  # the same value already reported from ENV
            seen.add(m.secret)
            findings.append(Finding(
                kind=FindingKind.SECRET, rule=m.rule, title=f"{m.title} (in image history)",
                severity=m.severity, resource=resource,
                location=Location(layer=layer.id if layer else None,
                                  layer_created_by=redact_text(created_by, scanner)),
                evidence=m.evidence, remediation=m.remediation, references=list(m.references),
                extra={"source": "config.history", "history_index": index}))
    return findings, sorted(set(env_keys))


