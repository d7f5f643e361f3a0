"""Kubernetes workloads: Pod Security Standards baseline + restricted, and hardening beyond PSS.

Every workload kind is read through its pod template; init and ephemeral containers count.
Findings point at the offending field (e.g. the container's `privileged:` line); when a
required field is missing they point at the container (or pod spec) that lacks it.
"""

from __future__ import annotations

import re

from seawall.core import Severity
from seawall.posture import k8s_shape
from seawall.posture.base import Check, Context, load_checks
from seawall.posture.credentials import secret_in, secret_in_text
from seawall.posture.k8s_common import (
    Container,
    K8sObject,
    containers,
    effective,
    is_k8s,
    objects,
    pod_template,
)
from seawall.posture.loader import Document, LDict, LList
from seawall.secrets import redact

NAME = "kubernetes"

BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                 "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}
VOLUME_TYPES = RESTRICTED_VOLUMES | {
    "hostPath", "nfs", "iscsi", "gitRepo", "flexVolume", "cephfs", "rbd", "glusterfs", "cinder",
    "fc", "flocker", "awsElasticBlockStore", "gcePersistentDisk", "azureDisk", "azureFile",
    "vsphereVolume", "quobyte", "portworxVolume", "scaleIO", "storageos", "photonPersistentDisk"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RUNTIME_SOCKETS = re.compile(
    r"^/(var/)?run/(docker|containerd/containerd|crio/crio|cri-dockerd|podman/podman|k3s/containerd"
    r"/containerd)\.sock$|^/(var/)?run/(docker|containerd|crio)/?$|^/var/lib/docker/?$")
# a digest as the OCI image spec defines it: algorithm:encoded, and for the registered algorithms
# (sha256, sha512, blake3) lower-case hex of their full length
DIGEST = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}|blake3:[a-f0-9]{64}"
                    r"|(?!(?:sha256|sha512|blake3):)[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)$")
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def accepts(doc: Document) -> bool:
    return is_k8s(doc)


def split_image(image: str) -> tuple[str, str, str | None, str | None]:
    """(registry, repository, tag, digest) of an image reference; docker.io when no registry."""
    ref, _, digest_part = image.partition("@")
    digest = digest_part or None
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", ref
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    return registry, path, tag, digest


