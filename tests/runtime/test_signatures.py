"""Image signatures against the real registry: cosign `.sig` tags (simple signing), sigstore
bundles v0.3 and Notation JWS signatures (both through the referrers tag fallback), made here with
`cryptography` the way the tools lay them out, pushed over the registry API, and verified against
configured keys."""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from devtools.registry import Registry, available, running_registry
from seawall.core import Resource
from seawall.image.options import SourceOptions
from seawall.runtime.oci_client import Registry as RegistryReader
from seawall.runtime.signatures import load_keys, verdict_finding, verify_digest

pytestmark = [pytest.mark.network]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture(scope="module")
def reg() -> Iterator[Registry]:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    with running_registry() as r:
        yield r


class Pusher:
    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.client = httpx.Client(
            base_url=f"https://{reg.host}",
            verify=ssl.create_default_context(cafile=str(reg.ca_cert)),
            auth=(reg.username, reg.password),
            timeout=30,
        )

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = self.client.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        r = self.client.put(
            location + ("&" if "?" in location else "?") + f"digest={digest}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, r.text
        return {"digest": digest, "size": len(data)}

    def manifest(self, repo: str, ref: str, doc: dict[str, Any], media: str = OCI_MANIFEST) -> str:
        body = json.dumps(doc).encode()
        r = self.client.put(f"/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": media})
        assert r.status_code == 201, r.text
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def image(self, repo: str, tag: str, content: bytes) -> str:
        config = self.blob(
            repo,
            json.dumps(
                {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
            ).encode(),
        )
        layer = self.blob(repo, content)
        return self.manifest(
            repo,
            tag,
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
            },
        )

    def cosign(
        self, repo: str, digest: str, key: ec.EllipticCurvePrivateKey, names: str | None = None
    ) -> None:
        """As `cosign sign --key`: a simple-signing payload blob, its signature in an annotation."""
        payload = json.dumps(
            {
                "critical": {
                    "identity": {"docker-reference": f"{self.reg.host}/{repo}"},
                    "image": {"docker-manifest-digest": names or digest},
                    "type": "cosign container image signature",
                },
                "optional": None,
            }
        ).encode()
        sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
        layer = self.blob(repo, payload)
        config = self.blob(repo, b"{}")
        self.manifest(
            repo,
            digest.replace(":", "-") + ".sig",
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [
                    {
                        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                        **layer,
                        "annotations": {"dev.cosignproject.cosign/signature": sig},
                    }
                ],
            },
        )

    def notation(
        self,
        repo: str,
        digest: str,
        size: int,
        key: ec.EllipticCurvePrivateKey,
        cert: bytes,
        tamper: bool = False,
    ) -> None:
        """As `notation sign` with the referrers tag schema: a JWS envelope in a signature manifest
        whose subject is the image, listed in the `sha256-HEX` index."""

        def b64url(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        protected = b64url(
            json.dumps(
                {
                    "alg": "ES256",
                    "cty": "application/vnd.cncf.notary.payload.v1+json",
                    "io.cncf.notary.signingScheme": "notary.x509",
                }
            ).encode()
        )
        payload = b64url(
            json.dumps(
                {"targetArtifact": {"mediaType": OCI_MANIFEST, "digest": digest, "size": size}}
            ).encode()
        )
        der = key.sign(f"{protected}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if tamper:
            raw = bytes([raw[0] ^ 1]) + raw[1:]
        envelope = json.dumps(
            {
                "payload": payload,
                "protected": protected,
                "signature": b64url(raw),
                "header": {"x5c": [b64url(cert)]},
            }
        ).encode()
        layer = self.blob(repo, envelope)
        config = self.blob(repo, b"{}")
        sig_doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.cncf.notary.signature",
            "config": {"mediaType": "application/vnd.cncf.notary.signature", **config},
            "layers": [{"mediaType": "application/jose+json", **layer}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": size},
        }
        sig_digest = self.manifest(repo, "notation-" + hashlib.sha256(envelope).hexdigest()[:16], sig_doc)
        sig_size = len(json.dumps(sig_doc).encode())
        self.manifest(
            repo,
            digest.replace(":", "-"),
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": sig_digest,
                        "size": sig_size,
                        "artifactType": "application/vnd.cncf.notary.signature",
                    }
                ],
            },
            OCI_INDEX,
        )


