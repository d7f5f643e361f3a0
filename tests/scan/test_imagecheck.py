"""Every image configuration check: one image config that fails it, one that passes."""

from __future__ import annotations

from seawall.core import FindingKind, Location, Package, Resource, Severity
from seawall.image.base import EntryKind, FileEntry, HistoryEntry, ImageConfig, LayerInfo
from seawall.scan.imagecheck import (
    CHECKS,
    ImageFacts,
    SpecialFilesVisitor,
    check_metadata,
    history_with_layers,
    reference_facts,
    run_checks,
)

RES = Resource(type="container-image", name="demo")
BASE = LayerInfo(index=0, digest="sha256:" + "0" * 64, created_by="/bin/sh -c #(nop) ADD file:x in /")
APP = LayerInfo(index=1, digest="sha256:" + "1" * 64, created_by="COPY app /app")


def facts(**kw: object) -> ImageFacts:
    config = kw.pop("config", None) or ImageConfig(user="app", healthcheck={"Test": ["CMD", "true"]})
    base = {
        "name": "registry.example/demo:1",
        "config": config,
        "layers": [BASE, APP],
        "tag": "1",
        "reference_kind": "registry",
    }
    base.update(kw)
    return ImageFacts(**base)  # type: ignore[arg-type]


def rules(f: ImageFacts, only: str) -> list[str]:
    return [x.rule for x in run_checks(f, RES, only=[only])]


def test_metadata_is_complete_and_every_check_registered() -> None:
    meta = check_metadata()
    assert set(meta) == set(CHECKS)
    for m in meta.values():
        spec = m.spec
        assert spec.title and spec.description and spec.remediation and spec.references
        assert any(r.startswith(("cis-docker:", "dockle:")) for r in spec.references), spec.id


def test_clean_image_passes_every_check() -> None:
    assert run_checks(facts(), RES) == []


def test_root_user() -> None:
    for user in (None, "", "root", "0", "0:0", "root:staff"):
        (f,) = run_checks(
            facts(config=ImageConfig(user=user, healthcheck={"Test": ["CMD", "x"]})), RES, only=["SW-IMG-001"]
        )
        assert f.kind is FindingKind.MISCONFIGURATION and f.severity is Severity.HIGH
        assert "cis-docker:4.1" in f.references and "dockle:CIS-DI-0001" in f.references
    for user in ("app", "10001", "10001:10001", "nobody"):
        assert rules(facts(config=ImageConfig(user=user)), "SW-IMG-001") == []
    # a plain root filesystem has no config: nothing to say about USER
    assert rules(facts(config=ImageConfig(), has_config=False), "SW-IMG-001") == []


def test_env_secrets_check_names_keys_not_values() -> None:
    (f,) = run_checks(facts(env_secret_keys=["AWS_SECRET_ACCESS_KEY"]), RES, only=["SW-IMG-002"])
    assert f.evidence == "ENV AWS_SECRET_ACCESS_KEY (values redacted)"
    assert rules(facts(env_secret_keys=[]), "SW-IMG-002") == []


def _with_history(*lines: str) -> ImageFacts:
    history = [HistoryEntry(created_by=line) for line in lines]
    return facts(
        config=ImageConfig(user="app", healthcheck={"Test": ["CMD", "x"]}, history=history),
        layers=[LayerInfo(index=i, digest=f"sha256:{i:064d}") for i in range(len(lines))],
    )


def test_add_remote_url() -> None:
    f = _with_history(
        "/bin/sh -c #(nop) ADD file:abc in /", "ADD https://example.com/tool.tar.gz /opt/ # buildkit"
    )
    (hit,) = run_checks(f, RES, only=["SW-IMG-003"])
    assert hit.evidence == "https://example.com/tool.tar.gz"
    assert hit.location.layer == f"sha256:{1:064d}"
    assert rules(_with_history("ADD file:abc in /", "COPY https.txt /x"), "SW-IMG-003") == []


def test_curl_pipe_shell() -> None:
    for line in (
        "RUN /bin/sh -c curl -fsSL https://get.example.sh | sh # buildkit",
        "/bin/sh -c wget -qO- https://x.example/install | sudo -E bash -",
        'RUN bash -c "$(curl -fsSL https://x.example/i.sh)"',
        "RUN bash <(curl -s https://x.example/i.sh)",
    ):
        assert rules(_with_history(line), "SW-IMG-004") == ["SW-IMG-004"], line
    for line in (
        "RUN curl -fsSLo /tmp/x.sh https://x.example/i.sh && sha256sum -c x.sha && sh /tmp/x.sh",
        "RUN curl -s https://x.example/data.json | jq .version",
    ):
        assert rules(_with_history(line), "SW-IMG-004") == [], line