class _Run:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.checks = load_checks(NAME)

    def c(self, num: int) -> Check:
        return self.checks[f"SW-K8S-{num:03d}"]

    def hit(self, num: int, obj: K8sObject, line: int | None, evidence: str,
            severity: Severity | None = None) -> None:
        self.ctx.report(self.c(num), obj.resource(), obj.path, line or obj.line, evidence,
                        suppress=obj.suppressions(), extra=obj.extra(), severity=severity)

    # ------------------------------------------------------------------ per object
    def workload(self, obj: K8sObject) -> None:
        found = pod_template(obj.data)
        if found is None:
            return
        template, spec = found
        self.pod_level(obj, template, spec)
        for cont in containers(spec):
            self.container(obj, spec, cont, template)

    def pod_level(self, obj: K8sObject, template: LDict, spec: LDict) -> None:
        for num, key in ((2, "hostNetwork"), (3, "hostPID"), (4, "hostIPC")):
            if spec.get(key) is True:
                self.hit(num, obj, spec.ln(key), f"spec.{key}: true")
        volumes = spec.get("volumes")
        if isinstance(volumes, LList):
            for vol in volumes:
                if not isinstance(vol, LDict):
                    continue
                vname = vol.get("name", "?")
                host = vol.get("hostPath")
                if isinstance(host, dict):
                    path = str(host.get("path", ""))
                    line = host.ln("path") if isinstance(host, LDict) else vol.ln("hostPath")
                    if RUNTIME_SOCKETS.match(path.rstrip("/") or "/") or RUNTIME_SOCKETS.match(path):
                        self.hit(20, obj, line, f"volume {vname}: hostPath {path}")
                    self.hit(5, obj, line, f"volume {vname}: hostPath {path}")
                for vtype in vol:
                    if vtype in VOLUME_TYPES and vtype not in RESTRICTED_VOLUMES and vtype != "hostPath":
                        self.hit(14, obj, vol.ln(vtype), f"volume {vname}: {vtype}")
        psc = spec.get("securityContext")
        if isinstance(psc, LDict):
            sysctls = psc.get("sysctls")
            if isinstance(sysctls, LList):
                for i, item in enumerate(sysctls):
                    name = item.get("name") if isinstance(item, dict) else None
                    if isinstance(name, str) and name not in SAFE_SYSCTLS:
                        self.hit(13, obj, sysctls.ln(i), f"sysctl {name}")
        tmeta = template.get("metadata")
        annotations = tmeta.get("annotations") if isinstance(tmeta, dict) else None
        if isinstance(annotations, LDict):
            for key, value in annotations.items():
                if key.startswith(APPARMOR_PREFIX) and not (
                        value == "runtime/default" or str(value).startswith("localhost/")):
                    self.hit(9, obj, annotations.ln(key), f"annotation {key}: {value}")
        if spec.get("automountServiceAccountToken") is not False:
            line = spec.ln("automountServiceAccountToken") if "automountServiceAccountToken" in spec \
                else template.ln("spec")
            self.hit(29, obj, line, "automountServiceAccountToken is not false")

    def container(self, obj: K8sObject, spec: LDict, cont: Container, template: LDict) -> None:
        sc = cont.sc
        who = f"{cont.field[:-1] if cont.field.endswith('s') else cont.field} {cont.name}"
        cline = cont.line
        if sc is not None and sc.get("privileged") is True:
            self.hit(1, obj, sc.ln("privileged"), f"{who}: securityContext.privileged: true")
        else:  # SYS_ADMIN is most of privileged: mount, namespaces, BPF, cgroups release_agent
            caps = sc.get("capabilities") if sc is not None else None
            add = caps.get("add") if isinstance(caps, LDict) else None
            if isinstance(add, LList):
                for i, cap in enumerate(add):
                    if str(cap).upper().removeprefix("CAP_") in ("SYS_ADMIN", "ALL"):
                        self.hit(1, obj, add.ln(i), f"{who}: capabilities.add {cap} (privileged in effect)")
                        break
        win, _ = effective(cont, spec, "windowsOptions")
        if isinstance(win, LDict) and win.get("hostProcess") is True:
            self.hit(8, obj, win.ln("hostProcess"), f"{who}: windowsOptions.hostProcess: true")
        ports = cont.data.get("ports")
        if isinstance(ports, LList):
            for port in ports:
                if isinstance(port, LDict) and port.get("hostPort") not in (None, 0):
                    self.hit(6, obj, port.ln("hostPort"), f"{who}: hostPort {port.get('hostPort')}")
        # capabilities
        caps = sc.get("capabilities") if sc is not None else None
        added: list[str] = []
        dropped: list[str] = []
        if isinstance(caps, LDict):
            add = caps.get("add")
            if isinstance(add, LList):
                added = [str(x).upper().removeprefix("CAP_") for x in add]
                for i, cap in enumerate(added):
                    if cap not in BASELINE_CAPS:
                        self.hit(7, obj, add.ln(i), f"{who}: capabilities.add {cap}")
            drop = caps.get("drop")
            if isinstance(drop, LList):
                dropped = [str(x).upper().removeprefix("CAP_") for x in drop]
        if "ALL" not in dropped:
            line = caps.ln("drop") if isinstance(caps, LDict) and "drop" in caps else (
                sc.ln("capabilities") if sc is not None and "capabilities" in sc else cline)
            self.hit(19, obj, line, f"{who}: capabilities.drop does not include ALL")
        elif any(cap not in ("NET_BIND_SERVICE",) for cap in added):
            extra = sorted({c for c in added if c != "NET_BIND_SERVICE"})
            self.hit(19, obj, caps.ln("add") if isinstance(caps, LDict) else cline,
                     f"{who}: adds {', '.join(extra)} (restricted allows only NET_BIND_SERVICE)")
        # AppArmor (field form), SELinux, procMount, seccomp
        aa, aa_line = effective(cont, spec, "appArmorProfile")
        if isinstance(aa, dict) and aa.get("type") == "Unconfined":
            self.hit(9, obj, aa.ln("type") if isinstance(aa, LDict) else aa_line,
                     f"{who}: appArmorProfile.type: Unconfined")
        se, _ = effective(cont, spec, "seLinuxOptions")
        if isinstance(se, LDict):
            bad = [k for k in ("user", "role") if se.get(k)]
            if str(se.get("type", "") or "") not in SELINUX_TYPES:
                bad.append("type")
            if bad:
                self.hit(10, obj, se.ln(bad[0]),
                         f"{who}: seLinuxOptions " + ", ".join(f"{k}={se.get(k)}" for k in bad))
        if sc is not None and sc.get("procMount") not in (None, "Default"):
            self.hit(11, obj, sc.ln("procMount"), f"{who}: procMount {sc.get('procMount')}")
        prof, prof_line = effective(cont, spec, "seccompProfile")
        ptype = prof.get("type") if isinstance(prof, dict) else None
        if ptype == "Unconfined":
            self.hit(12, obj, prof.ln("type") if isinstance(prof, LDict) else prof_line,
                     f"{who}: seccompProfile.type: Unconfined")
        elif ptype not in ("RuntimeDefault", "Localhost") and not self._seccomp_annotation(template, cont):
            self.hit(18, obj, prof_line or cline, f"{who}: no RuntimeDefault/Localhost seccomp profile")
        # privilege escalation, root
        if not (sc is not None and sc.get("allowPrivilegeEscalation") is False):
            line = sc.ln("allowPrivilegeEscalation") if sc is not None and "allowPrivilegeEscalation" in sc \
                else cline
            self.hit(15, obj, line, f"{who}: allowPrivilegeEscalation is not false")
        nonroot, nr_line = effective(cont, spec, "runAsNonRoot")
        if nonroot is not True:
            self.hit(16, obj, nr_line or cline, f"{who}: runAsNonRoot is not true")
        uid, uid_line = effective(cont, spec, "runAsUser")
        if uid == 0:
            self.hit(17, obj, uid_line, f"{who}: runAsUser: 0")
        if not (sc is not None and sc.get("readOnlyRootFilesystem") is True):
            line = sc.ln("readOnlyRootFilesystem") if sc is not None and "readOnlyRootFilesystem" in sc \
                else cline
            self.hit(21, obj, line, f"{who}: readOnlyRootFilesystem is not true")
        if cont.field != "ephemeralContainers":
            resources = cont.data.get("resources")
            limits = resources.get("limits") if isinstance(resources, LDict) else None
            for num, res in ((22, "cpu"), (23, "memory")):
                if not (isinstance(limits, dict) and limits.get(res) not in (None, "")):
                    if isinstance(resources, LDict) and "limits" in resources:
                        line = resources.ln("limits")
                    else:
                        line = cont.data.ln("resources") if "resources" in cont.data else cline
                    self.hit(num, obj, line, f"{who}: no resources.limits.{res}")
        self.image(obj, cont, who)
        self.env(obj, cont, who)

    @staticmethod
    def _seccomp_annotation(template: LDict, cont: Container) -> bool:
        meta = template.get("metadata")
        ann = meta.get("annotations") if isinstance(meta, dict) else None
        if not isinstance(ann, dict):
            return False
        for key in ("seccomp.security.alpha.kubernetes.io/pod",
                    f"container.seccomp.security.alpha.kubernetes.io/{cont.name}"):
            value = str(ann.get(key, ""))
            if value in ("runtime/default", "docker/default") or value.startswith("localhost/"):
                return True
        return False

    def image(self, obj: K8sObject, cont: Container, who: str) -> None:
        image = cont.data.get("image")
        if not isinstance(image, str) or not image:
            return
        line = cont.data.ln("image")
        registry, repo, tag, digest = split_image(image)
        pinned = digest is not None and DIGEST.match(digest) is not None
        if not pinned and (tag is None or tag == "latest"):
            self.hit(24, obj, line, f"{who}: image {image}")
        if not pinned:
            invalid = " (not a valid digest: sha256, sha512 and blake3 need lower-case hex of full length)"
            self.hit(25, obj, line, f"{who}: image {image}" + (invalid if digest else ""))
        allowed = self.ctx.policy.allowed_registries
        if allowed:
            full = f"{registry}/{repo}"
            if not any(full == a or full.startswith(a + "/") or registry == a for a in allowed):
                self.hit(26, obj, line, f"{who}: image {image} (registry {registry})")

    def env(self, obj: K8sObject, cont: Container, who: str) -> None:
        env = cont.data.get("env")
        if isinstance(env, LList):
            for item in env:
                if not isinstance(item, LDict):
                    continue
                name = str(item.get("name", ""))
                value = item.get("value")
                if isinstance(value, str) and value.strip():
                    found = secret_in(name, value)
                    if found is not None:
                        self.hit(27, obj, item.ln("value"), f"{who}: env {name}={redact(found.secret)}")
                vfrom = item.get("valueFrom")
                if isinstance(vfrom, LDict) and "secretKeyRef" in vfrom:
                    self.hit(28, obj, vfrom.ln("secretKeyRef"), f"{who}: env {name} from secretKeyRef")
        env_from = cont.data.get("envFrom")
        if isinstance(env_from, LList):
            for i, item in enumerate(env_from):
                if isinstance(item, LDict) and "secretRef" in item:
                    ref = item.get("secretRef")
                    rname = ref.get("name") if isinstance(ref, dict) else "?"
                    self.hit(33, obj, env_from.ln(i), f"{who}: envFrom secretRef {rname} (every key of the "
                             "Secret becomes an environment variable)")

    def service_account(self, obj: K8sObject) -> None:
        if obj.kind != "ServiceAccount" or obj.name != "default":
            return
        value = obj.data.get("automountServiceAccountToken")
        if value is not False:
            line = obj.data.ln("automountServiceAccountToken") if "automountServiceAccountToken" in obj.data \
                else obj.line
            self.hit(31, obj, line, f"ServiceAccount default: automountServiceAccountToken is {value}"
                     if value is not None else "ServiceAccount default: automountServiceAccountToken not set")

    def config_map(self, obj: K8sObject) -> None:
        """Credentials in a ConfigMap's data: readable by anyone who may read ConfigMaps."""
        if obj.kind != "ConfigMap":
            return
        data = obj.data.get("data")
        if not isinstance(data, LDict):
            return
        for key, value in data.items():
            if not isinstance(value, str) or not value.strip():
                continue
            found = secret_in_text(key, value) if "\n" in value.strip() else secret_in(key, value)
            if found is not None:
                shown = f"{found.key}={redact(found.secret)}" if found.key and found.key != key \
                    else redact(found.secret)
                self.hit(32, obj, data.ln(key), f"data.{key}: {shown} ({found.title})")

    def namespace(self, obj: K8sObject) -> None:
        if obj.kind in ("Namespace", "List") or obj.kind.startswith("Cluster"):
            return
        if obj.name == "kubernetes" and obj.kind in ("Service", "Endpoints", "EndpointSlice"):
            return  # the API server's own Service, created in default by Kubernetes itself
        if obj.namespace == "default":
            self.hit(30, obj, obj.meta.ln("namespace"), f"{obj.kind} {obj.name} in namespace default")


class Stream:
    """Workload, ConfigMap, ServiceAccount and namespace checks judge each object alone: every
    document is checked as it is read and nothing is kept."""

    def __init__(self, ctx: Context) -> None:
        self.runner = _Run(ctx)

    def feed(self, doc: Document) -> None:
        run([doc], self.runner.ctx, self.runner)

    def finish(self) -> None:
        pass


def open_stream(ctx: Context) -> Stream:
    return Stream(ctx)


def run(docs: list[Document], ctx: Context, runner: _Run | None = None) -> None:
    runner = runner or _Run(ctx)
    for obj in objects(docs):
        for field, problem, line in k8s_shape.problems(obj):
            ctx.skip(f"field {field} of {obj.kind} {obj.name} ({obj.path}:{line})",
                     f"{problem}; the checks that read it were not applied", category="damaged")
        runner.namespace(obj)
        runner.workload(obj)
        runner.config_map(obj)
        runner.service_account(obj)

