"""Control plane configuration: kube-apiserver / kubelet flags and KubeletConfiguration files.

Flags are read from static pod manifests (the container command/args), from systemd units and
drop-ins, and from plain command lines (`ps` output, flag files). Defaults count: kube-apiserver
and kubelet both default to anonymous auth on, and kubelet flags default to AlwaysAllow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from seawall.core import Resource
from seawall.posture.base import Context, load_checks
from seawall.posture.k8s_common import K8sObject, containers, is_k8s, objects, pod_template
from seawall.posture.loader import Document, LDict, LList

NAME = "kubernetes_controlplane"
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)(?:[= ]([^\s\"'\\]+))?")


def accepts(doc: Document) -> bool:
    if doc.fmt == "text":
        return doc.text is not None and ("kube-apiserver" in doc.text or "kubelet" in doc.text)
    return is_k8s(doc)


@dataclass(slots=True)
class Flags:
    component: str  # kube-apiserver | kubelet
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
        names = " ".join(a for a, _ in args[:3])
        for component in ("kube-apiserver", "kubelet"):
            if re.search(rf"(^|/|\s){component}(\s|$)", names):
                out.append(Flags(component, _from_args(args), cont.line, obj.path, obj.resource(),
                                 obj.suppressions()))
    return out


def _text_flags(doc: Document) -> list[Flags]:
    assert doc.text is not None
    out = []
    for component in ("kube-apiserver", "kubelet"):
        start = None
        values: dict[str, tuple[str, int]] = {}
        lines = doc.text.splitlines()
        for n, line in enumerate(lines, 1):
            if re.search(rf"(^|[/\s=\"']){component}\s+(--|\$)", line) and not line.lstrip().startswith("#"):
                start = n
                break
        if start is None:
            continue
        for n, line in enumerate(lines, 1):
            if line.lstrip().startswith("#"):
                continue
            for m in _FLAG.finditer(line):
                values[m.group(1)] = (m.group(2) or "true", n)
        if start is not None and (values or component == "kube-apiserver"):
            out.append(Flags(component, values, start, doc.path,
                             Resource(type="HostConfig", name=component), set()))
    return out


def run(docs: list[Document], ctx: Context) -> None:
    checks = load_checks(NAME)
    flagsets: list[Flags] = []
    for doc in docs:
        if doc.fmt == "text":
            flagsets.extend(_text_flags(doc))
    for obj in objects([d for d in docs if d.fmt != "text"]):
        if obj.kind == "Pod":
            flagsets.extend(_pod_flags(obj))
        elif obj.kind == "KubeletConfiguration":
            _kubelet_config(obj, ctx)

    for fs in flagsets:
        def rep(cid: str, flag: str | None, ev: str, fs: Flags = fs) -> None:
            line = fs.values[flag][1] if flag and flag in fs.values else fs.line
            ctx.report(checks[cid], fs.resource, fs.path, line, ev, suppress=fs.suppress)
        v = {k: val for k, (val, _) in fs.values.items()}
        if fs.component == "kube-apiserver":
            if v.get("anonymous-auth", "true").lower() != "false":
                rep("SW-K8S-060", "anonymous-auth",
                    f"--anonymous-auth={v['anonymous-auth']}" if "anonymous-auth" in v
                    else "--anonymous-auth not set (defaults to true)")
            if v.get("insecure-port", "0") != "0":
                rep("SW-K8S-061", "insecure-port", f"--insecure-port={v['insecure-port']}")
            if "AlwaysAllow" in v.get("authorization-mode", "").split(","):
                rep("SW-K8S-062", "authorization-mode", f"--authorization-mode={v['authorization-mode']}")
            if not v.get("audit-log-path"):
                rep("SW-K8S-063", None, "--audit-log-path not set")
        else:
            uses_config = "config" in v
            if v.get("anonymous-auth", "" if uses_config else "true").lower() == "true":
                rep("SW-K8S-064", "anonymous-auth",
                    f"--anonymous-auth={v['anonymous-auth']}" if "anonymous-auth" in v
                    else "--anonymous-auth not set and no --config (defaults to true)")
            mode = v.get("authorization-mode", "" if uses_config else "AlwaysAllow")
            if "AlwaysAllow" in mode.split(","):
                rep("SW-K8S-065", "authorization-mode",
                    f"--authorization-mode={mode}" if "authorization-mode" in v
                    else "--authorization-mode not set and no --config (defaults to AlwaysAllow)")
            if v.get("read-only-port", "0") not in ("0", ""):
                rep("SW-K8S-066", "read-only-port", f"--read-only-port={v['read-only-port']}")


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
