from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seawall.cli.common import exit_code
from seawall.core import Finding, FindingKind, Location, Report, Resource, Severity, Target
from tests.conftest import run_cli


def test_version_prints_version() -> None:
    result = run_cli("version")
    assert result.returncode == 0
    assert result.stdout.strip() == "seawall 0.1.0"


def test_unknown_verb_is_one_line_exit_2() -> None:
    result = run_cli("no-such-verb")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_finding_id_is_stable_and_location_sensitive() -> None:
    def make(line: int) -> Finding:
        return Finding(kind=FindingKind.MISCONFIGURATION, rule="K8S-001", title="t",
                       severity=Severity.HIGH, resource=Resource(type="Pod", name="p"),
                       location=Location(path="a.yaml", line=line))
    assert make(3).id == make(3).id
    assert make(3).id != make(4).id


def test_fail_on_threshold() -> None:
    report = Report(target=Target(kind="image", name="x"))
    report.findings.append(Finding(kind=FindingKind.SECRET, rule="r", title="t",
                                   severity=Severity.MEDIUM, resource=Resource("file", "f")))
    assert exit_code(report, Severity.HIGH) == 0
    assert exit_code(report, Severity.MEDIUM) == 1
    assert exit_code(report, None) == 0


def test_table_prints_attacker_strings_literally() -> None:
    import io

    from seawall.report import RenderOptions, render

    report = Report(target=Target(kind="logs", name="x"))
    report.findings.append(Finding(kind=FindingKind.DETECTION, rule="r", title="[red]boom[/red] :smile:",
                                   severity=Severity.HIGH, resource=Resource("Pod", "web"),
                                   evidence="k8s:Secret:data/*\x1b[2J"))
    out = io.StringIO()
    render(report, "table", out, RenderOptions())
    text = out.getvalue()
    assert "[red]boom[/red] :smile:" in text
    assert "k8s:Secret:data/*" in text
    assert "\x1b" not in text


def test_output_to_a_device_writes_through_it(tmp_path) -> None:
    import os
    import stat

    from seawall.cli.common import emit

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        emit(Report(target=Target(kind="image", name="x")), "json", fifo)
        data = os.read(reader, 65536)
    finally:
        os.close(reader)
    assert b'"schema": "seawall.report/v1"' in data
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not replaced by a file


def test_output_file_is_written_atomically(tmp_path) -> None:
    from seawall.cli.common import emit

    out = tmp_path / "r.json"
    emit(Report(target=Target(kind="image", name="x")), "json", out)
    assert out.read_text().startswith("{")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# -- newcomers: version, help, bare verbs, flags ----------------------------------------------------

@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flags(flag: str) -> None:
    result = run_cli(flag)
    assert result.returncode == 0 and result.stdout.strip() == "seawall 0.1.0"


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["scan", "-h"], ["sbom", "-h"],
                                  ["scan", "image", "-h"]])
