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
from tests.conftest import ROOT, WITHOUT_LOCK
from tests.plan_inventory import plan_on_emulator

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]


def _drop_block(text: str, header: str) -> str:
    """Remove one top-level block (``resource "t" "n" {`` ... ``}``) from HCL text, and the
    ``depends_on`` entries that name it (an ECS service waits for its own rules)."""
    start = text.index(header)
    end = text.index("\n}\n", start) + 3
    _, rtype, _, name, _ = header.split('"')
    return re.sub(rf"^\s+{rtype}\.{name},\n", "", text[:start] + text[end:], flags=re.M)


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
]


@pytest.mark.parametrize("env", sorted({b[1] for b in BREAKS}))
def test_routes_names_each_broken_link(env: str, moto: Emulator, tf_env: dict[str, str], tmp_path: Path) -> None:
    """Every break of ``env`` in one copy, planned once: each is named on its own."""
    breaks = [b for b in BREAKS if b[1] == env]
    copy = tmp_path / "modules" / env
    shutil.copytree(ROOT / "modules" / env, copy, ignore=WITHOUT_LOCK)
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


def test_routes_command_exits_1_on_template_bugs(repo: Path, capsys, monkeypatch, tmp_path: Path) -> None:
    """Real template bugs, caught by the CLI on prod (planned on the emulator), exit 1:

    * the VPC link's ingress rule left out: no route reaches its tasks;
    * DELETE routes widened to ANY: a JWT route that matches OPTIONS while prod configures CORS
      (the preflight would need a token; API Gateway answers it from the CORS settings only for
      routes that do not match OPTIONS).
    """
    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES, templates)
    ecs = templates / "ecs/main.tf.j2"
    text = ecs.read_text(encoding="utf-8")
    bug = re.search(r'resource "aws_security_group_rule" "\{\{ id \}\}_from_vpc_link" \{.*?\n\}\n', text, re.S)
    assert bug is not None
    waits = "    aws_security_group_rule.{{ id }}_from_vpc_link,\n"  # the service waits for the rule it removes
    assert waits in text
    ecs.write_text(text.replace(bug.group(0), "").replace(waits, ""), encoding="utf-8")
    apigw = templates / "apigateway/main.tf.j2"
    text = apigw.read_text(encoding="utf-8")
    assert "route_key = {{ key | q }}" in text
    widened = 'route_key = {{ key | replace("DELETE ", "ANY ") | q }}'
    apigw.write_text(text.replace("route_key = {{ key | q }}", widened), encoding="utf-8")
    monkeypatch.setattr(render, "TEMPLATES", templates)
    render.jinja_env.cache_clear()
    (repo / "modules/prod/.terraform.lock.hcl").unlink()  # see WITHOUT_LOCK in tests/conftest.py
    try:
        code = main(["--no-color", "--root", str(repo), "routes", "prod", "--emulator"])
    finally:
        render.jinja_env.cache_clear()
    out, err = capsys.readouterr()
    assert code == 1, err
    rows = {line.split("  ")[0]: line.split() for line in out.splitlines() if line.startswith(("GET ", "ANY "))}
    assert rows["GET /api"][-1] == "BLOCKED" and rows["ANY /api/{proxy+}"][3:4] == ["CAUGHT"], out
    assert "broken: GET /api: the tasks of api admit nothing from the VPC link's security group on 8080" in out
    assert "broken: ANY /api/{proxy+}: a JWT route that matches OPTIONS while CORS is configured" in out
    assert "broken: DELETE /api/{proxy+}: routed to api in the YAML, but the plan has no such route" in out
    assert "broken link(s) in the request path of prod" in err
