"""Image signatures: cosign (`sha256-HEX.sig` tags with simple-signing payloads; and sigstore
bundles v0.3, cosign's new bundle format: a DSSE envelope over an in-toto statement naming the
image digest) and Notation (JWS envelopes). Bundles and Notation signatures are referrers, found
through the OCI referrers tag schema (`sha256-HEX` index) that registries without the referrers
API (distribution 2.x) serve. Verified with `cryptography` against configured keys.

Result per image digest: verified (no finding), unsigned (RT-SIG-UNSIGNED), signed only by keys
not configured (RT-SIG-UNKNOWN-KEY), or a signature that does not verify or signs another digest
(RT-SIG-INVALID). Keys are PEM public keys or X.509 certificates (Notation's trust store holds
certificates). Keyless (Fulcio/Rekor) verification needs the sigstore trust root online and is not
done: such signatures count as signed by an unknown key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from seawall.bounded import read_file_capped
from seawall.core import Finding, FindingKind, Location, Resource, Skip
from seawall.core.errors import InputError, SeawallError
from seawall.core.text import printable
from seawall.image.options import SourceOptions
from seawall.image.refs import parse_registry_ref
from seawall.runtime.base import Container
from seawall.runtime.oci_client import Registry
from seawall.runtime.rules import signature_rule

COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_SIG_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"
NOTATION_ARTIFACT = "application/vnd.cncf.notary.signature"
NOTATION_JWS = "application/jose+json"
MAX_KEY = 64 << 10


@dataclass(slots=True)
class Verdict:
    status: str  # verified | unsigned | unknown-key | invalid
    detail: str
    kinds: list[str] = field(default_factory=list)  # cosign, notation


def load_keys(paths: Sequence[Path]) -> list[Any]:
    """PEM public keys or certificates (their public keys)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys: list[Any] = []
    for path in paths:
        data = read_file_capped(path, MAX_KEY, f"key {path}")
        try:
            if b"BEGIN CERTIFICATE" in data:
                keys.append(x509.load_pem_x509_certificate(data).public_key())
            else:
                keys.append(load_pem_public_key(data))
        except ValueError:
            raise InputError(f"--key {path}: not a PEM public key or certificate") from None
    return keys


