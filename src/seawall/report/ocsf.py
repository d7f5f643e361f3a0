"""OCSF 1.1.0 findings (JSON array of events) for AWS Security Lake and other OCSF consumers.

Each finding kind maps to one class of the Findings category (category_uid 2):

* vulnerability -> Vulnerability Finding (class_uid 2002), `vulnerabilities[].cve` with CVSS
  and `affected_packages`;
* secret -> Vulnerability Finding (2002) as CWE-798 "Use of Hard-coded Credentials", with the
  file and line in `affected_code` (Data Security Finding only exists from OCSF 1.4, which
  Security Lake does not ingest; a secret baked into an image is a weakness of the artifact);
* misconfiguration, exposure -> Compliance Finding (2003), `compliance.standards` from the
  frameworks the check references (CIS Docker Benchmark, Dockle, Kubescape ...);
* detection -> Detection Finding (2004), with ATT&CK techniques and the event time range.

activity_id is 1 (Create); type_uid = class_uid * 100 + activity_id. Times are epoch ms.
Evidence is the already redacted evidence of the finding.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import time
from typing import Any, TextIO

import orjson

from seawall.core import Finding, FindingKind, Report, Severity

OCSF_VERSION = "1.1.0"
CATEGORY_UID = 2
CATEGORY_NAME = "Findings"
ACTIVITY_CREATE = 1

CLASS_BY_KIND: dict[FindingKind, tuple[int, str]] = {
    FindingKind.VULNERABILITY: (2002, "Vulnerability Finding"),
    FindingKind.SECRET: (2002, "Vulnerability Finding"),
    FindingKind.MISCONFIGURATION: (2003, "Compliance Finding"),
    FindingKind.EXPOSURE: (2003, "Compliance Finding"),
    FindingKind.DETECTION: (2004, "Detection Finding"),
}
SEVERITY_ID: dict[Severity, tuple[int, str]] = {
    Severity.UNKNOWN: (0, "Unknown"), Severity.INFO: (1, "Informational"),
    Severity.LOW: (2, "Low"), Severity.MEDIUM: (3, "Medium"), Severity.HIGH: (4, "High"),
    Severity.CRITICAL: (5, "Critical"),
}
# reference prefix -> the standard's name in compliance.standards
STANDARDS = {
    "cis-docker": "CIS Docker Benchmark",
    "cis-k8s": "CIS Kubernetes Benchmark",
    "cis-eks": "CIS Amazon EKS Benchmark",
    "dockle": "Dockle",
    "kubescape": "Kubescape",
    "checkov": "Checkov",
    "trivy": "Trivy",
    "aws-securityhub": "AWS Foundational Security Best Practices",
    "pss": "Kubernetes Pod Security Standards",
    "nsa": "NSA/CISA Kubernetes Hardening Guidance",
}
HARDCODED_CREDENTIALS_CWE = {"uid": "CWE-798", "caption": "Use of Hard-coded Credentials"}


def _ms(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        parsed = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def _urls(f: Finding) -> list[str]:
    return [r for r in f.references if r.startswith(("https://", "http://"))]


def _resource(f: Finding, report: Report) -> dict[str, Any]:
    res: dict[str, Any] = {"type": f.resource.type, "name": f.resource.name}
    uid = f.resource.arn or (report.target.digest if f.resource.name == report.target.name else None)
    if uid:
        res["uid"] = uid
    if f.resource.namespace:
        res["namespace"] = f.resource.namespace
    data = {k: v for k, v in f.location.to_dict().items()}
    if f.resource.workload:
        data["workload"] = f.resource.workload
    if data:
        res["data"] = data
    return res


def _cvss(f: Finding) -> list[dict[str, Any]]:
    v = f.vulnerability
    if v is None or v.cvss_score is None:
        return []
    item: dict[str, Any] = {"base_score": float(v.cvss_score)}
    version = "3.1"
    if v.cvss_vector:
        item["vector_string"] = v.cvss_vector
        head = v.cvss_vector.split("/", 1)[0]
        if head.startswith("CVSS:"):
            version = head[5:]
        elif v.cvss_vector.startswith("AV:"):
            version = "2.0"
    item["version"] = version
    return [item]


def _vulnerability(f: Finding) -> dict[str, Any]:
    sev = SEVERITY_ID[f.severity][1]
    if f.kind is FindingKind.SECRET:
        out: dict[str, Any] = {"cwe": dict(HARDCODED_CREDENTIALS_CWE), "title": f.title,
                               "severity": sev, "vendor_name": "seawall",
                               "desc": f"{f.title}: {f.evidence}" if f.evidence else f.title}
        if f.location.path:
            code: dict[str, Any] = {"file": {
                "name": posixpath.basename(f.location.path), "path": f.location.path,
                "type_id": 1, "type": "Regular File"}}
            if f.location.line:
                code["start_line"] = f.location.line
            out["affected_code"] = [code]
        if _urls(f):
            out["references"] = _urls(f)
        return out
    v = f.vulnerability
    ids = [v.id, *v.aliases] if v else [f.rule]
    cve_id = next((i for i in ids if i.startswith("CVE-")), ids[0])
    cve: dict[str, Any] = {"uid": cve_id}
    cvss = _cvss(f)
    if cvss:
        cve["cvss"] = cvss
    if v and v.published:
        created = _ms(v.published)
        if created:
            cve["created_time"] = created
    out = {"cve": cve, "title": f.title, "severity": sev,
           "vendor_name": (v.source if v and v.source else "seawall")}
    related = [i for i in ids if i != cve_id]
    if related:
        out["related_vulnerabilities"] = related
    if f.package is not None:
        pkg: dict[str, Any] = {"name": f.package.name, "version": f.package.version,
                               "purl": f.package.purl, "package_manager": f.package.ecosystem}
        if v and v.fixed_versions:
            pkg["fixed_in_version"] = v.fixed_versions[0]
        if f.location.path:
            pkg["path"] = f.location.path
        out["affected_packages"] = [pkg]
    if v is not None:
        out["is_fix_available"] = bool(v.fixed_versions)
    refs = _urls(f)
    if refs:
        out["references"] = refs
    desc = [f.title]
    if v and v.fixed_versions:
        desc.append("Fixed in: " + ", ".join(v.fixed_versions))
    out["desc"] = ". ".join(desc)
    return out


def _compliance(f: Finding) -> dict[str, Any]:
    standards: list[str] = []
    control = None
    for ref in f.references:
        prefix, sep, value = ref.partition(":")
        if not sep or prefix in ("http", "https"):
            continue
        name = STANDARDS.get(prefix, prefix)
        if name not in standards:
            standards.append(name)
        if control is None and prefix.startswith("cis-"):
            control = value
    comp: dict[str, Any] = {
        "standards": standards or ["seawall"],
        "requirements": [r for r in f.references if not r.startswith(("https://", "http://"))] or [f.rule],
        "control": control or f.rule,
        "status_id": 3, "status": "Fail",
    }
    return comp


def to_event(f: Finding, report: Report, now_ms: int) -> dict[str, Any]:
    from seawall import __version__

    class_uid, class_name = CLASS_BY_KIND[f.kind]
    sev_id, sev_name = SEVERITY_ID[f.severity]
    info: dict[str, Any] = {
        "uid": f.id,
        "title": f.title,
        "types": [f.kind.value],
        "created_time": now_ms,
        "analytic": {"uid": f.rule, "name": f.rule, "type_id": 1, "type": "Rule"},
        "product_uid": "seawall",
    }
    desc = f.title
    if f.evidence:
        desc += f". Evidence: {f.evidence}"
    info["desc"] = desc
    if f.attack:
        info["attacks"] = [{"technique": {"uid": t}, "version": "14"} for t in f.attack]
    event: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE, "activity_name": "Create",
        "category_uid": CATEGORY_UID, "category_name": CATEGORY_NAME,
        "class_uid": class_uid, "class_name": class_name,
        "type_uid": class_uid * 100 + ACTIVITY_CREATE, "type_name": f"{class_name}: Create",
        "severity_id": sev_id, "severity": sev_name,
        "status_id": 1, "status": "New",
        "time": now_ms,
        "message": f.title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "seawall", "vendor_name": "seawall", "version": __version__},
            "uid": f.id,
        },
        "finding_info": info,
        "resources": [_resource(f, report)],
    }
    if f.remediation:
        event["remediation"] = {"desc": f.remediation, **({"references": _urls(f)} if _urls(f) else {})}
    if class_uid == 2002:
        event["vulnerabilities"] = [_vulnerability(f)]
    elif class_uid == 2003:
        event["compliance"] = _compliance(f)
    else:
        start, end = _ms(f.first_seen), _ms(f.last_seen)
        if start:
            event["start_time"] = start
            info["first_seen_time"] = start
        if end:
            event["end_time"] = end
            info["last_seen_time"] = end
        if f.count is not None:
            event["count"] = f.count
        event["is_alert"] = True
    return event


def to_ocsf(report: Report, now_ms: int | None = None) -> list[dict[str, Any]]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    return [to_event(f, report, now_ms) for f in report.findings]


def render(report: Report, out: TextIO, options: object) -> None:
    out.write(orjson.dumps(to_ocsf(report), option=orjson.OPT_INDENT_2).decode())
    out.write("\n")
