"""Detection context as data: value lists, allowlists of known system workloads and controllers,
and the organisation (AWS Organization, accounts, networks, registries).

The shipped context (`context.yaml` beside this module) lists what runs on managed clusters by
design -- EKS, GKE and AKS add-ons, common controllers (kube-state-metrics, cert-manager,
external-secrets, Argo CD, Flux, Karpenter) -- and operators extend it with their own files
(`seawall detect --context FILE`), Falco-style: a document is a list of items

    - list: k8s_allowed_users          # a value list (Sigma placeholders %k8s_allowed_users%)
      items: [alice@example.com]
      append: true                     # add to the shipped list (without it: replace it)
    - allowlist: system_workloads      # entries that quiet or lower named rules
      append: true
      items:
        - id: my-cni
          reason: our CNI, privileged by design
          rules: [SW-K8S-PRIVILEGED-POD]
          match: {objectRef.namespace: [kube-system], k8s.owner: [my-cni]}
          every: {k8s.images: ["registry.example.com/cni:*"]}
    - organization:
        id: o-a1b2c3d4e5
        accounts: ["111122223333"]
        cidrs: [10.0.0.0/8]
        registries: ["111122223333.dkr.ecr.*.amazonaws.com/*"]

An allowlist entry applies to the rules it names: an event that a rule matches and that the entry
matches (every `match` field has a value matching one of its patterns; every element of each
`every` list field matches one of its patterns, and there is at least one) is `suppress`ed (the
finding stays, at severity info, saying which entry quieted it) or `lower`ed (to the entry's
`severity`). Patterns are globs (`*`, `?`), compared exactly (case matters). Value lists feed
Sigma placeholders (`field|expand: '%name%'`) in rules and in the Sigma filters shipped beside
the SigmaHQ rules.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from seawall.core import Severity
from seawall.core.errors import InputError

MAX_CONTEXT_FILE = 4 << 20
ACTIONS = ("suppress", "lower")
CIDR_PREFIX = "cidr:"  # an allowlist pattern matching the addresses of a network
PLACEHOLDER_NONE = "\x00seawall:empty-list\x00"  # what an empty value list expands to (matches nothing)


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One known workload, identity or activity, and the rules it quiets or lowers."""

    id: str
    allowlist: str
    reason: str
    rules: tuple[str, ...]
    match: tuple[tuple[str, tuple[str, ...]], ...] = ()
    every: tuple[tuple[str, tuple[str, ...]], ...] = ()
    action: str = "suppress"
    severity: Severity = Severity.INFO
    platform: str | None = None

    def resolved(self, context: Context) -> AllowEntry:
        """The entry with its `%list%` references expanded (what a compiled rule carries)."""
        return replace(
            self,
            rules=tuple(context.expand(self.rules)),
            match=tuple((name, tuple(context.expand(globs))) for name, globs in self.match),
            every=tuple((name, tuple(context.expand(globs))) for name, globs in self.every),
        )

    def fields(self) -> set[str]:
        return {name for name, _ in self.match} | {name for name, _ in self.every}

    def describe(self) -> dict[str, Any]:
        """What a finding shows of the entry that quieted or lowered it."""
        out: dict[str, Any] = {
            "allowlist": self.allowlist,
            "entry": self.id,
            "action": self.action,
            "reason": self.reason,
        }
        if self.platform:
            out["platform"] = self.platform
        return out


@dataclass(slots=True)
class Organization:
    id: str | None = None
    accounts: list[str] = field(default_factory=list)
    cidrs: list[str] = field(default_factory=list)
    registries: list[str] = field(default_factory=list)

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c, strict=False) for c in self.cidrs]