def test_curl_pipe_shell_evidence_is_redacted() -> None:
    token = "ghp_" + "a1" * 18
    (hit,) = run_checks(
        _with_history(f"RUN curl -H 'Authorization: token {token}' https://x/i | sh"),
        RES,
        only=["SW-IMG-004"],
    )
    assert token not in str(hit.to_dict()) and "ghp_****" in (hit.evidence or "")


def test_ssh_server() -> None:
    pkg = Package(
        name="openssh-server",
        version="1:9.2p1-2",
        ecosystem="Debian",
        purl="pkg:deb/debian/openssh-server@1:9.2p1-2",
        locations=[Location(path="/var/lib/dpkg/status", layer=APP.digest)],
    )
    (hit,) = run_checks(facts(packages=[pkg]), RES, only=["SW-IMG-005"])
    assert hit.location.layer == APP.digest
    assert rules(facts(paths={"/usr/sbin/sshd"}), "SW-IMG-005") == ["SW-IMG-005"]
    exposed = ImageConfig(user="app", exposed_ports=["22/tcp", "8000/tcp"])
    assert rules(facts(config=exposed), "SW-IMG-005") == ["SW-IMG-005"]
    client = Package(name="openssh-client", version="1", ecosystem="Debian", purl="pkg:deb/debian/x@1")
    ok = ImageConfig(user="app", exposed_ports=["8000/tcp", "2222/tcp"])
    assert rules(facts(packages=[client], config=ok), "SW-IMG-005") == []


def test_setuid_files_with_layer_and_severity() -> None:
    collector = SpecialFilesVisitor()
    entries = [
        FileEntry("/usr/bin/su", EntryKind.FILE, 10, 0o4755, BASE),
        FileEntry("/usr/bin/wall", EntryKind.FILE, 10, 0o2755, BASE),
        FileEntry("/app/helper", EntryKind.FILE, 10, 0o4755, APP),
        FileEntry("/usr/bin/ls", EntryKind.FILE, 10, 0o755, BASE),
        FileEntry("/tmp", EntryKind.DIR, 0, 0o1777, BASE),
        FileEntry("/usr/sbin/sshd", EntryKind.FILE, 10, 0o755, APP),
    ]
    for e in entries:
        assert collector.wants(e) is False  # never asks for content
    assert collector.paths == {"/usr/sbin/sshd"}
    found = run_checks(facts(special_files=collector.special), RES, only=["SW-IMG-006"])
    got = {(f.location.path, f.severity, f.location.layer) for f in found}
    assert got == {
        ("/usr/bin/su", Severity.LOW, BASE.digest),
        ("/usr/bin/wall", Severity.LOW, BASE.digest),
        ("/app/helper", Severity.MEDIUM, APP.digest),
    }
    assert rules(facts(special_files=[]), "SW-IMG-006") == []


def test_healthcheck() -> None:
    assert rules(facts(config=ImageConfig(user="app")), "SW-IMG-007") == ["SW-IMG-007"]
    assert rules(facts(config=ImageConfig(user="app", healthcheck={"Test": ["NONE"]})), "SW-IMG-007") == [
        "SW-IMG-007"
    ]
    assert (
        rules(
            facts(config=ImageConfig(user="app", healthcheck={"Test": ["CMD-SHELL", "curl -f x"]})),
            "SW-IMG-007",
        )
        == []
    )


def test_latest_tag() -> None:
    for ref in ("registry:127.0.0.1:5000/demo", "registry:127.0.0.1:5000/demo:latest", "alpine"):
        kind, tag, digest = reference_facts(ref)
        assert rules(facts(name=ref, tag=tag, digest=digest, reference_kind=kind), "SW-IMG-008") == [
            "SW-IMG-008"
        ], ref
    for ref in ("registry:127.0.0.1:5000/demo:1", "registry:127.0.0.1:5000/demo@sha256:" + "a" * 64):
        kind, tag, digest = reference_facts(ref)
        assert rules(facts(name=ref, tag=tag, digest=digest, reference_kind=kind), "SW-IMG-008") == [], ref
    # archives carry no tag we can trust: no finding
    assert rules(facts(tag=None, reference_kind="archive"), "SW-IMG-008") == []


def test_history_maps_to_layers_skipping_empty_entries() -> None:
    config = ImageConfig(
        history=[
            HistoryEntry("ADD file:x in /"),
            HistoryEntry('CMD ["bash"]', empty_layer=True),
            HistoryEntry("COPY app /app"),
        ]
    )
    mapped = history_with_layers(config, [BASE, APP])
    assert [(i, layer.digest if layer else None) for i, _, layer in mapped] == [
        (0, BASE.digest),
        (1, None),
        (2, APP.digest),
    ]