def test_short_help(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and result.stderr == ""


@pytest.mark.parametrize("args", [[], ["scan"], ["db"], ["respond"]])
def test_bare_verb_shows_help_without_an_empty_error(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Usage:" in result.stdout + result.stderr
    assert "seawall: error:" not in result.stderr


def test_on_off_flags_take_no_value_in_help() -> None:
    for verb in (["scan", "image"], ["scan", "rootfs"], ["sbom"], ["audit"], ["detect"], ["netmap"]):
        text = run_cli(*verb, "--help", env={"COLUMNS": "200"}).stdout
        assert "--quiet" in text or "--help" in text
        assert "<bool>" not in text, verb
    text = run_cli("sbom", "--help", env={"COLUMNS": "200"}).stdout
    for default in ("[default: 16GiB]", "[default: 100]", "[default: 1000000]", "[default: 512MiB]",
                    "[default: 300.0]"):
        assert default in text  # the per-image budgets and the registry deadline, visible


# -- exit codes: closed pipe, SIGTERM, -o -----------------------------------------------------------

def _python_packages_image(root: Path, count: int) -> str:
    from tests.image.builder import E, Layer, build, write_oci

    files = [E(f"usr/lib/python3/dist-packages/pkg{i}-1.0.dist-info/METADATA",
               f"Metadata-Version: 2.1\nName: pkg{i}\nVersion: 1.0\n".encode()) for i in range(count)]
    write_oci(root, [(build([Layer(files)]), "1")])
    return f"oci:{root}:1"


@pytest.mark.slow
def test_closed_pipe_exits_quietly_with_141(tmp_path: Path) -> None:
    """`seawall sbom IMAGE | head -1`: the reader leaves; seawall stops without a word, exit 141
    (as a shell reports SIGPIPE), not 1, which means "findings at --fail-on"."""
    ref = _python_packages_image(tmp_path / "oci", 3000)
    for fmt in ("table", "json"):
        proc = subprocess.Popen([sys.executable, "-m", "seawall", "sbom", ref, "-f", fmt],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        code = proc.wait(timeout=300)
        err = proc.stderr.read().decode()
        assert code == 141, (fmt, code, err)
        assert err == "", err


@pytest.mark.network
@pytest.mark.parametrize("stall", ["trickle", "silent"])
def test_sigterm_cleans_up_like_ctrl_c(tmp_path: Path, stall: str) -> None:
    """SIGTERM while a registry blob downloads (one byte at a time, or nothing for a minute): the
    download stops at once, the temp dir of blobs is removed, exit 143."""
    import json as _json

    from tests.image.builder import E, Layer, build
    from tests.image.hostile_server import answer, hostile_server, silent, trickle

    img = build([Layer([E("a", b"1" * 4096)])])
    config = _json.loads(img.manifest)["config"]["digest"]
    manifest_type = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    routes = {r"/manifests/": answer(200, img.manifest, manifest_type),
              rf"/blobs/{config}": answer(200, img.config),
              r"/blobs/": trickle(img.layers[0], 0.5) if stall == "trickle" else silent(len(img.layers[0]))}
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with hostile_server(tmp_path, routes) as srv:
        assert srv.ca_cert is not None
        proc = subprocess.Popen([sys.executable, "-m", "seawall", "sbom", f"registry:{srv.host}/x/y:1",
                                 "--ca-cert", str(srv.ca_cert)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(tmp)})
        deadline = time.monotonic() + 60
        while not any(p.name.startswith("seawall-blobs-") and any(p.iterdir()) for p in tmp.iterdir()):
            assert time.monotonic() < deadline and proc.poll() is None, "no download started"
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, err = proc.communicate(timeout=60)
        stopped = time.monotonic() - signalled
    assert proc.returncode == 143, err
    assert stopped < 15, f"{stopped:.1f} s to stop (the per-read timeout is 60 s)"
    assert err.decode().strip() == "seawall: terminated"
    assert list(tmp.iterdir()) == []


@pytest.fixture(scope="module")
def verb_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("inputs")
    (root / "rootfs" / "etc").mkdir(parents=True)
    (root / "rootfs" / "etc" / "os-release").write_text("ID=alpine\n")
    (root / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
                                   "spec: {containers: [{name: web, image: nginx}]}\n")
    (root / "audit.log").write_text(
        '{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get",'
        '"requestURI":"/api","user":{"username":"a"},"requestReceivedTimestamp":"2026-01-01T00:00:00Z"}\n')
    (root / "flows.log").write_text(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
        "action log-status\n2 123456789012 eni-1 10.0.0.1 10.0.0.2 40000 443 6 1 60 1 2 ACCEPT OK\n")
    (root / "pods.json").write_text('{"items": []}')
    return {
        "scan image": ["scan", "image", f"dir:{root / 'rootfs'}", "--scanners", "secret"],
        "scan rootfs": ["scan", "rootfs", str(root / "rootfs"), "--scanners", "secret"],
        "sbom": ["sbom", f"dir:{root / 'rootfs'}"],
        "audit": ["audit", str(root / "pod.yaml")],
        "detect": ["detect", "-s", "k8s-audit", str(root / "audit.log"), "--no-state"],
        "netmap": ["netmap", "--source", "vpc-flow", str(root / "flows.log")],
        "respond plan": ["respond", "plan", "k8s:default/pod/web", "--from", str(root / "pods.json")],
    }


VERBS = ["scan image", "scan rootfs", "sbom", "audit", "detect", "netmap", "respond plan"]


@pytest.mark.parametrize("verb", VERBS)
def test_output_naming_a_directory_is_one_line(verb: str, verb_inputs: dict[str, list[str]],
                                               tmp_path: Path) -> None:
    result = run_cli(*verb_inputs[verb], "-o", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"seawall: error: --output {tmp_path}: is a directory; "
                                                  "name a file"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("verb", VERBS)
def test_output_in_an_unwritable_directory_is_one_line(verb: str, verb_inputs: dict[str, list[str]],
                                                       tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    cmd = [sys.executable, "-m", "seawall", *verb_inputs[verb], "-o", str(locked / "report.out")]
    if os.geteuid() == 0:  # root writes anywhere: drop the capabilities that allow it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        cmd = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"seawall: error: --output {locked / 'report.out'}: "
                                                  "not writable"]
    assert list(locked.iterdir()) == []


# -- the table format: linear, and not slower than JSON ---------------------------------------------

def _big_report(packages: int, findings: int) -> Report:
    from seawall.core import Package

    report = Report(target=Target(kind="image", name="big"))
    layer = "sha256:" + "ab" * 32
    report.packages = [Package(name=f"pkg{i}", version="1.0", ecosystem="PyPI", purl=f"pkg:pypi/pkg{i}@1.0",
                               locations=[Location(path=f"/usr/lib/python3/pkg{i}/METADATA", layer=layer)])
                       for i in range(packages)]
    report.findings = [Finding(kind=FindingKind.MISCONFIGURATION, rule=f"K8S-{i % 50}", title="Runs as root",
                               severity=Severity.HIGH, resource=Resource("Pod", f"web-{i}", namespace="prod"),
                               location=Location(path="deploy.yaml", line=i), evidence="runAsUser: 0")
                       for i in range(findings)]
    return report


def _cpu_seconds(report: Report, fmt: str, view: str) -> float:
    import io

    from seawall.report import RenderOptions, render

    started = time.process_time()
    render(report, fmt, io.StringIO(), RenderOptions(view=view))
    return time.process_time() - started


def test_table_is_linear_and_not_slower_than_json() -> None:
    """A 1 MB input took 75 s as a table (4.6 s as JSON) and a 337k-package SBOM printed nothing
    in 120 s: rich measured and wrapped every cell. Plain aligned text is linear."""
    small, big = _big_report(20_000, 5_000), _big_report(80_000, 20_000)
    for view in ("sbom", "findings"):
        table_small, table_big = _cpu_seconds(small, "table", view), _cpu_seconds(big, "table", view)
        json_big = _cpu_seconds(big, "json", view)
        assert table_big < 2 * json_big + 0.5, (view, table_big, json_big)
        assert table_big < 6 * table_small + 0.5, (view, table_small, table_big)  # 4x the rows


def test_table_cells_are_cut_and_printable() -> None:
    import io

    from seawall.report import RenderOptions, render

    report = _big_report(1, 1)
    report.packages[0].name = "evil\x1b]0;title\x07" + "x" * 500
    report.findings[0].evidence = "a\u202eb\nc"
    report.warnings.append("bad\x1b[2J warning")
    for view in ("sbom", "findings"):
        out = io.StringIO()
        render(report, "table", out, RenderOptions(view=view))
        text = out.getvalue()
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "warning: bad?[2J warning" in text
        if view == "sbom":
            assert "evil?]0;title?xxx" in text and "x" * 80 not in text  # cut to its column
        else:
            assert "a?b?c" in text
