"""AWS CloudTrail: the `{"Records": [...]}` files CloudTrail writes to S3 (gzip), JSON lines
(one record per line, e.g. from CloudTrail Lake or EventBridge), and `lookup-events` output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import orjson
import polars as pl

from seawall.telemetry import awspolicy
from seawall.telemetry.jsonread import ExprOf, JsonReader, ts


def _svc(source: pl.Expr, name: str) -> pl.Expr:
    return source == f"{name}.amazonaws.com"


def _policy(f: ExprOf, what: str) -> pl.Expr:
    """A fact of the resource policy in `requestParameters.policyText`, evaluated (seawall.telemetry.
    awspolicy): `public` ("true"/"false"), `accounts` (other accounts admitted), `grantees` (those
    and `org:<id>` for Organizations admitted as a whole)."""
    list_out = what != "public"

    def facts(batch: pl.Series) -> pl.Series:
        out: list[object] = []
        for row in batch.to_list():
            text, own = (row or {}).get("t"), (row or {}).get("o")
            if text is None:
                out.append(None)
                continue
            g = awspolicy.grants(text, own)
            if what == "public":
                out.append("true" if g.public else "false")
            elif what == "accounts":
                out.append(g.accounts)
            else:
                out.append(g.grantees())
        return pl.Series(out, dtype=pl.List(pl.String) if list_out else pl.String)

    both = pl.struct(f("requestParameters.policyText").alias("t"), f("recipientAccountId").alias("o"))
    return both.map_batches(facts, return_dtype=pl.List(pl.String) if list_out else pl.String)


def _replicas(f: ExprOf) -> pl.Expr:
    """Other accounts that a registry replication configuration copies images to."""
    ids = f("requestParameters.replicationConfiguration.rules[].destinations[].registryId").list.unique()
    return ids.list.set_difference(pl.concat_list(f("recipientAccountId").fill_null(""))).list.sort()


def _family(f: ExprOf) -> pl.Expr:
    """Task definition family: `family` of RegisterTaskDefinition, or the family part of the
    `taskDefinition` (ARN or family:revision) that a service is switched to."""
    td = f("requestParameters.taskDefinition").str.replace(r"^arn:[^/]*/", "").str.replace(r":\d+$", "")
    return pl.coalesce(f("requestParameters.family"), td)


def _images(f: ExprOf) -> pl.Expr:
    """The image repositories of a task definition (tags and digests dropped), sorted."""
    repos = f("requestParameters.containerDefinitions[].image").list.eval(
        pl.element().str.replace(r"@.*$", "").str.replace(r":[^:/]+$", "")
    )
    return repos.list.unique().list.sort().list.join(",")


def _net24(f: ExprOf) -> pl.Expr:
    ip = f("sourceIPAddress")
    return (
        pl.when(ip.str.contains(r"^\d+\.\d+\.\d+\.\d+$"))
        .then(ip.str.replace(r"\.\d+$", ".0/24"))
        .otherwise(ip)
    )


class CloudTrailReader(JsonReader):
    name = "cloudtrail"
    signature = (b'"eventName"', b'"eventSource"')
    identity_field = "eventID"  # CloudTrail may deliver an event more than once
    list_fields = frozenset(
        {
            "resources",
            "requestParameters.containerDefinitions",
            "requestParameters.eventSelectors",
            "requestParameters.advancedEventSelectors",
            "requestParameters.logging.clusterLogging",
            "requestParameters.imageIds",
            "requestParameters.ipPermissions.items",
            "requestParameters.replicationConfiguration.rules",
            "requestParameters.replicationConfiguration.rules.destinations",
            "responseElements.failures",
        }
    )
    derived: ClassVar[dict[str, Callable[[ExprOf], pl.Expr]]] = {
        "policy.foreign_accounts": lambda f: _policy(f, "accounts"),
        "policy.accounts": lambda f: _policy(f, "accounts"),
        "policy.grantees": lambda f: _policy(f, "grantees"),
        "policy.public": lambda f: _policy(f, "public"),
        "replication.accounts": _replicas,
        "taskdef.family": _family,
        "taskdef.images": _images,
        "sourceIPAddress.net24": _net24,
    }
    derived_needs: ClassVar[dict[str, tuple[str, ...]]] = {
        "policy.foreign_accounts": ("requestParameters.policyText", "recipientAccountId"),
        "policy.accounts": ("requestParameters.policyText", "recipientAccountId"),
        "policy.grantees": ("requestParameters.policyText", "recipientAccountId"),
        "policy.public": ("requestParameters.policyText", "recipientAccountId"),
        "replication.accounts": (
            "requestParameters.replicationConfiguration.rules[].destinations[].registryId",
            "recipientAccountId",
        ),
        "taskdef.family": ("requestParameters.family", "requestParameters.taskDefinition"),
        "taskdef.images": ("requestParameters.containerDefinitions[].image",),
        "sourceIPAddress.net24": ("sourceIPAddress",),
    }
    list_derived = frozenset(
        {"policy.foreign_accounts", "policy.accounts", "policy.grantees", "replication.accounts"}
    )
    base_fields = (
        "eventTime",
        "eventSource",
        "eventName",
        "userIdentity.arn",
        "userIdentity.principalId",
        "userIdentity.invokedBy",
        "sourceIPAddress",
        "recipientAccountId",
        "requestParameters.cluster",
        "requestParameters.service",
        "requestParameters.task",
        "requestParameters.family",
        "requestParameters.taskDefinition",
        "requestParameters.repositoryName",
        "requestParameters.name",
        "requestParameters.clusterName",
        "requestParameters.container",
    )

    def common(self, f: ExprOf) -> dict[str, pl.Expr]:
        src = f("eventSource")
        ecs, ecr, eks = _svc(src, "ecs"), _svc(src, "ecr"), _svc(src, "eks")
        trail = _svc(src, "cloudtrail")
        rp = "requestParameters."
        ecs_kind = (
            pl.when(f(rp + "service").is_not_null())
            .then(pl.lit("service"))
            .when(f(rp + "task").is_not_null())
            .then(pl.lit("task"))
            .when(pl.coalesce(f(rp + "family"), f(rp + "taskDefinition")).is_not_null())
            .then(pl.lit("task-definition"))
            .otherwise(pl.lit("cluster"))
        )
        ecs_name = pl.coalesce(
            f(rp + "service"), f(rp + "task"), f(rp + "family"), f(rp + "taskDefinition"), f(rp + "cluster")
        ).str.replace(r"^arn:.*/", "")
        return {
            "time": ts(f("eventTime")),
            "actor": pl.coalesce(
                f("userIdentity.arn"), f("userIdentity.principalId"), f("userIdentity.invokedBy")
            ),
            "src_ip": f("sourceIPAddress"),
            "dst_ip": pl.lit(None, pl.String),
            "workload_type": pl.when(ecs)
            .then(pl.lit("ecs"))
            .when(ecr)
            .then(pl.lit("ecr"))
            .when(eks)
            .then(pl.lit("eks"))
            .otherwise(pl.lit("aws")),
            "namespace": f("recipientAccountId"),
            "workload_kind": pl.when(ecs)
            .then(ecs_kind)
            .when(ecr)
            .then(pl.lit("repository"))
            .when(eks)
            .then(pl.lit("cluster"))
            .when(trail)
            .then(pl.lit("trail"))
            .otherwise(src.str.replace(r"\.amazonaws\.com$", "")),
            "workload_name": pl.when(ecs)
            .then(ecs_name)
            .when(ecr)
            .then(f(rp + "repositoryName"))
            .when(eks)
            .then(pl.coalesce(f(rp + "name"), f(rp + "clusterName")))
            .when(trail)
            .then(f(rp + "name"))
            .otherwise(pl.lit(None, pl.String)),
            "cluster": pl.when(ecs)
            .then(f(rp + "cluster").str.replace(r"^arn:.*/", ""))
            .when(eks)
            .then(pl.coalesce(f(rp + "name"), f(rp + "clusterName")))
            .otherwise(pl.lit(None, pl.String)),
            "container_id": pl.lit(None, pl.String),
            "container_name": f(rp + "container"),
        }

    def record_items(self, key: str, item: Any) -> list[Any]:
        if key == "Events" and isinstance(item, dict) and isinstance(item.get("CloudTrailEvent"), str):
            try:  # `aws cloudtrail lookup-events`: each event carries the record as a JSON string
                return [orjson.loads(item["CloudTrailEvent"])]
            except orjson.JSONDecodeError:
                return [item["CloudTrailEvent"]]
        return [item]

    def records_of(self, doc: Any) -> list[Any] | None:
        if isinstance(doc, dict) and isinstance(doc.get("Events"), list):
            # `aws cloudtrail lookup-events`: each event carries the record as a JSON string
            out = []
            for ev in doc["Events"]:
                text = ev.get("CloudTrailEvent") if isinstance(ev, dict) else None
                if isinstance(text, str):
                    try:
                        out.append(orjson.loads(text))
                    except orjson.JSONDecodeError:
                        continue
            return out
        return super().records_of(doc)


READER = CloudTrailReader()
