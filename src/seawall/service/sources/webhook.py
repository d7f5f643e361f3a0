"""`k8s-audit-webhook`: the Kubernetes API server's audit webhook (`--audit-webhook-config-file`).

The API server POSTs `audit.k8s.io/v1` `EventList` batches; each is spooled (fsync) before the
200, so that the API server's retry covers a crash or a full spool (503).
"""

from __future__ import annotations

import orjson

from seawall.service.sources.spooled import BadRequest, SpooledReceiver

API_VERSIONS = ("audit.k8s.io/v1", "audit.k8s.io/v1beta1")


class K8sAuditWebhook(SpooledReceiver):
    type = "k8s-audit-webhook"
    format = "k8s-audit"

    def parse(self, body: bytes, content_type: str) -> list[bytes]:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise BadRequest("expected an audit.k8s.io/v1 EventList object")
        if doc.get("kind") == "Event" and doc.get("apiVersion") in API_VERSIONS:
            doc = {"kind": "EventList", "items": [doc]}
        if doc.get("kind") != "EventList" or not isinstance(doc.get("items"), list):
            raise BadRequest("expected kind EventList with items (audit.k8s.io/v1)")
        if doc.get("apiVersion") not in (None, *API_VERSIONS):
            raise BadRequest(f"unsupported apiVersion {str(doc.get('apiVersion'))[:40]!r}")
        items = doc["items"]
        if not all(isinstance(i, dict) for i in items):
            raise BadRequest("every item of the EventList must be an audit Event object")
        return [orjson.dumps(i) for i in items]