def _verify(key: Any, signature: bytes, data: bytes, alg: str | None = None) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    hash_alg: Any = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(
        (alg or "")[-3:], hashes.SHA256()
    )
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if alg and alg.startswith("ES"):  # JWS: raw r||s
                half = len(signature) // 2
                signature = encode_dss_signature(
                    int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
                )
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, rsa.RSAPublicKey):
            if alg and alg.startswith("PS"):
                key.verify(
                    signature,
                    data,
                    padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=padding.PSS.DIGEST_LENGTH),
                    hash_alg,
                )
            else:
                key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cosign(registry: Registry, repository: str, digest: str, keys: list[Any]) -> Verdict | None:
    tag = digest.replace(":", "-") + ".sig"
    found = registry.manifest(repository, tag)
    if found is None:
        return None
    _, manifest, _ = found
    layers = [x for x in manifest.get("layers") or [] if isinstance(x, dict)]
    statuses: list[str] = []
    for layer in layers:
        annotations = layer.get("annotations") or {}
        signature = annotations.get(COSIGN_SIG_ANNOTATION)
        if not signature or not isinstance(layer.get("digest"), str):
            continue
        payload = registry.small_blob(repository, layer["digest"])
        if payload is None:
            statuses.append("invalid")
            continue
        try:
            claimed = orjson.loads(payload)["critical"]["image"]["docker-manifest-digest"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            statuses.append("invalid")
            continue
        try:
            raw = _b64(str(signature))
        except ValueError:
            statuses.append("invalid")
            continue
        matching = [k for k in keys if _verify(k, raw, payload)]
        if matching and claimed == digest:
            return Verdict("verified", "cosign signature verified with a configured key", ["cosign"])
        if matching:
            statuses.append("invalid")  # a trusted key signed ANOTHER digest: replayed signature
        else:
            statuses.append("unknown-key")
    if not statuses:
        return Verdict("invalid", f"cosign signature manifest {tag} carries no signature", ["cosign"])
    if "invalid" in statuses:
        return Verdict(
            "invalid", f"cosign signature in {tag} does not verify or names another digest", ["cosign"]
        )
    return Verdict(
        "unknown-key", f"cosign signature in {tag} verifies with none of the configured keys", ["cosign"]
    )


def _public_bytes(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    try:
        return bytes(
            key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    except (AttributeError, ValueError):
        return b""


def _claims_configured_key(envelope: dict[str, Any], keys: list[Any]) -> bool:
    """The envelope's signing certificate (x5c[0]) carries one of the configured keys: a signature
    that then fails to verify was tampered with, not made by a stranger."""
    from cryptography import x509

    try:
        chain = (envelope.get("header") or {}).get("x5c") or []
        cert = x509.load_der_x509_certificate(_b64url(str(chain[0])) if chain else b"")
    except (ValueError, TypeError, IndexError, AttributeError):
        return False
    claimed = _public_bytes(cert.public_key())
    return bool(claimed) and any(_public_bytes(k) == claimed for k in keys)


def _referrer_manifests(
    registry: Registry, repository: str, digest: str, artifact_type: str
) -> list[dict[str, Any]]:
    """Manifests of `artifact_type` referring to `digest`, listed in the referrers tag schema's
    `sha256-HEX` index (the registries here have no referrers API)."""
    referrers = registry.manifest(repository, digest.replace(":", "-"))
    out: list[dict[str, Any]] = []
    if referrers is None:
        return out
    _, index, _ = referrers
    for desc in (index.get("manifests") or [])[:64]:
        if isinstance(desc, dict) and desc.get("artifactType") == artifact_type and desc.get("digest"):
            found = registry.manifest(repository, str(desc["digest"]))
            if found is not None:
                out.append(found[1])
    return out


def _pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature signs."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def _bundle_certificate_key(material: dict[str, Any]) -> Any:
    """The public key of a bundle's signing certificate (keyless: Fulcio), if it carries one."""
    from cryptography import x509

    cert = (material.get("certificate") or {}).get("rawBytes")
    if not cert:
        chain = (material.get("x509CertificateChain") or {}).get("certificates") or [{}]
        cert = chain[0].get("rawBytes") if isinstance(chain[0], dict) else None
    if not cert:
        return None
    try:
        return x509.load_der_x509_certificate(_b64(str(cert))).public_key()
    except (ValueError, TypeError):
        return None


def _sigstore_bundle(registry: Registry, repository: str, digest: str, keys: list[Any]) -> Verdict | None:
    manifests = _referrer_manifests(registry, repository, digest, SIGSTORE_BUNDLE)
    if not manifests:
        return None
    statuses: list[str] = []
    for manifest in manifests:
        subject = (manifest.get("subject") or {}).get("digest")
        for layer in (manifest.get("layers") or [])[:8]:
            if not isinstance(layer, dict) or layer.get("mediaType") != SIGSTORE_BUNDLE:
                continue
            blob = registry.small_blob(repository, str(layer.get("digest")))
            try:
                bundle = orjson.loads(blob or b"")
                envelope = bundle["dsseEnvelope"]
                payload_type = str(envelope["payloadType"])
                body = _b64(str(envelope["payload"]))
                signatures = [_b64(str(sig["sig"])) for sig in envelope["signatures"]]
                statement = orjson.loads(body)
                named = {
                    "sha256:" + str(sub["digest"]["sha256"])
                    for sub in statement["subject"]
                    if isinstance(sub, dict) and "sha256" in (sub.get("digest") or {})
                }
                material = bundle.get("verificationMaterial") or {}
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                statuses.append("invalid")
                continue
            signed = _pae(payload_type, body)
            matching = [k for k in keys if any(_verify(k, sig, signed) for sig in signatures)]
            names_digest = payload_type == IN_TOTO and digest in named and subject in (None, digest)
            if matching and names_digest:
                return Verdict(
                    "verified", "sigstore bundle verified with a configured key", ["cosign-bundle"]
                )
            cert_key = _bundle_certificate_key(material)
            claims_trusted = cert_key is not None and _public_bytes(cert_key) in {
                _public_bytes(k) for k in keys
            }
            statuses.append("invalid" if matching or claims_trusted or not names_digest else "unknown-key")
    if "invalid" in statuses or not statuses:
        return Verdict(
            "invalid", "sigstore bundle does not verify or names another digest", ["cosign-bundle"]
        )
    return Verdict(
        "unknown-key",
        "sigstore bundle verifies with none of the configured keys (keyless bundles are not checked "
        "against the sigstore trust root)",
        ["cosign-bundle"],
    )


def _notation(registry: Registry, repository: str, digest: str, keys: list[Any]) -> Verdict | None:
    manifests = _referrer_manifests(registry, repository, digest, NOTATION_ARTIFACT)
    if not manifests:
        return None
    statuses: list[str] = []
    for manifest in manifests:
        subject = (manifest.get("subject") or {}).get("digest")
        for layer in manifest.get("layers") or []:
            if not isinstance(layer, dict) or layer.get("mediaType") != NOTATION_JWS:
                continue
            blob = registry.small_blob(repository, str(layer.get("digest")))
            try:
                envelope = orjson.loads(blob or b"")
                protected = str(envelope["protected"])
                alg = orjson.loads(_b64url(protected)).get("alg")
                payload = orjson.loads(_b64url(str(envelope["payload"])))
                signed = f"{protected}.{envelope['payload']}".encode()
                signature = _b64url(str(envelope["signature"]))
                target = payload["targetArtifact"]["digest"]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                statuses.append("invalid")
                continue
            matching = [k for k in keys if _verify(k, signature, signed, str(alg))]
            claims_trusted = _claims_configured_key(envelope, keys)
            if matching and target == digest and subject in (None, digest):
                return Verdict(
                    "verified", "Notation signature verified with a configured certificate", ["notation"]
                )
            statuses.append("invalid" if matching or claims_trusted or target != digest else "unknown-key")
    if "invalid" in statuses or not statuses:
        return Verdict("invalid", "Notation signature does not verify or names another digest", ["notation"])
    return Verdict(
        "unknown-key", "Notation signature verifies with none of the configured certificates", ["notation"]
    )


def verify_digest(registry: Registry, repository: str, digest: str, keys: list[Any]) -> Verdict:
    verdicts = [
        v
        for v in (
            _cosign(registry, repository, digest, keys),
            _sigstore_bundle(registry, repository, digest, keys),
            _notation(registry, repository, digest, keys),
        )
        if v is not None
    ]
    if not verdicts:
        return Verdict(
            "unsigned", "no cosign signature tag, sigstore bundle or Notation signature for this digest"
        )
    for status in ("verified", "invalid", "unknown-key"):
        for v in verdicts:
            if v.status == status:
                return v
    return verdicts[0]


_RULES = {"unsigned": "RT-SIG-UNSIGNED", "unknown-key": "RT-SIG-UNKNOWN-KEY", "invalid": "RT-SIG-INVALID"}


def verdict_finding(verdict: Verdict, resource: Resource, image: str, digest: str) -> Finding | None:
    rule_id = _RULES.get(verdict.status)
    if rule_id is None:
        return None
    rule = signature_rule(rule_id)
    return Finding(
        kind=FindingKind.MISCONFIGURATION,
        rule=rule.id,
        title=rule.title,
        severity=rule.severity,
        resource=resource,
        location=Location(path=image),
        evidence=f"{printable(image)}@{digest}: {verdict.detail}",
        remediation=rule.remediation,
        references=list(rule.references),
        attack=list(rule.attack),
        extra={"digest": digest, "signature": verdict.status, "formats": verdict.kinds},
    )


def verify_container(
    container: Container, key_paths: Sequence[Path], options: SourceOptions, resource: Resource
) -> tuple[list[Finding], list[Skip]]:
    digest = container.image_digest
    image = container.image.split("@", 1)[0]
    try:
        ref = parse_registry_ref(image) if image and not image.startswith("localhost/") else None
    except SeawallError:
        ref = None
    if digest is None or ref is None or ref.registry is None or ref.repository is None:
        return [], [
            Skip(
                subject=f"signature of {printable(container.image)}",
                reason="the image has no registry reference with a digest to look signatures up",
                category="unsupported",
            )
        ]
    keys = load_keys(key_paths)
    registry = Registry(ref.registry, options)
    try:
        verdict = verify_digest(registry, ref.repository, digest, keys)
    except SeawallError as exc:
        return [], [
            Skip(
                subject=f"signature of {printable(container.image)}",
                reason=exc.message,
                category="unreadable",
            )
        ]
    finally:
        registry.close()
    finding = verdict_finding(verdict, resource, image, digest)
    return ([finding] if finding else []), []


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
