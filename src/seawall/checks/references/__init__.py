"""Validation of cross-references (`scheme:id`) against the published id lists shipped here.

Lists (data files beside this module, with their sources and licenses):
  kubescape.tsv       Kubescape controls (kubescape/regolibrary, Apache-2.0)
  checkov.txt         Checkov checks for Kubernetes, Dockerfile and AWS (checkov 3.2.533, Apache-2.0)
  aws-securityhub.yaml  AWS Security Hub CSPM controls, active and retired
  cis.yaml            CIS Docker / Kubernetes / EKS benchmark sections
Schemes without a shipped list are checked by format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml


def _data(name: str) -> str:
    return resources.files("seawall.checks.references").joinpath(name).read_text("utf-8")


def _yaml(text: str) -> Any:
    """libyaml's C loader when PyYAML has it (these lists are read by every verb that loads checks)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


@cache
def kubescape_controls() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _data("kubescape.tsv").splitlines():
        if line and not line.startswith("#"):
            cid, _, name = line.partition("\t")
            out[cid] = name
    return out


@cache
def checkov_checks() -> frozenset[str]:
    return frozenset(line.strip() for line in _data("checkov.txt").splitlines()
                     if line.strip() and not line.startswith("#"))


@cache
def _securityhub() -> tuple[frozenset[str], frozenset[str]]:
    raw = _yaml(_data("aws-securityhub.yaml"))

    def ids(section: str) -> frozenset[str]:
        return frozenset(f"{svc}.{n}" for svc, nums in (raw.get(section) or {}).items() for n in nums)

    return ids("active"), ids("retired")


@cache
def _cis() -> dict[str, dict[str, int]]:
    raw = _yaml(_data("cis.yaml"))
    return {bench: {str(k): int(v) for k, v in sections.items()} for bench, sections in raw.items()}


def _kubescape(value: str) -> str | None:
    if value in kubescape_controls():
        return None
    return "not a Kubescape control id (kubescape/regolibrary controls)"


def _checkov(value: str) -> str | None:
    return None if value in checkov_checks() else "not a Checkov check id"


def _securityhub_ref(value: str) -> str | None:
    active, retired = _securityhub()
    if value in retired:
        return "AWS retired this Security Hub control"
    return None if value in active else "not an AWS Security Hub control id"


def _cis_ref(bench: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        sections = _cis()[bench]
        pinned = re.fullmatch(r"v\d+(\.\d+)*/(\d+(\.\d+)*)", value)
        if pinned:  # a recommendation of an older version of the benchmark (e.g. v1.6.0/1.2.19)
            return None
        if not re.fullmatch(r"\d+(\.\d+)*", value):
            return f"not a {bench} recommendation number"
        if value in sections:  # a whole section
            return None
        head, _, last = value.rpartition(".")
        if head in sections and 1 <= int(last) <= sections[head]:
            return None
        return f"no recommendation {value} in the {bench} benchmark"
    return check


def _pattern(regex: str, what: str) -> Callable[[str], str | None]:
    compiled = re.compile(regex)
    return lambda value: None if compiled.fullmatch(value) else f"not a {what}"


SCHEMES: dict[str, Callable[[str], str | None]] = {
    "kubescape": _kubescape,
    "checkov": _checkov,
    "aws-securityhub": _securityhub_ref,
    "cis-docker": _cis_ref("cis-docker"),
    "cis-k8s": _cis_ref("cis-k8s"),
    "cis-eks": _cis_ref("cis-eks"),
    "pss": _pattern(r"(baseline|restricted)(/[a-z0-9-]+)?",
                    "Pod Security Standards profile (baseline|restricted[/control])"),
    "dockle": _pattern(r"(CIS-DI|DKL-DI|DKL-LI)-\d{4}", "Dockle checkpoint"),
    "hadolint": _pattern(r"(DL|SC)\d{4}", "Hadolint rule"),
    "trivy": _pattern(r"(DS|KSV|KCV|AVD-[A-Z]+-)\d{3,4}", "Trivy check id"),
    "aws-config": _pattern(r"[a-z0-9]+(-[a-z0-9]+)+", "AWS Config managed rule name"),
    "nsa-cisa": _pattern(r"[A-Za-z0-9][A-Za-z0-9 .,/()-]*", "NSA/CISA Kubernetes Hardening Guide section"),
    "aws-guardduty": _pattern(r"[A-Za-z]+:[A-Za-z0-9]+/[A-Za-z0-9.!_-]+", "GuardDuty finding type"),
    "sigma": _pattern(r"[0-9a-f-]{36}", "Sigma rule id"),
    "falco": _pattern(r"[A-Za-z0-9 _-]+", "Falco rule name"),
}


def reference_problem(ref: str) -> str | None:
    """None when `ref` is a known reference, else why not (one line)."""
    if ref.startswith(("https://", "http://")):
        return None
    scheme, sep, value = ref.partition(":")
    if not sep or not value:
        return "expected scheme:id or a URL"
    check = SCHEMES.get(scheme)
    if check is None:
        return f"unknown reference scheme {scheme!r}; known: {', '.join(sorted(SCHEMES))}, URLs"
    return check(value)
