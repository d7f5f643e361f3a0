"""Docker host: daemon.json, docker.service / docker.socket units, file ownership and modes, auditd.

`seawall audit PATH` checks a daemon.json or unit file on its own; `seawall audit host --root DIR`
reads a whole root filesystem (default `/`): the daemon settings from daemon.json *and* the
dockerd command line are merged before they are judged, as dockerd merges them.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.core import Report, Resource, Target
from seawall.core.errors import InputError, SeawallError
from seawall.posture.base import Context, load_checks
from seawall.posture.loader import Document, LDict, load_file, read_text

NAME = "dockerhost"
DAEMON_KEYS = {"icc", "userns-remap", "live-restore", "no-new-privileges", "log-driver", "hosts",
               "tls", "tlsverify", "insecure-registries", "storage-driver", "data-root", "log-opts",
               "registry-mirrors", "default-ulimits", "userland-proxy", "experimental", "iptables",
               "seccomp-profile", "selinux-enabled", "authorization-plugins", "bip", "dns"}
UNIT_DIRS = ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system")
REMOTE_LOG_DRIVERS = {"awslogs", "fluentd", "gelf", "syslog", "journald", "splunk", "gcplogs",
                      "logentries", "etwlogs"}
_HOST_FLAG = re.compile(r"(?:-H|--host)[= ]+(\S+)")
_BOOL_FLAG = re.compile(r"--([a-z-]+)(?:=(\S+))?")
# (path under root, CIS audit section)
AUDIT_PATHS = [
    ("/usr/bin/dockerd", "1.1.3"), ("/run/containerd", "1.1.4"), ("/var/lib/docker", "1.1.5"),
    ("/etc/docker", "1.1.6"), ("docker.service", "1.1.7"), ("/run/containerd/containerd.sock", "1.1.8"),
    ("docker.socket", "1.1.9"), ("/etc/default/docker", "1.1.10"), ("/etc/docker/daemon.json", "1.1.11"),
    ("/etc/containerd/config.toml", "1.1.12"), ("/etc/sysconfig/docker", "1.1.13"),
    ("/usr/bin/containerd", "1.1.14"), ("/usr/bin/runc", "1.1.18"),
]


def _is_daemon_json(doc: Document) -> bool:
    data = doc.data
    if doc.fmt != "json" or not isinstance(data, dict):
        return False
    return doc.path.endswith("daemon.json") or len(DAEMON_KEYS & set(data)) >= 2


def _is_unit(doc: Document) -> bool:
    return doc.fmt == "text" and doc.text is not None and bool(re.search(r"\bdockerd\b", doc.text))


def accepts(doc: Document) -> bool:
    return _is_daemon_json(doc) or _is_unit(doc)


@dataclass(slots=True)
class Setting:
    value: Any
    path: str
    line: int | None


@dataclass(slots=True)
class DaemonConfig:
    """Effective daemon settings and where each was set."""

    settings: dict[str, Setting] = field(default_factory=dict)
    hosts: list[Setting] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add_json(self, doc: Document) -> None:
        data = doc.data
        assert isinstance(data, dict)
        self.sources.append(doc.path)
        for key, value in data.items():
            line = data.ln(key) if isinstance(data, LDict) else None
            if key == "hosts" and isinstance(value, list):
                self.hosts.extend(Setting(str(h), doc.path, line) for h in value)
            else:
                self.settings[key] = Setting(value, doc.path, line)

    def add_unit(self, doc: Document) -> None:
        assert doc.text is not None
        self.sources.append(doc.path)
        for n, line in enumerate(doc.text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("#") or ("dockerd" not in stripped and not stripped.startswith(
                    ("ListenStream", "DOCKER_OPTS", "OPTIONS"))):
                continue
            if stripped.startswith("ListenStream="):
                addr = stripped.split("=", 1)[1]
                if not addr.startswith("/"):
                    self.hosts.append(Setting(f"tcp://{addr}", doc.path, n))
                continue
            for m in _HOST_FLAG.finditer(stripped):
                self.hosts.append(Setting(m.group(1).strip("\"'"), doc.path, n))
            for m in _BOOL_FLAG.finditer(stripped):
                key, value = m.group(1), m.group(2)
                if key in ("host",):
                    continue
                parsed: Any = True if value is None else {"true": True, "false": False}.get(value, value)
                if key == "insecure-registry":
                    prev = self.settings.get("insecure-registries")
                    regs = list(prev.value) if prev and isinstance(prev.value, list) else []
                    self.settings["insecure-registries"] = Setting([*regs, value], doc.path, n)
                else:
                    self.settings[key] = Setting(parsed, doc.path, n)

    def get(self, key: str) -> Setting | None:
        return self.settings.get(key)


def judge(cfg: DaemonConfig, ctx: Context, anchor: str) -> None:
    """Settings checks over one effective daemon configuration."""
    checks = load_checks(NAME)
    res = Resource(type="DockerDaemon", name="dockerd")

    def rep(cid: str, setting: Setting | None, ev: str, severity: Any = None) -> None:
        path = setting.path if setting else anchor
        line = setting.line if setting else None
        ctx.report(checks[cid], res, path, line, ev, severity=severity)

    tlsverify = cfg.get("tlsverify")
    verified = tlsverify is not None and tlsverify.value is True
    for host in cfg.hosts:
        addr = str(host.value)
        if not addr.startswith("tcp://") or verified:
            continue
        hostpart = addr[len("tcp://"):].rsplit(":", 1)[0] or "0.0.0.0"  # noqa: S104
        if hostpart in ("127.0.0.1", "localhost", "[::1]"):
            continue
        tls = cfg.get("tls")
        ev = f"listening on {addr} without tlsverify" + (" (TLS without client verification)"
                                                         if tls and tls.value is True else "")
        rep("SW-DH-001", host, ev)
    icc = cfg.get("icc")
    if icc is None or icc.value is not False:
        rep("SW-DH-002", icc, f"icc: {icc.value if icc else 'not set (default true)'}")
    insecure = cfg.get("insecure-registries")
    if insecure and isinstance(insecure.value, list) and insecure.value:
        rep("SW-DH-003", insecure, f"insecure-registries: {insecure.value}")
    userns = cfg.get("userns-remap")
    if not (userns and userns.value):
        rep("SW-DH-004", userns, "userns-remap not set")
    nnp = cfg.get("no-new-privileges")
    if not (nnp and nnp.value is True):
        rep("SW-DH-005", nnp, f"no-new-privileges: {nnp.value if nnp else 'not set'}")
    live = cfg.get("live-restore")
    if not (live and live.value is True):
        rep("SW-DH-006", live, f"live-restore: {live.value if live else 'not set'}")
    driver = cfg.get("log-driver")
    if not (driver and str(driver.value) in REMOTE_LOG_DRIVERS):
        rep("SW-DH-007", driver, f"log-driver: {driver.value if driver else 'not set (json-file)'}")
    proxy = cfg.get("userland-proxy")
    if not (proxy and proxy.value is False):
        rep("SW-DH-008", proxy, f"userland-proxy: {proxy.value if proxy else 'not set (default true)'}")
    exp = cfg.get("experimental")
    if exp and exp.value is True:
        rep("SW-DH-009", exp, "experimental: true")


def run(docs: list[Document], ctx: Context) -> None:
    """`audit PATH`: each daemon.json / unit file judged on its own (no merging across hosts)."""
    for doc in docs:
        cfg = DaemonConfig()
        if _is_daemon_json(doc):
            cfg.add_json(doc)
            judge(cfg, ctx, doc.path)
        else:
            cfg.add_unit(doc)
            # a unit alone says nothing about daemon.json settings: only judge what it exposes
            only_hosts = DaemonConfig(settings={k: v for k, v in cfg.settings.items()
                                                if k in ("tls", "tlsverify")}, hosts=cfg.hosts)
            _judge_hosts_only(only_hosts, ctx, doc.path)


def _judge_hosts_only(cfg: DaemonConfig, ctx: Context, anchor: str) -> None:
    sub = Context(policy=ctx.policy, only=ctx.only, today=ctx.today)
    judge(cfg, sub, anchor)
    ctx.findings.extend(f for f in sub.findings if f.rule == "SW-DH-001")
    ctx.suppressed += sub.suppressed


# --------------------------------------------------------------------------- host mode


def _names(root: Path, file: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        for line in read_text(root / "etc" / file, 4 * 1024 * 1024).splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                out.setdefault(int(parts[2]), parts[0])
    except SeawallError:
        pass
    return out


MAX_LINK_HOPS = 40


def resolve_in_root(root: Path, rel: str) -> Path | None:
    """`rel` (a path of the audited host) inside `root`, with symbolic links followed the way that
    host would follow them: an absolute target starts again at `root`, `..` stops at `root` (as in a
    chroot), so nothing outside `root` is ever looked at. None when a component does not exist or
    the links loop. The result is not itself a link."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    current = root
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        try:
            st = os.lstat(candidate)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > MAX_LINK_HOPS:
                return None
            try:
                target = os.readlink(candidate)
            except OSError:
                return None
            if target.startswith("/"):
                current = root
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        current = candidate
    return current


