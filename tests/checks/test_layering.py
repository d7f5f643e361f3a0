"""The layering holds: core imports nothing of seawall, report imports only core, and no analyzer
imports another analyzer's internals (only its public entry through seawall.analyzers)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "seawall"
ANALYZER_PACKAGES = {"catalog", "vulndb", "scan", "posture", "detect", "network", "telemetry", "image"}
# which analyzer packages each package may use: the image pipeline is layered
# (image -> catalog -> vulndb -> scan), detect reads telemetry; everything may use the shared
# leaf modules (core, bounded, secrets, checks, report, analyzers)
ALLOWED = {
    "image": set(),
    "catalog": {"image"},
    "vulndb": {"catalog"},
    "scan": {"image", "catalog", "vulndb"},
    "posture": set(),
    "telemetry": set(),
    "detect": {"telemetry"},
    "network": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m == "seawall" or m.startswith("seawall.")}


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_core_imports_nothing_of_seawall() -> None:
    for path in (SRC / "core").rglob("*.py"):
        bad = {m for m in _imports(path) if _package_of(m) not in ("core", "")}
        assert not bad, f"{path} imports {bad}"


def test_report_imports_only_core() -> None:
    for path in (SRC / "report").rglob("*.py"):
        bad = {m for m in _imports(path) if _package_of(m) not in ("core", "report", "")}
        assert not bad, f"{path} imports {bad}"


def test_no_analyzer_imports_another_analyzers_internals() -> None:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in (SRC / package).rglob("*.py"):
            for module in _imports(path):
                other = _package_of(module)
                if other in ANALYZER_PACKAGES and other != package and other not in allowed:
                    problems.append(f"{path.relative_to(SRC)} imports {module}")
    assert not problems, "\n".join(problems)
