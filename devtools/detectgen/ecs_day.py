"""A benign day of CloudTrail for an AWS account running ECS on Fargate and EC2 with ECR.

About 15,000 management events in 288 five-minute gzip files, laid out as CloudTrail delivers them
to S3 (`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz`,
each `{"Records": [...]}`): the ECS agent on the container instances, task execution roles
pulling images and reading secrets, STS sessions for task roles, ECS's service-linked role
attaching network interfaces and registering targets, Application Auto Scaling resizing
services, EC2 Auto Scaling launching instances, CodeBuild pushing images and CodePipeline
deploying them (new task definition revisions, services updated), ECR lifecycle expiry,
Inspector scanning pushed images, replication to another account of the Organization, a
repository shared with the Organization (`Principal: "*"` limited by `aws:PrincipalOrgID`) and
with one member account, IAM Identity Center sign-ins of three engineers (AssumeRoleWithSAML,
ConsoleLogin), their console reads, and one legitimate ECS Exec into a staging task.

    write(directory, seed=1) -> list of files;  records(seed=1) -> list of records (time order)
"""

from __future__ import annotations

import gzip
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2026, 3, 3, 0, 0, 0, tzinfo=UTC)
ACCOUNT = "111122223333"
MEMBER = "444455556666"  # another account of the same Organization (the replica, a consumer)
ORG_ID = "o-a1b2c3d4e5"
REGION = "eu-west-1"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
VPCE = "vpce-0a1b2c3d4e5f60718"
ENGINEERS = {"alice": "192.0.2.21", "bob": "192.0.2.34", "carol": "198.51.100.71"}
SSO_ROLE = "AWSReservedSSO_PlatformEngineer_4f1c2a9b7d3e5f60"
SERVICES = {"prod": ["payments-api", "checkout", "frontend"], "staging": ["payments-api", "frontend"]}
INSTANCES = [f"i-0{n:016x}" for n in (0x3A9F1C, 0x4B2E7D, 0x5C3D8E, 0x6D4C9F)]


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Day:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.records: list[tuple[datetime, int, dict[str, Any]]] = []

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def role(self, name: str, session: str, path: str = "") -> dict[str, Any]:
        rid = f"AROA{abs(hash(name)) % 10**12:012d}EXAMPLE"[:21]
        return {
            "type": "AssumedRole",
            "principalId": f"{rid}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIA"
            + "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": rid,
                    "accountId": ACCOUNT,
                    "userName": name,
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{path}{name}",
                },
                "attributes": {"creationDate": _ts(START), "mfaAuthenticated": "false"},
            },
        }

    def service(self, principal: str) -> dict[str, Any]:
        return {"type": "AWSService", "invokedBy": principal}

    def add(
        self,
        t: datetime,
        source: str,
        name: str,
        identity: dict[str, Any],
        *,
        ip: str,
        ua: str = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5",
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        read_only: bool = False,
        vpce: bool = False,
        extra: dict[str, Any] | None = None,
        event_type: str = "AwsApiCall",
    ) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "eventVersion": "1.10",
            "userIdentity": identity,
            "eventTime": _ts(t),
            "eventSource": f"{source}.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": ip,
            "userAgent": ua,
            "requestParameters": request,
            "responseElements": response,
            "requestID": self.uid(),
            "eventID": self.uid(),
            "readOnly": read_only,
            "eventType": event_type,
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        }
        if vpce:
            rec["vpcEndpointId"] = VPCE
            rec["vpcEndpointAccountId"] = ACCOUNT
        else:
            rec["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": f"{source}.{REGION}.amazonaws.com",
            }
        rec.update(extra or {})
        self.records.append((t, len(self.records), rec))
        return rec


def _task_id(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(32))


def _image(app: str, tag: str) -> str:
    return f"{ECR}/{app}:{tag}"


