"""Emulator shims: every place the rendered HCL differs for the local AWS emulator.

Each shim works around one gap of moto (the emulator) and is rendered only for
environments with ``aws.emulator: true``. ``tests/test_emulator_gaps.py`` holds
one test per shim that fails once moto closes the gap, so dead shims get removed.
"""

from __future__ import annotations

from hclforge.model import EnvConfig

EMULATOR_SHIMS: dict[str, str] = {
    "ecs_service_launch_type": (
        "moto does not echo an ECS service's capacity_provider_strategy and reports launch_type EC2, "
        "so a strategy re-plans as a replacement: emulator services use launch_type FARGATE instead."
    ),
    "ecs_service_ignore_az_rebalancing": (
        "moto 5.2 does not store availability_zone_rebalancing, so every re-plan would show "
        '+ availability_zone_rebalancing = "DISABLED": emulator services ignore changes to it.'
    ),
    "cloudmap_ignore_health_check_config": (
        "moto does not return a Cloud Map service's HealthCheckCustomConfig, so the empty "
        "health_check_custom_config block re-plans as a replacement: emulator services ignore changes to it."
    ),
    "ecs_container_memory": (
        "moto's RunTask answers 500 when a container has neither memory nor memoryReservation (Fargate needs "
        "only the task's): on the emulator, such containers get memory = the task's memory."
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
