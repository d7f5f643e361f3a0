"""CycloneDX 1.6 and SPDX 2.3 output of the demo image, validated against the official schemas."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from devtools.demo_image import DemoImage
from seawall.core import (
    Finding,
    FindingKind,
    Location,
    OSInfo,
    Package,
    Report,
    Resource,
    Severity,
    Target,
    VulnerabilityInfo,
)
from seawall.report import render
from tests.conftest import run_cli

SPDX_SCHEMA = Path(__file__).with_name("spdx-schema-2.3.json")


def _cyclonedx_errors(text: str) -> object:
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


def _spdx_validate(doc: dict[str, Any]) -> None:
    schema = json.loads(SPDX_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(doc)


def _props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


@pytest.mark.slow
def test_cyclonedx_of_demo_image(demo: DemoImage, tmp_path: Path) -> None:
    out = tmp_path / "bom.json"
    proc = run_cli("sbom", demo.oci_ref, "--format", "cyclonedx-json", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert _cyclonedx_errors(text) is None
    bom = json.loads(text)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    root = bom["metadata"]["component"]
    assert root["type"] == "container" and root["version"] == demo.digest
    comps = {c["name"]: c for c in bom["components"]}
    assert comps["debian"]["type"] == "operating-system" and comps["debian"]["version"] == "12"
    django = comps["django"]
    assert django["type"] == "library" and django["purl"] == "pkg:pypi/django@3.2"
    assert _props(django)["seawall:location:0:layer"] == demo.pip_diff_id
    libssl = comps["libssl3"]
    assert libssl["purl"].startswith("pkg:deb/debian/libssl3@")
    assert _props(libssl)["seawall:package:source_name"] == "openssl"
    assert "six" not in comps
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert set(deps[root["bom-ref"]]) == {c["bom-ref"] for c in bom["components"]}
    # what each ecosystem records: Requires-Dist (extras left out), dpkg Depends, Go modules
    names = {c["bom-ref"]: c["name"] for c in bom["components"]}
    assert {names[r] for r in deps[django["bom-ref"]]} == {"asgiref", "pytz", "sqlparse"}
    assert {names[r] for r in deps[comps["requests"]["bom-ref"]]} == {"urllib3", "idna", "chardet", "certifi"}
    assert "libc6" in {names[r] for r in deps[libssl["bom-ref"]]}
    assert "stdlib" in {names[r] for r in deps[comps["example.com/demo-server"]["bom-ref"]]}
    assert django["cpe"] == "cpe:2.3:a:djangoproject:django:3.2:*:*:*:*:python:*:*"
    assert libssl["cpe"].startswith("cpe:2.3:a:openssl:openssl:3.0.")
    assert all(c.get("cpe") for c in bom["components"] if c["type"] != "operating-system")


@pytest.mark.slow
def test_spdx_of_demo_image(demo: DemoImage) -> None:
    proc = run_cli("sbom", demo.docker_ref, "--format", "spdx-json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    _spdx_validate(doc)
    assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0"
    by_id = {p["SPDXID"]: p for p in doc["packages"]}
    described = [r["relatedSpdxElement"] for r in doc["relationships"]
                 if r["spdxElementId"] == "SPDXRef-DOCUMENT" and r["relationshipType"] == "DESCRIBES"]
    assert len(described) == 1 and by_id[described[0]]["primaryPackagePurpose"] == "CONTAINER"
    contained = {r["relatedSpdxElement"] for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"}
    assert contained == set(by_id) - {described[0]}
    purls = {ref["referenceLocator"] for p in doc["packages"] for ref in p.get("externalRefs", [])
             if ref["referenceType"] == "purl"}
    assert {"pkg:pypi/django@3.2", "pkg:pypi/requests@2.25.0", "pkg:pypi/urllib3@1.26.4",
            "pkg:pypi/pyyaml@5.3.1", "pkg:pypi/jinja2@2.11.2"} <= purls
    libssl = next(p for p in doc["packages"] if p["name"] == "libssl3")
    assert "openssl" in libssl["sourceInfo"]
    assert doc["documentNamespace"] != json.loads(run_cli("sbom", demo.docker_ref, "--format",
                                                          "spdx-json").stdout)["documentNamespace"]


def _vuln_report() -> Report:
    django = Package("django", "3.2", "PyPI", "pkg:pypi/django@3.2",
                     [Location(path="/usr/lib/python3/dist-packages/Django-3.2.dist-info/METADATA",
                               layer="sha256:" + "1" * 64)], licenses=["BSD-3-Clause"])
    weird = Package("libfoo", "1.0-1", "Debian", "pkg:deb/debian/libfoo@1.0-1?arch=amd64",
                    licenses=["GPL-2+ with some exception", "MIT"], source_name="foo")
    # Debian copyright files mix free text and SPDX expressions (CycloneDX forbids mixing them)
    mixed = Package("libbar", "2.0-1", "Debian", "pkg:deb/debian/libbar@2.0-1?arch=amd64",
                    licenses=["GPL-2+", "MIT OR Apache-2.0"])
    finding = Finding(
        kind=FindingKind.VULNERABILITY, rule="PYSEC-2021-98", title="Django: potential directory traversal",
        severity=Severity.MEDIUM, resource=Resource("container-image", "demo:1"),
        location=Location(path=django.locations[0].path, layer=django.locations[0].layer),
        references=["https://www.djangoproject.com/weblog/2021/apr/06/security-releases/"],
        vulnerability=VulnerabilityInfo("PYSEC-2021-98", aliases=["CVE-2021-28658", "GHSA-xgxc-v2qg-chmh"],
                                        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:N",
                                        cvss_score=5.3, fixed_versions=["3.2.0"], source="osv:PyPI"),
        package=django)
    # a vulnerable package that is not in the package list still gets a component
    other = Finding(kind=FindingKind.VULNERABILITY, rule="GO-2023-1", title="stdlib issue",
                    severity=Severity.HIGH, resource=Resource("container-image", "demo:1"),
                    vulnerability=VulnerabilityInfo("GO-2023-1"),
                    package=Package("stdlib", "go1.19.8", "Go", "pkg:golang/stdlib@go1.19.8"))
    secret = Finding(kind=FindingKind.SECRET, rule="aws-access-key", title="AWS key", severity=Severity.HIGH,
                     resource=Resource("container-image", "demo:1"))
    return Report(Target("image", "demo:1", "sha256:" + "2" * 64, OSInfo("debian", "12")),
                  packages=[django, weird, mixed], findings=[finding, other, secret])


def test_cyclonedx_with_vulnerabilities_validates() -> None:
    buf = io.StringIO()
    render(_vuln_report(), "cyclonedx-json", buf)
    assert _cyclonedx_errors(buf.getvalue()) is None
    bom = json.loads(buf.getvalue())
    refs = {c["name"]: c["bom-ref"] for c in bom["components"]}
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert set(vulns) == {"PYSEC-2021-98", "GO-2023-1"}  # the secret is not a vulnerability
    v = vulns["PYSEC-2021-98"]
    assert v["affects"] == [{"ref": refs["django"]}]
    assert {r["id"] for r in v["references"]} == {"CVE-2021-28658", "GHSA-xgxc-v2qg-chmh"}
    assert v["ratings"][0]["severity"] == "medium" and v["ratings"][0]["method"] == "CVSSv31"
    assert v["ratings"][0]["score"] == 5.3
    assert "3.2.0" in v["recommendation"]
    assert vulns["GO-2023-1"]["affects"] == [{"ref": refs["stdlib"]}]
    libbar = next(c for c in bom["components"] if c["name"] == "libbar")
    assert libbar["licenses"] == [{"license": {"name": "GPL-2+"}}, {"license": {"name": "MIT OR Apache-2.0"}}]


def test_spdx_licenses_and_advisories_validate() -> None:
    buf = io.StringIO()
    render(_vuln_report(), "spdx-json", buf)
    doc = json.loads(buf.getvalue())
    _spdx_validate(doc)
    pkgs = {p["name"]: p for p in doc["packages"]}
    assert pkgs["django"]["licenseDeclared"] == "BSD-3-Clause"
    assert {"referenceCategory": "SECURITY", "referenceType": "advisory",
            "referenceLocator": "https://www.djangoproject.com/weblog/2021/apr/06/security-releases/"} \
        in pkgs["django"]["externalRefs"]
    declared = pkgs["libfoo"]["licenseDeclared"]
    assert declared.startswith("LicenseRef-") and declared.endswith(" AND MIT")
    extracted = {e["licenseId"]: e["extractedText"] for e in doc["hasExtractedLicensingInfos"]}
    assert extracted[declared.split(" AND ")[0]] == "GPL-2+ with some exception"
    assert pkgs["debian"]["primaryPackagePurpose"] == "OPERATING_SYSTEM"
    assert pkgs["libbar"]["licenseDeclared"].endswith(" AND (MIT OR Apache-2.0)")


def test_schemas_reject_broken_documents() -> None:
    """The validators are real: a document missing required fields fails."""
    buf = io.StringIO()
    render(_vuln_report(), "spdx-json", buf)
    doc = json.loads(buf.getvalue())
    del doc["packages"][0]["downloadLocation"]
    with pytest.raises(jsonschema.ValidationError):
        _spdx_validate(doc)
    buf = io.StringIO()
    render(_vuln_report(), "cyclonedx-json", buf)
    bom = json.loads(buf.getvalue())
    bom["components"][0]["type"] = "not-a-type"
    assert _cyclonedx_errors(json.dumps(bom)) is not None
