"""`seawall netmap` as a user runs it: JSON, DOT, self-contained HTML, hostile names, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.network.test_hubble import API, FRONT, flow, tcp

EVIL = "</script><img src=x onerror=alert(1)>\"'\\"


@pytest.fixture()
def hostile(tmp_path: Path) -> Path:
    bad = {
        **FRONT,
        "pod_name": f"{EVIL}-6b7c9d8f5-q2w3e",
        "workloads": [{"name": EVIL, "kind": "Deployment"}],
    }
    path = tmp_path / "hubble.json"
    path.write_text(
        "\n".join(
            [
                flow(
                    "2026-11-02T10:00:00Z", "10.244.1.20", "10.244.1.12", bad, API, tcp(41000, 8000, SYN=True)
                ),
                flow(
                    "2026-11-02T10:00:01Z",
                    "10.244.1.12",
                    "10.244.1.13",
                    API,
                    {**API, "pod_name": "api-5c4d7f9b8d-zzzzz"},
                    tcp(41001, 8000, SYN=True),
                ),
            ]
        )
        + "\n"
    )
    return path


def test_json_map_marks_intra_workload_edges(hostile: Path, tmp_path: Path) -> None:
    proc = run_cli("netmap", "--source", "hubble", str(hostile), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "seawall.netmap/v1"
    scopes = {(e["source"], e["target"]): (e["scope"], e["cross_replica_flows"]) for e in doc["edges"]}
    assert scopes[("Deployment:shop/api", "Deployment:shop/api")] == ("intra-workload", 1)
    assert scopes[(f"Deployment:shop/{EVIL}", "Deployment:shop/api")][0] == "inter-workload"


def test_dot_escapes_names(hostile: Path) -> None:
    proc = run_cli("netmap", "--source", "hubble", str(hostile), "--format", "dot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("digraph seawall_netmap {")
    assert "\\\"'\\\\" in proc.stdout  # the quote and the backslash are escaped
    for line in proc.stdout.splitlines()[4:-1]:
        assert re.fullmatch(r'\s*"(?:[^"\\]|\\.)*"( -> "(?:[^"\\]|\\.)*")? \[.*\];', line), line


def test_html_is_self_contained_and_escaped(hostile: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.html"
    proc = run_cli("netmap", "--source", "hubble", str(hostile), "--format", "html", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert page.count("</script>") == 2  # the library and the page script, nothing injected
    assert "<img src=x" not in page
    assert "cytoscape" in page and "Copyright (c) 2016-" in page  # bundled library with its notice
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"?https?:", page)


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    cases = [
        ("netmap", "--source", "netflow", str(tmp_path)),
        ("netmap", "--source", "pcap", str(tmp_path / "missing.pcap")),
        ("netmap", "--source", "vpc-flow", str(tmp_path / "missing.log"), "--format", "svg"),
    ]
    for args in cases:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("seawall: error:"), proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_html_renders_offline_in_headless_chromium(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from tests.network import synth

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    flows, inv = synth.write(tmp_path, story=True)
    page = tmp_path / "map.html"
    proc = run_cli(
        "netmap",
        "--source",
        "vpc-flow",
        str(flows),
        "--inventory",
        str(inv),
        "--format",
        "html",
        "--output",
        str(page),
    )
    assert proc.returncode == 0, proc.stderr
    dom = subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    assert dom.count("<canvas") >= 1  # cytoscape drew the graph, from the inlined library only
    assert "Deployment:shop/api" in dom and "Port scan from a workload" in dom
    assert "4 findings" in dom


@pytest.mark.parametrize("source", ["vpc-flow", "hubble", "pcap"])
def test_garbage_and_empty_inputs_never_traceback(tmp_path: Path, source: str) -> None:
    import random

    rng = random.Random(11)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(rng.getrandbits(8) for _ in range(200_000)))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for path in (junk, empty):
        proc = run_cli("detect", "--source", source, str(path), "--format", "json")
        assert proc.returncode in (0, 2), proc.stderr
        assert "Traceback" not in proc.stderr
        assert all(line.startswith("seawall: ") for line in proc.stderr.strip().splitlines()), proc.stderr
        if proc.returncode == 0:
            assert json.loads(proc.stdout)["findings"] == []


def test_context_known_cidrs_and_bad_context_files(tmp_path: Path) -> None:
    header = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
              "start end action log-status")
    flows = tmp_path / "f.log"
    flows.write_text(header + "\n2 1 eni-1 10.0.0.5 203.0.113.5 40000 443 6 1 100 1700000000 1700000060 "
                     "ACCEPT OK\n")
    ctx = tmp_path / "org.yaml"
    ctx.write_text("known_cidrs: [203.0.113.0/24]  # a peered network of ours on a public range\n")
    proc = run_cli("netmap", "--source", "vpc-flow", str(flows), "--context", str(ctx), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    nodes = {n["id"]: n for n in json.loads(proc.stdout)["nodes"]}
    assert nodes["IPAddress:/203.0.113.5"]["internal"] is True
    ctx.write_text("known_cidrs: [not-a-range]\n")
    proc = run_cli("netmap", "--source", "vpc-flow", str(flows), "--context", str(ctx))
    assert proc.returncode == 2 and "not an address range" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("detect", "--source", "vpc-flow", str(flows), "--learning-period", "soon")
    assert proc.returncode == 2 and "--learning-period" in proc.stderr
