"""Layering: extends, recursive map merge, list replace, null deletes, origins."""

from __future__ import annotations

from pathlib import Path

import pytest

from hclforge.config import env_names, load_env
from hclforge.errors import ConfigError
from tests.conftest import MINIMAL_ENV

BASE = """\
project: demo
aws:
  region: eu-west-1
tags:
  Team: a
  Owner: ops
network:
  vpc_id: vpc-0123456789abcdef0
  private_subnet_ids: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]
services:
  api:
    image: nginx:1.27
    port: 80
    routes: ["GET /", "GET /health"]
    environment: {A: "1", B: "2"}
  worker:
    image: busybox:1
"""


def test_maps_merge_lists_replace_null_deletes(project) -> None:
    root = project(
        {
            "envs/_base.yaml": BASE,
            "envs/dev.yaml": """\
            extends: [_base]
            tags: {Team: b}
            network:
              private_subnet_ids: [subnet-0123456789abcdef9]
            services:
              api:
                routes: ["ANY /{proxy+}"]
                environment: {B: null, C: "3"}
              worker: null
            """,
        }
    )
    cfg = load_env(root, "dev").config
    assert cfg.tags == {"Team": "b", "Owner": "ops"}
    assert cfg.network.private_subnet_ids == ["subnet-0123456789abcdef9"]
    assert cfg.services["api"].routes == ["ANY /{proxy+}"]
    assert cfg.services["api"].environment == {"A": "1", "C": "3"}
    assert list(cfg.services) == ["api"]
    assert cfg.services["api"].image == "nginx:1.27"


def test_layers_apply_in_order_and_recursively(project) -> None:
    root = project(
        {
            "envs/_base.yaml": BASE,
            "envs/_big.yaml": "extends: [_base]\nservices: {api: {cpu: 1024, memory: 2048}}\n",
            "envs/_eu.yaml": "aws: {region: eu-central-1}\n",
            "envs/stage.yaml": "extends: [_big, _eu]\nservices: {api: {memory: 4096}}\n",
        }
    )
    loaded = load_env(root, "stage")
    assert loaded.sources == ["envs/_base.yaml", "envs/_big.yaml", "envs/_eu.yaml", "envs/stage.yaml"]
    assert loaded.config.aws.region == "eu-central-1"
    assert (loaded.config.services["api"].cpu, loaded.config.services["api"].memory) == (1024, 4096)


def test_origins_name_the_layer_and_line_of_each_value(project) -> None:
    root = project({"envs/_base.yaml": BASE, "envs/dev.yaml": "extends: [_base]\ntags:\n  Team: b\n"})
    origins = load_env(root, "dev").origins
    assert origins[("tags", "Team")] == ("envs/dev.yaml", 3)
    assert origins[("tags", "Owner")] == ("envs/_base.yaml", 6)
    assert origins[("services", "api", "image")] == ("envs/_base.yaml", 12)


def test_replaced_list_forgets_the_lines_of_the_old_items(project) -> None:
    root = project(
        {"envs/_base.yaml": BASE, "envs/dev.yaml": "extends: [_base]\nservices:\n  api:\n    routes: [GET /x]\n"}
    )
    origins = load_env(root, "dev").origins
    assert origins[("services", "api", "routes", 0)] == ("envs/dev.yaml", 4)
    assert ("services", "api", "routes", 1) not in origins


def test_defaults_come_from_the_model(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    cfg = load_env(root, "dev").config
    assert cfg.environment == "dev"
    assert cfg.cluster.name == "demo-dev"
    assert cfg.service_discovery.namespace == "demo-dev.internal"
    assert cfg.api.name == "demo-dev"
    assert cfg.cluster.capacity_providers == ["FARGATE"]
    svc = cfg.services["api"]
    assert (svc.cpu, svc.memory, svc.desired_count, svc.auth, svc.capacity_provider) == (256, 512, 1, "none", "FARGATE")
    assert cfg.api.throttling.burst_limit > 0 and cfg.api.throttling.rate_limit > 0


def test_auth_default_is_jwt_when_auth_is_configured(project) -> None:
    env = {**MINIMAL_ENV, "auth": {"cognito": {"create": True}}}
    root = project({"envs/dev.yaml": env})
    assert load_env(root, "dev").config.services["api"].auth == "jwt"


def test_s3_backend_defaults(project) -> None:
    env = {**MINIMAL_ENV, "backend": {"type": "s3", "bucket": "demo-state"}}
    root = project({"envs/prod.yaml": env})
    be = load_env(root, "prod").config.backend
    assert (be.key, be.region, be.lock) == ("demo/prod/terraform.tfstate", "eu-west-1", "lockfile")


def test_layers_are_not_environments(project) -> None:
    root = project(
        {"envs/_base.yaml": BASE, "envs/dev.yaml": "extends: [_base]\n", "envs/prod.yaml": "extends: _base\n"}
    )
    assert env_names(root) == ["dev", "prod"]


def test_example_environments_load() -> None:
    root = Path(__file__).resolve().parent.parent
    assert env_names(root) == ["dev", "local", "prod"]
    for name in env_names(root):
        assert load_env(root, name).config.environment == name


def test_environment_key_must_match_file_name(project) -> None:
    root = project({"envs/dev.yaml": {**MINIMAL_ENV, "environment": "prod"}})
    with pytest.raises(ConfigError, match=r"envs/dev.yaml:\d+: environment: 'prod' does not match the file name"):
        load_env(root, "dev")
