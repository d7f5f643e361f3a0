"""What an ECS plan is computed from: the task (DescribeTasks), its task definition, its service,
the VPC's subnets and network ACLs, the ENI's security groups, and for EC2 tasks the container
instance and its EC2 instance -- read live (boto3) or from the AWS CLI's JSON (offline).

    view = EcsView.from_files([Path("describe-tasks.json"), Path("describe-network-acls.json")])
    view = EcsView.from_api(aws, cluster="prod", task_ids=["7e0c..."])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from seawall.bounded import read_file_capped
from seawall.core.errors import InputError
from seawall.respond.aws import Aws, AwsCallError

DUMP_CAP = 256 << 20
MAX_TARGET_GROUPS = 400


# top-level key of an AWS CLI output -> (service, operation) whose output shape it is
DOCUMENTS = {
    "tasks": ("ecs", "DescribeTasks"),
    "taskDefinition": ("ecs", "DescribeTaskDefinition"),
    "services": ("ecs", "DescribeServices"),
    "containerInstances": ("ecs", "DescribeContainerInstances"),
    "NetworkAcls": ("ec2", "DescribeNetworkAcls"),
    "Subnets": ("ec2", "DescribeSubnets"),
    "SecurityGroups": ("ec2", "DescribeSecurityGroups"),
    "NetworkInterfaces": ("ec2", "DescribeNetworkInterfaces"),
    "Reservations": ("ec2", "DescribeInstances"),
}
_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
    "timestamp": (str, int, float),
}


def shape_problem(value: Any, shape: Any, where: str = "") -> str | None:
    """Where `value` does not have the type botocore's model gives it (the AWS CLI prints responses
    in that model), or None. Unknown members are ignored; nesting is bounded by the model."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return f"{where or 'the document'} is not an object"
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                problem = shape_problem(value[name], member, f"{where}.{name}" if where else name)
                if problem:
                    return problem
        return None
    if kind == "list":
        if not isinstance(value, list):
            return f"{where} is not a list"
        for i, item in enumerate(value):
            problem = shape_problem(item, shape.member, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if kind == "map":
        if not isinstance(value, Mapping):
            return f"{where} is not an object"
        for key, item in value.items():
            problem = shape_problem(item, shape.value, f"{where}.{key}")
            if problem:
                return problem
        return None
    types = _SCALARS.get(kind, (str, int, float, bool))
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        return f"{where} is not a {kind}"
    return None


def _output_member(key: str) -> Any:
    service, operation = DOCUMENTS[key]
    session = _session()
    return session.get_service_model(service).operation_model(operation).output_shape.members[key]


@lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def task_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def details(task: Mapping[str, Any]) -> dict[str, str]:
    """The ENI attachment's details of an awsvpc task: subnetId, networkInterfaceId, privateIPv4Address."""
    for att in task.get("attachments") or []:
        if att.get("type") == "ElasticNetworkInterface":
            return {
                str(d.get("name")): str(d.get("value")) for d in att.get("details") or [] if d.get("name")
            }
    return {}


@dataclass(slots=True)
class EcsView:
    region: str | None = None
    account: str | None = None
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> task
    task_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # arn -> task definition
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> service
    subnets: dict[str, dict[str, Any]] = field(default_factory=dict)
    acls: dict[str, dict[str, Any]] = field(default_factory=dict)
    security_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    interfaces: dict[str, dict[str, Any]] = field(default_factory=dict)  # eni id -> DescribeNetworkInterfaces
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    container_instances: dict[str, dict[str, Any]] = field(default_factory=dict)  # arn -> container instance
    host_tasks: dict[str, list[str]] = field(default_factory=dict)  # container instance arn -> task arns
    target_health: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # target group arn -> targets
    warnings: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    source: str = "live"

    def sane(self, doc: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The document with every item whose types are not those of the AWS API dropped (warned)."""
        out = dict(doc)
        for key in DOCUMENTS:
            if key not in doc or doc[key] is None:
                continue
            shape = _output_member(key)
            if shape.type_name == "list":
                if not isinstance(doc[key], list):
                    self.warnings.append(f"{where}: {key} is not a list; skipped")
                    out[key] = []
                    continue
                kept = []
                for i, item in enumerate(doc[key]):
                    problem = shape_problem(item, shape.member, f"{key}[{i}]")
                    if problem:
                        self.warnings.append(f"{where}: {key}[{i}] skipped: {problem}")
                    else:
                        kept.append(item)
                out[key] = kept
            else:
                problem = shape_problem(doc[key], shape, key)
                if problem:
                    self.warnings.append(f"{where}: {key} skipped: {problem}")
                    out[key] = None
        return out

    def add_document(self, doc: Any, where: str) -> bool:
        if not isinstance(doc, Mapping):
            return False
        if where != "api":  # botocore already parsed live responses into the model's types
            doc = self.sane(doc, where)
        found = False
        for task in doc.get("tasks") or []:
            if isinstance(task, Mapping) and task.get("taskArn"):
                self.tasks[task_id(str(task["taskArn"]))] = dict(task)
                arn = str(task["taskArn"]).split(":")
                if len(arn) > 4:
                    self.region, self.account = self.region or arn[3], self.account or arn[4]
                found = True
        if isinstance(doc.get("taskDefinition"), Mapping):
            td = dict(doc["taskDefinition"])
            self.task_definitions[str(td.get("taskDefinitionArn"))] = td
            found = True
        for svc in doc.get("services") or []:
            if isinstance(svc, Mapping) and svc.get("serviceName"):
                self.services[str(svc["serviceName"])] = dict(svc)
                found = True
        for key, table, id_key in (
            ("NetworkAcls", self.acls, "NetworkAclId"),
            ("Subnets", self.subnets, "SubnetId"),
            ("SecurityGroups", self.security_groups, "GroupId"),
            ("NetworkInterfaces", self.interfaces, "NetworkInterfaceId"),
        ):
            for item in doc.get(key) or []:
                if isinstance(item, Mapping) and item.get(id_key):
                    table[str(item[id_key])] = dict(item)
                    found = True
        for reservation in doc.get("Reservations") or []:
            for inst in (reservation or {}).get("Instances") or []:
                if isinstance(inst, Mapping) and inst.get("InstanceId"):
                    self.instances[str(inst["InstanceId"])] = dict(inst)
                    found = True
        for ci in doc.get("containerInstances") or []:
            if isinstance(ci, Mapping) and ci.get("containerInstanceArn"):
                self.container_instances[str(ci["containerInstanceArn"])] = dict(ci)
                found = True
        return found

    @classmethod
    def from_files(cls, paths: Sequence[Path]) -> EcsView:
        view = cls(source=", ".join(str(p) for p in paths))
        for path in paths:
            data = read_file_capped(path, DUMP_CAP)
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError:
                view.damaged.append(f"{path}: not JSON (expected the AWS CLI's JSON output); skipped")
                continue
            if not view.add_document(doc, str(path)):
                view.warnings.append(
                    f"{path}: nothing an ECS plan uses (expected aws ecs describe-tasks, "
                    "describe-services, ec2 describe-network-acls, describe-subnets ...)"
                )
        for task in view.tasks.values():
            ci = task.get("containerInstanceArn")
            if ci:
                view.host_tasks.setdefault(str(ci), []).append(str(task["taskArn"]))
        return view

    # -- live -----------------------------------------------------------------------------------------

    @classmethod
    def from_api(
        cls, aws: Aws, cluster: str, task_ids: Sequence[str] = (), service: str | None = None
    ) -> EcsView:
        view = cls(region=aws.region)
        ids = list(task_ids)
        if service is not None:
            found = aws.call("ecs", "DescribeServices", cluster=cluster, services=[service], include=["TAGS"])
            for svc in found.get("services") or []:
                view.services[str(svc["serviceName"])] = svc
            if service not in view.services:
                raise InputError(f"ECS service {cluster}/{service} not found")
            ids = [
                task_id(a)
                for a in aws.pages("ecs", "ListTasks", "taskArns", cluster=cluster, serviceName=service)
            ]
        for start in range(0, len(ids), 100):
            try:
                found = aws.call(
                    "ecs", "DescribeTasks", cluster=cluster, tasks=ids[start : start + 100], include=["TAGS"]
                )
            except AwsCallError as err:
                if err.code == "ClusterNotFoundException":
                    raise InputError(f"ECS cluster {cluster} not found in {aws.region}") from None
                raise
            view.add_document(found, "api")
        missing = [i for i in ids if i not in view.tasks]
        if missing and service is None:
            raise InputError(f"ECS task {cluster}/{missing[0]} not found in {aws.region}")
        for task in list(view.tasks.values()):
            arn = str(task.get("taskDefinitionArn"))
            if arn not in view.task_definitions:
                view.add_document(aws.call("ecs", "DescribeTaskDefinition", taskDefinition=arn), "api")
            group = str(task.get("group") or "")
            if group.startswith("service:") and group[8:] not in view.services:
                found = aws.call(
                    "ecs", "DescribeServices", cluster=cluster, services=[group[8:]], include=["TAGS"]
                )
                view.add_document(found, "api")
            ci = task.get("containerInstanceArn")
            if ci and str(ci) not in view.container_instances:
                found = aws.call(
                    "ecs", "DescribeContainerInstances", cluster=cluster, containerInstances=[ci]
                )
                view.add_document(found, "api")
                view.host_tasks[str(ci)] = list(
                    aws.pages("ecs", "ListTasks", "taskArns", cluster=cluster, containerInstance=ci)
                )
        vpcs: set[str] = set()
        enis = [details(t).get("networkInterfaceId") for t in view.tasks.values()]
        enis = [e for e in enis if e]
        if enis:
            view.add_document(aws.call("ec2", "DescribeNetworkInterfaces", NetworkInterfaceIds=enis), "api")
        instance_ids = [
            str(ci.get("ec2InstanceId"))
            for ci in view.container_instances.values()
            if ci.get("ec2InstanceId")
        ]
        if instance_ids:
            view.add_document(aws.call("ec2", "DescribeInstances", InstanceIds=instance_ids), "api")
        subnet_ids = {details(t).get("subnetId") for t in view.tasks.values()} | {
            i.get("SubnetId") for i in view.instances.values()
        }
        subnet_ids.discard(None)
        if subnet_ids:
            found = aws.call("ec2", "DescribeSubnets", SubnetIds=sorted(str(s) for s in subnet_ids))
            vpcs = {str(s.get("VpcId")) for s in found.get("Subnets") or []}
        for vpc in sorted(vpcs):
            view.add_document(
                {
                    "Subnets": list(
                        aws.pages(
                            "ec2", "DescribeSubnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc]}]
                        )
                    )
                },
                "api",
            )
            view.add_document(
                {
                    "NetworkAcls": list(
                        aws.pages(
                            "ec2",
                            "DescribeNetworkAcls",
                            "NetworkAcls",
                            Filters=[{"Name": "vpc-id", "Values": [vpc]}],
                        )
                    )
                },
                "api",
            )
        groups = {g.get("GroupId") for eni in view.interfaces.values() for g in eni.get("Groups") or []}
        groups |= {
            g.get("GroupId") for inst in view.instances.values() for g in inst.get("SecurityGroups") or []
        }
        groups.discard(None)
        if groups:
            view.add_document(
                aws.call("ec2", "DescribeSecurityGroups", GroupIds=sorted(str(g) for g in groups)), "api"
            )
        if view.account is None:
            view.account = aws.account()
        return view

    def acl_of(self, subnet: str) -> dict[str, Any] | None:
        for acl in self.acls.values():
            if any(a.get("SubnetId") == subnet for a in acl.get("Associations") or []):
                return acl
        return None
