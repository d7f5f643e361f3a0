"""Control plane configuration: kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kubelet
flags, and KubeletConfiguration files.

Flags are read from static pod manifests (the container command/args), from systemd units and
drop-ins, and from plain command lines (`ps` output, flag files). What each check tests is data
(`flags:` in checks/kubernetes_controlplane.yaml: the component and the conditions that fail it);
this module reads the flags and evaluates those conditions. Defaults count: kube-apiserver and the
kubelet default to anonymous auth on, kubelet flags to AlwaysAllow, profiling to on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from seawall.core import Resource
from seawall.posture.base import Check, Context, load_checks
from seawall.posture.k8s_common import K8sObject, containers, is_k8s, objects, pod_template
from seawall.posture.loader import Document, LDict, LList

NAME = "kubernetes_controlplane"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubelet")
_FLAG = re.compile(r"(?<![\w-])--([a-zA-Z][a-zA-Z0-9-]*)(?:[= ]([^\s\"'\\]+))?")
_STARTS = {c: re.compile(rf"(^|[/\s=\"']){c}\s+(--|\$)") for c in COMPONENTS}
ETCD_CA_CHECK = "SW-K8S-156"


def accepts(doc: Document) -> bool:
    if doc.fmt == "text":
        return doc.text is not None and any(c in doc.text for c in COMPONENTS)
    return is_k8s(doc)


@dataclass(slots=True)
class Flags:
    component: str
    values: dict[str, tuple[str, int]]  # flag -> (value, line)
    line: int  # where the component's command starts
    path: str
    resource: Resource
    suppress: set[str]


def _from_args(args: list[tuple[str, int]]) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    i = 0
    while i < len(args):
        token, line = args[i]
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            if not eq and i + 1 < len(args) and not args[i + 1][0].startswith("-"):
                value = args[i + 1][0]
                i += 1
            out[name] = (value if (eq or value) else "true", line)
        i += 1
    return out


def _component(tokens: list[str]) -> str | None:
    """The component a command line runs: the program name among its first words."""
    for token in tokens[:3]:
        base = token.rsplit("/", 1)[-1]
        if base in COMPONENTS:
            return base
    return None


def _pod_flags(obj: K8sObject) -> list[Flags]:
    found = pod_template(obj.data)
    if not found:
        return []
    out = []
    for cont in containers(found[1]):
        args: list[tuple[str, int]] = []
        for key in ("command", "args"):
            seq = cont.data.get(key)
            if isinstance(seq, LList):
                for i, item in enumerate(seq):
                    for part in str(item).split():
                        args.append((part, seq.ln(i)))
        component = _component([a for a, _ in args])
        if component is not None:
            out.append(Flags(component, _from_args(args), cont.line, obj.path, obj.resource(),
                             obj.suppressions()))
    return out


def _text_flags(doc: Document) -> list[Flags]:
    assert doc.text is not None
    out = []
    lines = doc.text.splitlines()
    for component, start_re in _STARTS.items():
        start = None
        for n, line in enumerate(lines, 1):
            if start_re.search(line) and not line.lstrip().startswith("#"):
                start = n
                break
        if start is None:
            continue
        values: dict[str, tuple[str, int]] = {}
        for n, line in enumerate(lines, 1):
            if line.lstrip().startswith("#"):
                continue
            for m in _FLAG.finditer(line):
                values[m.group(1)] = (m.group(2) or "true", n)
        if values or component == "kube-apiserver":
            out.append(Flags(component, values, start, doc.path,
                             Resource(type="HostConfig", name=component), set()))
    return out


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def failure(cond: dict[str, Any], values: dict[str, tuple[str, int]]) -> str | None:
    """Evidence when `cond` (one `fail_if` entry) holds for these flags, else None."""
    flag = str(cond["flag"])
    present = flag in values
    value = values[flag][0] if present else ""
    shown = f"--{flag}={value}"
    note = f" ({cond['note']})" if cond.get("note") else ""
    if cond.get("missing"):
        unless = cond.get("unless")
        if not present and not (unless and unless in values):
            return f"--{flag} not set{note}"
        return None
    if cond.get("present"):
        return shown if present else None
    if "is" in cond:
        return shown if present and value.lower() in {str(v).lower() for v in cond["is"]} else None
    if "is_not" in cond:
        return shown if present and value.lower() not in {str(v).lower() for v in cond["is_not"]} else None
    items = [x.strip() for x in value.split(",")] if present else []
    if "has" in cond:
        bad = [str(v) for v in cond["has"] if str(v) in items]
        return f"{shown} (includes {', '.join(bad)})" if bad else None
    if "lacks" in cond:
        missing = [str(v) for v in cond["lacks"] if str(v) not in items]
        if not missing:
            return None
        return f"{shown} (no {', '.join(missing)})" if present else \
            f"--{flag} not set (no {', '.join(missing)})"
    if "below" in cond:
        number = _number(value) if present else None
        return f"{shown} (below {cond['below']})" if number is not None and number < cond["below"] else None
    raise ValueError(f"unknown flag condition {cond}")


class Stream:
    """Each component's flags are judged as its document is read; only the CA file names are kept,
    for the one check that compares two components (etcd and the API server)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.checks = load_checks(NAME)
        self.by_component: dict[str, list[Check]] = {}
        for check in self.checks.values():
            spec = check.params.get("flags")
            if isinstance(spec, dict):
                self.by_component.setdefault(str(spec["component"]), []).append(check)
        self.ca_files: list[Flags] = []  # etcd and kube-apiserver command lines, for CIS 2.7

    def feed(self, doc: Document) -> None:
        flagsets: list[Flags] = []
        if doc.fmt == "text":
            flagsets.extend(_text_flags(doc))
        else:
            for obj in objects([doc]):
                if obj.kind == "Pod":
                    flagsets.extend(_pod_flags(obj))
                elif obj.kind == "KubeletConfiguration":
                    _kubelet_config(obj, self.ctx)
        for fs in flagsets:
            self.judge(fs)
            if fs.component in ("etcd", "kube-apiserver"):
                keep = {k: v for k, v in fs.values.items() if k in ("trusted-ca-file", "client-ca-file")}
                self.ca_files.append(Flags(fs.component, keep, fs.line, fs.path, fs.resource, fs.suppress))

    def judge(self, fs: Flags) -> None:
        for check in self.by_component.get(fs.component, []):
            for cond in check.params["flags"]["fail_if"]:
                evidence = failure(cond, fs.values)
                if evidence is not None:
                    flag = str(cond["flag"])
                    line = fs.values[flag][1] if flag in fs.values else fs.line
                    self.ctx.report(check, fs.resource, fs.path, line, evidence, suppress=fs.suppress)
                    break

    def finish(self) -> None:
        _etcd_ca(self.ca_files, self.checks[ETCD_CA_CHECK], self.ctx)
        self.ca_files = []


