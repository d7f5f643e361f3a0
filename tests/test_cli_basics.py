from __future__ import annotations

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