def task_definition(family: str, image: str, revision: int) -> dict[str, Any]:
    return {
        "family": family,
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-task-role",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [
            {
                "name": family,
                "image": image,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "secrets": [
                    {
                        "name": "DB_PASSWORD",
                        "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{family}/db",
                    }
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{family}",
                        "awslogs-region": REGION,
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
        "_revision": revision,
    }


def records(seed: int = 1) -> list[dict[str, Any]]:
    day = Day(seed)
    rng = day.rng
    exec_role = "ecsTaskExecutionRole"
    # -- background over the day ----------------------------------------------------------------
    seconds = 0.0
    while seconds < 86_400:
        seconds += rng.expovariate(1 / 6.1)
        t = START + timedelta(seconds=seconds)
        r = rng.random()
        cluster = "prod" if rng.random() < 0.7 else "staging"
        if r < 0.22:  # the ECS agent on the EC2 container instances
            inst = rng.choice(INSTANCES)
            ident = day.role("ecsInstanceRole", inst)
            name = rng.choice(
                [
                    "DiscoverPollEndpoint",
                    "SubmitTaskStateChange",
                    "SubmitContainerStateChange",
                    "SubmitAttachmentStateChanges",
                    "UpdateContainerInstancesState",
                ]
            )
            day.add(
                t,
                "ecs",
                name,
                ident,
                ip=f"10.20.{rng.randint(1, 3)}.{rng.randint(10, 250)}",
                vpce=True,
                ua="Go-http-client/1.1 ecs-agent/1.86.3",
                request={"cluster": cluster, "containerInstance": inst},
                read_only=name == "DiscoverPollEndpoint",
            )
        elif r < 0.38:  # tasks starting: the execution role pulls the image and reads its secrets
            app = rng.choice(SERVICES[cluster])
            task = _task_id(rng)
            ident = day.role(exec_role, task)
            ip = f"10.20.{rng.randint(4, 6)}.{rng.randint(10, 250)}"
            name = rng.choice(
                [
                    "GetAuthorizationToken",
                    "BatchGetImage",
                    "GetDownloadUrlForLayer",
                    "GetDownloadUrlForLayer",
                    "BatchCheckLayerAvailability",
                ]
            )
            req = None if name == "GetAuthorizationToken" else {"registryId": ACCOUNT, "repositoryName": app}
            day.add(
                t,
                "ecr",
                name,
                ident,
                ip=ip,
                vpce=True,
                ua="AWS Fargate Platform/1.4.0",
                request=req,
                read_only=True,
            )
            if rng.random() < 0.3:
                day.add(
                    t + timedelta(seconds=2),
                    "secretsmanager",
                    "GetSecretValue",
                    ident,
                    ip=ip,
                    vpce=True,
                    request={"secretId": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{app}/db"},
                    read_only=True,
                    ua="AWS Fargate Platform/1.4.0",
                )
        elif r < 0.52:  # STS: ECS assumes each task's role
            app = rng.choice(SERVICES[cluster])
            day.add(
                t,
                "sts",
                "AssumeRole",
                day.service("ecs-tasks.amazonaws.com"),
                ip="ecs-tasks.amazonaws.com",
                ua="ecs-tasks.amazonaws.com",
                read_only=True,
                request={
                    "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{app}-task-role",
                    "roleSessionName": _task_id(rng),
                },
            )
        elif r < 0.62:  # KMS decrypts by the tasks' roles (secrets, parameters)
            app = rng.choice(SERVICES[cluster])
            day.add(
                t,
                "kms",
                "Decrypt",
                day.role(f"{app}-task-role", _task_id(rng)),
                ip=f"10.20.{rng.randint(4, 6)}.{rng.randint(10, 250)}",
                vpce=True,
                read_only=True,
                request={
                    "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                    "encryptionContext": {
                        "SecretARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{app}/db"
                    },
                },
            )
        elif r < 0.72:  # ECS's service-linked role: network interfaces and targets of awsvpc tasks
            ident = day.role("AWSServiceRoleForECS", "ECS", path="aws-service-role/ecs.amazonaws.com/")
            ident["invokedBy"] = "ecs.amazonaws.com"
            name = rng.choice(
                [
                    "CreateNetworkInterface",
                    "AttachNetworkInterface",
                    "DeleteNetworkInterface",
                    "DescribeNetworkInterfaces",
                    "RegisterTargets",
                    "DeregisterTargets",
                ]
            )
            src = "elasticloadbalancing" if "Targets" in name else "ec2"
            day.add(
                t,
                src,
                name,
                ident,
                ip="ecs.amazonaws.com",
                ua="ecs.amazonaws.com",
                read_only=name.startswith("Describe"),
                request={
                    "targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tg-{cluster}/0f1e2d3c4b5a6978"  # noqa: E501
                }
                if src == "elasticloadbalancing"
                else {"subnetId": "subnet-0a1b2c3d4e5f60718"},
            )
        elif r < 0.78:  # AWS Config and Security Hub reading the account
            ident = day.role(
                "AWSServiceRoleForConfig", "AWSConfig-Describe", path="aws-service-role/config.amazonaws.com/"
            )
            ident["invokedBy"] = "config.amazonaws.com"
            src, name = rng.choice(
                [
                    ("ecs", "DescribeClusters"),
                    ("ecs", "DescribeServices"),
                    ("ecr", "DescribeRepositories"),
                    ("ecr", "GetRepositoryPolicy"),
                    ("ec2", "DescribeSecurityGroups"),
                    ("iam", "GetRole"),
                    ("ecs", "DescribeTaskDefinition"),
                ]
            )
            day.add(
                t,
                src,
                name,
                ident,
                ip="config.amazonaws.com",
                ua="config.amazonaws.com",
                read_only=True,
                request={"cluster": cluster} if src == "ecs" else None,
            )
        elif r < 0.84:  # CloudWatch: alarms of the scaling policies, log streams of new tasks
            app = rng.choice(SERVICES[cluster])
            if rng.random() < 0.5:
                ident = day.role(
                    "AWSServiceRoleForApplicationAutoScaling_ECSService",
                    "AutoScaling",
                    path="aws-service-role/ecs.application-autoscaling.amazonaws.com/",
                )
                day.add(
                    t,
                    "monitoring",
                    "DescribeAlarms",
                    ident,
                    ip="application-autoscaling.amazonaws.com",
                    ua="application-autoscaling.amazonaws.com",
                    read_only=True,
                    request={"alarmNames": [f"TargetTracking-service/{cluster}/{app}-AlarmHigh"]},
                )
            else:
                day.add(
                    t,
                    "logs",
                    "CreateLogStream",
                    day.role(exec_role, _task_id(rng)),
                    ip=f"10.20.{rng.randint(4, 6)}.{rng.randint(10, 250)}",
                    vpce=True,
                    request={"logGroupName": f"/ecs/{app}", "logStreamName": f"ecs/{app}/{_task_id(rng)}"},
                    ua="AWS Fargate Platform/1.4.0",
                )
        elif r < 0.88:  # Inspector scans images (pulls through its service-linked role)
            app = rng.choice(SERVICES["prod"])
            ident = day.role(
                "AWSServiceRoleForAmazonInspector2",
                "inspector2",
                path="aws-service-role/inspector2.amazonaws.com/",
            )
            ident["invokedBy"] = "inspector2.amazonaws.com"
            day.add(
                t,
                "ecr",
                rng.choice(["DescribeImages", "BatchGetImage", "GetDownloadUrlForLayer", "ListImages"]),
                ident,
                ip="inspector2.amazonaws.com",
                ua="inspector2.amazonaws.com",
                read_only=True,
                request={"repositoryName": app, "registryId": ACCOUNT},
            )
        elif 7 * 3600 < seconds < 19 * 3600:  # engineers in the console
            who = rng.choice(list(ENGINEERS))
            ident = day.role(SSO_ROLE, f"{who}@example.com", path="aws-reserved/sso.amazonaws.com/eu-west-1/")
            src, name = rng.choice(
                [
                    ("ecs", "ListServices"),
                    ("ecs", "DescribeServices"),
                    ("ecs", "ListTasks"),
                    ("ecs", "DescribeTasks"),
                    ("ecr", "DescribeImages"),
                    ("logs", "FilterLogEvents"),
                    ("monitoring", "GetMetricData"),
                    ("ecr", "DescribeRepositories"),
                ]
            )
            day.add(
                t,
                src,
                name,
                ident,
                ip=ENGINEERS[who],
                read_only=True,
                ua="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)",
                request={"cluster": cluster} if src == "ecs" else None,
            )
        else:  # EC2 Auto Scaling of the container instances' group
            ident = day.role(
                "AWSServiceRoleForAutoScaling",
                "AutoScaling",
                path="aws-service-role/autoscaling.amazonaws.com/",
            )
            ident["invokedBy"] = "autoscaling.amazonaws.com"
            day.add(
                t,
                "ec2",
                rng.choice(["DescribeInstances", "DescribeInstanceStatus", "CreateTags"]),
                ident,
                ip="autoscaling.amazonaws.com",
                ua="autoscaling.amazonaws.com",
                read_only=True,
            )
    # -- IAM Identity Center sign-ins (SAML to the SSO role, then the console) ---------------------
    for who, ip in ENGINEERS.items():
        for hour in (8.2 + 0.3 * len(who) % 1, 13.6):
            t = START + timedelta(hours=hour)
            day.add(
                t,
                "sts",
                "AssumeRoleWithSAML",
                {
                    "type": "SAMLUser",
                    "principalId": f"Zk9vYmFyMTIzNDU2Nzg5MA==:{who}@example.com",
                    "userName": f"{who}@example.com",
                    "identityProvider": "Zk9vYmFyMTIzNDU2Nzg5MA==",
                },
                ip=ip,
                ua="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)",
                read_only=True,
                request={
                    "roleArn": f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO_ROLE}",  # noqa: E501
                    "principalArn": f"arn:aws:iam::{ACCOUNT}:saml-provider/AWSSSO_8f1e6b2c4d3a5e70_DO_NOT_DELETE",  # noqa: E501
                    "durationSeconds": 43200,
                },
                response={
                    "subjectType": "persistent",
                    "issuer": "https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/MTExMTIyMjIzMzMzX2lucy0xMjM0",
                    "audience": "https://signin.aws.amazon.com/saml",
                },
            )
            ident = day.role(SSO_ROLE, f"{who}@example.com", path="aws-reserved/sso.amazonaws.com/eu-west-1/")
            day.add(
                t + timedelta(seconds=3),
                "signin",
                "ConsoleLogin",
                ident,
                ip=ip,
                ua="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)",
                event_type="AwsConsoleSignIn",
                response={"ConsoleLogin": "Success"},
                extra={
                    "additionalEventData": {
                        "LoginTo": "https://console.aws.amazon.com/console/home",
                        "MobileVersion": "No",
                        "MFAUsed": "No",
                    }
                },
            )
    # -- CodeBuild pushes, CodePipeline deploys ----------------------------------------------------
    revisions: dict[str, int] = {}
    for k, hour in enumerate([9.4, 10.8, 11.9, 14.3, 15.5, 16.7]):
        cluster = "prod" if k % 2 else "staging"
        app = SERVICES[cluster][k % len(SERVICES[cluster])]
        tag = f"1.{60 + k}.{rng.randint(0, 9)}"
        t = START + timedelta(hours=hour)
        build = day.role("codebuild-app-service-role", f"AWSCodeBuild-{day.uid()}")
        ip = "34.242.17.201"
        day.add(t, "ecr", "GetAuthorizationToken", build, ip=ip, read_only=True)
        for layer in range(4):
            lt = t + timedelta(seconds=10 + 8 * layer)
            day.add(
                lt,
                "ecr",
                "BatchCheckLayerAvailability",
                build,
                ip=ip,
                read_only=True,
                request={"repositoryName": app, "registryId": ACCOUNT},
            )
            day.add(
                lt + timedelta(seconds=1),
                "ecr",
                "InitiateLayerUpload",
                build,
                ip=ip,
                request={"repositoryName": app, "registryId": ACCOUNT},
            )
            day.add(
                lt + timedelta(seconds=4),
                "ecr",
                "CompleteLayerUpload",
                build,
                ip=ip,
                request={
                    "repositoryName": app,
                    "registryId": ACCOUNT,
                    "layerDigests": [f"sha256:{day.uid().replace('-', '')}"],
                },
            )
        day.add(
            t + timedelta(seconds=50),
            "ecr",
            "PutImage",
            build,
            ip=ip,
            request={"repositoryName": app, "registryId": ACCOUNT, "imageTag": tag},
        )
        pipe = day.role("AWSCodePipelineServiceRole-eu-west-1-app", str(int(t.timestamp() * 1000)))
        pipe["invokedBy"] = "codepipeline.amazonaws.com"
        family = f"{app}-{cluster}"
        revisions[family] = revisions.get(family, 40) + 1
        td = task_definition(family, _image(app, tag), revisions[family])
        td.pop("_revision")
        day.add(
            t + timedelta(seconds=120),
            "ecs",
            "RegisterTaskDefinition",
            pipe,
            ip="codepipeline.amazonaws.com",
            ua="codepipeline.amazonaws.com",
            request=td,
            response={
                "taskDefinition": {
                    "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revisions[family]}"  # noqa: E501
                }
            },
        )
        day.add(
            t + timedelta(seconds=125),
            "ecs",
            "UpdateService",
            pipe,
            ip="codepipeline.amazonaws.com",
            ua="codepipeline.amazonaws.com",
            request={
                "cluster": cluster,
                "service": app,
                "taskDefinition": f"{family}:{revisions[family]}",
                "forceNewDeployment": False,
            },
        )
        # Inspector scans the pushed image
        insp = day.role(
            "AWSServiceRoleForAmazonInspector2",
            "inspector2",
            path="aws-service-role/inspector2.amazonaws.com/",
        )
        insp["invokedBy"] = "inspector2.amazonaws.com"
        day.add(
            t + timedelta(seconds=75),
            "ecr",
            "BatchGetImage",
            insp,
            ip="inspector2.amazonaws.com",
            ua="inspector2.amazonaws.com",
            read_only=True,
            request={"repositoryName": app, "registryId": ACCOUNT},
        )
    # -- Application Auto Scaling resizes the services ---------------------------------------------
    for k in range(14):
        t = START + timedelta(hours=6 + k)
        ident = day.role(
            "AWSServiceRoleForApplicationAutoScaling_ECSService",
            "AutoScaling",
            path="aws-service-role/ecs.application-autoscaling.amazonaws.com/",
        )
        ident["invokedBy"] = "application-autoscaling.amazonaws.com"
        day.add(
            t,
            "ecs",
            "UpdateService",
            ident,
            ip="application-autoscaling.amazonaws.com",
            ua="application-autoscaling.amazonaws.com",
            request={"cluster": "prod", "service": "frontend", "desiredCount": 4 + (k % 5)},
        )
    # -- ECR lifecycle expiry ----------------------------------------------------------------------
    for k, app in enumerate(SERVICES["prod"]):
        t = START + timedelta(hours=2, minutes=13 * k)
        day.add(
            t,
            "ecr",
            "PolicyExecutionEvent",
            {"accountId": ACCOUNT, "invokedBy": "AWS Internal"},
            ip="AWS Internal",
            ua="AWS Internal",
            event_type="AwsServiceEvent",
            extra={
                "serviceEventDetails": {
                    "repositoryName": app,
                    "lifecycleEventPolicy": {
                        "lifecycleEventRules": [
                            {
                                "rulePriority": 1,
                                "description": "keep the last 50 images",
                                "lifecycleEventSelection": {
                                    "tagStatus": "any",
                                    "countType": "imageCountMoreThan",
                                    "countNumber": 50,
                                },
                                "action": "expire",
                            }
                        ]
                    },
                    "lifecycleEventImageActions": [
                        {
                            "lifecycleEventImage": {
                                "digest": f"sha256:{day.uid().replace('-', '')}",
                                "tagStatus": "Tagged",
                                "tagList": [f"1.{k}.0"],
                            },
                            "rulePriority": 1,
                        }
                    ],
                }
            },
        )
    # -- a platform engineer: replication and repository policies inside the Organization -----------
    alice = day.role(SSO_ROLE, "alice@example.com", path="aws-reserved/sso.amazonaws.com/eu-west-1/")
    t = START + timedelta(hours=10, minutes=2)
    day.add(
        t,
        "ecr",
        "PutReplicationConfiguration",
        alice,
        ip=ENGINEERS["alice"],
        request={
            "replicationConfiguration": {
                "rules": [
                    {
                        "destinations": [{"region": "eu-central-1", "registryId": MEMBER}],
                        "repositoryFilters": [{"filter": "payments", "filterType": "PREFIX_MATCH"}],
                    }
                ]
            }
        },
        response={
            "replicationConfiguration": {
                "rules": [{"destinations": [{"region": "eu-central-1", "registryId": MEMBER}]}]
            }
        },
    )
    org_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OrgPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
            }
        ],
    }
    day.add(
        t + timedelta(minutes=3),
        "ecr",
        "SetRepositoryPolicy",
        alice,
        ip=ENGINEERS["alice"],
        request={
            "repositoryName": "base-images",
            "registryId": ACCOUNT,
            "force": False,
            "policyText": orjson.dumps(org_policy).decode(),
        },
    )
    member_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "MemberPull",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MEMBER}:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
    day.add(
        t + timedelta(minutes=5),
        "ecr",
        "SetRepositoryPolicy",
        alice,
        ip=ENGINEERS["alice"],
        request={
            "repositoryName": "payments-api",
            "registryId": ACCOUNT,
            "policyText": orjson.dumps(member_policy).decode(),
        },
    )
    # -- one legitimate ECS Exec into a staging task -------------------------------------------------
    bob = day.role(SSO_ROLE, "bob@example.com", path="aws-reserved/sso.amazonaws.com/eu-west-1/")
    day.add(
        START + timedelta(hours=11, minutes=24),
        "ecs",
        "ExecuteCommand",
        bob,
        ip=ENGINEERS["bob"],
        ua="aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9",
        request={
            "cluster": "staging",
            "container": "payments-api",
            "command": "/bin/sh",
            "interactive": True,
            "task": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/staging/{_task_id(rng)}",
        },
        response={
            "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/staging",
            "containerName": "payments-api",
            "interactive": True,
            "session": {
                "sessionId": f"ecs-execute-command-{day.uid()[:17]}",
                "streamUrl": "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/ecs-execute-command",
                "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS",
            },
        },
    )
    day.records.sort(key=lambda r: (r[0], r[1]))
    return [r for _, _, r in day.records]


def write(directory: Path, seed: int = 1) -> list[Path]:
    """The records in 288 five-minute files, as CloudTrail delivers them to S3 (gzip)."""
    recs = records(seed)
    rng = random.Random(seed + 1)
    base = directory / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / START.strftime("%Y/%m/%d")
    base.mkdir(parents=True, exist_ok=True)
    by_slot: dict[int, list[dict[str, Any]]] = {}
    for rec in recs:
        t = datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        by_slot.setdefault(int((t - START).total_seconds() // 300), []).append(rec)
    files = []
    for slot in range(288):
        stamp = (START + timedelta(minutes=5 * slot + 5)).strftime("%Y%m%dT%H%MZ")
        suffix = "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16)
        )
        path = base / f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{suffix}.json.gz"
        path.write_bytes(gzip.compress(orjson.dumps({"Records": by_slot.get(slot, [])}), mtime=0))
        files.append(path)
    return files
