"""protect: true: prevent_destroy on long-lived resources, --allow-replace, and a guarded destroy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hclforge import render
from hclforge.cli.main import main
from tests.conftest import MINIMAL_ENV, ROOT, emulator_client

PROTECTED = (
    "aws_ecs_cluster",
    "aws_service_discovery_private_dns_namespace",
    "aws_apigatewayv2_api",
    "aws_cloudwatch_log_group",
)


def test_prevent_destroy_is_rendered_on_long_lived_resources_of_protected_envs() -> None:
    prod = render.render(ROOT, "prod").files
    dev = render.render(ROOT, "dev").files
    text = "".join(prod.values())
    assert text.count("prevent_destroy = true") == 1 + 1 + 1 + 3  # cluster, namespace, api, 3 log groups
    assert "prevent_destroy" not in "".join(dev.values())
    from hclforge.cli.workcopy import protected_addresses

    addresses = protected_addresses(ROOT / "modules/prod")
    assert "module.ecs.aws_ecs_cluster.this" in addresses
    assert "module.apigateway.aws_cloudwatch_log_group.access" in addresses
    assert {a.split(".")[2] for a in addresses} == set(PROTECTED)


@pytest.fixture
def guarded(project) -> Iterator[Path]:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env.update({"protect": True, "aws": {"region": "eu-west-1", "emulator": True}})
    env["network"] = {"create": {"cidr": "10.8.0.0/16", "private_subnets": 1}}
    root = project({"envs/guarded.yaml": env})
    yield root
    main(["--root", str(root), "emulator", "stop"])


def _run(root: Path, capsys, *args: str) -> tuple[int, str]:
    code = main(["--no-color", "--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_replacing_a_protected_resource_needs_allow_replace(guarded: Path, capsys) -> None:
    assert _run(guarded, capsys, "apply", "guarded", "--auto-approve")[0] == 0

    env_file = guarded / "envs/guarded.yaml"
    env_file.write_text(env_file.read_text() + "cluster:\n  name: demo-guarded-v2\n")
    code, text = _run(guarded, capsys, "apply", "guarded", "--auto-approve")
    assert code == 1, text
    assert "guarded is protected (protect: true) and the plan would destroy or replace:" in text
    assert "! module.ecs.aws_ecs_cluster.this" in text
    assert "hclforge apply guarded --allow-replace" in text

    code, text = _run(guarded, capsys, "apply", "guarded", "--auto-approve", "--allow-replace")
    assert code == 0, text
    ecs = emulator_client(guarded, "ecs", "eu-west-1")
    active = [
        c["clusterName"]
        for c in ecs.describe_clusters(clusters=["demo-guarded-v2", "demo-guarded"])["clusters"]
        if c["status"] == "ACTIVE"
    ]
    assert active == ["demo-guarded-v2"]
    # The tree itself (prevent_destroy in place) agrees with the state afterwards.
    code, text = _run(guarded, capsys, "plan", "guarded", "--detailed-exitcode")
    assert code == 0, text
    assert not list((guarded / "modules/guarded").rglob("hclforge_override.tf*"))

    # Destroy: --force, then the name typed, or --yes-i-mean-ENV without a terminal.
    code, text = _run(guarded, capsys, "destroy", "guarded", "--auto-approve")
    assert code == 2 and "destroy needs --force" in text
    code, text = _run(guarded, capsys, "destroy", "guarded", "--force")
    assert code == 2 and "add --yes-i-mean-guarded" in text
    code, text = _run(guarded, capsys, "destroy", "guarded", "--force", "--yes-i-mean-prod")
    assert code == 2 and "no such option: --yes-i-mean-prod" in text
    code, text = _run(guarded, capsys, "destroy", "guarded", "--force", "--yes-i-mean-guarded")
    assert code == 0, text
    assert all(c["status"] != "ACTIVE" for c in ecs.describe_clusters(clusters=["demo-guarded-v2"])["clusters"])


@pytest.mark.parametrize(
    ("extra", "confirmed"),
    [([], False), (["--yes-i-mean-guarded"], True), (["--yes-i-mean-guarded", "--yes-i-mean-guarded"], True)],
)
def test_destroy_confirmation_flag(extra: list[str], confirmed: bool) -> None:
    from hclforge.protect import parse_confirmation_flag

    assert parse_confirmation_flag("guarded", extra) is confirmed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--yes-i-mean-prod"], "no such option: --yes-i-mean-prod (to confirm destroying guarded"),
        (["--yes-i-mean-guarded", "--colour"], "no such option: --colour"),
        (["other"], "unexpected extra argument: other"),
    ],
)
def test_destroy_refuses_other_extra_arguments(extra: list[str], message: str) -> None:
    from hclforge.errors import UsageError
    from hclforge.protect import parse_confirmation_flag

    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse_confirmation_flag("guarded", extra)


def test_destroy_with_an_unknown_option_exits_2_before_anything_runs(project, capsys) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    assert main(["--root", str(root), "destroy", "dev", "--force", "--yes-i-mean-prod"]) == 2
    assert "error: no such option: --yes-i-mean-prod" in capsys.readouterr().err
