"""`seawall agent --ecs-task`: the sidecar for hostless platforms (Fargate) and task definitions
with `pidMode: task`, where every container of the task shares one PID namespace.

It polls `/proc` (no kernel module, no eBPF, no ptrace): new processes of the task's other
containers (pid, parent, user, executable, command line; the container from the process's
cgroup, named through the task metadata endpoint v4 when it is there), whether the executable
was written after its container started (its ctime, read through `/proc/PID/root` without
following links), new TCP connections and listening ports (`/proc/PID/net/tcp[6]`), and — every
`drift_interval` seconds, within an entry budget — executables written into the containers' root
filesystems since they started. Each observation is one event in Falco's JSON alert shape,
shipped in batches to the service's `POST /api/v1/ingest/falco` (Bearer token), or written as
JSON lines to a file or stdout.

Bounded: events per second are capped (the rest counted as dropped), the queue is bounded, reads
of /proc files are capped, the drift walk has a per-round entry budget, and the process table
holds only live processes. What it cannot see (a kernel sensor would): processes that start and
exit between two polls, file writes that are not executables, syscalls, and anything in other
tasks (docs/runtime.md).
"""

from __future__ import annotations

import os
import re
import socket
import stat
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from seawall.core.errors import InputError, SeawallError
from seawall.core.text import printable

MAX_PROC_FILE = 64 << 10
MAX_CMDLINE = 4096
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"})
_CONTAINER_ID = re.compile(r"([0-9a-f]{32}-\d{5,12}|[0-9a-f]{64})")
TCP_STATES = {"01": "ESTABLISHED", "0A": "LISTEN"}


@dataclass(slots=True)
class AgentOptions:
    proc: Path = Path("/proc")
    interval: float = 1.0  # seconds between /proc polls
    drift_interval: float = 60.0  # seconds between drift walks (0: never)
    drift_budget: int = 50_000  # entries per drift walk of one container
    output: str = "-"  # "-", a file, or http(s)://.../api/v1/ingest/falco
    token: str | None = None
    ca_cert: Path | None = None
    metadata_url: str | None = None  # ECS task metadata v4 (default: $ECS_CONTAINER_METADATA_URI_V4)
    cgroup_match: str | None = None  # only processes whose cgroup matches (default: all but our own)
    max_events_per_second: float = 100.0
    max_queue: int = 10_000
    batch_seconds: float = 2.0
    duration: float | None = None  # stop after this many seconds (tests, benchmarks)
    processes: bool = False  # ship every process start, not only the notable ones
    hostname: str = field(default_factory=socket.gethostname)


@dataclass(slots=True)
class Proc:
    pid: int
    start: int  # start time in clock ticks since boot (/proc/PID/stat field 22)
    container: str


@dataclass(slots=True)
class AgentStats:
    polls: int = 0
    processes_seen: int = 0
    events: int = 0
    dropped: int = 0
    shipped: int = 0
    ship_errors: int = 0
    drift_walks: int = 0


def _read(path: Path, limit: int = MAX_PROC_FILE) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def _boot_time(proc: Path) -> float:
    """The boot time on the wall clock, to 10 ms (/proc/uptime; /proc/stat's btime is whole
    seconds, too coarse to tell a file copied just before a container started from one written
    just after)."""
    data = _read(proc / "uptime") or b""
    try:
        return time.time() - float(data.split()[0])
    except (IndexError, ValueError):
        return time.time() - time.monotonic()


def container_of(cgroup: bytes) -> str:
    """The container id in a /proc/PID/cgroup text (ECS `/ecs/TASK/TASK-NNN`, Docker, Podman's
    `libpod-ID`, containerd `cri-containerd-ID`), else the cgroup path itself."""
    text = cgroup.decode("utf-8", "replace")
    found = _CONTAINER_ID.findall(text)
    if found:
        return str(found[-1])
    paths = [line.split(":", 2)[-1] for line in text.splitlines() if line]
    return paths[0] if paths else "?"


