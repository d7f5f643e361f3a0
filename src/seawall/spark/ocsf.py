"""Amazon Security Lake OCSF records back to the source events seawall's rules are written for.

Security Lake (source version 2) stores CloudTrail management events and EKS audit logs as OCSF
1.1 API Activity (class 6003; CloudTrail also as Account Change 3001, Authentication 3002 ...)
following the published OCSF mappings ("event dossiers" of the OCSF examples): e.g.
`api.operation` <- eventName, `api.service.name` <- eventSource, `actor.user.uid` <-
userIdentity.arn; for EKS `api.operation` <- verb, `actor.user.name` <- user.username,
`resources[].namespace` <- objectRef.namespace. Fields without a mapping are kept by Security
Lake in `unmapped`. These functions invert the published mappings (starting from `unmapped`),
so the same rules run on a Security Lake table as on the raw logs. What the mapping drops and
`unmapped` does not keep is not there to match (stated in docs/spark.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

# (OCSF dotted path, CloudTrail dotted path): the published CloudTrail -> OCSF 1.1.0 mapping
CLOUDTRAIL = (
    ("actor.user.account.uid", "userIdentity.accountId"),
    ("actor.user.credential_uid", "userIdentity.accessKeyId"),
    ("actor.user.name", "userIdentity.userName"),
    ("actor.user.type", "userIdentity.type"),
    ("actor.user.uid_alt", "userIdentity.principalId"),
    ("actor.user.uid", "userIdentity.arn"),
    ("actor.session.created_time_dt", "userIdentity.sessionContext.attributes.creationDate"),
    ("actor.session.is_mfa", "userIdentity.sessionContext.attributes.mfaAuthenticated"),
    ("actor.session.issuer", "userIdentity.sessionContext.sessionIssuer.arn"),
    ("actor.invoked_by", "userIdentity.invokedBy"),
    ("actor.idp.name", "userIdentity.identityProvider"),
    ("src_endpoint.uid", "vpcEndpointId"),
    ("api.request.uid", "requestID"),
    ("api.service.name", "eventSource"),
    ("api.version", "apiVersion"),
    ("api.operation", "eventName"),
    ("cloud.region", "awsRegion"),
    ("cloud.account.uid", "recipientAccountId"),
    ("http_request.user_agent", "userAgent"),
    ("metadata.product.version", "eventVersion"),
    ("metadata.uid", "eventID"),
    ("metadata.event_code", "eventType"),
    ("api.response.error", "errorCode"),
    ("api.response.message", "errorMessage"),
    ("api.request.data", "requestParameters"),
    ("api.response.data", "responseElements"),
)

# the published EKS control plane (audit) -> OCSF 1.1.0 mapping
EKS_AUDIT = (
    ("metadata.log_level", "level"),
    ("metadata.product.version", "apiVersion"),
    ("api.request.uid", "auditID"),
    ("message", "stage"),
    ("http_request.url.path", "requestURI"),
    ("api.operation", "verb"),
    ("actor.user.name", "user.username"),
    ("actor.user.uid", "user.uid"),
    ("http_request.user_agent", "userAgent"),
    ("api.version", "objectRef.apiVersion"),
    ("api.group.name", "objectRef.apiGroup"),
    ("api.response.code", "responseStatus.code"),
    ("api.response.message", "responseStatus.message"),
    ("api.response.error", "responseStatus.reason"),
    ("api.response.error_message", "responseStatus.status"),
)


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = doc.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            doc[part] = nxt
        doc = nxt
    doc[parts[-1]] = value


def _json_value(value: Any) -> Any:
    """Security Lake keeps request/response data and unmapped values as JSON text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _unmapped(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    raw = event.get("unmapped")
    if isinstance(raw, str):
        raw = _json_value(raw)
    if isinstance(raw, list):  # a map<string,string> read as a list of (key, value) pairs
        raw = {k: v for k, v in raw if isinstance(k, str)}
    if isinstance(raw, dict):
        for key, value in raw.items():
            _set(out, str(key), _json_value(value))
    return out


def _iso(ms: Any) -> str | None:
    """OCSF `time` (epoch ms) or `time_dt` (ISO text) as the RFC 3339 text the raw logs carry."""
    if isinstance(ms, (int, float)) and not isinstance(ms, bool):
        when = dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC)
        if int(ms) % 1000:
            return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ms) % 1000:03d}Z"
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(ms, str):
        return ms
    return None


def to_cloudtrail(event: dict[str, Any]) -> dict[str, Any]:
    """A CloudTrail record from its Security Lake OCSF form."""
    out = _unmapped(event)
    for ocsf, raw in CLOUDTRAIL:
        value = _get(event, ocsf)
        if value is not None:
            _set(out, raw, _json_value(value))
    ip = _get(event, "src_endpoint.ip") or _get(event, "src_endpoint.domain")
    if ip is not None:
        out["sourceIPAddress"] = ip
    when = _iso(event.get("time_dt") or event.get("time"))
    if when:
        out["eventTime"] = when
    resources = event.get("resources")
    if isinstance(resources, list) and resources:
        out["resources"] = [{"ARN": r.get("uid"), "accountId": _get(r, "owner.account.uid"),
                             "type": r.get("type")} for r in resources if isinstance(r, dict)]
    return out


def to_k8s_audit(event: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes audit event (audit.k8s.io/v1) from its Security Lake OCSF form."""
    out = _unmapped(event)
    out.setdefault("kind", "Event")
    out.setdefault("apiVersion", "audit.k8s.io/v1")
    for ocsf, raw in EKS_AUDIT:
        value = _get(event, ocsf)
        if value is not None:
            _set(out, raw, _json_value(value))
    if out.get("apiVersion") != "audit.k8s.io/v1":
        out["apiVersion"] = "audit.k8s.io/v1"
    groups = _get(event, "actor.user.groups")
    if isinstance(groups, list):
        _set(out, "user.groups", [g.get("name") if isinstance(g, dict) else g for g in groups])
    ips = [*([_get(event, "src_endpoint.ip")] if _get(event, "src_endpoint.ip") else []),
           *(_get(event, "src_endpoint.intermediate_ips") or [])]
    if ips:
        out["sourceIPs"] = ips
    resources = event.get("resources")
    if isinstance(resources, list) and resources and isinstance(resources[0], dict):
        r = resources[0]
        ref = out.setdefault("objectRef", {})
        for ocsf, raw in (("namespace", "namespace"), ("name", "name"), ("uid", "uid"),
                          ("version", "resourceVersion")):
            if r.get(ocsf) is not None:
                ref[raw] = r[ocsf]
        kind = r.get("type")
        if isinstance(kind, str) and kind:
            resource, _, sub = kind.partition("/")
            ref.setdefault("resource", resource)
            if sub:
                ref.setdefault("subresource", sub)
    for side in ("request", "response"):
        containers = _get(event, f"api.{side}.containers")
        obj_key = f"{side}Object"
        if isinstance(containers, list) and not _get(out, f"{obj_key}.spec.containers"):
            mapped = [{"name": c.get("name"), "image": _get(c, "image.name")}
                      for c in containers if isinstance(c, dict)]
            _set(out, f"{obj_key}.spec.containers", mapped)
    for ocsf, raw in (("start_time", "requestReceivedTimestamp"), ("time", "stageTimestamp")):
        when = _iso(event.get(f"{ocsf}_dt") or event.get(ocsf))
        if when:
            out[raw] = when
    return out


MAPPERS = {"cloudtrail": to_cloudtrail, "k8s-audit": to_k8s_audit}
