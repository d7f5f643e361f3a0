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
from sigma.filters import SigmaFilter
from sigma.policy import SigmaPolicy
from sigma.policy.regex_engine import PythonRegexEngine
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from seawall.checks import spec_from_mapping
from seawall.core import FindingKind, Severity
from seawall.core.errors import InputError
from seawall.detect.context import Context, load_context
from seawall.detect.model import Aggregate, FirstSeen, Rule, RuleProblem, RuleSet, Sequence, Threshold

_NATIVE_NS = uuid.UUID("5e0a9a11-0000-4000-8000-5ea3a1100000")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
MAX_RULE_FILE = 4 << 20
# regular expressions are checked against the engine that runs them (Rust's, in Polars: see
# compiler.check_regex), which reports look-around and back-references as unsupported; pySigma's
# default check (RE2) would call them parse errors and log to the terminal
POLICY = SigmaPolicy(regex_engine=PythonRegexEngine())


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


def _aggregate(spec: Any) -> Aggregate | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("by"), list) or not spec["by"]:
        raise ValueError("aggregate needs `by: [fields]`")
    window = duration(spec["window"]) if "window" in spec else None
    return Aggregate(by=[str(f) for f in spec["by"]], window=window)


def _native(entry: dict[str, Any], path: str, pipeline: ProcessingPipeline | None = None) -> Rule:
    rid = str(entry["id"])
    # what a finding says (title, severity, ATT&CK, description, remediation, references) is read
    # by the one check spec loader, seawall.checks, which validates the ATT&CK ids and references
    meta = spec_from_mapping({**entry, "severity": entry.get("severity", "medium")}, path, id=rid,
                             default_kind=FindingKind.DETECTION)
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
    srule = SigmaRule.from_dict(sigma_doc, policy=POLICY)
    if pipeline is not None:
        pipeline.apply(srule)
    trees = [c.parse() for c in srule.detection.parsed_condition]
    return Rule(
        id=rid,
        title=meta.title,
        severity=meta.severity,
        sources=sources,
        conditions=trees,
        kind=kind,
        attack=list(meta.attack),
        description=meta.description,
        remediation=meta.remediation or None,
        references=list(meta.references),
        origin="builtin" if path.startswith("builtin:") else "native",
        path=path,
        threshold=threshold,
        sequence=sequence,
        first_seen=first_seen,
        dedupe_by=list(entry.get("dedupe_by", [])) + list((entry.get("aggregate") or {}).get("by", [])),
        aggregate=_aggregate(entry.get("aggregate")),
        falco=list(entry.get("falco", [])),
        enabled=bool(entry.get("enabled", True)),
        tests=dict(entry.get("tests", {})),
    )


def load_text(text: str, path: str, out: RuleSet, pending: Pending | None = None) -> None:
    """One YAML file: native (`rules:` list) or Sigma (rule and filter documents). Sigma rules
    are converted once every file is read (`Pending.finish`), so that Sigma filters in any file
    apply to them."""
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
        pipeline = pending.pipeline if pending is not None else None
        for entry in docs[0]["rules"]:
            rid = entry.get("id") if isinstance(entry, dict) else None
            try:
                if not isinstance(entry, dict):
                    raise ValueError("a rule must be a mapping")
                out.rules.append(_native(entry, path, pipeline))
            except (SigmaError, InputError, ValueError, KeyError, TypeError) as exc:
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
        collection = SigmaCollection.from_yaml(text, collect_errors=True, collect_filters=True, policy=POLICY)
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
    own = pending is None
    pending = pending if pending is not None else Pending()
    for sfilter in collection.filters:
        if sfilter.errors:
            out.problems.append(RuleProblem(path, str(sfilter.id) if sfilter.id else None, sfilter.title,
                                            "; ".join(str(e) for e in sfilter.errors)[:300], "parse-error"))
        else:
            pending.filters.append((sfilter, path))
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
        pending.rules.append((rule, path))
    if own:
        pending.finish(out)