def open_stream(ctx: Context) -> Stream:
    return Stream(ctx)


def run(docs: list[Document], ctx: Context) -> None:
    stream = Stream(ctx)
    for doc in docs:
        stream.feed(doc)
    stream.finish()


def _etcd_ca(flagsets: list[Flags], check: Check, ctx: Context) -> None:
    """etcd trusting the CA that signs the API server's clients (CIS 2.7), within one input."""
    client_cas = {fs.values["client-ca-file"][0] for fs in flagsets
                  if fs.component == "kube-apiserver" and "client-ca-file" in fs.values}
    for fs in flagsets:
        if fs.component != "etcd" or "trusted-ca-file" not in fs.values:
            continue
        value, line = fs.values["trusted-ca-file"]
        if value in client_cas:
            ctx.report(check, fs.resource, fs.path, line,
                       f"--trusted-ca-file={value} is also the API server's --client-ca-file",
                       suppress=fs.suppress)


def _kubelet_config(obj: K8sObject, ctx: Context) -> None:
    """KubeletConfiguration (kubelet.config.k8s.io): v1beta1 defaults are secure except readOnlyPort."""
    checks = load_checks(NAME)
    data = obj.data
    res = Resource(type="KubeletConfiguration", name=obj.name if obj.name != "<unnamed>" else "kubelet")
    sup = obj.suppressions()
    authn = data.get("authentication")
    anon = authn.get("anonymous") if isinstance(authn, LDict) else None
    if isinstance(anon, LDict) and anon.get("enabled") is True:
        ctx.report(checks["SW-K8S-064"], res, obj.path, anon.ln("enabled"),
                   "authentication.anonymous.enabled: true", suppress=sup)
    authz = data.get("authorization")
    if isinstance(authz, LDict) and authz.get("mode") == "AlwaysAllow":
        ctx.report(checks["SW-K8S-065"], res, obj.path, authz.ln("mode"),
                   "authorization.mode: AlwaysAllow", suppress=sup)
    port = data.get("readOnlyPort")
    if isinstance(port, int) and port != 0:
        ctx.report(checks["SW-K8S-066"], res, obj.path, data.ln("readOnlyPort"),
                   f"readOnlyPort: {port}", suppress=sup)