@dataclass(frozen=True, slots=True)
class Expect:
    rel: str
    owner: str  # "root:root" | "root:docker"
    mode: int  # most permissive allowed
    own_section: str
    mode_section: str


def _expectations(root: Path, cfg: DaemonConfig) -> list[Expect]:
    out = []
    for unit_dir in UNIT_DIRS:
        out.append(Expect(f"{unit_dir}/docker.service", "root:root", 0o644, "3.1", "3.2"))
        out.append(Expect(f"{unit_dir}/docker.socket", "root:root", 0o644, "3.3", "3.4"))
    out += [Expect("etc/docker", "root:root", 0o755, "3.5", "3.6"),
            Expect("etc/docker/daemon.json", "root:root", 0o644, "3.17", "3.18"),
            Expect("etc/default/docker", "root:root", 0o644, "3.19", "3.22"),
            Expect("etc/sysconfig/docker", "root:root", 0o644, "3.20", "3.21"),
            Expect("var/run/docker.sock", "root:docker", 0o660, "3.15", "3.16"),
            Expect("run/docker.sock", "root:docker", 0o660, "3.15", "3.16")]
    for key, mode, own, mod in (("tlscacert", 0o444, "3.9", "3.10"), ("tlscert", 0o444, "3.11", "3.12"),
                                ("tlskey", 0o400, "3.13", "3.14")):
        setting = cfg.get(key)
        if setting and isinstance(setting.value, str) and setting.value.startswith("/"):
            out.append(Expect(setting.value.lstrip("/"), "root:root", mode, own, mod))
    certs = root / "etc" / "docker" / "certs.d"
    if certs.is_dir() and not certs.is_symlink():
        for cert in sorted(certs.rglob("*")):
            if cert.is_file() and not cert.is_symlink():
                out.append(Expect(str(cert.relative_to(root)), "root:root", 0o444, "3.7", "3.8"))
    return out


