"""Java archives: jar/war/ear (and Jenkins/other zip-based variants), nested archives included.

Identity, most trusted first: every `META-INF/maven/<group>/<artifact>/pom.properties` (a shaded
jar carries several). When none of them describes the archive itself (a
`*-jar-with-dependencies.jar` carries its dependencies' but not its own), the archive is named
from the main section of META-INF/MANIFEST.MF and its file name (classifiers such as
`-jar-with-dependencies`, `-shaded`, `-all` dropped), and its group from a table of well-known
artifacts (java_groups.yaml), the OSGi `Bundle-SymbolicName` or `Implementation-Vendor-Id`.
Licenses: the embedded pom.xml's `<licenses>`, else the manifest's `Bundle-License`, mapped to
SPDX ids. Dependencies: the pom.xml's `<dependencies>` (not test/provided/optional), resolved
to the packages found in the same top-level archive.

Nested archives (BOOT-INF/lib/*.jar, WEB-INF/lib/*.jar, a war in an ear ...) are read from
memory, recursively, to a fixed depth. Every member read is bounded three ways: the single-file
limit for one member, `CatalogLimits.archive_bytes_per_file` for one top-level archive and all
it holds, and `archive_bytes_per_image` / `nested_archives_per_image` for all archives of the
image together, so ten zip bombs cost no more than one budget. A member's declared size is
checked before it is decompressed (zipfile never returns more than the declared size). Nothing
is extracted to disk: member names are only text in a location
(`/app/app.jar:BOOT-INF/lib/log4j-core-2.14.1.jar`), so zip-slip names are harmless.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import IO, Any

import yaml

from seawall.catalog._common import BaseCataloger, Ownership, decode, layer_location, purl
from seawall.catalog.base import CatalogContext
from seawall.catalog.licenses import normalize_licenses
from seawall.catalog.limits import Budget, CatalogLimits
from seawall.core import Location, Package
from seawall.image.base import EntryKind, FileEntry, LayerInfo, Limits

ARCHIVE_SUFFIXES = frozenset({".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar"})
MAX_DEPTH = 5
MAX_MEMBERS = 200_000
MAX_SMALL_FILE = 1024 * 1024  # pom.properties, pom.xml, MANIFEST.MF
IN_MEMORY = 64 * 1024 * 1024
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
               NotImplementedError, RuntimeError)
# artifact-version.ext; the version starts with a digit
_DASH_DIGIT = re.compile(r"-(?=\d)")
_VERSION = re.compile(r"^\d[\w.\-+]*$")
# classifiers that name a build flavour, not the artifact (maven-assembly, shade, spring-boot ...)
_CLASSIFIERS = re.compile(r"-(jar-with-dependencies|with-dependencies|shaded|all|uber|fat|standalone|"
                          r"exec|boot|bundle|executable|runner|app|full|nodeps|dist)$", re.IGNORECASE)
_XML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_XML_SKIP = re.compile(r"<(dependencyManagement|build|profiles|reporting|pluginRepositories|"
                       r"repositories|parent)\b.*?</\1\s*>", re.DOTALL)
_XML_BLOCK = {tag: re.compile(rf"<{tag}\b[^>]*>(.*?)</{tag}\s*>", re.DOTALL)
              for tag in ("license", "dependency")}
_XML_FIELD = {tag: re.compile(rf"<{tag}\b[^>]*>\s*([^<]*?)\s*</{tag}\s*>", re.DOTALL)
              for tag in ("name", "url", "groupId", "artifactId", "scope", "optional")}
_SKIPPED_SCOPES = frozenset({"test", "provided", "system", "import"})


@dataclass(slots=True)
class _Found:
    group: str | None
    artifact: str
    version: str
    archive: str  # display path: /app/app.jar:BOOT-INF/lib/x.jar
    source: str  # pom.properties | manifest | filename
    loc: Location
    root: str  # the top-level archive's path
    licenses: list[str] = field(default_factory=list)
    depends: list[tuple[str, str]] = field(default_factory=list)  # (group, artifact)
    package: Package | None = None


def parse_properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"^([^=:\s]+)\s*[=:]\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a MANIFEST.MF (72-byte lines continue with a leading space)."""
    out: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            break
        if line[0] == " " and last is not None:
            out[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            out[last] = value.strip()
    return out


def parse_pom_xml(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(license names or URLs, (groupId, artifactId) of the runtime dependencies) of a pom.xml.

    Read with bounded regular expressions, never an XML parser (no entities, no DTDs): a pom
    inside an image is hostile text. Dependency management, build plugins, profiles and the
    parent are left out; `${...}` placeholders stay unresolved (such dependencies are dropped)."""
    text = _XML_COMMENT.sub("", text)
    licenses: list[str] = []
    for block in _XML_BLOCK["license"].findall(text)[:32]:
        m = _XML_FIELD["name"].search(block) or _XML_FIELD["url"].search(block)
        if m and m.group(1) and m.group(1) not in licenses:
            licenses.append(m.group(1))
    body = _XML_SKIP.sub("", text)
    deps: list[tuple[str, str]] = []
    for block in _XML_BLOCK["dependency"].findall(body)[:2000]:
        g, a = _XML_FIELD["groupId"].search(block), _XML_FIELD["artifactId"].search(block)
        scope, optional = _XML_FIELD["scope"].search(block), _XML_FIELD["optional"].search(block)
        if not g or not a or "${" in g.group(1) + a.group(1):
            continue
        if scope and scope.group(1).strip() in _SKIPPED_SCOPES:
            continue
        if optional and optional.group(1).strip() == "true":
            continue
        deps.append((g.group(1).strip(), a.group(1).strip()))
    return licenses, deps


@cache
def _groups() -> tuple[dict[str, str], list[tuple[str, str]]]:
    text = resources.files("seawall.catalog").joinpath("java_groups.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    exact = {str(k): str(v) for k, v in (doc.get("artifacts") or {}).items()}
    prefixes = sorted(((str(k), str(v or "")) for k, v in (doc.get("prefixes") or {}).items()),
                      key=lambda kv: -len(kv[0]))
    return exact, prefixes


def known_group(artifact: str) -> str | None:
    """The group id of a well-known artifact (java_groups.yaml), or None."""
    exact, prefixes = _groups()
    if artifact in exact:
        return exact[artifact]
    for prefix, group in prefixes:
        if artifact.startswith(prefix):
            return group or artifact
    return None


def _group_from_manifest(artifact: str, mf: dict[str, str]) -> str | None:
    for key in ("Bundle-SymbolicName", "Automatic-Module-Name"):
        symbolic = mf.get(key, "").split(";")[0].strip()
        if not symbolic or "." not in symbolic:
            continue
        if symbolic.endswith("." + artifact):  # com.fasterxml.jackson.core.jackson-databind
            return symbolic[: -len(artifact) - 1]
        prefix, _, tail = symbolic.rpartition(".")
        if tail == artifact.split("-")[-1]:  # org.apache.logging.log4j.core for log4j-core
            return prefix
    vendor = mf.get("Implementation-Vendor-Id", "").strip()
    return vendor if (vendor and "." in vendor) or vendor == artifact else None


def split_filename(base: str) -> tuple[str | None, str | None]:
    """'myapp-1.2.3-jar-with-dependencies.jar' -> ('myapp', '1.2.3'); ('x', None) without a version.

    The version starts at the first `-<digit>` after which no other `-<digit>` follows
    ('log4j-1.2-api-2.19.0' -> 'log4j-1.2-api', '2.19.0'; 'guava-31.1-jre' -> 'guava', '31.1-jre')."""
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = _CLASSIFIERS.sub("", stem)
    for m in _DASH_DIGIT.finditer(stem):
        name, version = stem[:m.start()], stem[m.start() + 1:]
        if name and _VERSION.match(version) and not _DASH_DIGIT.search(version):
            return name, version
    return (stem or None), None


def identify_archive(display: str, mf: dict[str, str]) -> tuple[str | None, str, str, str] | None:
    """(group, artifact, version, identified_by) of an archive without its own pom.properties."""
    base = display.rsplit(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1]
    file_name, file_version = split_filename(base)
    impl = mf.get("Implementation-Version")
    version = impl or file_version or mf.get("Bundle-Version")
    if file_version is not None:
        artifact: str | None = file_name
    else:
        title = mf.get("Implementation-Title", "")
        artifact = file_name if file_name else (title if title and " " not in title else None)
    if not artifact or not version:
        return None
    group = known_group(artifact) or _group_from_manifest(artifact, mf)
    source = "manifest" if impl or (file_version is None and mf.get("Bundle-Version")) else "filename"
    return group, artifact, version, source


def is_archive_name(name: str) -> bool:
    dot = name.rfind(".")
    return dot >= 0 and name[dot:].lower() in ARCHIVE_SUFFIXES


def _copy_capped(src: IO[bytes], dst: IO[bytes], cap: int) -> int:
    """Copy at most cap + 1 bytes (so that more than `cap` shows) and rewind `dst`; returns the
    bytes copied, over `cap` when the source is larger (then `dst` is incomplete)."""
    copied = 0
    while chunk := src.read(min(1024 * 1024, cap + 1 - copied)):
        copied += len(chunk)
        if copied > cap:
            break
        dst.write(chunk)
    dst.seek(0)
    return copied


@dataclass(slots=True)
class _Walk:
    """One top-level archive being read."""

    root: str
    layer: LayerInfo | None
    budget: Budget  # decompressed bytes left for this archive and everything nested in it


class JavaArchiveCataloger(BaseCataloger):
    name = "java-archive"
    what = "Java archive"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._found: list[_Found] = []
        self._image_bytes = Budget(self.catalog_limits.archive_bytes_per_image)
        self._nested = Budget(self.catalog_limits.nested_archives_per_image)

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        dot = path.rfind(".", len(path) - 4)
        return (dot >= 0 and path[dot:].lower() in ARCHIVE_SUFFIXES
                and entry.kind is EntryKind.FILE and entry.size > 0)

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        if self._image_bytes.spent:
            self.skip(entry, "the per-image budget of "
                      f"{self.catalog_limits.archive_bytes_per_image} decompressed archive bytes is spent",
                      category="skipped")
            return
        cap = self.limits.max_file_size
        with tempfile.SpooledTemporaryFile(max_size=IN_MEMORY) as spool:
            if _copy_capped(content, spool, cap) > cap:
                self.skip(entry, f"archive larger than the limit of {cap} bytes", category="skipped")
                return
            walk = _Walk(entry.path, entry.layer, Budget(self.catalog_limits.archive_bytes_per_file))
            self._archive(spool, walk, entry.path, 0)

    def _spend(self, walk: _Walk, n: int, what: str) -> bool:
        """Spend `n` decompressed bytes of both budgets; False (with a skip) when one is short."""
        if n > walk.budget.left:
            self.skip(what, "over the budget of "
                      f"{self.catalog_limits.archive_bytes_per_file} decompressed bytes per archive",
                      category="skipped")
            return False
        if n > self._image_bytes.left:
            self._image_bytes.spend(n)  # spent: every later archive is skipped at once
            self.skip(what, "the per-image budget of "
                      f"{self.catalog_limits.archive_bytes_per_image} decompressed archive bytes is spent",
                      category="skipped")
            return False
        walk.budget.spend(n)
        self._image_bytes.spend(n)
        return True

    def _archive(self, fh: IO[bytes], walk: _Walk, display: str, depth: int) -> None:
        try:
            zf = zipfile.ZipFile(fh)
        except _ZIP_ERRORS as exc:
            self.skip(display, f"not a readable zip archive: {exc}")
            return
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                self.skip(display, f"more than {MAX_MEMBERS} members", category="skipped")
                return
            self._identify(zf, infos, walk, display)
            nested = [i for i in infos if not i.is_dir() and is_archive_name(i.filename)]
            if depth >= MAX_DEPTH:
                if nested:
                    self.skip(display, f"nested archives deeper than {MAX_DEPTH} levels",
                              count=len(nested), what="nested archives in", category="skipped")
                return
            for info in nested:
                self._nested_archive(zf, info, walk, display, depth)

    def _identify(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], walk: _Walk, display: str) -> None:
        loc = layer_location(walk.layer, display)
        poms: dict[str, zipfile.ZipInfo] = {}
        xmls: dict[str, zipfile.ZipInfo] = {}
        manifest: zipfile.ZipInfo | None = None
        for info in infos:
            name = info.filename
            if name.startswith("META-INF/maven/") and not info.is_dir():
                if name.endswith("/pom.properties"):
                    poms[name[:-len("pom.properties")]] = info
                elif name.endswith("/pom.xml"):
                    xmls[name[:-len("pom.xml")]] = info
            elif name == "META-INF/MANIFEST.MF":
                manifest = info
        mf_text = self._small(zf, manifest, walk, display) if manifest is not None else None
        mf = parse_manifest(mf_text) if mf_text else {}
        base = display.rsplit(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1]
        file_artifact, file_version = split_filename(base)
        own = False
        for prefix, info in poms.items():
            text = self._small(zf, info, walk, display)
            if text is None:
                continue
            props = parse_properties(text)
            group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
            if not artifact or not version:
                continue
            licenses: list[str] = []
            depends: list[tuple[str, str]] = []
            xml_info = xmls.get(prefix)
            xml = self._small(zf, xml_info, walk, display) if xml_info is not None else None
            if xml:
                licenses, depends = parse_pom_xml(xml)
            if artifact == file_artifact or (file_version is not None and version == file_version) \
                    or (len(poms) == 1 and file_version is None):
                own = True
                if not licenses and mf.get("Bundle-License"):
                    licenses = [mf["Bundle-License"]]
            self._found.append(_Found(group or None, artifact, version, display, "pom.properties", loc,
                                      walk.root, licenses, depends))
        if own:
            return
        if poms and file_version is None:
            return  # a shaded jar's manifest is often one of the shaded jars': no evidence of its own
        ident = identify_archive(display, mf)
        if ident is not None:
            group, artifact, version, source = ident
            licenses = [mf["Bundle-License"]] if mf.get("Bundle-License") else []
            self._found.append(_Found(group, artifact, version, display, source, loc, walk.root, licenses))

    def _small(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, walk: _Walk, display: str) -> str | None:
        what = f"{display}:{info.filename}"
        if info.file_size > MAX_SMALL_FILE:
            self.skip(what, f"member larger than {MAX_SMALL_FILE} bytes", category="skipped")
            return None
        if not self._spend(walk, info.file_size, what):
            return None
        try:
            with zf.open(info) as member:
                data = member.read(MAX_SMALL_FILE + 1)
        except _ZIP_ERRORS as exc:
            self.skip(what, f"unreadable member: {exc}")
            return None
        return decode(data[:MAX_SMALL_FILE])

    def _nested_archive(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, walk: _Walk, display: str,
                        depth: int) -> None:
        inner = f"{display}:{info.filename}"
        if self._nested.spent:
            self.skip(inner, f"the per-image budget of {self.catalog_limits.nested_archives_per_image} "
                      "nested archives is spent", category="skipped")
            return
        if info.file_size > self.limits.max_file_size:
            self.skip(inner, f"nested archive larger than the limit of {self.limits.max_file_size} bytes",
                      category="skipped")
            return
        try:
            with zf.open(info) as member:
                head = member.read(4)
                if head[:2] != b"PK":  # every zip starts with a PK record: junk costs 4 bytes
                    self.skip(inner, "not a zip archive (no PK signature)")
                    return
                if not self._spend(walk, info.file_size, inner):
                    return
                self._nested.spend(1)
                with tempfile.SpooledTemporaryFile(max_size=IN_MEMORY) as spool:
                    spool.write(head)
                    copied = _copy_capped(member, spool, info.file_size - len(head))
                    spool.seek(0)
                    if copied > info.file_size - len(head):
                        self.skip(inner, "member longer than its declared size")
                        return
                    self._archive(spool, walk, inner, depth + 1)
        except _ZIP_ERRORS as exc:
            self.skip(inner, f"unreadable nested archive: {exc}")

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        seen: set[tuple[str | None, str, str, str]] = set()
        kept: list[_Found] = []
        for f in self._found:
            key = (f.group, f.artifact, f.version, f.archive)
            if key in seen:
                continue
            seen.add(key)
            name = f"{f.group}:{f.artifact}" if f.group else f.artifact
            meta: dict[str, Any] = {"artifact_id": f.artifact, "identified_by": f.source}
            if f.group:
                meta["group_id"] = f.group
            f.package = Package(name=name, version=f.version, ecosystem="Maven",
                                purl=purl("maven", f.group, f.artifact, f.version), locations=[f.loc],
                                licenses=normalize_licenses(f.licenses), cataloger=self.name,
                                metadata=meta)
            out.append(f.package)
            kept.append(f)
        by_root: dict[tuple[str, str, str], Package] = {}
        for f in kept:
            assert f.package is not None
            by_root.setdefault((f.root, f.group or "", f.artifact), f.package)
        for f in kept:
            assert f.package is not None
            deps: list[str] = []
            for group, artifact in f.depends:
                target = by_root.get((f.root, group, artifact))
                if target is not None and target is not f.package and target.purl not in deps:
                    deps.append(target.purl)
            f.package.dependencies = deps
        return self.ownership.mark(out)


def parse_java_archive(data: bytes, loc: Location, limits: Limits | None = None,
                       catalog_limits: CatalogLimits | None = None) -> list[Package]:
    """The packages of one archive held in memory (nested archives included), located at
    `loc.path` (pure: a fresh cataloger, no I/O)."""
    cataloger = JavaArchiveCataloger(limits, None, catalog_limits)
    walk = _Walk(loc.path or "archive", None, Budget(cataloger.catalog_limits.archive_bytes_per_file))
    cataloger._archive(io.BytesIO(data), walk, loc.path or "archive", 0)
    packages = cataloger.packages(CatalogContext(os=None, limits=cataloger.limits))
    for pkg in packages:
        pkg.locations = [Location(path=p.path, layer=loc.layer, layer_created_by=loc.layer_created_by)
                         for p in pkg.locations]
    return packages
