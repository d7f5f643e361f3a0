"""SARIF 2.1.0, as GitHub code scanning accepts it.

One run; `tool.driver.rules` holds each rule (advisory or check id) once, with its
`security-severity` (the CVSS score when known, else a score in the band of the severity)
so GitHub ranks it. Each finding is one result; its location is the path in the image (or
the image name for config findings), with `region.startLine` (1 when there is no line, as
GitHub needs a line to show an alert). `partialFingerprints` carries the finding's stable id
so alerts survive re-scans. Only redacted evidence is ever written.
"""

from __future__ import annotations

from typing import Any, TextIO
from urllib.parse import quote

import orjson

from seawall.core import Finding, FindingKind, Report, Severity

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

# middle of GitHub's bands: critical >= 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9
_SEVERITY_SCORE = {
    Severity.CRITICAL: 9.5, Severity.HIGH: 8.0, Severity.MEDIUM: 5.5, Severity.LOW: 2.0,
    Severity.INFO: 0.0, Severity.UNKNOWN: 0.0,
}
_LEVEL = {
    Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
    Severity.LOW: "note", Severity.INFO: "note", Severity.UNKNOWN: "note",
}


def _score(f: Finding) -> float:
    if f.vulnerability is not None and f.vulnerability.cvss_score is not None:
        return float(f.vulnerability.cvss_score)
    return _SEVERITY_SCORE[f.severity]


def _uri(f: Finding, target_name: str) -> str:
    path = f.location.path
    if path:
        return quote(path.lstrip("/"), safe="/._-~+@")
    return quote(target_name, safe="/._-~+@") or "image"


def _message(f: Finding) -> str:
    parts: list[str] = []
    if f.kind is FindingKind.VULNERABILITY and f.package is not None:
        parts.append(f"Package {f.package.name} {f.package.version} ({f.package.ecosystem}) is "
                     f"affected by {f.rule}: {f.title}.")
        if f.vulnerability is not None:
            fixed = ", ".join(f.vulnerability.fixed_versions)
            parts.append(f"Fixed in: {fixed}." if fixed else "No fixed version yet.")
    else:
        parts.append(f"{f.title}.")
        if f.evidence:
            parts.append(f"Evidence: {f.evidence}.")
    if f.location.layer:
        parts.append(f"Layer: {f.location.layer}.")
    if f.location.layer_created_by:
        parts.append(f"Created by: {f.location.layer_created_by[:300]}.")
    return " ".join(parts)


def _help(f: Finding) -> tuple[str, str]:
    lines = [f.title]
    if f.extra.get("rationale"):
        lines.append(str(f.extra["rationale"]))
    if f.remediation:
        lines.append(f"Remediation: {f.remediation}")
    if f.vulnerability is not None and f.vulnerability.fixed_versions:
        lines.append("Fixed versions: " + ", ".join(f.vulnerability.fixed_versions))
    if f.references:
        lines.append("References: " + ", ".join(f.references))
    text = "\n\n".join(lines)
    md = "\n\n".join([f"**{f.title}**", *lines[1:]])
    return text, md


def _rule(f: Finding, score: float) -> dict[str, Any]:
    text, markdown = _help(f)
    tags = ["security", f.kind.value, f.severity.value]
    if f.vulnerability is not None:
        tags.extend(a for a in f.vulnerability.aliases if a.startswith("CVE-"))
    rule: dict[str, Any] = {
        "id": f.rule,
        "name": "".join(w.capitalize() for w in f.kind.value.split("_")) + "Finding",
        "shortDescription": {"text": f.title[:1000]},
        "fullDescription": {"text": str(f.extra.get("rationale") or f.title)[:4000]},
        "defaultConfiguration": {"level": _LEVEL[f.severity]},
        "help": {"text": text, "markdown": markdown},
        "properties": {"security-severity": f"{score:.1f}", "tags": tags,
                       "precision": "very-high" if f.kind is FindingKind.VULNERABILITY else "high"},
    }
    url = next((r for r in f.references if r.startswith(("https://", "http://"))), None)
    if url:
        rule["helpUri"] = url
    return rule


def to_sarif(report: Report) -> dict[str, Any]:
    from seawall import __version__

    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    scores: dict[str, float] = {}
    results: list[dict[str, Any]] = []
    findings = sorted(report.findings, key=lambda f: (-f.severity.rank, f.rule, f.location.path or ""))
    for f in findings:
        score = _score(f)
        if f.rule not in index:
            index[f.rule] = len(rules)
            rules.append(_rule(f, score))
            scores[f.rule] = score
        elif score > scores[f.rule]:
            scores[f.rule] = score
            rules[index[f.rule]]["properties"]["security-severity"] = f"{score:.1f}"
        region: dict[str, Any] = {"startLine": f.location.line or 1}
        if f.location.end_line:
            region["endLine"] = f.location.end_line
        properties: dict[str, Any] = {"kind": f.kind.value, "severity": f.severity.value}
        if f.location.layer:
            properties["layer"] = f.location.layer
        if f.package is not None:
            properties["package"] = f.package.ref()
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _LEVEL[f.severity],
            "message": {"text": _message(f)},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(f, report.target.name)},
                "region": region,
            }}],
            "partialFingerprints": {"seawallFindingId/v1": f.id},
            "properties": properties,
        })
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "seawall", "version": __version__, "semanticVersion": __version__,
            "rules": rules,
        }},
        "results": results,
        "columnKind": "utf16CodeUnits",
        "properties": {"target": report.target.to_dict()},
    }
    warnings = report.all_warnings()
    if warnings:
        run["invocations"] = [{
            "executionSuccessful": True,
            "toolExecutionNotifications": [{"level": "warning", "message": {"text": w}}
                                           for w in warnings],
        }]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report, out: TextIO, options: object) -> None:
    out.write(orjson.dumps(to_sarif(report), option=orjson.OPT_INDENT_2).decode())
    out.write("\n")
