"""Ecosystem and package-name normalization, applied the same way at import and at match time."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_version

from seawall.vulndb.versions.golang import go_toolchain_to_semver

_PEP503 = re.compile(r"[-_.]+")

# OSV ecosystem names, by lower-case name and by purl type
_CANONICAL = {e.lower(): e for e in (
    "PyPI", "npm", "Go", "Maven", "crates.io", "RubyGems", "NuGet", "Packagist", "Hex", "Pub",
    "Debian", "Ubuntu", "Alpine", "Amazon Linux", "Red Hat", "Rocky Linux", "AlmaLinux", "SUSE",
    "openSUSE", "Wolfi", "Chainguard", "Mageia", "Photon OS", "GitHub Actions", "SwiftURL", "Bottlerocket")}
# ecosystems of operating-system packages (OSV's names, and the catalog's for rpm distributions)
OS_ECOSYSTEMS = frozenset({
    "Debian", "Ubuntu", "Alpine", "Amazon Linux", "rpm", "RPM", "Wolfi", "Chainguard", "Red Hat",
    "AlmaLinux", "Rocky Linux", "CentOS", "Fedora", "Oracle Linux", "openSUSE", "SUSE", "Bottlerocket",
    "Photon OS", "CBL-Mariner", "Azure Linux", "MinimOS", "Mageia", "openEuler"})
_PURL_TYPES = {"pypi": "PyPI", "npm": "npm", "golang": "Go", "maven": "Maven", "cargo": "crates.io",
               "gem": "RubyGems", "nuget": "NuGet", "composer": "Packagist", "hex": "Hex",
               "pub": "Pub", "deb": "Debian", "apk": "Alpine", "rpm": "rpm"}
_CANONICAL.update({"cargo": "crates.io", "golang": "Go", "gem": "RubyGems", "rubygems": "RubyGems",
                   "composer": "Packagist", "python": "PyPI", "pip": "PyPI", "deb": "Debian",
                   "dpkg": "Debian", "apk": "Alpine", "java": "Maven", "amzn": "Amazon Linux"})


_RHEL = re.compile(r"^enterprise_linux:(\d+)(?:[.:]|$)")


def canonical_ecosystem(name: str) -> str:
    """`pypi` -> `PyPI`; `debian:12` -> `Debian:12`; Red Hat's CPE-style ecosystems of the main
    RHEL stream (`Red Hat:enterprise_linux:9::appstream`) -> `Red Hat:9`, the release an image's
    os-release names (EUS/AUS/E4S streams keep their own names); unknown names are kept."""
    base, sep, rest = name.partition(":")
    canon = _CANONICAL.get(base.strip().lower(), base.strip())
    if canon == "Red Hat" and rest:
        m = _RHEL.match(rest)
        if m:
            return f"Red Hat:{m.group(1)}"
    return canon + sep + rest


def ecosystem_of_purl(purl: str) -> str | None:
    if not purl.startswith("pkg:"):
        return None
    ptype = purl[4:].split("/", 1)[0].lower()
    return _PURL_TYPES.get(ptype)


def normalize_name(ecosystem: str, name: str) -> str:
    """Per-ecosystem package-name identity: PEP 503 for PyPI, lower-case where names are
    case-insensitive, exact for Go module paths and Maven `group:artifact`."""
    base = ecosystem.split(":", 1)[0]
    name = name.strip()
    if base == "PyPI":
        return _PEP503.sub("-", name).lower()
    if base in ("npm", "NuGet", "Packagist", "Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard",
                "crates.io", "Hex", "Pub"):
        return name.lower()
    if base == "Go":
        return name.rstrip("/")
    return name


def canonical_version(ecosystem: str, version: str) -> str:
    """A string form under which equal versions are equal strings (for OSV `versions` lists)."""
    base = ecosystem.split(":", 1)[0]
    text = version.strip()
    if base == "PyPI":
        try:
            return canonicalize_version(text)
        except Exception:
            return text
    if base == "Go":
        if text.startswith("go"):
            return go_toolchain_to_semver(text) or text
        text = text[1:] if text.startswith("v") else text
        return text.split("+", 1)[0]
    if base == "npm":
        return text.lstrip("=v")
    return text