def _check_files(root: Path, cfg: DaemonConfig, ctx: Context) -> None:
    checks = load_checks(NAME)
    users, groups = _names(root, "passwd"), _names(root, "group")
    seen: set[str] = set()
    for exp in _expectations(root, cfg):
        if exp.rel in seen:
            continue
        seen.add(exp.rel)
        shown = "/" + exp.rel
        path = resolve_in_root(root, exp.rel)
        if path is None:
            if _link_in_path(root, exp.rel):  # a dangling link or a loop on the way
                ctx.skip(shown, "a symbolic link on its path leads nowhere: owner and mode not checked",
                         category="unreadable")
            continue  # else: not there, nothing to judge
        try:
            st = path.lstat()
        except OSError as exc:
            ctx.skip(shown, f"cannot stat: {exc.strerror or exc}", category="unreadable")
            continue
        real = "/" + str(path.relative_to(root)) if path != root else "/"
        # a link's own mode is always 777 and means nothing: the file it leads to is what counts
        link_note = f" (through a symbolic link to {real})" if real != shown else ""
        res = Resource(type="HostFile", name=shown)
        owner = f"{users.get(st.st_uid, 'root' if st.st_uid == 0 else str(st.st_uid))}:" \
                f"{groups.get(st.st_gid, 'root' if st.st_gid == 0 else str(st.st_gid))}"
        allowed_gids = {0} | ({gid for gid, name in groups.items() if name == "docker"}
                              if exp.owner == "root:docker" else set())
        if st.st_uid != 0 or st.st_gid not in allowed_gids:
            ctx.report(checks["SW-DH-010"], res, shown, None,
                       f"{shown}{link_note} owned by {owner}, expected {exp.owner} (CIS {exp.own_section})")
        mode = stat.S_IMODE(st.st_mode)
        if mode & ~exp.mode:
            ctx.report(checks["SW-DH-011"], res, shown, None,
                       f"{shown}{link_note} mode {mode:o}, expected {exp.mode:o} or stricter "
                       f"(CIS {exp.mode_section})")


def _link_in_path(root: Path, rel: str) -> bool:
    """Whether a component of `rel` under `root` is a symbolic link (so a plain lstat misleads)."""
    current = root
    for part in [p for p in rel.split("/") if p]:
        current = current / part
        if current.is_symlink():
            return True
    return False


