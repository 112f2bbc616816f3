"""protect: true: prevent_destroy on long-lived resources, --allow-replace, and a guarded destroy."""

from __future__ import annotations

import pytest

from hclforge import render
from hclforge.cli.main import main
from tests.conftest import MINIMAL_ENV, ROOT

PROTECTED = (
    "aws_ecs_cluster",
    "aws_service_discovery_private_dns_namespace",
    "aws_apigatewayv2_api",
    "aws_cloudwatch_log_group",
    "aws_service_discovery_service",
)


def test_prevent_destroy_is_rendered_on_long_lived_resources_of_protected_envs() -> None:
    prod = render.render(ROOT, "prod").files
    dev = render.render(ROOT, "dev").files
    text = "".join(prod.values())
    # cluster, namespace, api, 3 log groups, the Cloud Map service of api (worker has no port)
    assert text.count("prevent_destroy = true") == 1 + 1 + 1 + 3 + 1
    assert "prevent_destroy" not in "".join(dev.values())
    from hclforge.cli.workcopy import protected_addresses

    addresses = protected_addresses(ROOT / "modules/prod")
    assert "module.ecs.aws_ecs_cluster.this" in addresses
    assert "module.apigateway.aws_cloudwatch_log_group.access" in addresses
    assert {a.split(".")[2] for a in addresses} == set(PROTECTED)


# The protected round trip on the emulator (refusal, --allow-replace, the guarded
# destroy) shares the applied stack of tests/test_apply_survives.py.


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
