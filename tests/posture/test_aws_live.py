"""`seawall audit aws` against moto in server mode (a real HTTP server on 127.0.0.1 started here)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import run_cli

pytestmark = pytest.mark.slow
ACCOUNT = "123456789012"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(url: str, service: str, region: str):
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing", aws_session_token="testing")


def _populate(url: str) -> None:
    """Two regions: a public repo, a cross-account repo, 105 plain repos (pagination), ECS, EKS."""
    ecr = _client(url, "ecr", "us-east-1")
    ecr.create_repository(repositoryName="web")
    ecr.set_repository_policy(repositoryName="web", policyText=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "public", "Effect": "Allow", "Principal": "*",
                       "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}))
    ecr.create_repository(repositoryName="base", imageTagMutability="IMMUTABLE",
                          imageScanningConfiguration={"scanOnPush": True},
                          encryptionConfiguration={"encryptionType": "KMS"})
    ecr.set_repository_policy(repositoryName="base", policyText=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "partner", "Effect": "Allow",
                       "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                       "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}))
    ecr.put_lifecycle_policy(repositoryName="base", lifecyclePolicyText=json.dumps({"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                         "countUnit": "days", "countNumber": 14},
        "action": {"type": "expire"}}]}))
    west = _client(url, "ecr", "eu-west-1")
    for i in range(105):
        west.create_repository(repositoryName=f"svc-{i:03d}", imageTagMutability="IMMUTABLE",
                               imageScanningConfiguration={"scanOnPush": True},
                               encryptionConfiguration={"encryptionType": "KMS"})

    ec2 = _client(url, "ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)["GroupId"]
    ecs = _client(url, "ecs", "us-east-1")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "api", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:1",
                               "privileged": True,
                               "environment": [{"name": "DB_PASSWORD", "value": "s3cr3t-prod-pw"}]}])
    ecs.register_task_definition(
        family="worker", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "worker", "image": "worker:2", "user": "10001",
                               "readonlyRootFilesystem": True,
                               "logConfiguration": {"logDriver": "awslogs", "options": {}}}])
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=1,
                       launchType="FARGATE", platformVersion="1.3.0",
                       networkConfiguration={"awsvpcConfiguration": {
                           "subnets": [subnet], "securityGroups": [sg], "assignPublicIp": "ENABLED"}})
    eks = _client(url, "eks", "eu-west-1")
    eks.create_cluster(name="analytics", version="1.27", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                       resourcesVpcConfig={"subnetIds": [subnet]})


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _populate(url)
        yield url
    finally:
        server.stop()


def _env(url: str, **extra: str) -> dict[str, str]:
    return {**CREDS, "SEAWALL_AWS_ENDPOINT_URL": url, "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", **extra}


def test_audit_aws_across_regions(moto_url: str) -> None:
    proc = run_cli("audit", "aws", "--region", "us-east-1", "--region", "eu-west-1", "--format", "json",
                   env=_env(moto_url))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"]["kind"] == "aws"
    assert report["target"]["metadata"]["account"] == ACCOUNT
    got = {(f["rule"], f["resource"]["name"]) for f in report["findings"]
           if not f["resource"]["name"].startswith("svc-")}
    assert got == {
        ("SW-ECR-001", "web"), ("SW-ECR-002", "web"), ("SW-ECR-003", "web"), ("SW-ECR-004", "web"),
        ("SW-ECR-005", "web"), ("SW-ECR-006", "base"),
        ("SW-ECS-001", "api:1"), ("SW-ECS-002", "api:1"), ("SW-ECS-003", "api:1"), ("SW-ECS-007", "api:1"),
        ("SW-ECS-008", "api:1"), ("SW-ECS-010", "api"), ("SW-ECS-011", "api"), ("SW-ECS-012", "prod"),
        ("SW-EKS-001", "analytics"), ("SW-EKS-002", "analytics"), ("SW-EKS-003", "analytics"),
        ("SW-EKS-004", "analytics"), ("SW-EKS-005", "analytics"),
    }
    # 105 repositories in eu-west-1: more than one DescribeRepositories page (100), each lacks a lifecycle
    paged = {f["resource"]["name"] for f in report["findings"] if f["resource"]["name"].startswith("svc-")}
    assert paged == {f"svc-{i:03d}" for i in range(105)}
    public = next(f for f in report["findings"] if f["rule"] == "SW-ECR-005")
    assert public["resource"]["arn"] == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/web"
    assert public["location"]["path"] == public["resource"]["arn"]
    assert public["kind"] == "exposure" and public["severity"] == "critical"
    secret = next(f for f in report["findings"] if f["rule"] == "SW-ECS-007")
    assert "s3cr3t-prod-pw" not in proc.stdout and secret["evidence"].endswith("s3c****")
    assert "aws-securityhub:ECS.8" in secret["references"]


def test_fail_on_and_single_region(moto_url: str) -> None:
    proc = run_cli("audit", "aws", "--region", "eu-west-1", "--fail-on", "high", "--format", "json",
                   env=_env(moto_url))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    eks = {f["resource"]["name"] for f in report["findings"] if f["rule"].startswith("SW-EKS")}
    assert eks == {"analytics"}
    assert not [f for f in report["findings"] if f["rule"].startswith("SW-ECS")]


def test_missing_credentials_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", SEAWALL_AWS_ENDPOINT_URL="http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "seawall", "audit", "aws", "--region", "us-east-1"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("seawall: error: no AWS credentials found")
    assert proc.stderr.count("\n") == 1
    proc = run_cli("audit", "aws", "--profile", "nope", env={"AWS_CONFIG_FILE": str(tmp_path / "none")})
    assert proc.returncode == 2 and "profile 'nope' not found" in proc.stderr


def test_access_denied_names_the_action(tmp_path: Path) -> None:
    """A moto server with IAM enforcement: the auditor may call STS and EKS, not ECR."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        iam = _client(url, "iam", "us-east-1")
        iam.create_user(UserName="auditor")
        iam.put_user_policy(UserName="auditor", PolicyName="eks-only", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "eks:*"],
                           "Resource": "*"}]}))
        key = iam.create_access_key(UserName="auditor")["AccessKey"]
        proc = run_cli("audit", "aws", "--region", "us-east-1", env=_env(
            url, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
            AWS_SESSION_TOKEN=""))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith("seawall: error: access denied: ecr:DescribeRepositories in us-east-1")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