@dataclass(slots=True)
class Context:
    lists: dict[str, list[str]] = field(default_factory=dict)
    allowlists: dict[str, list[AllowEntry]] = field(default_factory=dict)
    organization: Organization = field(default_factory=Organization)
    files: list[str] = field(default_factory=list)

    def entries_for(self, rule_id: str) -> list[AllowEntry]:
        entries = [e for listed in self.allowlists.values() for e in listed]
        return [e for e in entries if _names(self.expand(e.rules), rule_id)]

    def expand(self, patterns: tuple[str, ...] | list[str]) -> list[str]:
        """`%name%` in a pattern stands for each value of the list `name` (`%eks_registries%/x:*`)."""
        lists = self.placeholder_values()
        out: list[str] = []
        for pattern in patterns:
            m = _LIST_REF.search(pattern)
            if m is None:
                out.append(pattern)
                continue
            name = m.group(1)
            if name not in lists:
                raise InputError(f"context: pattern {pattern!r} names the list {name!r}, not defined")
            out.extend(self.expand([pattern[: m.start()] + v + pattern[m.end() :] for v in lists[name]]))
        return out

    def placeholder_values(self) -> dict[str, list[str]]:
        """Value lists for Sigma placeholders, with the organisation's lists as `org_accounts`,
        `org_cidrs`, `org_registries` (an empty list expands to a value nothing matches)."""
        values = dict(self.lists)
        org = self.organization
        values["org_accounts"] = list(org.accounts)
        values["org_cidrs"] = list(org.cidrs)
        values["org_registries"] = list(org.registries)
        values["org_id"] = [org.id] if org.id else []
        return {k: (v or [PLACEHOLDER_NONE]) for k, v in values.items()}


_LIST_REF = re.compile(r"%([A-Za-z0-9_]+)%")


def _names(patterns: list[str], rule_id: str) -> bool:
    return any(glob_regex(p).fullmatch(rule_id) for p in patterns)


