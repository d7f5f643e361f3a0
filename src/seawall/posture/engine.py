"""Run every target module over a set of parsed documents; read files with bounded, safe loaders."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from seawall.core import Report, Target
from seawall.core.errors import InputError, SeawallError
from seawall.posture.base import Check, Context, Policy, TargetModule, load_checks
from seawall.posture.loader import MAX_FILE_BYTES, Document, iter_files, load_file
from seawall.posture.registry import MODULES, known_kinds


@dataclass(slots=True)
class AuditOptions:
    policy: Policy = field(default_factory=Policy)
    only: set[str] | None = None  # restrict to these check ids
    max_file_bytes: int = MAX_FILE_BYTES


def all_checks() -> list[Check]:
    out: list[Check] = []
    for module in MODULES:
        out.extend(load_checks(module.NAME).values())
    return out


def audit_documents(docs: list[Document], ctx: Context,
                    modules: tuple[TargetModule, ...] | None = None) -> None:
    """Hand each module the documents it accepts (modules see all of them at once: joins)."""
    for module in modules or MODULES:
        selected = [d for d in docs if module.accepts(d)]
        if selected:
            module.run(selected, ctx)


def _unrecognised(docs: list[Document], ctx: Context) -> None:
    """Warn about documents no module reads (unknown kinds, stray YAML), once per file."""
    kinds = known_kinds()
    per_file: dict[str, Counter[str]] = {}
    for doc in docs:
        if doc.fmt not in ("yaml", "json"):
            continue
        data = doc.data
        if isinstance(data, dict) and isinstance(data.get("kind"), str) and "apiVersion" in data:
            kind = data["kind"]
            if kind in kinds or kind.endswith("List"):
                continue
            per_file.setdefault(doc.path, Counter())[f"kind {kind}"] += 1
        elif not any(m.accepts(doc) for m in MODULES):
            per_file.setdefault(doc.path, Counter())["not a recognised configuration document"] += 1
    for path, reasons in per_file.items():
        what = ", ".join(sorted(reasons))
        ctx.warn(f"{path}: skipped ({what}: no checks apply)")


def audit_paths(paths: list[Path], options: AuditOptions | None = None) -> Report:
    options = options or AuditOptions()
    ctx = Context(policy=options.policy, only=options.only)
    docs: list[Document] = []
    files = read_ok = 0
    for path, shown in iter_files(paths):
        files += 1
        try:
            loaded = load_file(path, shown, options.max_file_bytes)
        except SeawallError as exc:
            ctx.warn(f"{shown}: {exc.message}")
            continue
        read_ok += 1
        docs.extend(loaded)
    if files == 0:
        raise InputError("no files to audit under " + ", ".join(str(p) for p in paths))
    if read_ok == 0:
        first = ctx.warnings[0] if ctx.warnings else "unknown reason"
        raise InputError(f"none of the {files} file(s) could be read (first: {first})")
    audit_documents(docs, ctx)
    _unrecognised(docs, ctx)
    target = Target(kind="files", name=", ".join(str(p) for p in paths), metadata={
        "files": files, "documents": len(docs), "suppressed": ctx.suppressed})
    report = Report(target=target, findings=ctx.findings, warnings=ctx.warnings)
    sort_findings(report)
    return report


def sort_findings(report: Report) -> None:
    report.findings.sort(key=lambda f: (f.location.path or "", f.location.line or 0, f.rule,
                                        f.resource.name))
