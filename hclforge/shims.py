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
}


def shims_for(cfg: EnvConfig) -> frozenset[str]:
    """The shims rendered for ``cfg``: all of them on the emulator, none elsewhere."""
    return frozenset(EMULATOR_SHIMS) if cfg.aws.emulator else frozenset()
