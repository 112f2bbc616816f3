"""Synthetic environments of N services, for the render benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def synthetic_env(services: int) -> dict[str, Any]:
    """An environment with ``services`` routed services, each with secrets, a health check and permissions."""
    svc: dict[str, Any] = {}
    for i in range(services):
        svc[f"svc{i:03d}"] = {
            "image": f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/svc{i:03d}:1.0.{i}",
            "cpu": 512,
            "memory": 1024,
            "port": 8000 + i,
            "desired_count": 2,
            "routes": [f"ANY /svc{i:03d}/{{proxy+}}", f"GET /svc{i:03d}"],
            "environment": {"LOG_LEVEL": "info", "SERVICE_INDEX": str(i)},
            "secrets": {"DB_PASSWORD": f"arn:aws:secretsmanager:eu-west-1:111111111111:secret:svc{i:03d}-AbCdEf"},
            "health_check": {"command": ["CMD-SHELL", "curl -f http://localhost/health || exit 1"]},
            "permissions": {"statements": [{"actions": ["s3:GetObject"], "resources": [f"arn:aws:s3:::bucket-{i}/*"]}]},
        }
    return {
        "project": "bench",
        "aws": {"region": "eu-west-1", "account_id": "111111111111"},
        "network": {"vpc_id": "vpc-0123456789abcdef0", "private_subnet_ids": ["subnet-0123456789abcdef0"]},
        "auth": {"cognito": {"user_pool_id": "eu-west-1_AbCdEf123", "client_ids": ["abcdef123456"]}},
        "services": svc,
    }


def write_project(root: Path, sizes: list[int], *, prefix: str = "s", make: Any = None) -> list[str]:
    """Write ``envs/<prefix><N>.yaml`` for each size under ``root`` (default: :func:`synthetic_env`); names back."""
    (root / "envs").mkdir(parents=True, exist_ok=True)
    names = []
    for n in sizes:
        name = f"{prefix}{n}"
        (root / "envs" / f"{name}.yaml").write_text(yaml.safe_dump((make or synthetic_env)(n), sort_keys=False))
        names.append(name)
    return names


def deploy_env(services: int) -> dict[str, Any]:
    """An emulator environment with ``services`` small services: what ``deploy --service`` ships into."""
    return {
        "project": "ship",
        "aws": {"region": "eu-west-1", "emulator": True},
        "network": {"create": {"cidr": "10.60.0.0/16", "private_subnets": 1}},
        "services": {
            f"svc{i:03d}": {"image": "public.ecr.aws/nginx/nginx:1.1", "port": 8000 + i} for i in range(services)
        },
    }


def write_deploy_project(root: Path, sizes: list[int]) -> list[str]:
    """Write ``envs/d<N>.yaml`` (:func:`deploy_env`) for each size under ``root``; returns the names."""
    return write_project(root, sizes, prefix="d", make=deploy_env)


def split_deploy_env(services: int, *, group_size: int = 0, alone: int = 2) -> dict[str, Any]:
    """:func:`deploy_env` with a state per service (``state.split: service``).

    With ``group_size``, the first ``alone`` services keep a root each (the ones the
    benchmarks ship) and the others share roots of ``group_size`` services
    (``state.groups``: ``g00``, ``g01``, ...).
    """
    env = deploy_env(services)
    env["state"] = {"split": "service"}
    if group_size:
        rest = list(env["services"])[alone:]
        env["state"]["groups"] = {
            f"g{i // group_size:02d}": rest[i : i + group_size] for i in range(0, len(rest), group_size)
        }
    return env


def write_split_project(root: Path, sizes: list[int], grouped: dict[int, int]) -> list[str]:
    """Write ``envs/x<N>.yaml`` (:func:`split_deploy_env`, grouped by ``grouped[N]`` when given); the names."""
    names = []
    for n in sizes:
        names += write_project(root, [n], prefix="x", make=lambda n: split_deploy_env(n, group_size=grouped.get(n, 0)))
    return names
