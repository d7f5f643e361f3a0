"""What the scheduled jobs (`scan`, `audit`) share: the schedule, and image findings pinned to
the workloads that run the image.

    - {name: nightly, type: scan, registry: registry.example:5000, interval: 24h}
    - {name: posture, type: audit, paths: [/etc/seawall/manifests], interval: 1h}

`interval` is seconds, or a number with s/m/h/d (`30m`, `6h`, `1d`); the first run is at start.

A workload runs an image when its stored images name the image's digest (seen in audit events,
runtime inventories or an earlier scan), when the job's `workloads:` setting maps the repository
to it (`{shop/frontend: [k8s/shop/Deployment/frontend]}`), or when the workload's name is the
repository's last path component (`…/shop/frontend:1.4` -> `k8s/shop/Deployment/frontend`). Each
finding of the image is then stored once per such workload, its resource being the workload (so
that the incident of that workload shows it among what is known), with the image reference and
digest in `extra`; an image that no workload runs keeps its findings under the image.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from seawall.core import Finding, Resource
from seawall.core.errors import InputError
from seawall.service.config import SourceConfig

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def interval_of(cfg: SourceConfig, default: float) -> float:
    value = cfg.get("interval", cfg.get("schedule", default))
    if isinstance(value, bool):
        raise InputError(f"source {cfg.name}: interval must be seconds or e.g. 30m, 6h, 1d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _INTERVAL.match(str(value))
        if not m:
            raise InputError(f"source {cfg.name}: interval must be seconds or e.g. 30m, 6h, 1d")
        seconds = float(m.group(1)) * _UNIT[m.group(2)]
    if seconds < 1:
        raise InputError(f"source {cfg.name}: interval must be at least 1 second")
    return seconds


def resource_of(key: str) -> Resource:
    """The resource whose workload key (seawall.service.workloads.workload_of) is `key`."""
    parts = key.split("/")
    ns = (None if parts[1] == "-" else parts[1]) if len(parts) > 1 else None
    if parts[0] == "k8s" and len(parts) == 4:
        return Resource(type=f"k8s:{parts[2]}", name=parts[3], namespace=ns)
    if parts[0] == "ecs" and len(parts) == 3:
        return Resource(type="ecs:service", name=parts[2], namespace=ns)
    if parts[0] == "container":
        return Resource(type="container", name=parts[-1], workload=key)
    if len(parts) >= 3:
        return Resource(type=parts[0], name="/".join(parts[2:]), namespace=ns)
    return Resource(type="container", name=key, workload=key)


def repository_of(ref: str) -> str:
    """`registry:host:5000/shop/frontend:1.4` -> `shop/frontend` (no registry host, tag, digest)."""
    text = ref.split(":", 1)[1] if ref.startswith("registry:") else ref
    text = text.split("@", 1)[0]
    head, _, last = text.rpartition("/")
    if ":" in last:
        last = last.split(":", 1)[0]
    path = f"{head}/{last}" if head else last
    first, _, rest = path.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest  # a registry host
    return path


def workloads_running(
    ref: str, digest: str | None, known: dict[str, list[dict[str, str]]], mapping: dict[str, list[str]]
) -> list[str]:
    repo = repository_of(ref)
    out: list[str] = []
    for key in mapping.get(repo, []) + mapping.get(ref, []):
        if key not in out:
            out.append(key)
    name = repo.rsplit("/", 1)[-1]
    for key, images in known.items():
        if key in out:
            continue
        runs = bool(digest) and any(i.get("digest") == digest for i in images)
        if runs or (key.rsplit("/", 1)[-1] == name and key.count("/") >= 2):
            out.append(key)
    return sorted(out)


def pin(found: list[Finding], ref: str, digest: str | None, workloads: list[str]) -> list[Finding]:
    """The image's findings, once per workload that runs it (or under the image if none does)."""
    image = {"image": ref, **({"image_digest": digest} if digest else {})}
    out: list[Finding] = []
    for f in found:
        if not workloads:
            out.append(dataclasses.replace(f, extra={**(f.extra or {}), **image}))
            continue
        for key in workloads:
            out.append(
                dataclasses.replace(
                    f,
                    resource=resource_of(key),
                    extra={**(f.extra or {}), **image, "image_resource": f.resource.to_dict()},
                )
            )
    return out


def mapping_of(cfg: SourceConfig) -> dict[str, list[str]]:
    raw = cfg.get("workloads") or {}
    if not isinstance(raw, dict):
        raise InputError(f"source {cfg.name}: workloads must map repositories to workload keys")
    out: dict[str, list[str]] = {}
    for repo, keys in raw.items():
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InputError(f"source {cfg.name}: workloads.{repo} must be workload keys")
        out[str(repo)] = list(keys)
    return out


def strings(cfg: SourceConfig, key: str) -> list[str]:
    value: Any = cfg.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"source {cfg.name}: {key} must be a list of strings")
    return list(value)