def _hex_addr(text: str) -> str:
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:
        addr = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
    return f"{addr}:{int(port, 16)}"


def parse_net_tcp(text: str) -> list[tuple[str, str, str, int]]:
    """(state, local, remote, inode) of each socket line of /proc/net/tcp or tcp6."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] not in TCP_STATES:
            continue
        try:
            out.append((TCP_STATES[fields[3]], _hex_addr(fields[1]), _hex_addr(fields[2]), int(fields[9])))
        except (ValueError, OSError):
            continue
    return out


class Shipper:
    """Events out: JSON lines to stdout/a file, or batches POSTed to the service."""

    def __init__(self, options: AgentOptions, stats: AgentStats) -> None:
        self.options = options
        self.stats = stats
        self.queue: deque[dict[str, Any]] = deque()
        self.last_flush = time.monotonic()
        self._client: Any = None
        self._file: IO[bytes] | None = None
        out = options.output
        if out.startswith(("http://", "https://")):
            from seawall.bounded import http_client

            if not options.token:
                raise InputError("agent: --token (or SEAWALL_TOKEN) is needed to post to the service")
            verify: Any = True
            if options.ca_cert is not None:
                import ssl

                verify = ssl.create_default_context(cafile=str(options.ca_cert))
            self._client = http_client(
                verify=verify,
                timeout=10.0,
                deadline=30.0,
                headers={"Authorization": f"Bearer {options.token}"},
            )
        elif out != "-":
            try:
                self._file = open(out, "ab")  # noqa: SIM115 -- held for the agent's life
            except OSError as exc:
                raise InputError(f"agent: --output {out}: {exc.strerror}") from None

    def put(self, event: dict[str, Any]) -> None:
        if len(self.queue) >= self.options.max_queue:
            self.queue.popleft()
            self.stats.dropped += 1
        self.queue.append(event)

    def flush(self, force: bool = False) -> None:
        if not self.queue or (not force and time.monotonic() - self.last_flush < self.options.batch_seconds):
            return
        self.last_flush = time.monotonic()
        batch = list(self.queue)
        if self._client is not None:
            try:
                resp = self._client.post(
                    self.options.output,
                    content=orjson.dumps(batch),
                    headers={"Content-Type": "application/json"},
                )
                resp.close()
                ok = resp.status_code == 200
            except Exception as exc:  # the service away: keep the queue, retry next flush
                print(f"seawall agent: cannot ship events ({printable(str(exc))[:160]})", file=sys.stderr)
                ok = False
            if not ok:
                self.stats.ship_errors += 1
                return
        else:
            data = b"".join(orjson.dumps(e) + b"\n" for e in batch)
            if self._file is not None:
                self._file.write(data)
                self._file.flush()
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
        self.stats.shipped += len(batch)
        self.queue.clear()

    def close(self) -> None:
        self.flush(force=True)
        if self._client is not None:
            self._client.close()
        if self._file is not None:
            self._file.close()


class Agent:
    def __init__(self, options: AgentOptions, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock
        self.stats = AgentStats()
        self.procs: dict[int, Proc] = {}
        self.container_start: dict[str, float] = {}  # earliest process start per container
        self.container_pid: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.sockets: set[tuple[str, str, str]] = set()
        self.tokens = options.max_events_per_second
        self.last_refill = time.monotonic()
        self.last_drift = time.monotonic()
        self.drift_seen: dict[str, set[str]] = {}
        self.boot = _boot_time(options.proc)
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.own_cgroup = _read(options.proc / "self" / "cgroup") or b""
        self.match = re.compile(options.cgroup_match) if options.cgroup_match else None
        self.shipper = Shipper(options, self.stats)
        self._first = True
        self._names_from_metadata()

    def _names_from_metadata(self) -> None:
        url = self.options.metadata_url or os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
        if not url:
            return
        from seawall.runtime.inventory.ecs_metadata import ECSTaskMetadataSource

        try:
            source = ECSTaskMetadataSource(url)
            try:
                for c in source.containers():
                    self.names[c.id] = c.name
            finally:
                source.close()
        except SeawallError as exc:
            print(f"seawall agent: task metadata: {exc.message}", file=sys.stderr)

    # -- events ---------------------------------------------------------------------------------
    def _allow(self) -> bool:
        now = time.monotonic()
        rate = self.options.max_events_per_second
        self.tokens = min(rate, self.tokens + (now - self.last_refill) * rate)
        self.last_refill = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.stats.dropped += 1
        return False

    def emit(self, rule: str, priority: str, output: str, fields: dict[str, Any], tags: list[str]) -> None:
        if not self._allow():
            return
        self.stats.events += 1
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.shipper.put(
            {
                "rule": rule,
                "priority": priority,
                "output": f"{now[:23]}Z: {priority} {output}",
                "time": now,
                "output_fields": fields,
                "source": "syscall",
                "tags": ["seawall-agent", *tags],
                "hostname": self.options.hostname,
            }
        )

    # -- /proc ----------------------------------------------------------------------------------
    def _pids(self) -> Iterator[int]:
        try:
            names = os.listdir(self.options.proc)
        except OSError as exc:
            raise InputError(f"agent: cannot list {self.options.proc} ({exc.strerror})") from None
        for name in names:
            if name.isdigit():
                yield int(name)

    def _wanted(self, cgroup: bytes) -> bool:
        if self.match is not None:
            return bool(self.match.search(cgroup.decode("utf-8", "replace")))
        return cgroup != self.own_cgroup

    def poll(self) -> None:
        self.stats.polls += 1
        alive: set[int] = set()
        for pid in self._pids():
            alive.add(pid)
            if pid in self.procs:
                continue  # known: only new PIDs are read (a PID reused within one poll is missed)
            stat_raw = _read(self.options.proc / str(pid) / "stat")
            if stat_raw is None:
                continue
            try:
                after = stat_raw.rsplit(b")", 1)[1].split()
                start, ppid = int(after[19]), int(after[1])
            except (IndexError, ValueError):
                continue
            cgroup = _read(self.options.proc / str(pid) / "cgroup") or b""
            if not self._wanted(cgroup):
                self.procs[pid] = Proc(pid, start, "")
                continue
            container = container_of(cgroup)
            self.procs[pid] = Proc(pid, start, container)
            self.stats.processes_seen += 1
            started = self.boot + start / self.ticks
            first_of_container = container not in self.container_start
            if first_of_container or started < self.container_start[container]:
                self.container_start[container] = started
            self.container_pid.setdefault(container, pid)
            if not self._first and not first_of_container:
                self._new_process(pid, ppid, container, started)
        for pid in set(self.procs) - alive:
            del self.procs[pid]
        for container in [c for c, p in self.container_pid.items() if p not in alive]:
            pids = [p.pid for p in self.procs.values() if p.container == container]
            if pids:
                self.container_pid[container] = pids[0]
            else:
                del self.container_pid[container]
        self._connections()
        self._first = False

    def _fields(self, pid: int, ppid: int, container: str) -> dict[str, Any]:
        base = self.options.proc / str(pid)
        cmdline = (_read(base / "cmdline", MAX_CMDLINE) or b"").replace(b"\0", b" ").strip()
        comm = (_read(base / "comm", 256) or b"").strip()
        try:
            exe = os.readlink(base / "exe")
        except OSError:
            exe = ""
        uid = None
        for line in (_read(base / "status") or b"").splitlines():
            if line.startswith(b"Uid:"):
                uid = int(line.split()[1])
        pcomm = (_read(self.options.proc / str(ppid) / "comm", 256) or b"").strip()
        return {
            "proc.pid": pid,
            "proc.ppid": ppid,
            "proc.name": comm.decode("utf-8", "replace"),
            "proc.pname": pcomm.decode("utf-8", "replace"),
            "proc.exepath": exe,
            "proc.cmdline": cmdline.decode("utf-8", "replace"),
            "user.uid": uid,
            "container.id": container[:64],
            "container.name": self.names.get(container, container[:12]),
        }

    def _new_process(self, pid: int, ppid: int, container: str, started: float) -> None:
        fields = self._fields(pid, ppid, container)
        exe = str(fields["proc.exepath"])
        where = f"(container={fields['container.name']} pid={pid} exe={exe} cmdline={fields['proc.cmdline']})"
        drift = self._written_after_start(pid, exe, container)
        if drift is not None:
            fields["fs.ctime"] = drift
            self.emit(
                "Drop and execute new binary in container",
                "Critical",
                f"Executing binary not part of base image {where}",
                fields,
                ["container", "process", "mitre_persistence", "T1105"],
            )
        elif fields["proc.name"] in SHELLS and fields["proc.pname"] not in SHELLS:
            self.emit(
                "Shell spawned in a container",
                "Notice",
                f"A shell was spawned in a container {where}",
                fields,
                ["container", "shell", "mitre_execution", "T1059"],
            )
        elif self.options.processes:
            self.emit(
                "Process started in container",
                "Informational",
                f"Process started {where}",
                fields,
                ["container", "process"],
            )

    def _written_after_start(self, pid: int, exe: str, container: str) -> str | None:
        """ISO ctime of the process's executable when it was written after its container started."""
        if not exe.startswith("/") or exe.endswith(" (deleted)"):
            return None
        from seawall.runtime.livefs import LiveRoot

        try:
            root = LiveRoot(pid=pid, mounts=False) if self.options.proc == Path("/proc") else None
        except SeawallError:
            return None
        if root is None:
            return None
        try:
            parts = [p for p in exe.split("/") if p]
            dfd = root._open_dir(parts[:-1])
            try:
                st = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
            finally:
                os.close(dfd)
        except (OSError, IndexError):
            return None
        finally:
            root.close()
        if not stat.S_ISREG(st.st_mode) or st.st_ctime <= self.container_start.get(container, 0.0):
            return None
        return datetime.fromtimestamp(st.st_ctime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _connections(self) -> None:
        namespaces: dict[str, tuple[int, str]] = {}
        for container, pid in self.container_pid.items():
            try:
                ns = os.readlink(self.options.proc / str(pid) / "ns" / "net")
            except OSError:
                ns = str(pid)
            namespaces.setdefault(ns, (pid, container))
        current: set[tuple[str, str, str]] = set()
        for pid, container in namespaces.values():
            for name in ("tcp", "tcp6"):
                raw = _read(self.options.proc / str(pid) / "net" / name, 4 << 20)
                if not raw:
                    continue
                for state, local, remote, _inode in parse_net_tcp(raw.decode("ascii", "replace")):
                    key = (state, local, remote if state == "ESTABLISHED" else "")
                    current.add(key)
                    if key in self.sockets or self._first:
                        continue
                    fields = {
                        "container.id": container[:64],
                        "container.name": self.names.get(container, container[:12]),
                        "fd.name": f"{local}->{remote}" if state == "ESTABLISHED" else local,
                        "fd.l4proto": "tcp",
                    }
                    if state == "LISTEN":
                        self.emit(
                            "Listening port opened in container",
                            "Notice",
                            f"New listening socket {local} (container={fields['container.name']})",
                            fields,
                            ["container", "network"],
                        )
                    else:
                        self.emit(
                            "Network connection in container",
                            "Informational",
                            f"New TCP connection {local} -> {remote} (container={fields['container.name']})",
                            fields,
                            ["container", "network"],
                        )
        self.sockets = current

    # -- drift ----------------------------------------------------------------------------------
    def drift_round(self) -> None:
        """Executables written into each container's root since it started (entry-budgeted)."""
        from seawall.core.errors import LimitExceeded
        from seawall.runtime.livefs import LiveRoot

        self.stats.drift_walks += 1
        for container, pid in list(self.container_pid.items()):
            start = self.container_start.get(container)
            if start is None:
                continue
            seen = self.drift_seen.setdefault(container, set())
            try:
                root = LiveRoot(pid=pid, max_entries=self.options.drift_budget)
            except SeawallError:
                continue
            try:
                for entry in root.walk():
                    if entry.executable and entry.ctime > start and entry.path not in seen:
                        seen.add(entry.path)
                        sha = root.sha256(entry.path, 256 << 20)
                        self.emit(
                            "Executable written in container",
                            "Warning",
                            f"New executable {entry.path} written after start "
                            f"(container={self.names.get(container, container[:12])} size={entry.size})",
                            {
                                "container.id": container[:64],
                                "container.name": self.names.get(container, container[:12]),
                                "fd.name": entry.path,
                                "fs.size": entry.size,
                                "fs.sha256": sha,
                                "fs.mode": f"{entry.mode:04o}",
                            },
                            ["container", "filesystem", "T1105"],
                        )
            except LimitExceeded:
                pass  # the budget: the rest waits for the next round
            finally:
                root.close()

    # -- the loop -------------------------------------------------------------------------------
    def run(
        self, stop: Callable[[], bool] = lambda: False, ready: Callable[[Agent], None] | None = None
    ) -> AgentStats:
        """Poll until `stop()` or the duration; `ready(self)` once the first poll has taken the
        baseline (what runs then is the containers' own, not reported)."""
        started = time.monotonic()
        try:
            while not stop():
                tick = time.monotonic()
                self.poll()
                if ready is not None and self.stats.polls == 1:
                    ready(self)
                if self.options.drift_interval > 0 and tick - self.last_drift >= self.options.drift_interval:
                    self.last_drift = tick
                    self.drift_round()
                self.shipper.flush()
                if self.options.duration is not None and time.monotonic() - started >= self.options.duration:
                    break
                time.sleep(max(0.0, self.options.interval - (time.monotonic() - tick)))
        finally:
            self.shipper.close()
        return self.stats


def task_definition_patch(
    doc: dict[str, Any],
    image: str,
    service_url: str | None,
    token_secret_arn: str | None,
    memory: int = 64,
    cpu: int = 16,
) -> dict[str, Any]:
    """The task definition with the sidecar added (pidMode task, the agent container, its
    environment); `doc` is `aws ecs describe-task-definition` output or a registration input."""
    td = dict(doc.get("taskDefinition") or doc)
    for key in (
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    ):
        td.pop(key, None)
    containers = [c for c in td.get("containerDefinitions") or [] if isinstance(c, dict)]
    if not containers:
        raise InputError("task definition has no containerDefinitions")
    containers = [c for c in containers if c.get("name") != "seawall-agent"]
    command = ["agent", "--ecs-task", "--output", service_url or "-"]
    agent: dict[str, Any] = {
        "name": "seawall-agent",
        "image": image,
        "essential": False,
        "cpu": cpu,
        "memory": memory,
        "memoryReservation": memory,
        "command": command,
        "readonlyRootFilesystem": True,
        "user": "0",
        "linuxParameters": {
            "capabilities": {"add": ["SYS_PTRACE"], "drop": ["ALL"]},
            "initProcessEnabled": True,
        },
        "logConfiguration": containers[0].get("logConfiguration"),
    }
    if token_secret_arn:
        agent["secrets"] = [{"name": "SEAWALL_TOKEN", "valueFrom": token_secret_arn}]
    if not agent["logConfiguration"]:
        del agent["logConfiguration"]
    td["containerDefinitions"] = [*containers, agent]
    td["pidMode"] = "task"
    return td
