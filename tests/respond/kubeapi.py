"""A Kubernetes API server for the respond tests: HTTPS on 127.0.0.1 with its own CA, a bearer
token, and every object it stores validated against the Kubernetes v1.37 API schema
(tests/respond/data/k8s-v1.37-definitions.json, strict: unknown fields are refused), with the
API's own naming and label rules. It records every call.

No kube-apiserver can be installed on this machine from the package registries (Debian 12 ships
kubectl 1.20 and etcd, no API server; PyPI and npm carry no kube-apiserver binary; kind and k3s
need a container engine), so the official `kubernetes` client talks to this server instead, over
real HTTPS, with the paths, verbs, content types, status codes and Status bodies of the real API.

What it does not do: controllers (no ReplicaSet starts a replacement, no endpoints change), watch,
admission, field selectors other than involvedObject.name, strategic merge (merge-patch only, which
is what seawall sends; a json-patch content type with an object body is refused as the API does).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
import ssl
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator

SCHEMA = json.loads((Path(__file__).parent / "data" / "k8s-v1.37-definitions.json").read_text())
DEFINITION = {
    "Pod": "io.k8s.api.core.v1.Pod",
    "Service": "io.k8s.api.core.v1.Service",
    "Namespace": "io.k8s.api.core.v1.Namespace",
    "Node": "io.k8s.api.core.v1.Node",
    "Event": "io.k8s.api.core.v1.Event",
    "NetworkPolicy": "io.k8s.api.networking.v1.NetworkPolicy",
    "ReplicaSet": "io.k8s.api.apps.v1.ReplicaSet",
    "Deployment": "io.k8s.api.apps.v1.Deployment",
    "DaemonSet": "io.k8s.api.apps.v1.DaemonSet",
    "StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
    "Scale": "io.k8s.api.autoscaling.v1.Scale",
}
_VALIDATORS = {
    kind: Draft202012Validator({"$ref": f"#/$defs/{ref}", "$defs": SCHEMA["$defs"]})
    for kind, ref in DEFINITION.items()
}
# resource path segment -> (kind, api prefix, namespaced)
RESOURCES = {
    ("", "pods"): ("Pod", True),
    ("", "services"): ("Service", True),
    ("", "namespaces"): ("Namespace", False),
    ("", "nodes"): ("Node", False),
    ("", "events"): ("Event", True),
    ("networking.k8s.io", "networkpolicies"): ("NetworkPolicy", True),
    ("apps", "replicasets"): ("ReplicaSet", True),
    ("apps", "deployments"): ("Deployment", True),
    ("apps", "daemonsets"): ("DaemonSet", True),
    ("apps", "statefulsets"): ("StatefulSet", True),
}
API_VERSION = {"": "v1", "networking.k8s.io": "networking.k8s.io/v1", "apps": "apps/v1"}
CUSTOM = {  # group -> (version, plural, kind, namespaced)
    "cilium.io": ("v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy", True),
    "crd.projectcalico.org": ("v1", "globalnetworkpolicies", "GlobalNetworkPolicy", False),
    "policy.networking.k8s.io": ("v1alpha1", "adminnetworkpolicies", "AdminNetworkPolicy", False),
}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def label_problems(labels: dict[str, Any]) -> list[str]:
    """The API server's label rules (apimachinery validation: qualified names and values)."""
    out = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
            out.append(f"metadata.labels: Invalid value: {key!r}: prefix part must be a DNS subdomain")
        if not name or len(name) > 63 or not _LABEL_NAME.match(name):
            out.append(f"metadata.labels: Invalid value: {key!r}: name part must be a valid label name")
        if not isinstance(value, str) or len(value) > 63 or (value and not _LABEL_NAME.match(value)):
            out.append(
                f"metadata.labels: Invalid value: {value!r}: a valid label must be an empty string or "
                "consist of alphanumeric characters, '-', '_' or '.'"
            )
    return out


