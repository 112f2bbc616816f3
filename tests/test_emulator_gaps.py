"""One test per emulator shim (hclforge/shims.py) and per emulator-only rule.

Each asserts that moto still has the gap. When a test here fails, moto has
closed the gap: remove the shim or rule it names, and this test with it.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hclforge.shims import EMULATOR_PROCESS_SHIMS, EMULATOR_READ_SHIMS, EMULATOR_SHIMS

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"


def _task_definition(ecs: Any, family: str, image: str) -> str:
    """A Fargate task definition with task-level memory only (valid on AWS); its ARN."""
    return ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": image, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]


def _ecs_service(name: str, **kwargs: object) -> dict:
    ecs = boto3.client("ecs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]  # one VPC per call: names are unique
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=name, Description="gap test", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=name)
    family = _task_definition(ecs, name, "nginx:1")
    ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=family,
        desiredCount=1,
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}
        },
        **kwargs,
    )
    return ecs.describe_services(cluster=name, services=[name])["services"][0]


def test_every_shim_has_a_gap_test() -> None:
    """Each shim, of any kind, has a ``test_gap_<shim>`` here; a test without a shim is stale too."""
    shims = {*EMULATOR_SHIMS, *EMULATOR_PROCESS_SHIMS, *EMULATOR_READ_SHIMS}
    rules = {"autoscaling_tags_behind_the_emulator_autoscaling_rule"}  # the emulator-only rule (rules._emulator)
    tests = {name.removeprefix("test_gap_") for name in globals() if name.startswith("test_gap_")}
    assert shims | rules == tests


def test_gap_ecs_services_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without MOTO_ECS_SERVICE_RUNNING, a service's rollout on moto never completes.

    A moto server of this test's own, in this process, reads the variable from here.
    """
    from moto.server import ThreadedMotoServer

    from hclforge.cli.emulator import free_port

    var, _value = EMULATOR_PROCESS_SHIMS["ecs_services_running"]
    monkeypatch.delenv(var, raising=False)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, "test")
        svc = _ecs_service("gap-running", launchType="FARGATE")
    finally:
        server.stop()
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS", (
        "moto now completes rollouts by itself: drop process shim ecs_services_running"
    )


def test_gap_rollout_ignores_task_definition(aws_env: dict[str, str]) -> None:
    svc = _ecs_service("gap-deploy", launchType="FARGATE")
    ecs = boto3.client("ecs", region_name=REGION)
    newer = _task_definition(ecs, "gap-deploy", "nginx:2")
    ecs.update_service(cluster="gap-deploy", service="gap-deploy", taskDefinition=newer)
    after = ecs.describe_services(cluster="gap-deploy", services=["gap-deploy"])["services"][0]
    assert after["taskDefinition"] == newer
    assert after["deployments"][0]["taskDefinition"] == svc["taskDefinition"], (
        "moto now moves the deployment to the new task definition: drop read shim rollout_ignores_task_definition"
    )


def test_gap_ecs_service_launch_type(aws_env: dict[str, str]) -> None:
    svc = _ecs_service("gap-strategy", capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    assert not svc.get("capacityProviderStrategy") or svc.get("launchType") == "EC2", (
        "moto now echoes capacityProviderStrategy: drop shim ecs_service_launch_type"
    )


def test_gap_ecs_service_ignore_az_rebalancing(aws_env: dict[str, str]) -> None:
    svc = _ecs_service("gap-azr", launchType="FARGATE", availabilityZoneRebalancing="DISABLED")
    assert "availabilityZoneRebalancing" not in svc, (
        "moto now stores availabilityZoneRebalancing: drop shim ecs_service_ignore_az_rebalancing"
    )


def test_gap_autoscaling_tags_behind_the_emulator_autoscaling_rule(aws_env: dict[str, str]) -> None:
    """rules._emulator refuses autoscaling on emulator environments because of this gap."""
    aas = boto3.client("application-autoscaling", region_name=REGION)
    # moto answers 500 ("The list_tags_for_resource action has not been implemented").
    with pytest.raises(ClientError, match=r"\(500\) when calling the ListTagsForResource operation"):
        aas.list_tags_for_resource(
            ResourceARN=f"arn:aws:application-autoscaling:{REGION}:123456789012:scalable-target/0123456789abcdef"
        )


def test_gap_ecs_container_memory(aws_env: dict[str, str]) -> None:
    """RunTask of a Fargate task definition with task-level memory only (valid on AWS) fails on moto."""
    ecs = boto3.client("ecs", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # the other RunTask gap
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.98.1.0/24")["Subnet"]["SubnetId"]
    ecs.create_cluster(clusterName="gap-memory")
    arn = _task_definition(ecs, "gap-memory", "nginx:1")
    try:
        ecs.run_task(
            cluster="gap-memory",
            taskDefinition=arn,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "assignPublicIp": "DISABLED"}},
        )
    except ClientError as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        return
    pytest.fail("moto now runs tasks without container-level memory: drop shim ecs_container_memory")
