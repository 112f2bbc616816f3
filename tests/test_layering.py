"""Layering: extends, recursive map merge, list replace, null deletes, origins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hclforge import config
from hclforge.config import MAX_LAYER_DEPTH, env_names, load_env
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


def test_diamond_extends_reads_each_file_once(project, monkeypatch) -> None:
    # 24 levels of diamonds: 2**24 paths through the graph, 49 files.
    depth = 24
    files: dict[str, str | dict[str, Any]] = {"envs/dev.yaml": "extends: [_a0, _b0]\n"}
    for i in range(depth):
        nxt = f"extends: [_a{i + 1}, _b{i + 1}]\n" if i + 1 < depth else "extends: [_base]\n"
        files[f"envs/_a{i}.yaml"] = nxt + f"tags: {{A{i}: a}}\n"
        files[f"envs/_b{i}.yaml"] = nxt + f"tags: {{B{i}: b}}\n"
    files["envs/_base.yaml"] = BASE
    root = project(files)
    reads: list[Path] = []
    real = config.load_document

    def counting(path: Path, display: str) -> Any:
        reads.append(path)
        return real(path, display)

    monkeypatch.setattr(config, "load_document", counting)
    loaded = load_env(root, "dev")
    assert len(reads) == len(set(reads)) == len(files)
    assert loaded.config.tags["A0"] == "a" and loaded.config.tags[f"B{depth - 1}"] == "b"
    assert loaded.sources[0] == "envs/_base.yaml" and loaded.sources[-1] == "envs/dev.yaml"


def test_a_shared_layer_is_merged_afresh_each_time(project) -> None:
    # _left and _right both extend _shared; layering one must not write into the other's copy.
    root = project(
        {
            "envs/_shared.yaml": BASE,
            "envs/_left.yaml": (
                "extends: [_shared]\ntags: {Left: l, Owner: null}\nservices: {api: {environment: {L: x}}}\n"
            ),
            "envs/_right.yaml": "extends: [_shared]\ntags: {Right: r}\n",
            "envs/dev.yaml": "extends: [_left, _right]\n",
        }
    )
    cfg = load_env(root, "dev").config
    # _right re-applies _shared (Owner comes back) over _left's additions, which survive the map merge.
    assert cfg.tags == {"Team": "a", "Owner": "ops", "Left": "l", "Right": "r"}
    assert cfg.services["api"].environment == {"A": "1", "B": "2", "L": "x"}


def test_extends_depth_is_limited(project) -> None:
    # 1200 layers in a chain ended in RecursionError; the loader stops at the limit, naming the entry.
    files: dict[str, str | dict[str, Any]] = {"envs/dev.yaml": "extends: [_l0]\n"}
    for i in range(1200):
        files[f"envs/_l{i}.yaml"] = f"extends: [_l{i + 1}]\n"
    files["envs/_l1200.yaml"] = BASE
    root = project(files)
    with pytest.raises(ConfigError) as info:
        load_env(root, "dev")
    assert str(info.value) == (
        f"envs/_l{MAX_LAYER_DEPTH - 1}.yaml:1: extends[0]: layers nest more than {MAX_LAYER_DEPTH} deep; "
        "flatten the extends chain"
    )


def test_extends_up_to_the_depth_limit_is_fine(project) -> None:
    files: dict[str, str | dict[str, Any]] = {"envs/dev.yaml": "extends: [_l1]\n"}
    for i in range(1, MAX_LAYER_DEPTH):
        files[f"envs/_l{i}.yaml"] = f"extends: [_l{i + 1}]\n"
    files[f"envs/_l{MAX_LAYER_DEPTH}.yaml"] = BASE
    root = project(files)
    assert len(load_env(root, "dev").sources) == MAX_LAYER_DEPTH + 1


def test_string_fields_keep_the_text_as_written(project) -> None:
    # YAML 1.1 reads these as 1.1, 5349 (octal), 750 (sexagesimal), true, 1000.0 and a date.
    root = project(
        {
            "envs/_base.yaml": BASE + "    cpu: 512\n    memory: 1024\n",
            "envs/dev.yaml": """\
            extends: [_base]
            tags: {Version: 1.10, Cost: 012345}
            services:
              api:
                environment:
                  VERSION: 1.10
                  ZIP: 012345
                  AT: 12:30
                  FLAG: on
                  DEBUG: true
                  PORT: 8080
                  BIG: 1e3
                  DAY: 2001-12-14
                  HEX: 0x1F
                  QUOTED: "1.10"
            """,
        }
    )
    cfg = load_env(root, "dev").config
    assert cfg.services["api"].environment == {
        "A": "1",
        "B": "2",
        "VERSION": "1.10",
        "ZIP": "012345",
        "AT": "12:30",
        "FLAG": "on",
        "DEBUG": "true",
        "PORT": "8080",
        "BIG": "1e3",
        "DAY": "2001-12-14",
        "HEX": "0x1F",
        "QUOTED": "1.10",
    }
    assert cfg.tags == {"Team": "a", "Owner": "ops", "Version": "1.10", "Cost": "012345"}
    # Fields that are numbers stay numbers.
    assert (cfg.services["worker"].cpu, cfg.services["worker"].memory) == (512, 1024)


def test_source_text_follows_the_layer_that_set_the_value(project) -> None:
    root = project(
        {
            "envs/_base.yaml": BASE.replace('{A: "1", B: "2"}', "{A: 1.10, B: on}"),
            "envs/dev.yaml": "extends: [_base]\nservices: {api: {environment: {B: 1.20}}}\n",
        }
    )
    assert load_env(root, "dev").config.services["api"].environment == {"A": "1.10", "B": "1.20"}