def validate(kind: str, obj: dict[str, Any]) -> list[str]:
    problems = []
    validator = _VALIDATORS.get(kind)
    if validator is not None:
        for err in validator.iter_errors(obj):
            where = ".".join(str(p) for p in err.absolute_path) or "(root)"
            problems.append(f"{where}: {err.message[:200]}")
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        problems.append(f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain")
    problems += label_problems(meta.get("labels") or {})
    size = len(json.dumps(meta.get("annotations") or {}))
    if size > 256 * 1024:
        problems.append("metadata.annotations: Too long: must have at most 262144 bytes")
    return problems


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass
class KubeApi:
    token: str = "seawall-test-token"
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(
        default_factory=dict
    )  # group,res,ns,name
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)  # ns, pod, container -> text
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource) the token may not do
    groups: set[str] = field(default_factory=set)  # custom API groups installed (CRDs)
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 1000

    def load(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            kind = item["kind"]
            group, resource = next(k for k, v in RESOURCES.items() if v[0] == kind)
            problems = validate(kind, item)
            assert not problems, f"fixture {kind} {item['metadata'].get('name')}: {problems}"
            meta = item["metadata"]
            self.objects[(group, resource, meta.get("namespace", ""), meta["name"])] = copy.deepcopy(item)

    def get(self, resource: str, namespace: str, name: str, group: str = "") -> dict[str, Any] | None:
        return self.objects.get((group, resource, namespace, name))

    def all(self, resource: str, group: str = "") -> list[dict[str, Any]]:
        return [o for (g, r, _, _), o in self.objects.items() if g == group and r == resource]

    # -- the HTTP side -------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> tuple[int, str, bytes]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(401, status(401, "Unauthorized", "Unauthorized"))
        self.calls.append(
            {
                "method": method,
                "path": path,
                "query": {k: v[0] for k, v in query.items()},
                "content_type": headers.get("Content-Type"),
                "body": body.decode() if body else None,
            }
        )
        if path in ("/apis", "/apis/") and method == "GET":
            groups = [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                    "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                }
                for g, v in [("apps", "v1"), ("networking.k8s.io", "v1")]
                + [(g, CUSTOM[g][0]) for g in sorted(self.groups)]
            ]
            return self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        m = re.match(
            r"^/(?:api/v1|apis/([a-z0-9.-]+)/(v[0-9a-z]+))(?:/namespaces/([^/]+))?/([a-z]+)"
            r"(?:/([^/]+))?(?:/(log|scale))?$",
            path,
        )
        if m is None:
            return self._json(
                404, status(404, "NotFound", "the server could not find the requested resource")
            )
        group, _version, namespace, resource, name, sub = m.groups()
        group = group or ""
        verb = {"GET": "get" if name else "list", "POST": "create", "PATCH": "patch", "DELETE": "delete"}[
            method
        ]
        if (verb, resource + (f"/{sub}" if sub else "")) in self.forbidden or (
            verb,
            resource,
        ) in self.forbidden:
            what = f'{resource} "{name}"' if name else resource
            scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            return self._json(
                403,
                status(
                    403,
                    "Forbidden",
                    f'{what} is forbidden: User "system:serviceaccount:'
                    f'ir:responder" cannot {verb} resource "{resource}" in API group '
                    f'"{group}"{scope}',
                ),
            )
        if group in CUSTOM:
            if group not in self.groups:
                return self._json(
                    404, status(404, "NotFound", "the server could not find the requested resource")
                )
            return self._custom(method, group, namespace or "", resource, name, body)
        spec = RESOURCES.get((group, resource))
        if spec is None:
            return self._json(
                404, status(404, "NotFound", "the server could not find the requested resource")
            )
        kind, _namespaced = spec
        ns = namespace or ""
        with self.lock:
            if method == "GET" and name is None:
                items = [
                    copy.deepcopy(o)
                    for (g, r, n, _), o in sorted(self.objects.items())
                    if g == group and r == resource and (not namespace or n == namespace)
                ]
                selector = (query.get("fieldSelector") or [""])[0]
                if selector.startswith("involvedObject.name="):
                    wanted = selector.split("=", 1)[1]
                    items = [i for i in items if (i.get("involvedObject") or {}).get("name") == wanted]
                return self._json(
                    200,
                    {
                        "apiVersion": API_VERSION[group],
                        "kind": f"{kind}List",
                        "metadata": {"resourceVersion": str(self.version)},
                        "items": items,
                    },
                )
            if method == "POST" and name is None:
                return self._create(group, resource, kind, ns, body)
            key = (group, resource, ns, name or "")
            current = self.objects.get(key)
            if current is None:
                return self._json(
                    404,
                    status(
                        404,
                        "NotFound",
                        f'{resource}.{group or "core"} "{name}" not found'.replace(".core", ""),
                    ),
                )
            if sub == "log" and method == "GET":
                container = (query.get("container") or [""])[0]
                text = self.logs.get((ns, name or "", container))
                if text is None:
                    return self._json(
                        400,
                        status(
                            400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start'
                        ),
                    )
                if (query.get("previous") or ["false"])[0] == "true":
                    return self._json(
                        400,
                        status(
                            400,
                            "BadRequest",
                            f'previous terminated container "{container}" in pod "{name}" not found',
                        ),
                    )
                tail = int((query.get("tailLines") or ["0"])[0])
                lines = text.splitlines(keepends=True)
                return 200, "text/plain", "".join(lines[-tail:] if tail else lines).encode()
            if sub == "scale":
                return self._scale(method, current, key, headers, body)
            if method == "GET":
                return self._json(200, current)
            if method == "DELETE":
                del self.objects[key]
                return self._json(
                    200,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": {"name": name, "group": group, "kind": resource},
                    },
                )
            if method == "PATCH":
                return self._patch(kind, key, current, headers, body)
        return self._json(405, status(405, "MethodNotAllowed", "the server does not allow this method"))

    def _decode_patch(
        self, headers: Any, body: bytes
    ) -> tuple[dict[str, Any] | None, tuple[int, str, bytes] | None]:
        ctype = (headers.get("Content-Type") or "").split(";")[0]
        if ctype not in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
            "application/apply-patch+yaml",
        ):
            return None, self._json(
                415,
                status(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an "
                    "unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json",
                ),
            )
        try:
            patch = json.loads(body or b"null")
        except ValueError:
            return None, self._json(400, status(400, "BadRequest", "error decoding patch"))
        if ctype == "application/json-patch+json" and not isinstance(patch, list):
            return None, self._json(
                400,
                status(
                    400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                ),
            )
        if ctype != "application/merge-patch+json" or not isinstance(patch, dict):
            return None, self._json(
                415, status(415, "UnsupportedMediaType", f"{ctype} is not supported here")
            )
        return patch, None

    def _patch(
        self, kind: str, key: tuple[str, str, str, str], current: dict[str, Any], headers: Any, body: bytes
    ) -> tuple[int, str, bytes]:
        patch, error = self._decode_patch(headers, body)
        if error is not None:
            return error
        updated = merge_patch(current, patch)
        for immutable in ("name", "namespace", "uid"):
            if (updated.get("metadata") or {}).get(immutable) != (current.get("metadata") or {}).get(
                immutable
            ):
                return self._json(422, status(422, "Invalid", f"metadata.{immutable}: field is immutable"))
        problems = validate(kind, updated)
        if problems:
            return self._json(
                422, status(422, "Invalid", f'{kind} "{key[3]}" is invalid: {"; ".join(problems)}')
            )
        self.version += 1
        updated["metadata"]["resourceVersion"] = str(self.version)
        self.objects[key] = updated
        return self._json(200, updated)

    def _create(self, group: str, resource: str, kind: str, ns: str, body: bytes) -> tuple[int, str, bytes]:
        try:
            obj = json.loads(body)
        except ValueError:
            return self._json(400, status(400, "BadRequest", "error decoding the body"))
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace", ns) != ns:
            return self._json(
                400,
                status(
                    400,
                    "BadRequest",
                    "the namespace of the object does not match the namespace on the request",
                ),
            )
        meta["namespace"] = ns
        problems = validate(kind, obj)
        if problems:
            return self._json(
                422, status(422, "Invalid", f'{kind} "{meta.get("name")}" is invalid: {"; ".join(problems)}')
            )
        key = (group, resource, ns, meta["name"])
        if key in self.objects:
            return self._json(
                409, status(409, "AlreadyExists", f'{resource}.{group} "{meta["name"]}" already exists')
            )
        self.version += 1
        meta.update(
            uid=str(uuid.uuid4()),
            resourceVersion=str(self.version),
            generation=1,
            creationTimestamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self.objects[key] = obj
        return self._json(201, obj)

    def _scale(
        self, method: str, dep: dict[str, Any], key: tuple[str, str, str, str], headers: Any, body: bytes
    ) -> tuple[int, str, bytes]:
        def scale_of(d: dict[str, Any]) -> dict[str, Any]:
            sel = ",".join(
                f"{k}={v}" for k, v in ((d["spec"].get("selector") or {}).get("matchLabels") or {}).items()
            )
            return {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {
                    "name": d["metadata"]["name"],
                    "namespace": d["metadata"]["namespace"],
                    "resourceVersion": d["metadata"].get("resourceVersion", "1"),
                },
                "spec": {"replicas": d["spec"].get("replicas", 1)},
                "status": {"replicas": (d.get("status") or {}).get("replicas", 0), "selector": sel},
            }

        if method == "GET":
            return self._json(200, scale_of(dep))
        patch, error = self._decode_patch(headers, body)
        if error is not None:
            return error
        new = merge_patch(scale_of(dep), patch)
        problems = validate("Scale", new)
        if problems:
            return self._json(422, status(422, "Invalid", "; ".join(problems)))
        updated = copy.deepcopy(dep)
        updated["spec"]["replicas"] = new["spec"]["replicas"]
        self.objects[key] = updated
        return self._json(200, scale_of(updated))

    def _custom(
        self, method: str, group: str, ns: str, resource: str, name: str | None, body: bytes
    ) -> tuple[int, str, bytes]:
        version, plural, kind, namespaced = CUSTOM[group]
        if resource != plural:
            return self._json(
                404, status(404, "NotFound", "the server could not find the requested resource")
            )
        with self.lock:
            if method == "POST" and name is None:
                obj = json.loads(body)
                if obj.get("kind") != kind or obj.get("apiVersion") != f"{group}/{version}":
                    return self._json(400, status(400, "BadRequest", f"expected {kind} {group}/{version}"))
                meta = obj["metadata"]
                problems = label_problems(meta.get("labels") or {})
                if problems or not _DNS_SUBDOMAIN.match(meta.get("name", "")):
                    return self._json(422, status(422, "Invalid", "; ".join(problems) or "metadata.name"))
                if namespaced:
                    meta["namespace"] = ns
                self.objects[(group, plural, ns, meta["name"])] = obj
                return self._json(201, obj)
            key = (group, plural, ns, name or "")
            if key not in self.objects:
                return self._json(404, status(404, "NotFound", f'{plural}.{group} "{name}" not found'))
            if method == "DELETE":
                del self.objects[key]
                return self._json(
                    200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
                )
            return self._json(200, self.objects[key])

    @staticmethod
    def _json(code: int, value: Any) -> tuple[int, str, bytes]:
        return code, "application/json", json.dumps(value).encode()


def _certificates(directory: Path) -> tuple[Path, Path, bytes]:
    """A CA and a server certificate for 127.0.0.1 (cryptography, as the real cluster's PKI would be)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seawall-test-kubernetes-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, ca.public_bytes(serialization.Encoding.PEM)


@contextmanager
def serve(api: KubeApi) -> Iterator[dict[str, Any]]:
    """Run `api` over HTTPS on 127.0.0.1 (free port); yields url, kubeconfig path and the CA."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 8 << 20)) if length else b""
            parts = urlsplit(self.path)
            code, ctype, payload = api.handle(
                self.command, parts.path, parse_qs(parts.query), self.headers, body
            )
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _do

        def log_message(self, format: str, *args: Any) -> None:
            return

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        cert, key, ca = _certificates(directory)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"https://127.0.0.1:{server.server_address[1]}"
        kubeconfig = directory / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "test",
                    "clusters": [
                        {
                            "name": "test",
                            "cluster": {
                                "server": url,
                                "certificate-authority-data": base64.b64encode(ca).decode(),
                            },
                        }
                    ],
                    "users": [{"name": "responder", "user": {"token": api.token}}],
                    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "responder"}}],
                }
            )
        )
        try:
            yield {"url": url, "kubeconfig": kubeconfig, "ca": ca, "dir": directory}
        finally:
            server.shutdown()
            server.server_close()
