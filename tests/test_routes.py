"""``hclforge routes``: the request path read from the plan, and each break named.

Each case breaks one link by hand in a rendered copy of an example tree (as a
template bug would); the breaks of one tree are made in one copy, planned once on
the emulator, and the check must name each of them. The unbroken examples pass in tests/test_plans.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from hclforge import render
from hclforge.cli.emulator import Emulator
from hclforge.cli.main import main
from hclforge.config import load_env
from hclforge.routes import as_table, check_paths
from tests.conftest import ROOT
from tests.plan_inventory import plan_on_emulator

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


def _drop_block(text: str, header: str) -> str:
    """Remove one top-level block (``resource "t" "n" {`` ... ``}``) from HCL text."""
    start = text.index(header)
    end = text.index("\n}\n", start) + 3
    return text[:start] + text[end:]


def _drop_a_record(text: str) -> str:
    """Remove the A record of Cloud Map service ``api``, keeping its SRV record."""
    block = text.index('resource "aws_service_discovery_service" "api"')
    record = '    dns_records {\n      type = "A"\n      ttl  = 10\n    }\n\n'
    at = text.index(record, block)
    return text[:at] + text[at + len(record) :]


# (id, env, file, edit, the broken link's message)
BREAKS = [
    (
        "ingress-from-vpc-link-deleted",
        "dev",
        "ecs/main.tf",
        lambda t: _drop_block(t, 'resource "aws_security_group_rule" "api_from_vpc_link"'),
        "GET /api: the tasks of api admit nothing from the VPC link's security group on 8080",
    ),
    (
        "egress-of-vpc-link-deleted",
        "dev",
        "ecs/main.tf",
        lambda t: _drop_block(t, 'resource "aws_security_group_rule" "vpc_link_to_admin"'),
        "ANY /admin/{proxy+}: the VPC link's security group sends nothing to the tasks of admin on 3000",
    ),
    (
        "caller-ingress-deleted",
        "dev",
        "ecs/main.tf",
        lambda t: _drop_block(t, 'resource "aws_security_group_rule" "api_from_admin"'),
        "admin -> api: the tasks of api admit nothing from admin's on 8080",
    ),
    (
        "a-record-dropped",
        "dev",
        "cloudmap/main.tf",
        _drop_a_record,
        "admin -> api: api.sss-dev.internal does not resolve: its Cloud Map service has no A record",
    ),
    (
        "container-port-changed",
        "dev",
        "ecs/main.tf",
        lambda t: t.replace("containerPort = 8080", "containerPort = 8081", 1),
        "GET /api: api registers port 8080, but its container 'api' publishes [8081]",
    ),
    (
        "jwt-route-any-with-cors",
        "prod",
        "apigateway/main.tf",
        lambda t: t.replace('route_key          = "DELETE /api/{proxy+}"', 'route_key          = "ANY /api/{proxy+}"'),
        "ANY /api/{proxy+}: a JWT route that matches OPTIONS while CORS is configured",
    ),
]


@pytest.mark.parametrize("env", sorted({b[1] for b in BREAKS}))
def test_routes_names_each_broken_link(env: str, moto: Emulator, tf_env: dict[str, str], tmp_path: Path) -> None:
    """Every break of ``env`` in one copy, planned once: each is named on its own."""
    breaks = [b for b in BREAKS if b[1] == env]
    copy = tmp_path / "modules" / env
    shutil.copytree(ROOT / "modules" / env, copy, ignore=shutil.ignore_patterns(".terraform"))
    for _, _, rel, edit, _ in breaks:
        original = (copy / rel).read_text(encoding="utf-8")
        broken = edit(original)
        assert broken != original
        (copy / rel).write_text(broken, encoding="utf-8")

    plan = plan_on_emulator(env, moto.client_env("ap-northeast-1"), tf_env, tmp_path, source=copy)
    report = check_paths(env, load_env(ROOT, env).config, plan._raw)

    assert not report.ok
    table = "\n".join(as_table(report))
    for name, _, _, _, message in breaks:
        assert any(p.startswith(message) for p in report.problems), f"{name}:\n" + "\n".join(report.problems)
        assert f"broken: {message}" in table, name


def test_routes_command_exits_1_on_a_template_bug(project, capsys, monkeypatch, tmp_path: Path) -> None:
    """A real template bug (the VPC link's ingress rule left out) is caught by the CLI, exit 1."""
    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES, templates)
    ecs = templates / "ecs/main.tf.j2"
    text = ecs.read_text(encoding="utf-8")
    bug = re.search(r'resource "aws_security_group_rule" "\{\{ id \}\}_from_vpc_link" \{.*?\n\}\n', text, re.S)
    assert bug is not None
    ecs.write_text(text.replace(bug.group(0), ""), encoding="utf-8")
    monkeypatch.setattr(render, "TEMPLATES", templates)
    render.jinja_env.cache_clear()
    root = project(
        {
            "envs/x.yaml": {
                "project": "demo",
                "aws": {"region": "eu-west-1", "emulator": True},
                "network": {"create": {"cidr": "10.9.0.0/16"}},
                "services": {"web": {"image": "nginx:1", "port": 80, "routes": ["GET /"]}},
            }
        }
    )
    try:
        code = main(["--root", str(root), "routes", "x"])
    finally:
        render.jinja_env.cache_clear()
        main(["--root", str(root), "emulator", "stop"])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "GET /  NONE  safe       HTTP_PROXY/VPC_LINK  web (A+SRV)  web      80    BLOCKED" in out
    assert "broken: GET /: the tasks of web admit nothing from the VPC link's security group on 80" in out
    assert "error: 1 broken link(s) in the request path of x" in err
