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


@pytest.mark.parametrize(
    ("protect", "flags", "typed", "error"),
    [
        (True, {"auto_approve": True}, None, "guarded is protected (protect: true): destroy needs --force"),
        (True, {"force": True}, None, "no terminal to type the name on: add --yes-i-mean-guarded"),
        (True, {"force": True, "interactive": True}, "prod", "the name typed does not match"),
        (True, {"force": True, "interactive": True}, "guarded", None),
        (True, {"force": True, "yes_i_mean": True}, None, None),
        (False, {}, None, "destroy needs confirmation and there is no terminal"),
        (False, {"auto_approve": True}, None, None),
        (False, {"interactive": True}, None, None),  # asked later, after init
    ],
)
def test_destroy_rules_are_one_for_one_root_and_every_root(protect, flags, typed, error) -> None:
    """planapply.destroy and a split environment's destroy (splitcli.confirm_destroy) share these rules."""
    from hclforge.cli.planapply import check_destroy
    from hclforge.errors import HclforgeError

    args = {"auto_approve": False, "interactive": False, "force": False, "yes_i_mean": False, **flags}
    typed_name = (lambda: typed) if typed is not None else None
    if error is None:
        check_destroy("guarded", protect, typed_name=typed_name, **args)
    else:
        with pytest.raises(HclforgeError, match=error.replace("(", r"\(").replace(")", r"\)")):
            check_destroy("guarded", protect, typed_name=typed_name, **args)