def _bundle(
    push: Pusher, repo: str, digest: str, size: int, key: ec.EllipticCurvePrivateKey, names: str | None = None
) -> None:
    """As `cosign sign --key --new-bundle-format` (cosign 3's default) on a registry without the
    referrers API: a sigstore bundle v0.3 (DSSE envelope over an in-toto statement naming the
    image digest) as an OCI artifact whose subject is the image, listed in the `sha256-HEX` index."""
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": f"{push.reg.host}/{repo}", "digest": {"sha256": (names or digest)[7:]}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    }
    body = json.dumps(statement).encode()
    payload_type = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(body), body)
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "ci"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(body).decode(),
            "payloadType": payload_type,
            "signatures": [{"sig": base64.b64encode(key.sign(pae, ec.ECDSA(hashes.SHA256()))).decode()}],
        },
    }
    layer = push.blob(repo, json.dumps(bundle).encode())
    config = push.blob(repo, b"{}")
    media = "application/vnd.dev.sigstore.bundle.v0.3+json"
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": media,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **config},
        "layers": [{"mediaType": media, **layer}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": size},
    }
    sig_digest = push.manifest(repo, "bundle-" + layer["digest"][7:23], doc)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": sig_digest,
                "size": len(json.dumps(doc).encode()),
                "artifactType": media,
            }
        ],
    }
    push.manifest(repo, digest.replace(":", "-"), index, OCI_INDEX)


def _key_files(tmp: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, Path, bytes, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp / f"{name}.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = tmp / f"{name}.crt"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, pub, cert.public_bytes(serialization.Encoding.DER), pem


def test_cosign_and_notation_verdicts(reg: Registry, tmp_path: Path) -> None:
    push = Pusher(reg)
    trusted, trusted_pub, trusted_der, trusted_crt = _key_files(tmp_path, "ci")
    stranger, _, _, _ = _key_files(tmp_path, "stranger")
    repo = "shop/web"
    digests = {
        n: push.image(repo, n, f"layer of {n}".encode())
        for n in (
            "signed",
            "unsigned",
            "stranger",
            "replayed",
            "notary",
            "notary-bad",
            "bundle",
            "bundle-stranger",
            "bundle-replayed",
        )
    }
    push.cosign(repo, digests["signed"], trusted)
    push.cosign(repo, digests["stranger"], stranger)
    push.cosign(repo, digests["replayed"], trusted, names=digests["signed"])  # a signature of another image
    sizes = {
        n: len(push.client.get(f"/v2/{repo}/manifests/{n}", headers={"Accept": OCI_MANIFEST}).content)
        for n in ("notary", "notary-bad", "bundle", "bundle-stranger", "bundle-replayed")
    }
    _bundle(push, repo, digests["bundle"], sizes["bundle"], trusted)
    _bundle(push, repo, digests["bundle-stranger"], sizes["bundle-stranger"], stranger)
    _bundle(
        push, repo, digests["bundle-replayed"], sizes["bundle-replayed"], trusted, names=digests["bundle"]
    )
    push.notation(repo, digests["notary"], sizes["notary"], trusted, trusted_der)
    push.notation(repo, digests["notary-bad"], sizes["notary-bad"], trusted, trusted_der, tamper=True)

    keys = load_keys([trusted_pub, trusted_crt])
    reader = RegistryReader(
        reg.host, SourceOptions(username=reg.username, password=reg.password, ca_cert=reg.ca_cert)
    )
    try:
        got = {n: verify_digest(reader, repo, d, keys) for n, d in digests.items()}
    finally:
        reader.close()
    assert {n: v.status for n, v in got.items()} == {
        "signed": "verified",
        "unsigned": "unsigned",
        "stranger": "unknown-key",
        "replayed": "invalid",
        "notary": "verified",
        "notary-bad": "invalid",
        "bundle": "verified",
        "bundle-stranger": "unknown-key",
        "bundle-replayed": "invalid",
    }
    assert got["notary"].kinds == ["notation"] and got["signed"].kinds == ["cosign"]
    assert got["bundle"].kinds == ["cosign-bundle"]
    resource = Resource(type="container", name="web", workload="shop/Deployment/web")
    findings = {n: verdict_finding(v, resource, f"{reg.host}/{repo}", digests[n]) for n, v in got.items()}
    assert findings["signed"] is None and findings["notary"] is None
    assert findings["unsigned"].rule == "RT-SIG-UNSIGNED"  # type: ignore[union-attr]
    assert findings["stranger"].rule == "RT-SIG-UNKNOWN-KEY"  # type: ignore[union-attr]
    replayed = findings["replayed"]
    assert (
        replayed is not None and replayed.rule == "RT-SIG-INVALID" and replayed.severity.value == "critical"
    )
    assert replayed.resource.workload == "shop/Deployment/web" and digests["replayed"] in (
        replayed.evidence or ""
    )
    # a key file that is not a key: one clear error
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    from seawall.core.errors import InputError

    with pytest.raises(InputError, match="not a PEM public key"):
        load_keys([bad])
