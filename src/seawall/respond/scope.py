"""Scope and guards as data.

Scope (the operator's config, `respond.scope`) says which namespaces, labels, clusters, accounts
and tags may be acted on; anything else is refused, `--force` or not. Guards (guards.yaml beside
this module, extended by `respond.guards` in the config) refuse control-plane namespaces and
system add-on DaemonSets unless `--force`.

    respond:
      scope:
        namespaces: [shop, "team-*"]        # fnmatch patterns; absent: every namespace
        exclude_namespaces: [payments]
        labels: {seawall.io/respond: allowed}  # the pod must carry these labels
        clusters: [prod]                    # ECS cluster names
        accounts: ["111122223333"]
        tags: {respond: allowed}            # the ECS task (or its service) must carry these tags
      guards:
        control_plane_namespaces: [istio-system]
        system_daemonsets: [datadog-agent]

Config: `--config FILE`, else `$SEAWALL_CONFIG`, else `<user config dir>/seawall/config.yaml`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from seawall.bounded import read_file_capped
from seawall.core.errors import InputError
from seawall.respond.base import Refused

CONFIG_CAP = 1 << 20


@dataclass(slots=True)
class Guards:
    control_plane_namespaces: list[str] = field(default_factory=list)
    system_daemonsets: list[str] = field(default_factory=list)
    system_ecs_families: list[str] = field(default_factory=list)

    def control_plane(self, namespace: str) -> bool:
        return any(fnmatch.fnmatchcase(namespace, p) for p in self.control_plane_namespaces)

    def system_daemonset(self, name: str) -> bool:
        return any(
            name == p or name.startswith(p + "-") or name.startswith(p) for p in self.system_daemonsets
        )


@cache
def _builtin_guards() -> dict[str, list[str]]:
    raw = yaml.safe_load((Path(__file__).parent / "guards.yaml").read_text(encoding="utf-8"))
    return {k: [str(x) for x in v] for k, v in raw.items()}


@dataclass(slots=True)
class Scope:
    namespaces: list[str] | None = None
    exclude_namespaces: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    clusters: list[str] | None = None
    accounts: list[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    guards: Guards = field(default_factory=Guards)
    origin: str = "default (no config)"

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None, origin: str) -> Scope:
        base = _builtin_guards()
        respond = (raw or {}).get("respond") or {}
        if not isinstance(respond, Mapping):
            raise InputError(f"{origin}: 'respond' must be a mapping")
        scope = respond.get("scope") or {}
        extra = respond.get("guards") or {}
        if not isinstance(scope, Mapping) or not isinstance(extra, Mapping):
            raise InputError(f"{origin}: respond.scope and respond.guards must be mappings")

        def strings(key: str, where: Mapping[str, Any] = scope) -> list[str] | None:
            value = where.get(key)
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
                raise InputError(f"{origin}: respond.scope.{key} must be a list of names")
            return [str(v) for v in value]

        def mapping(key: str) -> dict[str, str]:
            value = scope.get(key) or {}
            if not isinstance(value, Mapping):
                raise InputError(f"{origin}: respond.scope.{key} must be a mapping")
            return {str(k): str(v) for k, v in value.items()}

        unknown = set(scope) - {"namespaces", "exclude_namespaces", "labels", "clusters", "accounts", "tags"}
        if unknown:
            raise InputError(f"{origin}: unknown respond.scope key(s): {', '.join(sorted(unknown))}")
        guards = Guards(
            base["control_plane_namespaces"] + (strings("control_plane_namespaces", extra) or []),
            base["system_daemonsets"] + (strings("system_daemonsets", extra) or []),
            base["system_ecs_families"] + (strings("system_ecs_families", extra) or []),
        )
        return cls(
            strings("namespaces"),
            strings("exclude_namespaces") or [],
            mapping("labels"),
            strings("clusters"),
            strings("accounts"),
            mapping("tags"),
            guards,
            origin,
        )

    def check_k8s(self, namespace: str, labels: Mapping[str, str], what: str) -> None:
        if self.namespaces is not None and not any(
            fnmatch.fnmatchcase(namespace, p) for p in self.namespaces
        ):
            raise Refused(
                f"{what}: namespace {namespace} is outside the configured scope "
                f"({self.origin}: respond.scope.namespaces)"
            )
        if any(fnmatch.fnmatchcase(namespace, p) for p in self.exclude_namespaces):
            raise Refused(
                f"{what}: namespace {namespace} is excluded by the configured scope "
                f"({self.origin}: respond.scope.exclude_namespaces)"
            )
        missing = [f"{k}={v}" for k, v in self.labels.items() if labels.get(k) != v]
        if missing:
            raise Refused(
                f"{what}: lacks the label(s) {', '.join(missing)} that the configured scope requires "
                f"({self.origin}: respond.scope.labels)"
            )

    def check_ecs(self, account: str | None, cluster: str, tags: Mapping[str, str], what: str) -> None:
        if self.accounts is not None and (account is None or account not in self.accounts):
            raise Refused(
                f"{what}: account {account or 'unknown'} is outside the configured scope "
                f"({self.origin}: respond.scope.accounts)"
            )
        if self.clusters is not None and not any(fnmatch.fnmatchcase(cluster, p) for p in self.clusters):
            raise Refused(
                f"{what}: cluster {cluster} is outside the configured scope "
                f"({self.origin}: respond.scope.clusters)"
            )
        missing = [f"{k}={v}" for k, v in self.tags.items() if tags.get(k) != v]
        if missing:
            raise Refused(
                f"{what}: lacks the tag(s) {', '.join(missing)} that the configured scope requires "
                f"({self.origin}: respond.scope.tags)"
            )


def config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("SEAWALL_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    default = Path(platformdirs.user_config_dir("seawall")) / "config.yaml"
    return default if default.is_file() else None


def load(explicit: Path | None = None) -> Scope:
    path = config_path(explicit)
    if path is None:
        return Scope.from_config(None, "default (no config)")
    data = read_file_capped(path, CONFIG_CAP, f"config {path}")
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"config {path}{where}: not valid YAML") from None
    if raw is not None and not isinstance(raw, Mapping):
        raise InputError(f"config {path}: expected a mapping at the top")
    return Scope.from_config(raw, str(path))