class Pending:
    """Sigma rules and filters read so far; `finish` applies every filter that names a rule and
    the processing pipeline (seawall's, with the context's value lists), then converts them."""

    def __init__(self, pipeline: ProcessingPipeline | None = None) -> None:
        self.rules: list[tuple[SigmaRule, str]] = []
        self.filters: list[tuple[SigmaFilter, str]] = []
        self.pipeline = pipeline

    def finish(self, out: RuleSet) -> None:
        for rule, path in self.rules:
            applied = []
            try:
                for sfilter, fpath in self.filters:
                    before = list(rule.detection.condition)
                    rule = sfilter.apply_on_rule(rule)  # type: ignore[assignment]
                    if rule.detection.condition != before:
                        applied.append(f"{sfilter.title} ({Path(fpath).name})")
                if self.pipeline is not None:
                    self.pipeline.apply(rule)
            except SigmaError as exc:
                out.problems.append(RuleProblem(path, str(rule.id) if rule.id else None, rule.title,
                                                f"filter or pipeline: {exc}"[:300], "parse-error"))
                continue
            loaded = _from_sigma(rule, path, out.problems)
            if loaded is not None:
                loaded.filters = applied
                out.rules.append(loaded)
        self.rules, self.filters = [], []


def load_path(path: Path, out: RuleSet, pending: Pending | None = None, skip: Path | None = None) -> None:
    """A rule file, or every .yml/.yaml file under a directory (but not under `skip`)."""
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix in (".yml", ".yaml") and p.is_file() and (skip is None or skip not in p.parents)
        )
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
        load_text(text, str(file), out, pending)


def builtin_dir() -> Path:
    return Path(str(resources.files("seawall.detect") / "rules"))


def bundled_sigma_dir() -> Path:
    return Path(str(resources.files("seawall") / "data" / "sigma"))


def tuning_dir() -> Path:
    """seawall's tuning of the SigmaHQ rules, beside them: pipeline.yml and filters/*.yml."""
    return bundled_sigma_dir() / "seawall"


def load_filters(pending: Pending, out: RuleSet) -> None:
    """seawall's Sigma filters: they apply to the SigmaHQ rules they name, wherever those rules
    are loaded from (the bundled subset or a full copy given with --rules)."""
    for file in sorted((tuning_dir() / "filters").glob("*.yml")):
        collection = SigmaCollection.from_yaml(file.read_text(encoding="utf-8"), collect_errors=True,
                                               collect_filters=True, policy=POLICY)
        for err in collection.errors:
            where = f"builtin:{file.name}"
            out.problems.append(RuleProblem(where, None, None, str(err)[:300], "parse-error"))
        pending.filters.extend((f, f"builtin:{file.name}") for f in collection.filters if not f.errors)


def load_pipeline(context: Context) -> ProcessingPipeline:
    """seawall's pySigma processing pipeline (data/sigma/seawall/pipeline.yml), its value
    placeholders filled from the context's lists."""
    text = (tuning_dir() / "pipeline.yml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["vars"] = {**doc.get("vars", {}), **context.placeholder_values()}
    return ProcessingPipeline.from_dict(doc)


def load_builtin(out: RuleSet, pending: Pending | None = None) -> None:
    for file in sorted(builtin_dir().glob("*.yaml")):
        load_text(file.read_text(encoding="utf-8"), f"builtin:{file.name}", out, pending)


def load_rules(
    paths: list[Path], builtin: bool = True, bundled_sigma: bool = True, context: Context | None = None
) -> RuleSet:
    """The built-in pack, the bundled Sigma subset (with seawall's filters beside it) and `paths`;
    Sigma filters and the pipeline apply to every Sigma rule, whichever file it came from."""
    context = context if context is not None else load_context()
    out = RuleSet(context=context)
    pending = Pending(load_pipeline(context))
    load_filters(pending, out)
    if builtin:
        load_builtin(out, pending)
    if bundled_sigma and bundled_sigma_dir().is_dir():
        load_path(bundled_sigma_dir(), out, pending, skip=tuning_dir())
    for path in paths:  # (the bundled folder given again: its tuning is not a rule file)
        bundled = path.resolve() == bundled_sigma_dir().resolve()
        load_path(path, out, pending, skip=tuning_dir() if bundled else None)
    pending.finish(out)
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
    for rule in out.rules:
        rule.allow = [entry.resolved(context) for entry in context.entries_for(rule.id)]
    return out
