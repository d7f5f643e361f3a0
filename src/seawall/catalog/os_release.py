"""OS detection from /etc/os-release and the older release files.

Order of trust: /etc/os-release, /usr/lib/os-release, then /etc/alpine-release,
/etc/system-release, /etc/redhat-release, /etc/debian_version. Distroless images carry a
Debian os-release ("PRETTY_NAME=Distroless") and /var/lib/dpkg/status.d/; the visitor
reports `distroless` for them.
"""

from __future__ import annotations

import re
from typing import IO

from seawall.catalog._common import decode
from seawall.core import OSInfo
from seawall.image.base import EntryKind, FileEntry

MAX_RELEASE_FILE = 64 * 1024

_OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
_FALLBACKS = ("/etc/alpine-release", "/etc/system-release", "/etc/redhat-release",
              "/etc/centos-release", "/etc/debian_version")
_WANTED = frozenset(_OS_RELEASE + _FALLBACKS)
_STATUS_D = "/var/lib/dpkg/status.d/"

# OS id -> OSV ecosystem name (where OSV has one; otherwise the distribution's own name).
OS_ECOSYSTEMS: dict[str, str] = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "alpine": "Alpine",
    "wolfi": "Wolfi",
    "chainguard": "Chainguard",
    "rhel": "Red Hat",
    "almalinux": "AlmaLinux",
    "rocky": "Rocky Linux",
    "amzn": "Amazon Linux",
    "centos": "CentOS",
    "fedora": "Fedora",
    "ol": "Oracle Linux",
    "opensuse-leap": "openSUSE",
    "opensuse-tumbleweed": "openSUSE",
    "sles": "SUSE",
    "sle-micro": "SUSE",
    "photon": "Photon OS",
    "mariner": "CBL-Mariner",
    "azurelinux": "Azure Linux",
    "minimos": "MinimOS",
}


def ecosystem_for(os_info: OSInfo | None, default: str) -> str:
    """The OSV ecosystem of the OS's own packages (ID first, then ID_LIKE)."""
    if os_info is None:
        return default
    for ident in (os_info.id, *os_info.id_like):
        eco = OS_ECOSYSTEMS.get(ident)
        if eco:
            return eco
    return default


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines, values optionally quoted with ' or " and backslash escapes."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not key.replace("_", "").isalnum():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            if raw.strip()[len(key) + 1] == '"':
                value = re.sub(r"\\(.)", r"\1", value)
        out[key] = value
    return out


_RELEASE_LINE = re.compile(r"^(?P<name>.+?)\s+release\s+(?P<version>[0-9][0-9.]*)", re.IGNORECASE)
_RELEASE_IDS = (
    ("amazon linux", "amzn"),
    ("red hat enterprise linux", "rhel"),
    ("rocky linux", "rocky"),
    ("almalinux", "almalinux"),
    ("centos", "centos"),
    ("fedora", "fedora"),
    ("oracle linux", "ol"),
)


def _from_release_line(text: str) -> OSInfo | None:
    """'CentOS Linux release 7.9.2009 (Core)', 'Amazon Linux release 2 (Karoo)' ..."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    m = _RELEASE_LINE.match(line)
    if not m:
        return None
    lowered = m.group("name").lower()
    for prefix, ident in _RELEASE_IDS:
        if lowered.startswith(prefix):
            return OSInfo(id=ident, version=m.group("version"), name=line)
    return None


def _debian_version(text: str) -> str | None:
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    m = re.match(r"^(\d+)(?:\.\d+)*$", value)
    return m.group(1) if m else None


class OSReleaseVisitor:
    """Finds the OS of an image (or root filesystem) during the single file pass."""

    name = "os-release"

    def __init__(self) -> None:
        self._files: dict[str, str] = {}
        self._status_d = False
        self.warnings: list[str] = []

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        if path in _WANTED:
            return entry.kind is not EntryKind.DIR
        if path.startswith(_STATUS_D) and not self._status_d:
            self._status_d = True
        return False

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        data = content.read(MAX_RELEASE_FILE + 1)
        if len(data) > MAX_RELEASE_FILE:
            self.warnings.append(f"os-release: {entry.path}: too large, ignored")
            return
        self._files.setdefault(entry.path, decode(data))

    @property
    def distroless(self) -> bool:
        """A Debian os-release with dpkg's status.d/ directory (Google's distroless images)."""
        info = self.os()
        return self._status_d and info is not None and info.id == "debian"

    def os(self) -> OSInfo | None:
        for path in _OS_RELEASE:
            text = self._files.get(path)
            if text is None:
                continue
            info = self._from_os_release(parse_os_release(text))
            if info is not None:
                return info
        return self._from_fallbacks()

    def _from_os_release(self, fields: dict[str, str]) -> OSInfo | None:
        ident = fields.get("ID", "").strip().lower()
        if not ident:
            return None
        version = fields.get("VERSION_ID") or None
        codename = fields.get("VERSION_CODENAME") or None
        if ident == "debian" and not version:
            # testing/sid carry no VERSION_ID; a numbered debian_version still tells the release.
            version = _debian_version(self._files.get("/etc/debian_version", ""))
        if ident == "alpine" and not version:
            alpine = self._files.get("/etc/alpine-release", "").strip()
            version = alpine.splitlines()[0] if alpine else None
        name = fields.get("PRETTY_NAME") or fields.get("NAME") or None
        id_like = tuple(x.lower() for x in fields.get("ID_LIKE", "").split())
        return OSInfo(id=ident, version=version, name=name, codename=codename, id_like=id_like)

    def _from_fallbacks(self) -> OSInfo | None:
        alpine = self._files.get("/etc/alpine-release")
        if alpine and alpine.strip():
            version = alpine.strip().splitlines()[0]
            return OSInfo(id="alpine", version=version, name=f"Alpine Linux v{version}")
        for path in ("/etc/system-release", "/etc/redhat-release", "/etc/centos-release"):
            text = self._files.get(path)
            if text:
                info = _from_release_line(text)
                if info is not None:
                    return info
        debian = self._files.get("/etc/debian_version")
        if debian:
            return OSInfo(id="debian", version=_debian_version(debian), name="Debian GNU/Linux")
        return None