_GLOBS: dict[str, re.Pattern[str]] = {}


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`*` any run of characters, `?` one character; everything else literal."""
    cached = _GLOBS.get(pattern)
    if cached is None:
        parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern]
        cached = _GLOBS[pattern] = re.compile("(?s)" + "".join(parts))
    return cached


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return tuple(str(v) for v in value)
    raise InputError(f"{where}: expected a string or a list of strings")


def _fieldmap(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a mapping of field -> patterns")
    return tuple((str(k), _strings(v, f"{where}.{k}")) for k, v in value.items())


def _entry(raw: Any, allowlist: str, where: str) -> AllowEntry:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: an allowlist item must be a mapping")
    known = {"id", "reason", "rules", "match", "every", "action", "severity", "platform"}
    unknown = set(raw) - known
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    if "id" not in raw or "rules" not in raw:
        raise InputError(f"{where}: an allowlist item needs `id` and `rules`")
    action = str(raw.get("action", "suppress"))
    if action not in ACTIONS:
        raise InputError(f"{where}: action must be one of {', '.join(ACTIONS)}")
    match, every = (
        _fieldmap(raw.get("match"), f"{where}.match"),
        _fieldmap(raw.get("every"), f"{where}.every"),
    )
    if not match and not every:
        raise InputError(f"{where}: an allowlist item needs `match` or `every`")
    for name, patterns in match + every:  # `cidr:10.0.0.0/8`: an address inside the network
        for p in patterns:
            if p.startswith(CIDR_PREFIX) and "%" not in p:
                try:
                    ipaddress.ip_network(p[len(CIDR_PREFIX) :], strict=False)
                except ValueError as exc:
                    raise InputError(f"{where}.{name}: {exc}") from None
    try:
        severity = Severity.parse(str(raw.get("severity", "info" if action == "suppress" else "low")))
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    return AllowEntry(
        id=str(raw["id"]),
        allowlist=allowlist,
        reason=str(raw.get("reason", "")).strip(),
        rules=_strings(raw["rules"], f"{where}.rules"),
        match=match,
        every=every,
        action=action,
        severity=Severity.INFO if action == "suppress" else severity,
        platform=str(raw["platform"]) if raw.get("platform") else None,
    )


# keys of a context file shared with the network analyzer (seawall.network.context): theirs
_NETWORK_KEYS = {"known_cidrs", "infrastructure", "admin_clients", "network"}


def merge_document(ctx: Context, doc: Any, where: str) -> None:
    """One context document into `ctx`: a list of `list:`, `allowlist:` and `organization:` items,
    or a mapping shared with the network analyzer (`organization:`, and this analyzer's items
    under `detect:`; the network keys are the network analyzer's)."""
    if doc is None:
        return
    if isinstance(doc, dict):
        unknown = set(doc) - _NETWORK_KEYS - {"organization", "detect"}
        if unknown:
            raise InputError(f"{where}: unknown context key(s) {', '.join(sorted(map(str, unknown)))}")
        if isinstance(doc.get("organization"), dict):
            org = dict(doc["organization"])
            if "known_cidrs" in org:  # (the network analyzer's name for them)
                org["cidrs"] = list(_strings(org.pop("known_cidrs"), f"{where}: organization.known_cidrs"))
            merge_document(
                ctx,
                [
                    {
                        "organization": {
                            k: v for k, v in org.items() if k in ("id", "accounts", "cidrs", "registries")
                        },
                        "append": True,
                    }
                ],
                where,
            )
        merge_document(ctx, doc.get("detect"), f"{where}: detect")
        return
    if not isinstance(doc, list):
        raise InputError(
            f"{where}: a context file is a list of `- list:`, `- allowlist:` or `- organization:` items"
        )
    for i, item in enumerate(doc):
        at = f"{where}: item {i + 1}"
        if not isinstance(item, dict):
            raise InputError(f"{at}: expected a mapping")
        append = bool(item.get("append", False))
        if "list" in item:
            name = str(item["list"])
            values = list(_strings(item.get("items", []), f"{at} ({name})"))
            ctx.lists[name] = (ctx.lists.get(name, []) if append else []) + values
        elif "allowlist" in item:
            name = str(item["allowlist"])
            raw_items = item.get("items", [])
            if not isinstance(raw_items, list):
                raise InputError(f"{at} ({name}): items must be a list")
            entries = [_entry(r, name, f"{at} ({name}) entry {j + 1}") for j, r in enumerate(raw_items)]
            ctx.allowlists[name] = (ctx.allowlists.get(name, []) if append else []) + entries
        elif "organization" in item:
            org = item["organization"]
            if not isinstance(org, dict):
                raise InputError(f"{at}: organization must be a mapping")
            cur = ctx.organization
            if org.get("id") is not None:
                cur.id = str(org["id"])
            for key in ("accounts", "cidrs", "registries"):
                if key in org:
                    values = list(_strings(org[key], f"{at}.organization.{key}"))
                    setattr(cur, key, (getattr(cur, key) if append else []) + values)
            try:
                cur.networks()
            except ValueError as exc:
                raise InputError(f"{at}: organization.cidrs: {exc}") from None
        else:
            raise InputError(f"{at}: expected `list`, `allowlist` or `organization`")


def _load_text(ctx: Context, text: str, where: str) -> None:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    merge_document(ctx, doc, where)


def shipped_text() -> str:
    return resources.files("seawall.detect").joinpath("context.yaml").read_text("utf-8")


def load_context(paths: list[Path] | None = None, shipped: bool = True) -> Context:
    """The shipped context, then each operator file in order (a bad file is an error)."""
    ctx = Context()
    if shipped:
        _load_text(ctx, shipped_text(), "builtin:context.yaml")
    for path in paths or []:
        try:
            if path.stat().st_size > MAX_CONTEXT_FILE:
                raise InputError(f"{path}: context file larger than 4 MiB")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot read the context file: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: context file is not UTF-8") from None
        _load_text(ctx, text, str(path))
        ctx.files.append(str(path))
    return ctx
