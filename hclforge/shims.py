"""Emulator shims: every place the rendered HCL differs for the local AWS emulator.

Each shim works around one gap of moto (the emulator) and is rendered only for
environments with ``aws.emulator: true``. ``tests/test_emulator_gaps.py`` holds
one test per shim that fails once moto closes the gap, so dead shims get removed.
``SHIM_AUDIT`` records, for each, the request hclforge or the provider sends and
what moto does wrong with it; ``tests/test_shim_requests.py`` captures that request.
"""

from __future__ import annotations

from dataclasses import dataclass

from hclforge.model import EnvConfig


@dataclass(frozen=True)
class Audit:
    """Why a shim is moto's gap and not a defect of the template or the provider.

    ``tests/test_shim_requests.py`` applies the shimmed construct, unshimmed, through a
    recording proxy and asserts that the provider (or hclforge) sent ``request``; it
    then asserts the re-read differs only as ``gap`` says. ``source`` is where AWS says
    what it does with that request.
    """

    request: str
    gap: str
    source: str


# Every place the rendered HCL differs for the emulator, each audited against the request
# the provider sent (issue 19). A shim whose request was wrong is a template bug, not a
# shim: cloudmap_ignore_health_check_config was one (the provider sent no
# HealthCheckCustomConfig for an empty block, provider issue #44285) and became
# failure_threshold = 1 for every environment.
EMULATOR_SHIMS: dict[str, str] = {
    "ecs_service_launch_type": (
        "moto does not echo an ECS service's capacity_provider_strategy and reports launch_type EC2, "
        "so a strategy re-plans as a replacement: emulator services use launch_type FARGATE instead."
    ),
    "ecs_service_ignore_az_rebalancing": (
        "moto 5.2 does not store availability_zone_rebalancing, so every re-plan would show "
        '+ availability_zone_rebalancing = "DISABLED": emulator services ignore changes to it.'
    ),
    "ecs_container_memory": (
        "moto's RunTask answers 500 when a container has neither memory nor memoryReservation (Fargate needs "
        "only the task's): on the emulator, such containers get memory = the task's memory."
    ),
}

SHIM_AUDIT: dict[str, Audit] = {
    "ecs_service_launch_type": Audit(
        request="ECS CreateService carries capacityProviderStrategy [{capacityProvider, weight, base}]",
        gap="DescribeServices returns no capacityProviderStrategy and launchType EC2",
        source="ECS API reference, CreateService and DescribeServices: Service.capacityProviderStrategy",
    ),
    "ecs_service_ignore_az_rebalancing": Audit(
        request='ECS CreateService carries availabilityZoneRebalancing "DISABLED" (the provider\'s default)',
        gap="DescribeServices returns no availabilityZoneRebalancing",
        source="ECS API reference, CreateService: availabilityZoneRebalancing (returned in Service)",
    ),
    "ecs_container_memory": Audit(
        request="ECS RegisterTaskDefinition: task-level cpu and memory, containers without memory",
        gap="RunTask of that task definition answers 500",
        source="ECS developer guide, task definition parameters: container memory is optional on Fargate "
        "when the task-level memory is set",
    ),
    "ecs_services_running": Audit(
        request="ECS CreateService carries desiredCount",
        gap="moto starts no tasks: runningCount stays 0 and the deployment IN_PROGRESS",
        source="ECS API reference, Deployment.rolloutState: COMPLETED once the service reaches steady state",
    ),
    "rollout_ignores_task_definition": Audit(
        request="ECS UpdateService carries the new taskDefinition after an image change",
        gap="the PRIMARY deployment keeps the old task definition",
        source="ECS API reference, UpdateService: a new task definition starts a new PRIMARY deployment",
    ),
}


# Settings of the emulator's own process (moto server), not of the rendered HCL.
# moto starts no tasks: a service's deployment stays IN_PROGRESS unless moto is told
# how many tasks "run", and then reports that many for every service. At least the
# model's largest desired_count, so every rollout on the emulator completes. That count
# is not shown as running: `status` shows the desired count, marked emulated.
EMULATOR_PROCESS_SHIMS: dict[str, tuple[str, str]] = {
    "ecs_services_running": ("MOTO_ECS_SERVICE_RUNNING", "1000"),
}


def emulator_process_env() -> dict[str, str]:
    """The variables the emulator's process is started with, from :data:`EMULATOR_PROCESS_SHIMS`."""
    return dict(EMULATOR_PROCESS_SHIMS.values())


# Where hclforge reads the emulator differently from AWS.
EMULATOR_READ_SHIMS: dict[str, str] = {
    "rollout_ignores_task_definition": (
        "moto's UpdateService leaves the deployment on the old task definition, so a deploy on the "
        "emulator would look rolled back: the wait does not compare the PRIMARY deployment's task "
        "definition with the one applied."
    ),
}


def shims_for(cfg: EnvConfig) -> frozenset[str]:
    """The shims rendered for ``cfg``: all of them on the emulator, none elsewhere."""
    return frozenset(EMULATOR_SHIMS) if cfg.aws.emulator else frozenset()