def _audit_rules(root: Path) -> tuple[str, set[str]]:
    watched: set[str] = set()
    base = root / "etc" / "audit"
    files = [base / "audit.rules"] + (sorted((base / "rules.d").glob("*.rules"))
                                      if (base / "rules.d").is_dir() else [])
    shown = "/etc/audit/rules.d"
    for f in files:
        if not f.is_file() or f.is_symlink():
            continue
        try:
            text = read_text(f, 4 * 1024 * 1024)
        except SeawallError:
            continue
        for line in text.splitlines():
            line = line.strip()
            m = re.match(r"-w\s+(\S+)", line) or re.search(r"-F\s+(?:path|dir)=(\S+)", line)
            if m:
                watched.add(m.group(1).rstrip("/"))
    return shown, watched


def _check_audit(root: Path, units: dict[str, str], ctx: Context) -> None:
    checks = load_checks(NAME)
    shown, watched = _audit_rules(root)
    for target, section in AUDIT_PATHS:
        if target.startswith("/"):
            path = target
        else:
            path = units.get(target, "")
            if not path:
                continue
        if not (root / path.lstrip("/")).exists():
            continue
        if path.rstrip("/") not in watched:
            ctx.report(checks["SW-DH-012"], Resource(type="HostFile", name=path), shown, None,
                       f"no auditd watch on {path} (CIS {section})")


def audit_host(root: Path, ctx: Context) -> Report:
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    cfg = DaemonConfig()
    found: list[str] = []
    daemon_json = resolve_in_root(root, "etc/docker/daemon.json")
    if daemon_json is not None and daemon_json.is_file():
        try:
            for doc in load_file(daemon_json, "/etc/docker/daemon.json"):
                if isinstance(doc.data, dict):
                    doc.fmt = "json"
                    cfg.add_json(doc)
            found.append("/etc/docker/daemon.json")
        except SeawallError as exc:
            ctx.warn(f"/etc/docker/daemon.json: {exc.message}")
    units: dict[str, str] = {}
    for unit_dir in UNIT_DIRS:
        for unit in ("docker.service", "docker.socket"):
            found_unit = resolve_in_root(root, f"{unit_dir}/{unit}")
            if unit in units or found_unit is None or not found_unit.is_file():
                continue
            path = found_unit
            shown = f"/{unit_dir}/{unit}"
            units[unit] = shown
            try:
                text = read_text(path)
            except SeawallError as exc:
                ctx.warn(f"{shown}: {exc.message}")
                continue
            cfg.add_unit(Document(path=shown, data=None, fmt="text", text=text))
            found.append(shown)
        drop_in = resolve_in_root(root, f"{unit_dir}/docker.service.d")
        if drop_in is not None and drop_in.is_dir():
            for conf_name in sorted(p.name for p in drop_in.glob("*.conf")):
                conf = resolve_in_root(root, f"{drop_in.relative_to(root)}/{conf_name}")
                if conf is not None and conf.is_file():
                    try:
                        cfg.add_unit(Document(path=f"/{unit_dir}/docker.service.d/{conf_name}", data=None,
                                              fmt="text", text=read_text(conf)))
                        found.append(f"/{unit_dir}/docker.service.d/{conf_name}")
                    except SeawallError as exc:
                        ctx.warn(f"/{unit_dir}/docker.service.d/{conf_name}: {exc.message}")
    for defaults in ("etc/default/docker", "etc/sysconfig/docker"):
        found_defaults = resolve_in_root(root, defaults)
        if found_defaults is not None and found_defaults.is_file():
            path = found_defaults
            try:
                text = read_text(path)
                cfg.add_unit(Document(path="/" + defaults, data=None, fmt="text",
                                      text=text.replace("DOCKER_OPTS", "dockerd DOCKER_OPTS")))
                found.append("/" + defaults)
            except SeawallError as exc:
                ctx.warn(f"/{defaults}: {exc.message}")
    installed = found or (root / "usr/bin/dockerd").exists() or (root / "etc/docker").is_dir()
    if not installed:
        raise InputError(f"no Docker installation found under {root} (no daemon.json, docker.service, "
                         "docker.socket or /usr/bin/dockerd)")
    judge(cfg, ctx, found[0] if found else "/etc/docker/daemon.json")
    _check_files(root, cfg, ctx)
    _check_audit(root, units, ctx)
    target = Target(kind="host", name=str(root), metadata={"sources": found, "suppressed": ctx.suppressed,
                                                           "uid": os.getuid()})
    return Report(target=target, findings=ctx.findings, warnings=ctx.warnings, skips=ctx.skips)
