"""ECS: isolate one task while its service carries on, and say what still gets through.

The facts the plan is built on:
- the security groups of a running awsvpc/Fargate task's ENI cannot be changed (the ENI is
  requester-managed; ModifyNetworkInterfaceAttribute is refused), so traffic is cut elsewhere;
- a network ACL matches inbound traffic on its source and outbound traffic on its destination,
  and only traffic that crosses a subnet boundary: entries for the task's IP on its own subnet's
  ACL would never match. The deny entries therefore go on the ACLs of every *other* subnet of the
  VPC (inbound from the task's IP, outbound to it): the load balancer's, the NAT gateway's and the
  other tiers' subnets stop talking to the task, while the neighbours inside its own subnet (and
  anything routed straight into that subnet: internet gateway, peering, Transit Gateway, VPN)
  remain -- the plan says so as residual;
- ACLs are stateless and per IP: an established connection is cut at once, and the entries keep
  matching whatever later gets the same IP until they are released;
- EC2 tasks in bridge/host mode share the instance's network identity: their isolation is the
  instance's (security group swap, through an all-open group first so that tracked connections
  are dropped), which cuts every task on the host -- only with --isolate-host.

Steps: evidence (DescribeTasks, the task definition, the CloudWatch log streams, ECS Exec when
enabled at launch) -> UpdateTaskProtection -> DeregisterTargets from every target group of its
service -> network ACL deny entries (budget checked) -> optional StopTask.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from typing import Any

from seawall.core.errors import InputError, SeawallError
from seawall.respond.aws import Aws, AwsCallError
from seawall.respond.base import (
    Applied,
    ApplyFailed,
    Change,
    Options,
    Plan,
    Refused,
    Residual,
    Step,
    WorkloadRef,
)
from seawall.respond.ecs_view import EcsView, details, task_id
from seawall.respond.evidence import Bundle

DEFAULT_RULE = 32767
MAX_RULE = 32766
LOG_EVENTS = 10_000
EXEC_COMMAND = "/bin/sh -c 'ps auxww; (ss -tanp || netstat -tanp) 2>/dev/null'"


def _call(api: str, operation: str, /, **params: Any) -> dict[str, Any]:
    return {"service": api, "operation": operation, "params": params}


def _tags(items: Any) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value")) for t in items or [] if isinstance(t, Mapping)}


class EcsPlatform:
    name = "ecs"

    def aws(self, options: Options) -> Aws:
        return Aws(options.profile, options.region, options.endpoint_url)

    def view(self, ref: WorkloadRef, options: Options) -> EcsView:
        if options.sources:
            return EcsView.from_files(options.sources)
        aws = self.aws(options)
        if ref.kind == "service":
            view = EcsView.from_api(aws, ref.scope, service=ref.name)
        else:
            view = EcsView.from_api(aws, ref.scope, task_ids=[ref.name])
        self._target_health(aws, view)
        return view

    @staticmethod
    def _target_health(aws: Aws, view: EcsView) -> None:
        """Which of the services' target groups actually hold the tasks (live only)."""
        for svc in view.services.values():
            for lb in svc.get("loadBalancers") or []:
                arn = lb.get("targetGroupArn")
                if arn and arn not in view.target_health:
                    found = aws.call("elbv2", "DescribeTargetHealth", TargetGroupArn=arn)
                    view.target_health[str(arn)] = list(found.get("TargetHealthDescriptions") or [])

    # -- planning ------------------------------------------------------------------------------

    def plan(self, ref: WorkloadRef, options: Options) -> Plan:
        return self.plan_from(self.view(ref, options), ref, options)

    def plan_from(self, view: EcsView, ref: WorkloadRef, options: Options) -> Plan:
        where = "the account" if view.source == "live" else view.source
        if ref.kind == "service":
            svc = view.services.get(ref.name)
            tasks = [t for t in view.tasks.values() if str(t.get("group") or "") == f"service:{ref.name}"]
            if svc is None and not tasks:
                raise InputError(f"ECS service {ref.scope}/{ref.name} not found in {where}" + _damage(view))
            if not options.whole and options.scale_to is None:
                raise Refused(
                    f"{ref}: isolating every task of a service takes it down; name one task "
                    f"(ecs:{ref.scope}/task/ID) or pass --service (every task) or --scale-to N"
                )
        else:
            task = view.tasks.get(ref.name)
            if task is None:
                raise InputError(f"ECS task {ref.scope}/{ref.name} not found in {where}" + _damage(view))
            tasks = [task]
        plan = Plan(workload=ref, targets=[], source=view.source)
        plan.warnings.extend(view.warnings + view.damaged)
        qid = options.quarantine_id or hashlib.sha256(str(ref).encode()).hexdigest()[:10]
        if ref.kind == "task" or options.whole:
            for task in tasks:
                self._plan_task(view, ref, task, plan, options, qid)
        svc_name = ref.name if ref.kind == "service" else self._service_name(tasks[0])
        if options.scale_to is not None:
            svc = view.services.get(svc_name or "")
            if svc is None:
                raise InputError(f"--scale-to: {ref} belongs to no service seen in {where}")
            desired = int(svc.get("desiredCount") or 0)
            plan.steps.append(
                Step(
                    "scale",
                    f"Set service {ref.scope}/{svc_name} desiredCount {desired} -> {options.scale_to}",
                    "explicit: ECS starts or stops tasks to match",
                    [
                        Change(
                            "call",
                            "ServiceDesiredCount",
                            str(svc_name),
                            ref.scope,
                            _call(
                                "ecs",
                                "UpdateService",
                                cluster=ref.scope,
                                service=svc_name,
                                desiredCount=options.scale_to,
                            ),
                            {
                                "action": "call",
                                "kind": "ServiceDesiredCount",
                                "name": svc_name,
                                "body": _call(
                                    "ecs",
                                    "UpdateService",
                                    cluster=ref.scope,
                                    service=svc_name,
                                    desiredCount=desired,
                                ),
                            },
                        )
                    ],
                    ["ecs:UpdateService"],
                )
            )
        return plan

    @staticmethod
    def _service_name(task: Mapping[str, Any]) -> str | None:
        group = str(task.get("group") or "")
        return group[8:] if group.startswith("service:") else None

    def _plan_task(
        self, view: EcsView, ref: WorkloadRef, task: dict[str, Any], plan: Plan, options: Options, qid: str
    ) -> None:
        tid = task_id(str(task["taskArn"]))
        td = view.task_definitions.get(str(task.get("taskDefinitionArn"))) or {}
        mode = str(td.get("networkMode") or ("awsvpc" if details(task) else "bridge"))
        det = details(task)
        service = self._service_name(task)
        svc = view.services.get(service or "")
        tags = {**_tags(svc.get("tags") if svc else None), **_tags(task.get("tags"))}
        if options.scope is not None:
            options.scope.check_ecs(view.account, ref.scope, tags, f"ecs:{ref.scope}/task/{tid}")
        ci = view.container_instances.get(str(task.get("containerInstanceArn") or ""))
        instance = view.instances.get(str((ci or {}).get("ec2InstanceId") or ""))
        ip = det.get("privateIPv4Address") if mode == "awsvpc" else (instance or {}).get("PrivateIpAddress")
        subnet = det.get("subnetId") if mode == "awsvpc" else (instance or {}).get("SubnetId")
        family = str(
            td.get("family") or str(task.get("taskDefinitionArn") or "").rsplit("/", 1)[-1].split(":")[0]
        )
        plan.targets.append(
            {
                "kind": "Task",
                "cluster": ref.scope,
                "id": tid,
                "arn": task.get("taskArn"),
                "family": family,
                "launchType": task.get("launchType"),
                "networkMode": mode,
                "ip": ip,
                "subnet": subnet,
                "eni": det.get("networkInterfaceId"),
                "service": service,
                "instance": (ci or {}).get("ec2InstanceId"),
                "lastStatus": task.get("lastStatus"),
            }
        )
        # guards
        guards = options.scope.guards if options.scope is not None else None
        if guards is not None and any(
            family == f or family.startswith(f) for f in guards.system_ecs_families
        ):
            plan.guards.append(f"task family {family} is infrastructure (respond.guards.system_ecs_families)")
        if svc is not None:
            running = int(svc.get("runningCount") or 0)
            if running - 1 < options.min_replicas:
                plan.guards.append(
                    f"only {max(running - 1, 0)} other running task(s) of service {service} would "
                    f"remain (--min-replicas {options.min_replicas})"
                )
        if task.get("lastStatus") not in (None, "RUNNING", "PENDING", "ACTIVATING"):
            plan.warnings.append(
                f"task {tid} is {task.get('lastStatus')}: nothing left to isolate, evidence only"
            )

        plan.steps.append(self._evidence_step(task, td))
        if task.get("enableExecuteCommand"):
            step = Step(
                "exec-snapshot",
                "Snapshot processes and connections through ECS Exec",
                f"ExecuteCommand in each container: {EXEC_COMMAND}",
                [],
                ["ecs:ExecuteCommand"],
                [
                    "the session's output is streamed over the SSM Session Manager channel: seawall starts "
                    "the "
                    "session and records its id; reading the output needs the session-manager-plugin"
                ],
                optional=True,
                enabled=options.exec_snapshot,
            )
            plan.steps.append(step)
        else:
            plan.warnings.append(
                f"task {tid} was not launched with ECS Exec enabled: no live process or connection "
                "snapshot is possible (enableExecuteCommand is set at launch only)"
            )
        if service:
            plan.steps.append(
                Step(
                    "protect",
                    f"Protect task {tid} from replacement while investigating",
                    f"UpdateTaskProtection protectionEnabled=true for {options.protection_minutes} minutes: "
                    "service "
                    f"{service}'s deployments and scale-in will not stop it",
                    [
                        Change(
                            "call",
                            "TaskProtection",
                            tid,
                            ref.scope,
                            _call(
                                "ecs",
                                "UpdateTaskProtection",
                                cluster=ref.scope,
                                tasks=[task["taskArn"]],
                                protectionEnabled=True,
                                expiresInMinutes=options.protection_minutes,
                            ),
                            {
                                "action": "call",
                                "kind": "TaskProtection",
                                "name": tid,
                                "namespace": ref.scope,
                                "body": _call(
                                    "ecs",
                                    "UpdateTaskProtection",
                                    cluster=ref.scope,
                                    tasks=[task["taskArn"]],
                                    protectionEnabled=False,
                                ),
                            },
                        )
                    ],
                    ["ecs:UpdateTaskProtection"],
                    [
                        "at most 2880 minutes (48 hours); it protects from the service, not from the task "
                        "exiting"
                    ],
                )
            )
        self._deregister(view, ref, task, plan, mode, ip, instance, svc)
        if mode == "awsvpc":
            if ip and subnet:
                self._nacl(view, ref, plan, tid, ip, subnet, options, host=False)
            else:
                plan.warnings.append(
                    f"task {tid}: no ENI address in the input; no network ACL entries can be planned"
                )
            plan.steps.append(
                Step(
                    "no-sg-change",
                    "Leave the ENI's security groups alone (they cannot be changed)",
                    f"ENI {det.get('networkInterfaceId') or '?'} is requester-managed by ECS: "
                    "ModifyNetworkInterfaceAttribute is refused for it, so isolation is done with network "
                    "ACLs",
                    [],
                )
            )
            self._sg_residual(view, plan, det.get("networkInterfaceId"), subnet)
        else:
            self._host(view, ref, plan, tid, instance, ci, options, qid, subnet)
        plan.steps.append(
            Step(
                "stop",
                f"Stop task {tid}",
                "StopTask after the evidence is saved; irreversible",
                [
                    Change(
                        "call",
                        "Task",
                        tid,
                        ref.scope,
                        _call(
                            "ecs",
                            "StopTask",
                            cluster=ref.scope,
                            task=task["taskArn"],
                            reason="seawall respond: isolated suspect task",
                        ),
                        None,
                    )
                ],
                ["ecs:StopTask"],
                ["the task's memory, processes and ephemeral storage are gone once stopped"],
                optional=True,
                enabled=options.stop,
            )
        )
        if svc is not None:
            running = int(svc.get("runningCount") or 0)
            plan.stays_up.append(
                f"service {service} keeps {max(running - 1, 0)} other running task(s) behind its "
                "load balancer"
            )
            plan.costs.append(
                f"service {service} runs one task short: ECS does not replace a task that is still "
                "RUNNING (raise its desiredCount with --scale-to to restore capacity)"
            )

    def _evidence_step(self, task: Mapping[str, Any], td: Mapping[str, Any]) -> Step:
        streams = []
        for c in td.get("containerDefinitions") or []:
            log = c.get("logConfiguration") or {}
            opts = log.get("options") or {}
            if log.get("logDriver") == "awslogs" and opts.get("awslogs-group"):
                prefix = opts.get("awslogs-stream-prefix")
                name = (
                    f"{prefix}/{c.get('name')}/{task_id(str(task['taskArn']))}" if prefix else "(no prefix)"
                )
                streams.append(f"{opts['awslogs-group']}:{name}")
        limits = ["CloudWatch keeps what the log driver shipped; nothing of the task's disk or memory"]
        if not streams:
            limits.append("no container uses the awslogs driver: no logs can be collected")
        return Step(
            "evidence",
            "Save the evidence before anything changes",
            "DescribeTasks, DescribeTaskDefinition"
            + (f", log streams {', '.join(streams)}" if streams else ""),
            [],
            ["ecs:DescribeTasks", "ecs:DescribeTaskDefinition", "logs:GetLogEvents"],
            limits,
        )

    def _deregister(
        self,
        view: EcsView,
        ref: WorkloadRef,
        task: Mapping[str, Any],
        plan: Plan,
        mode: str,
        ip: str | None,
        instance: Mapping[str, Any] | None,
        svc: Mapping[str, Any] | None,
    ) -> None:
        if svc is None:
            return
        changes: list[Change] = []
        for lb in svc.get("loadBalancers") or []:
            arn = lb.get("targetGroupArn")
            if not arn:
                if lb.get("loadBalancerName"):
                    plan.warnings.append(
                        f"Classic Load Balancer {lb['loadBalancerName']}: not handled; deregister "
                        "the instance by hand"
                    )
                continue
            if mode == "awsvpc":
                target: dict[str, Any] = {"Id": ip, "Port": int(lb.get("containerPort") or 0)}
            else:
                port = next(
                    (
                        int(b.get("hostPort") or 0)
                        for c in task.get("containers") or []
                        for b in c.get("networkBindings") or []
                        if c.get("name") == lb.get("containerName")
                        and b.get("containerPort") == lb.get("containerPort")
                    ),
                    0,
                )
                target = {"Id": (instance or {}).get("InstanceId"), "Port": port}
            if not target["Id"] or not target["Port"]:
                plan.warnings.append(
                    f"target group {arn}: the task's target address is unknown; not deregistered"
                )
                continue
            known = view.target_health.get(str(arn))
            if known is not None and not any(
                (d.get("Target") or {}).get("Id") == target["Id"]
                and (d.get("Target") or {}).get("Port") == target["Port"]
                for d in known
            ):
                plan.warnings.append(f"target {target['Id']}:{target['Port']} is not registered in {arn}")
                continue
            name = str(arn).split(":targetgroup/")[-1].split("/")[0]
            changes.append(
                Change(
                    "call",
                    "TargetGroupTarget",
                    f"{name} {target['Id']}:{target['Port']}",
                    None,
                    _call("elbv2", "DeregisterTargets", TargetGroupArn=arn, Targets=[target]),
                    {
                        "action": "call",
                        "kind": "TargetGroupTarget",
                        "name": name,
                        "body": _call("elbv2", "RegisterTargets", TargetGroupArn=arn, Targets=[target]),
                    },
                )
            )
        if changes:
            plan.steps.append(
                Step(
                    "deregister",
                    "Take the task out of its load balancers",
                    "DeregisterTargets from every target group of its service: clients stop reaching it "
                    "while the "
                    "other tasks carry on",
                    changes,
                    ["elasticloadbalancing:DeregisterTargets"],
                    [
                        "in-flight requests drain for the target group's deregistration delay (300 s by "
                        "default)"
                    ],
                )
            )

    def _nacl(
        self,
        view: EcsView,
        ref: WorkloadRef,
        plan: Plan,
        tid: str,
        ip: str,
        subnet: str,
        options: Options,
        host: bool,
    ) -> None:
        own = view.acl_of(subnet)
        sub = view.subnets.get(subnet) or {}
        vpc = sub.get("VpcId") or (own or {}).get("VpcId")
        acls = [
            a
            for a in view.acls.values()
            if a.get("VpcId") == vpc
            and any(assoc.get("SubnetId") != subnet for assoc in a.get("Associations") or [])
        ]
        if not acls:
            plan.warnings.append(
                f"no network ACL of another subnet of {vpc or 'the VPC'} in the input: the task's "
                "cross-subnet traffic cannot be cut"
            )
            return
        cidr = f"{ip}/32"
        changes: list[Change] = []
        for acl in sorted(acls, key=lambda a: str(a["NetworkAclId"])):
            acl_id = str(acl["NetworkAclId"])
            entries = acl.get("Entries") or []
            for egress in (False, True):
                mine = [
                    e
                    for e in entries
                    if bool(e.get("Egress")) == egress and e.get("RuleNumber") != DEFAULT_RULE
                ]
                if len(mine) + 1 > options.nacl_rule_limit:
                    plan.guards.append(
                        f"network ACL {acl_id} has {len(mine)} {'outbound' if egress else 'inbound'} "
                        f"rules: one more exceeds the budget of {options.nacl_rule_limit} "
                        "(--nacl-rule-limit; the AWS quota is 20 per direction unless raised)"
                    )
                    continue
                used = {int(e.get("RuleNumber") or 0) for e in mine}
                number = next(n for n in range(1, MAX_RULE + 1) if n not in used)
                direction = "outbound to" if egress else "inbound from"
                changes.append(
                    Change(
                        "call",
                        "NetworkAclEntry",
                        f"{acl_id} {'egress' if egress else 'ingress'} #{number}",
                        None,
                        _call(
                            "ec2",
                            "CreateNetworkAclEntry",
                            NetworkAclId=acl_id,
                            RuleNumber=number,
                            Protocol="-1",
                            RuleAction="deny",
                            Egress=egress,
                            CidrBlock=cidr,
                        ),
                        {
                            "action": "call",
                            "kind": "NetworkAclEntry",
                            "name": f"{acl_id} {'egress' if egress else 'ingress'} #{number}",
                            "body": _call(
                                "ec2",
                                "DeleteNetworkAclEntry",
                                NetworkAclId=acl_id,
                                RuleNumber=number,
                                Egress=egress,
                            ),
                        },
                    )
                )
                for e in sorted(mine, key=lambda e: int(e.get("RuleNumber") or 0)):
                    if int(e.get("RuleNumber") or 0) >= number or e.get("RuleAction") != "allow":
                        continue
                    block = e.get("CidrBlock") or e.get("Ipv6CidrBlock")
                    try:
                        covers = block is not None and ipaddress.ip_address(ip) in ipaddress.ip_network(block)
                    except ValueError:
                        covers = False
                    if covers:
                        plan.residual.append(
                            Residual(
                                "egress" if not egress else "ingress",
                                f"network ACL {acl_id} rule {e.get('RuleNumber')}",
                                [f"subnets of {acl_id}: {direction} {block}"],
                                [_acl_ports(e)],
                                f"rule {e.get('RuleNumber')} allows before seawall's deny #{number} (lowest "
                                "free number)",
                            )
                        )
        scope_desc = "the whole instance (every task on it)" if host else f"task {tid}"
        plan.steps.append(
            Step(
                "nacl",
                f"Deny {ip} on the network ACLs of the VPC's other subnets",
                f"{len(changes)} deny entr{'y' if len(changes) == 1 else 'ies'} for {cidr} ({scope_desc}) at "
                "the lowest "
                f"free rule numbers: inbound from it and outbound to it, on every network ACL of {vpc} that "
                "serves a "
                f"subnet other than {subnet}",
                changes,
                ["ec2:CreateNetworkAclEntry"],
                [
                    "network ACLs match only traffic that crosses a subnet boundary, on the remote address: "
                    "an entry on the "
                    f"task's own subnet ACL could never single it out, so traffic inside {subnet} is not "
                    "filtered",
                    "stateless: established connections are cut at once, in both directions",
                    f"per IP, not per task: the entries match whatever gets {ip} next, until released",
                ],
            )
        )
        sub_cidr = sub.get("CidrBlock") or "its CIDR"
        plan.residual.append(
            Residual(
                "ingress",
                f"subnet {subnet} ({sub_cidr})",
                [f"every address inside {subnet}"],
                ["what the task's security groups allow"],
                "network ACLs do not filter traffic between hosts of the same subnet",
            )
        )
        plan.residual.append(
            Residual(
                "egress",
                f"subnet {subnet} ({sub_cidr})",
                [f"every address inside {subnet}"],
                ["what the task's security groups allow"],
                "network ACLs do not filter traffic between hosts of the same subnet",
            )
        )
        plan.residual.append(
            Residual(
                "ingress",
                f"routes into subnet {subnet}",
                [
                    "peers routed straight into the subnet: an internet gateway (if the task has a public "
                    "IP), VPC peering, "
                    "Transit Gateway, VPN"
                ],
                ["all"],
                "that traffic crosses only the task's own subnet ACL, which matches on the remote address "
                "and cannot "
                "single out the task",
            )
        )
        plan.costs.append(
            f"the deny entries for {ip} stay until release: release promptly once the task is stopped"
        )

    def _sg_residual(self, view: EcsView, plan: Plan, eni: str | None, subnet: str | None) -> None:
        iface = view.interfaces.get(eni or "")
        if iface is None:
            return
        groups = [view.security_groups.get(str(g.get("GroupId"))) for g in iface.get("Groups") or []]
        rules = []
        for sg in groups:
            if sg is None:
                continue
            for perm in sg.get("IpPermissions") or []:
                sources = [r.get("CidrIp") for r in perm.get("IpRanges") or []]
                sources += [f"security group {p.get('GroupId')}" for p in perm.get("UserIdGroupPairs") or []]
                rules.append(f"{_sg_ports(perm)} from {', '.join(str(s) for s in sources) or 'nothing'}")
        if rules:
            for r in plan.residual:
                if r.source.startswith(f"subnet {subnet}") and r.direction == "ingress":
                    r.ports = rules

    def _host(
        self,
        view: EcsView,
        ref: WorkloadRef,
        plan: Plan,
        tid: str,
        instance: Mapping[str, Any] | None,
        ci: Mapping[str, Any] | None,
        options: Options,
        qid: str,
        subnet: str | None,
    ) -> None:
        if instance is None:
            plan.warnings.append(
                f"task {tid}: its EC2 instance is not in the input; host isolation cannot be planned"
            )
            return
        iid = str(instance["InstanceId"])
        others = [
            task_id(a)
            for a in view.host_tasks.get(str((ci or {}).get("containerInstanceArn")), [])
            if task_id(a) != tid
        ]
        groups = [str(g.get("GroupId")) for g in instance.get("SecurityGroups") or []]
        vpc = instance.get("VpcId")
        open_name, deny_name = f"seawall-quarantine-{qid}-open", f"seawall-quarantine-{qid}"
        changes = [
            Change(
                "call",
                "SecurityGroup",
                open_name,
                None,
                {
                    "service": "ec2",
                    "operation": "CreateSecurityGroup",
                    "params": {
                        "GroupName": open_name,
                        "VpcId": vpc,
                        "Description": "seawall respond: all traffic, tracked connections become untracked",
                    },
                    "open": True,
                },
                {
                    "action": "call",
                    "kind": "SecurityGroup",
                    "name": open_name,
                    "body": _call("ec2", "DeleteSecurityGroup", GroupName=open_name),
                },
            ),
            Change(
                "call",
                "SecurityGroup",
                deny_name,
                None,
                {
                    "service": "ec2",
                    "operation": "CreateSecurityGroup",
                    "params": {
                        "GroupName": deny_name,
                        "VpcId": vpc,
                        "Description": "seawall respond: quarantine, no rules",
                    },
                    "open": False,
                },
                {
                    "action": "call",
                    "kind": "SecurityGroup",
                    "name": deny_name,
                    "body": _call("ec2", "DeleteSecurityGroup", GroupName=deny_name),
                },
            ),
            Change(
                "call",
                "InstanceSecurityGroups",
                f"{iid} -> {open_name}",
                None,
                _call("ec2", "ModifyInstanceAttribute", InstanceId=iid, Groups=[f"@{open_name}"]),
                None,
            ),
            Change(
                "call",
                "InstanceSecurityGroups",
                f"{iid} -> {deny_name}",
                None,
                _call("ec2", "ModifyInstanceAttribute", InstanceId=iid, Groups=[f"@{deny_name}"]),
                {
                    "action": "call",
                    "kind": "InstanceSecurityGroups",
                    "name": f"{iid} -> {', '.join(groups)}",
                    "body": _call("ec2", "ModifyInstanceAttribute", InstanceId=iid, Groups=groups),
                },
            ),
        ]
        detail = (
            f"the task shares instance {iid}'s network identity ({instance.get('PrivateIpAddress')}): swap "
            "the "
            f"instance's security groups {', '.join(groups)} first for an all-traffic group (AWS keeps "
            "tracked "
            "connections across a security group change; through an all-open group they become untracked) "
            "and then for a group with no rules"
        )
        step = Step(
            "isolate-host",
            f"Isolate instance {iid} (every task on it)",
            detail,
            changes,
            ["ec2:CreateSecurityGroup", "ec2:ModifyInstanceAttribute", "ec2:RevokeSecurityGroupEgress"],
            [
                f"cuts every task on {iid}: {', '.join(others) if others else 'no other task seen'}",
                "the ECS agent loses its connection too: the container instance shows as disconnected",
            ],
            optional=True,
            enabled=options.isolate_host,
        )
        plan.steps.append(step)
        if options.isolate_host:
            if others:
                plan.guards.append(
                    f"instance {iid} also runs task(s) {', '.join(others)}: --isolate-host cuts them"
                )
            plan.costs.append(
                f"every task on {iid} is cut off, and ECS cannot manage the instance until release"
            )
        else:
            plan.residual.append(
                Residual(
                    "ingress",
                    f"instance {iid} ({'bridge/host network mode'})",
                    ["everything its security groups allow"],
                    ["all"],
                    "the task has no network identity of its own: only the instance can be isolated "
                    "(--isolate-host), which cuts every task on it",
                )
            )
            plan.residual.append(
                Residual(
                    "egress",
                    f"instance {iid} ({'bridge/host network mode'})",
                    ["everything its security groups allow"],
                    ["all"],
                    "as above",
                )
            )

    # -- applying ------------------------------------------------------------------------------

    def apply(self, plan: Plan, options: Options) -> Applied:
        if options.sources:
            raise InputError(
                "an offline plan (--from) cannot be applied: run without --from against the account"
            )
        aws = self.aws(options)
        applied = Applied()
        applied.evidence = self._evidence(aws, plan, options)
        created: dict[str, str] = {}
        for step in plan.steps:
            if not step.enabled:
                continue
            if step.id == "exec-snapshot":
                applied.notes.extend(self._exec(aws, plan))
                continue
            for change in step.changes:
                try:
                    self._do(aws, change, created)
                except SeawallError as err:
                    raise ApplyFailed(err.message, applied) from None
                applied.changes.append(change)
        return applied

    @staticmethod
    def _resolve(params: dict[str, Any], created: dict[str, str]) -> dict[str, Any]:
        out = dict(params)
        if "Groups" in out:
            out["Groups"] = [created.get(g[1:], g) if g.startswith("@") else g for g in out["Groups"]]
        return out

    def _do(self, aws: Aws, change: Change, created: dict[str, str]) -> None:
        body = change.body
        if body.get("operation") == "CreateSecurityGroup":
            params = body["params"]
            group = aws.call("ec2", "CreateSecurityGroup", **params)["GroupId"]
            created[params["GroupName"]] = group
            everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
            if body.get("open"):
                aws.call("ec2", "AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=everything)
            else:
                aws.call("ec2", "RevokeSecurityGroupEgress", GroupId=group, IpPermissions=everything)
            if change.undo is not None:
                change.undo = {**change.undo, "body": _call("ec2", "DeleteSecurityGroup", GroupId=group)}
            return
        aws.call(body["service"], body["operation"], **self._resolve(body["params"], created))

    def _evidence(self, aws: Aws, plan: Plan, options: Options) -> str:
        bundle = Bundle.create(options.evidence_dir, str(plan.workload))
        for target in plan.targets:
            tid, cluster = str(target["id"]), str(target["cluster"])
            tasks = aws.call("ecs", "DescribeTasks", cluster=cluster, tasks=[tid], include=["TAGS"])
            bundle.add_json(f"{tid}/describe-tasks.json", _plain(tasks))
            for task in tasks.get("tasks") or []:
                td = aws.call("ecs", "DescribeTaskDefinition", taskDefinition=task["taskDefinitionArn"])
                bundle.add_json(f"{tid}/task-definition.json", _plain(td))
                for c in (td.get("taskDefinition") or {}).get("containerDefinitions") or []:
                    log = c.get("logConfiguration") or {}
                    opts = log.get("options") or {}
                    if log.get("logDriver") != "awslogs" or not opts.get("awslogs-group"):
                        continue
                    prefix = opts.get("awslogs-stream-prefix")
                    if not prefix:
                        bundle.note(
                            f"container {c.get('name')}: awslogs without a stream prefix; stream unknown"
                        )
                        continue
                    stream = f"{prefix}/{c.get('name')}/{tid}"
                    try:
                        events = aws.call(
                            "logs",
                            "GetLogEvents",
                            logGroupName=opts["awslogs-group"],
                            logStreamName=stream,
                            startFromHead=False,
                            limit=LOG_EVENTS,
                        )
                    except AwsCallError as err:
                        bundle.note(f"log stream {opts['awslogs-group']}:{stream}: {err.message}")
                        continue
                    lines = [f"{e.get('timestamp')} {e.get('message')}" for e in events.get("events") or []]
                    bundle.add_text(
                        f"{tid}/logs/{c.get('name')}.log", "\n".join(lines) + ("\n" if lines else "")
                    )
        return bundle.close()

    def _exec(self, aws: Aws, plan: Plan) -> list[str]:
        notes = []
        for target in plan.targets:
            try:
                session = aws.call(
                    "ecs",
                    "ExecuteCommand",
                    cluster=target["cluster"],
                    task=target["id"],
                    interactive=True,
                    command=EXEC_COMMAND,
                )
                notes.append(
                    f"ECS Exec session {(session.get('session') or {}).get('sessionId')} started in task "
                    f"{target['id']}; read it with the session-manager-plugin"
                )
            except SeawallError as err:
                notes.append(f"ECS Exec snapshot of task {target['id']} failed: {err.message}")
        return notes

    def release(self, changes: list[Change], options: Options) -> list[str]:
        aws = self.aws(options)
        done: list[str] = []
        for change in reversed(changes):
            undo = change.undo
            if not undo:
                continue
            body = undo.get("body") or {}
            label = f"{body.get('operation')} {undo.get('kind')} {undo.get('name')}"
            try:
                aws.call(body["service"], body["operation"], **body["params"])
            except AwsCallError as err:
                if err.code in ("InvalidNetworkAclEntry.NotFound", "InvalidGroup.NotFound", "InvalidTarget"):
                    done.append(f"{label}: already gone")
                    continue
                raise
            done.append(label)
        return done


def _acl_ports(entry: Mapping[str, Any]) -> str:
    proto = str(entry.get("Protocol"))
    if proto == "-1":
        return "all traffic"
    rng = entry.get("PortRange") or {}
    name = {"6": "TCP", "17": "UDP", "1": "ICMP"}.get(proto, proto)
    if not rng:
        return name
    low, high = rng.get("From"), rng.get("To")
    return f"{low}/{name}" if low == high else f"{low}-{high}/{name}"


def _sg_ports(perm: Mapping[str, Any]) -> str:
    proto = str(perm.get("IpProtocol"))
    if proto == "-1":
        return "all traffic"
    low, high = perm.get("FromPort"), perm.get("ToPort")
    return f"{low}/{proto.upper()}" if low == high else f"{low}-{high}/{proto.upper()}"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


ECS = EcsPlatform()


def _damage(view: Any) -> str:
    """Why the input may lack the workload: the files that could not be read at all."""
    if not view.damaged:
        return ""
    return f" ({view.damaged[0]}{f' and {len(view.damaged) - 1} more' if len(view.damaged) > 1 else ''})"
