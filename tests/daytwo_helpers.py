"""Helpers of the day-two library tests: boto3 clients for an emulator, an ECS service on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hclforge.cli.emulator import Emulator

REGION = "ap-northeast-1"


def emu_client(emu: Emulator, service: str, region: str = REGION) -> Any:
    """A boto3 client of ``emu`` (fake keys; the emulator's address and nothing else)."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    return session.client(service, endpoint_url=emu.endpoint)


@dataclass(frozen=True)
class EcsService:
    cluster: str
    service: str
    family: str
    task_definition_arn: str
    subnets: list[str]
    security_groups: list[str]


def create_ecs_service(
    emu: Emulator, cluster: str, service: str, family: str, *, desired: int = 1, container: str | None = None
) -> EcsService:
    """A cluster (FARGATE providers), a Fargate task definition and an awsvpc service on the emulator."""
    ec2, ecs = emu_client(emu, "ec2"), emu_client(emu, "ecs")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    # moto 5.2.5's RunTask (awsvpc) fails (500, AttributeError) in a VPC without DNS hostnames.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"{cluster}-{service}", Description="tasks", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    td = ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        # Container-level memory: moto 5.2.5's RunTask fails (500, TypeError) without it, though AWS
        # accepts task-level memory alone for Fargate, which is what hclforge renders.
        containerDefinitions=[{"name": container or service, "image": "nginx:1.27", "essential": True, "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=td,
        desiredCount=desired,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}
        },
    )
    return EcsService(cluster, service, family, td, [subnet], [group])
