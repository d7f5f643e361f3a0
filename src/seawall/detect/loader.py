"""Load rules: Sigma (with pySigma) and seawall's native YAML rules (the same detection
language plus thresholds, sequences and first-seen). Every rule that does not load is kept
as a RuleProblem with its reason -- none is dropped silently."""

from __future__ import annotations

import re
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from seawall.core import Severity
from seawall.core.errors import InputError
from seawall.detect.model import FirstSeen, Rule, RuleProblem, RuleSet, Sequence, Threshold

_NATIVE_NS = uuid.UUID("5e0a9a11-0000-4000-8000-5ea3a1100000")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
MAX_RULE_FILE = 4 << 20


def duration(value: Any) -> float:
    """`90`, `30s`, `5m`, `1h`, `2d` -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"bad duration {value!r} (use e.g. 30s, 5m, 1h)")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2) or "s"]
    return float(m.group(1)) * scale


def sigma_sources(logsource: Any) -> list[str]:
    """Map a Sigma logsource to the seawall sources that carry such events."""
    product = (getattr(logsource, "product", None) or "").lower()
    service = (getattr(logsource, "service", None) or "").lower()
    category = (getattr(logsource, "category", None) or "").lower()
    if product == "seawall":
        return [service]
    if product == "kubernetes" and service in ("audit", ""):
        return ["k8s-audit"]
    if product == "aws" and service == "cloudtrail":
        return ["cloudtrail"]
    if product == "linux" and category == "process_creation":
        return ["tetragon", "falco"]
    if product == "linux" and category in ("file_event", "network_connection"):
        return ["falco"]
    if category in ("webserver", "proxy") or service in ("apache", "nginx"):
        return ["container-logs"]
    return []


def _attack_ids(tags: list[Any]) -> list[str]:
    out = []
    for tag in tags:
        ns, name = getattr(tag, "namespace", ""), getattr(tag, "name", "")
        if ns == "attack" and re.fullmatch(r"t\d{4}(\.\d{3})?", name):
            out.append(name.upper())
    return out


def _severity(level: Any) -> Severity:
    if level is None:
        return Severity.MEDIUM
    return Severity.parse(getattr(level, "name", str(level)))


def _from_sigma(rule: SigmaRule, path: str, problems: list[RuleProblem]) -> Rule | None:
    rid = str(rule.id) if rule.id else None
    if rule.errors:
        problems.append(
            RuleProblem(path, rid, rule.title, "; ".join(str(e) for e in rule.errors)[:300], "parse-error")
        )
        return None
    try:
        trees = [c.parse() for c in rule.detection.parsed_condition]
    except SigmaError as exc:
        problems.append(RuleProblem(path, rid, rule.title, f"condition: {exc}"[:300], "parse-error"))
        return None
    sources = sigma_sources(rule.logsource)
    if not sources:
        ls = rule.logsource
        text = "/".join(x for x in (ls.product, ls.category, ls.service) if x)
        problems.append(
            RuleProblem(
                path,
                rid,
                rule.title,
                f"logsource {text or '?'}: no seawall source carries these events",
                "no-source",
            )
        )
        return None
    refs = [str(r) for r in (rule.references or [])][:8]
    return Rule(
        id=f"sigma:{rid}" if rid else f"sigma:{Path(path).stem}",
        title=rule.title,
        severity=_severity(rule.level),
        sources=sources,
        conditions=trees,
        attack=_attack_ids(rule.tags or []),
        description=(rule.description or "").strip(),
        references=refs,
        origin="sigma",
        path=path,
        status=str(rule.status.name).lower() if rule.status else None,
    )


def _native(entry: dict[str, Any], path: str) -> Rule:
    rid = str(entry["id"])
    source = entry.get("source") or entry.get("sources")
    sources = [source] if isinstance(source, str) else list(source or [])
    if not sources:
        raise ValueError("no `source`")
    detection = dict(entry["detection"])
    kind = "match"
    threshold = sequence = first_seen = None
    if "sequence" in entry:
        kind = "sequence"
        spec = entry["sequence"]
        steps = spec.get("steps") or detection.get("condition")
        if not isinstance(steps, list) or len(steps) < 2:
            raise ValueError("sequence needs at least two steps")
        detection["condition"] = [str(s) for s in steps]
        sequence = Sequence(within=duration(spec.get("within", "10m")), by=list(spec.get("by", ["actor"])))
    elif "threshold" in entry:
        kind = "threshold"
        spec = entry["threshold"]
        threshold = Threshold(
            count=int(spec["count"]),
            window=duration(spec.get("window", "1m")),
            by=list(spec.get("by", ["actor"])),
        )
    elif "first_seen" in entry:
        kind = "first_seen"
        spec = entry["first_seen"]
        first_seen = FirstSeen(
            key=list(spec["key"]), learn=duration(spec.get("learn", "1h")), scope=list(spec.get("scope", []))
        )
    sigma_doc = {
        "title": entry["title"],
        "id": str(uuid.uuid5(_NATIVE_NS, rid)),
        "logsource": {"product": "seawall", "service": sources[0]},
        "detection": detection,
        "level": "medium",
    }
    srule = SigmaRule.from_dict(sigma_doc)
    trees = [c.parse() for c in srule.detection.parsed_condition]
    return Rule(
        id=rid,
        title=str(entry["title"]),
        severity=Severity.parse(str(entry.get("severity", "medium"))),
        sources=sources,
        conditions=trees,
        kind=kind,
        attack=[str(a) for a in entry.get("attack", [])],
        description=str(entry.get("description", "")).strip(),
        remediation=entry.get("remediation"),
        references=[str(r) for r in entry.get("references", [])],
        origin="builtin" if path.startswith("builtin:") else "native",
        path=path,
        threshold=threshold,
        sequence=sequence,
        first_seen=first_seen,
        dedupe_by=list(entry.get("dedupe_by", [])),
        falco=list(entry.get("falco", [])),
        enabled=bool(entry.get("enabled", True)),
        tests=dict(entry.get("tests", {})),
    )


def load_text(text: str, path: str, out: RuleSet) -> None:
    """One YAML file: native (`rules:` list) or Sigma (one or more rule documents)."""
    out.files += 1
    try:
        docs = [
            d
            for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            if d is not None
        ]
    except yaml.YAMLError as exc:
        out.problems.append(
            RuleProblem(path, None, None, f"YAML: {str(exc).splitlines()[0]}"[:300], "parse-error")
        )
        return
    if len(docs) == 1 and isinstance(docs[0], dict) and isinstance(docs[0].get("rules"), list):
        for entry in docs[0]["rules"]:
            rid = entry.get("id") if isinstance(entry, dict) else None
            try:
                if not isinstance(entry, dict):
                    raise ValueError("a rule must be a mapping")
                out.rules.append(_native(entry, path))
            except (SigmaError, ValueError, KeyError, TypeError) as exc:
                out.problems.append(
                    RuleProblem(
                        path,
                        rid,
                        entry.get("title") if isinstance(entry, dict) else None,
                        f"{type(exc).__name__}: {exc}"[:300],
                        "parse-error",
                    )
                )
        return
    try:
        collection = SigmaCollection.from_yaml(text, collect_errors=True)
    except SigmaError as exc:
        out.problems.append(RuleProblem(path, None, None, str(exc)[:300], "parse-error"))
        return
    except Exception as exc:  # pySigma can fail on odd YAML shapes; a bad file is a problem, not fatal
        out.problems.append(
            RuleProblem(path, None, None, f"{type(exc).__name__}: {exc}"[:300], "parse-error")
        )
        return
    rule_errors = {str(e) for r in collection.rules for e in (getattr(r, "errors", None) or [])}
    for err in collection.errors or []:
        if str(err) not in rule_errors:  # the rule's own entry below says it, with its id
            out.problems.append(RuleProblem(path, None, None, str(err)[:300], "parse-error"))
    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            out.problems.append(
                RuleProblem(
                    path,
                    str(rule.id) if rule.id else None,
                    rule.title,
                    "Sigma correlation rules are not supported (use a native threshold/sequence rule)",
                    "unsupported",
                )
            )
            continue
        if not isinstance(rule, SigmaRule):
            out.problems.append(
                RuleProblem(
                    path,
                    None,
                    getattr(rule, "title", None),
                    f"{type(rule).__name__} is not supported",
                    "unsupported",
                )
            )
            continue
        loaded = _from_sigma(rule, path, out.problems)
        if loaded is not None:
            out.rules.append(loaded)


def load_path(path: Path, out: RuleSet) -> None:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise InputError(f"{path}: no such rule file or directory")
    for file in files:
        try:
            if file.stat().st_size > MAX_RULE_FILE:
                out.problems.append(
                    RuleProblem(str(file), None, None, "rule file larger than 4 MiB", "parse-error")
                )
                continue
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out.problems.append(RuleProblem(str(file), None, None, f"cannot read: {exc}", "parse-error"))
            continue
        load_text(text, str(file), out)


def builtin_dir() -> Path:
    return Path(str(resources.files("seawall.detect") / "rules"))


def bundled_sigma_dir() -> Path:
    return Path(str(resources.files("seawall") / "data" / "sigma"))


def load_builtin(out: RuleSet) -> None:
    for file in sorted(builtin_dir().glob("*.yaml")):
        load_text(file.read_text(encoding="utf-8"), f"builtin:{file.name}", out)


def load_rules(paths: list[Path], builtin: bool = True, bundled_sigma: bool = True) -> RuleSet:
    out = RuleSet()
    if builtin:
        load_builtin(out)
    if bundled_sigma and bundled_sigma_dir().is_dir():
        load_path(bundled_sigma_dir(), out)
    for path in paths:
        load_path(path, out)
    seen: dict[str, int] = {}
    unique = []
    for rule in out.rules:
        if rule.id in seen:
            out.problems.append(
                RuleProblem(
                    rule.path or "",
                    rule.id,
                    rule.title,
                    "duplicate rule id; the first one loaded is used",
                    "parse-error",
                )
            )
            continue
        seen[rule.id] = 1
        unique.append(rule)
    out.rules = unique
    return out
