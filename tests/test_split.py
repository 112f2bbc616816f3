"""A state per service (issue 23, first slice): the split roots' configuration, rules and rendering.

The fixture ``tests/fixtures/split`` is one shop of four services, rendered with a state per
service (``team``: roots shared, api, payments = billing + invoices, worker) and as one root
(``one``, the same YAML without ``state``). Its split tree is committed under
``tests/fixtures/split/modules/team/``, so a reviewer sees what a template change does to it.

``test_a_split_environment_round_trip`` runs one split environment through the CLI on the
emulator, from its first plan to its destroy; ``tests/test_split_run.py`` tests the run's parts
that need no terraform.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hclforge import render
from hclforge.cli import envlock
from hclforge.cli.main import main
from hclforge.cli.terraform import Terraform
from hclforge.config import load_env
from hclforge.errors import SharedOutputsError, UnsafePathError
from hclforge.roots import (
    ONE_ROOT_ONLY,
    SHARED_VALUES,
    RootLayout,
    input_values,
    inputs_text,
    shared_outputs_file,
    split_layout,
    split_only_addresses,
)
from hclforge.schema import env_schema
from tests.conftest import ROOT, emulator_client, logged_terraform, tree_snapshot

FIXTURE = ROOT / "tests/fixtures/split"
ENV = "team"
ROOTS = {"shared": (), "api": ("api",), "payments": ("billing", "invoices"), "worker": ("worker",)}
CHILD = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")


def _copy(tmp_path: Path) -> Path:
    """A project with the fixture's environment files and nothing rendered."""
    shutil.copytree(FIXTURE / "envs", tmp_path / "envs")
    return tmp_path


def _edit(root: Path, change: Callable[[dict[str, Any]], None], layer: str = "_base") -> None:
    path = root / "envs" / f"{layer}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _files(root: Path, env: str = ENV) -> dict[str, str]:
    return render.render(root, env).files


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


# ---------------------------------------------------------------- the roots


def test_split_environment_renders_a_shared_root_and_one_root_per_service_or_group() -> None:
    files = _files(FIXTURE)
    modules = {
        "shared": ["network", "cognito", "iam", "cloudmap", "apigateway", "ecs", "scheduler", "alarms"],
        "services/api": ["iam", "cloudmap", "apigateway", "ecs", "alarms"],
        "services/payments": ["iam", "cloudmap", "apigateway", "ecs", "scheduler", "alarms"],
        "services/worker": ["iam", "ecs", "scheduler", "alarms"],
    }
    expected = {"shared/main.tf", "shared/outputs.tf"}
    for root, names in modules.items():
        if root != "shared":
            expected |= {f"{root}/main.tf", f"{root}/variables.tf", f"{root}/outputs.tf"}
        expected |= {f"{root}/{module}/{name}" for module in names for name in CHILD}
    assert set(files) == expected
    cfg = load_env(FIXTURE, ENV).config
    assert [(r.name, r.services, r.tree_dir) for r in split_layout(ENV, cfg)] == [
        ("shared", (), "modules/team/shared"),
        ("api", ("api",), "modules/team/services/api"),
        ("payments", ("billing", "invoices"), "modules/team/services/payments"),
        ("worker", ("worker",), "modules/team/services/worker"),
    ]
    assert [cfg.root_of(name) for name in cfg.services] == ["api", "payments", "payments", "worker"]
    assert load_env(FIXTURE, "one").config.split_roots == {}


def test_each_root_has_its_own_backend_key() -> None:
    files = _files(FIXTURE)
    keys = {
        path: re.findall(r'^    key\s+= "([^"]+)"', text, re.MULTILINE)
        for path, text in files.items()
        if path.endswith("main.tf")
    }
    assert {path: key for path, key in keys.items() if key} == {
        "shared/main.tf": ["shop/team/shared.tfstate"],
        "services/api/main.tf": ["shop/team/services/api.tfstate"],
        "services/payments/main.tf": ["shop/team/services/payments.tfstate"],
        "services/worker/main.tf": ["shop/team/services/worker.tfstate"],
    }
    roots = [
        text for path, text in files.items() if path in ("shared/main.tf", *(f"services/{r}/main.tf" for r in ROOTS))
    ]
    assert len(roots) == 4 and all(len(re.findall(r"use_lockfile\s+= true", text)) == 1 for text in roots)


@pytest.mark.parametrize(
    ("key", "shared", "worker"),
    [
        ("state/shop.tfstate", "state/shared.tfstate", "state/services/worker.tfstate"),
        ("shop.tfstate", "shared.tfstate", "services/worker.tfstate"),
    ],
)
def test_key_prefix_is_the_one_state_key_without_its_file_name(
    tmp_path: Path, key: str, shared: str, worker: str
) -> None:
    root = _copy(tmp_path)
    _edit(root, lambda d: d["backend"].update(key=key))
    files = _files(root)
    assert f'key          = "{shared}"' in files["shared/main.tf"]
    assert f'key          = "{worker}"' in files["services/worker/main.tf"]


def test_local_state_of_each_root_lives_under_hclforge_envs(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit(root, lambda d: d.update(backend={"type": "local"}))
    files = _files(root)
    for layout in split_layout(ENV, load_env(root, ENV).config):
        path = re.search(r'path = "([^"]+)"', files[f"{layout.path}/main.tf"])
        assert path is not None
        # Resolved from the root's own directory, as terraform resolves it.
        resolved = (root / layout.tree_dir / path.group(1)).resolve()
        assert resolved == (root / ".hclforge/envs/team" / layout.path / "terraform.tfstate").resolve()
        assert resolved == (root / layout.local_state).resolve()


def test_committed_split_tree_equals_a_fresh_render() -> None:
    diff = render.unified_diff(FIXTURE, render.render(FIXTURE, ENV))
    assert diff == "", f"run 'hclforge --root tests/fixtures/split render team' and commit the result:\n{diff}"


@pytest.mark.terraform
def test_every_root_is_fmt_clean_and_validates(tmp_path: Path, tf_env: dict[str, str]) -> None:
    root = _copy(tmp_path)
    render.write_tree(root, render.render(root, ENV))
    tree = root / "modules" / ENV
    fmt = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff"], cwd=tree, capture_output=True, text=True
    )
    assert fmt.returncode == 0 and fmt.stdout == "", fmt.stdout + fmt.stderr
    for layout in split_layout(ENV, load_env(root, ENV).config):
        tf = Terraform(root / layout.tree_dir, env={**tf_env, "TF_DATA_DIR": str(tmp_path / "data" / layout.name)})
        tf.run("init", backend=False, stream=False)
        doc = tf.validate()
        assert doc["valid"], (layout.name, doc["diagnostics"])
        assert doc["warning_count"] == 0, (layout.name, doc["diagnostics"])


# ------------------------------------------------- one change, one root


def _service(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda data: change(data["services"][name])


ONE_SERVICE_CHANGES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("image", _service("api", lambda s: s.update(image=s["image"].replace("1.0.0", "1.0.1"))), "api"),
    ("size in a group", _service("invoices", lambda s: s.update(cpu=512, memory=1024)), "payments"),
    ("environment", _service("worker", lambda s: s.update(environment={"BATCH": "100"})), "worker"),
    (
        "a first secret",
        _service(
            "invoices",
            lambda s: s.update(secrets={"PDF_KEY": "arn:aws:ssm:ap-northeast-1:111111111111:parameter/shop/pdf"}),
        ),
        "payments",
    ),
    ("a secret less", _service("api", lambda s: s.pop("secrets")), "api"),
    ("a route more", _service("api", lambda s: s["routes"].append("GET /health")), "api"),
    ("auth on", _service("billing", lambda s: s.pop("auth")), "payments"),
    ("routes off", _service("billing", lambda s: s.pop("routes")), "payments"),
    ("calls more", _service("worker", lambda s: s["calls"].append("invoices")), "worker"),
    ("calls less", _service("api", lambda s: s.pop("calls") and s.pop("environment")), "api"),
    ("autoscaling", _service("api", lambda s: s["autoscaling"].update(max=8)), "api"),
    (
        "task role",
        _service(
            "worker",
            lambda s: s.update(permissions={"managed_policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}),
        ),
        "worker",
    ),
    (
        "a schedule's command",
        lambda d: d["scheduled_tasks"]["nightly-export"].update(command=["export", "--all"]),
        "worker",
    ),
    (
        "a second schedule",
        lambda d: d["scheduled_tasks"].update(weekly={"service": "api", "schedule": "rate(7 days)"}),
        "api",
    ),
    ("its alarm threshold", lambda d: d["alarms"]["services"]["billing"].update(cpu_percent=75), "payments"),
]


@pytest.mark.parametrize(
    ("change", "root"), [c[1:] for c in ONE_SERVICE_CHANGES], ids=[c[0] for c in ONE_SERVICE_CHANGES]
)
def test_a_change_to_one_service_changes_files_under_its_root_only(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], root: str
) -> None:
    project = _copy(tmp_path)
    before = _files(project)
    _edit(project, change)
    changed = _changed(before, _files(project))
    assert changed, "the change changed nothing: the case tests nothing"
    assert {path for path in changed if not path.startswith(f"services/{root}/")} == set()


def test_the_last_jwt_service_turning_auth_off_changes_its_root_only(tmp_path: Path) -> None:
    """The authorizer stays in shared while `auth` is configured, used or not."""
    project = _copy(tmp_path)
    _edit(project, lambda d: [d["services"][name].update(auth="none") for name in ("invoices", "worker")])
    before = _files(project)
    _edit(project, _service("api", lambda s: s.update(auth="none")))
    assert not load_env(project, ENV).config.uses_jwt
    changed = _changed(before, _files(project))
    assert changed and {path for path in changed if not path.startswith("services/api/")} == set()
    assert 'resource "aws_apigatewayv2_authorizer" "jwt"' in _files(project)["shared/apigateway/main.tf"]


def test_a_callee_port_changes_the_callers_roots_too(tmp_path: Path) -> None:
    """The documented exception: a caller's root holds the rule that admits it, on the callee's port."""
    project = _copy(tmp_path)
    before = _files(project)
    _edit(project, _service("billing", lambda s: s.update(port=9090)))
    changed = _changed(before, _files(project))
    assert {path.split("/")[1] for path in changed} == {"payments", "api", "worker"}
    assert {path for path in changed if not path.startswith("services/payments/")} == {
        "services/api/ecs/main.tf",
        "services/worker/ecs/main.tf",
    }


def test_adding_a_service_adds_its_root_and_its_security_group_in_shared(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    before = _files(project)
    _edit(
        project,
        lambda d: d["services"].update(mailer={"image": d["services"]["worker"]["image"], "calls": ["billing"]}),
    )
    changed = _changed(before, _files(project))
    outside = {path for path in changed if not path.startswith("services/mailer/")}
    # Its group, and the scheduler role's grants over every task definition and task role.
    assert outside == {"shared/ecs/main.tf", "shared/ecs/outputs.tf", "shared/scheduler/main.tf"}


# ------------------------------------------------- same resources, other roots


def _addresses(files: dict[str, str], prefix: str = "") -> list[str]:
    found = []
    for path, text in files.items():
        if not path.startswith(prefix):
            continue
        module = path[len(prefix) :].split("/")
        if len(module) != 2:
            continue
        for kind, rtype, name in re.findall(r'^(resource|data) "([^"]+)" "([^"]+)"', text, re.MULTILINE):
            found.append(f"module.{module[0]}.{'data.' if kind == 'data' else ''}{rtype}.{name}")
    return found


def test_split_roots_hold_the_one_roots_resources_at_the_same_addresses() -> None:
    """What `state split` moves: every resource of the one root is in exactly one split root,
    at the same address, but for the execution role's secrets policies (roots.ONE_ROOT_ONLY)."""
    one = {a for a in _addresses(_files(FIXTURE, "one")) if ".data." not in a}
    split_files = _files(FIXTURE)
    cfg = load_env(FIXTURE, ENV).config
    owners: dict[str, list[str]] = {}
    split_only = set()
    for layout in split_layout(ENV, cfg):
        for address in _addresses(split_files, f"{layout.path}/"):
            if ".data." not in address:
                owners.setdefault(address, []).append(layout.name)
        if not layout.shared:
            split_only |= set(split_only_addresses(cfg, layout))
    assert {a: o for a, o in owners.items() if len(o) > 1} == {}
    assert one - set(owners) == set(ONE_ROOT_ONLY)
    assert (
        set(owners) - one
        == split_only
        == {
            "module.iam.aws_iam_role_policy.execution_api",
            "module.iam.aws_iam_role_policy.execution_billing",
        }
    )
    assert owners["module.ecs.aws_security_group.billing"] == ["shared"]
    assert owners["module.ecs.aws_security_group_rule.billing_from_worker"] == ["worker"]
    assert owners["module.scheduler.aws_iam_role.this"] == ["shared"]
    assert owners["module.scheduler.aws_scheduler_schedule.reconcile"] == ["payments"]


def test_execution_role_grants_each_service_its_own_secrets() -> None:
    files = _files(FIXTURE)
    api = files["services/api/iam/main.tf"]
    payments = files["services/payments/iam/main.tf"]
    assert 'name   = "shop-team-api-read-secrets"' in api
    assert "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:shop/db-AbCdEf" in api
    assert "parameter/shop/stripe" not in api
    assert 'name   = "shop-team-billing-read-secrets"' in payments and "kms:Decrypt" in payments
    assert "execution_invoices" not in payments  # no secrets, no policy
    shared = files["shared/iam/main.tf"]
    assert 'resource "aws_iam_role_policy" "execution_read_secrets"' not in shared
    assert 'resource "aws_iam_role_policies_exclusive" "execution"' not in shared
    assert "execution_role_name" not in files["services/worker/variables.tf"]


# -------------------------------------------------- shared values, literal inputs


def _declared(text: str, kind: str) -> list[str]:
    return re.findall(rf'^{kind} "([^"]+)"', text, re.MULTILINE)


def _outputs_document(files: dict[str, str]) -> dict[str, Any]:
    """What `terraform output -json` prints for the fixture's shared root, with made-up ids."""
    values: dict[str, Any] = {name: f"{name}-0123" for name in _declared(files["shared/outputs.tf"], "output")}
    values["subnet_ids"] = ["subnet-0a", "subnet-0b"]
    values["security_group_ids"] = {name: f"sg-{name}" for name in ("api", "billing", "invoices", "worker")}
    values["alarm_names"] = ["a", "b"]
    return {name: {"sensitive": False, "type": "string", "value": value} for name, value in values.items()}


def test_every_service_root_input_is_a_shared_output_and_the_mapping_gives_exactly_its_variables() -> None:
    files = _files(FIXTURE)
    cfg = load_env(FIXTURE, ENV).config
    outputs = _outputs_document(files)
    shared_outputs = set(_declared(files["shared/outputs.tf"], "output"))
    for layout in split_layout(ENV, cfg)[1:]:
        variables = _declared(files[f"{layout.path}/variables.tf"], "variable")
        assert set(variables) <= shared_outputs, layout.name
        assert sorted(input_values(cfg, layout, outputs)) == sorted(variables), layout.name
    assert {v.name for v in SHARED_VALUES} <= shared_outputs


def test_input_values_of_a_root_name_its_own_and_its_callees_groups_only() -> None:
    cfg = load_env(FIXTURE, ENV).config
    outputs = _outputs_document(_files(FIXTURE))
    worker = RootLayout(ENV, "worker", ("worker",))
    values = input_values(cfg, worker, outputs)
    assert values["security_group_ids"] == {"worker": "sg-worker", "billing": "sg-billing"}
    assert values["subnet_ids"] == ["subnet-0a", "subnet-0b"]
    assert values["scheduler_role_arn"] == "scheduler_role_arn-0123"
    assert "api_id" not in values and "execution_role_name" not in values
    text = inputs_text(values)
    assert json.loads(text) == values and text.endswith("}\n") and text == inputs_text(dict(reversed(values.items())))
    assert worker.inputs_file == ".hclforge/envs/team/services/worker/shared-inputs.tfvars.json"
    assert shared_outputs_file(ENV) == ".hclforge/envs/team/shared/shared-outputs.json"


def test_input_values_refuse_outputs_shared_does_not_have_yet() -> None:
    cfg = load_env(FIXTURE, ENV).config
    outputs = _outputs_document(_files(FIXTURE))
    payments = RootLayout(ENV, "payments", ("billing", "invoices"))
    del outputs["vpc_link_id"]
    with pytest.raises(SharedOutputsError, match="has no output vpc_link_id, which root payments takes: apply shared"):
        input_values(cfg, payments, outputs)
    outputs = _outputs_document(_files(FIXTURE))
    outputs["security_group_ids"]["value"].pop("invoices")
    with pytest.raises(SharedOutputsError, match="no security group of invoices"):
        input_values(cfg, payments, outputs)
    outputs = _outputs_document(_files(FIXTURE))
    outputs["subnet_ids"]["value"] = "subnet-0a"
    with pytest.raises(SharedOutputsError, match="subnet_ids is not a list"):
        input_values(cfg, payments, outputs)


# ------------------------------------------------------- writing the tree


def test_switching_to_split_and_back_leaves_no_file_or_directory_behind(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "envs/solo.yaml").write_text("extends: [_base]\n", encoding="utf-8")
    one = render.render(root, "solo")
    render.write_tree(root, one)
    tree = root / "modules/solo"
    (tree / ".terraform").mkdir()
    (tree / ".terraform/marker").write_text("kept")
    (root / "envs/solo.yaml").write_text((FIXTURE / "envs/team.yaml").read_text(), encoding="utf-8")
    render.write_tree(root, render.render(root, "solo"))
    on_disk = {p.relative_to(tree).as_posix() for p in tree.rglob("*.tf")}
    assert on_disk == set(render.render(root, "solo").files)
    (tree / "services/api/.terraform").mkdir()
    (root / "envs/solo.yaml").write_text("extends: [_base]\n", encoding="utf-8")
    render.write_tree(root, one)
    assert {p.relative_to(tree).as_posix() for p in tree.rglob("*") if ".terraform" not in p.parts} == {
        *one.files,
        *{str(Path(f).parent) for f in one.files if "/" in f},
    } | {"services", "services/api"}
    assert (tree / ".terraform/marker").read_text() == "kept"
    assert not (tree / "shared").exists() and not (tree / "services/worker").exists()


def test_render_steps_over_each_roots_terraform_directory(tmp_path: Path) -> None:
    """terraform links providers from its plugin cache into each root's .terraform/."""
    root = _copy(tmp_path)
    render.write_tree(root, render.render(root, ENV))
    elsewhere = tmp_path / "plugin-cache"
    elsewhere.mkdir()
    providers = root / "modules/team/shared/.terraform/providers"
    providers.mkdir(parents=True)
    (providers / "aws").symlink_to(elsewhere, target_is_directory=True)
    _edit(root, _service("api", lambda s: s.update(desired_count=2)))
    changes = render.write_tree(root, render.render(root, ENV))
    assert [c.path for c in changes if c.action != "identical"] == ["services/api/ecs/main.tf"]
    assert (providers / "aws").is_symlink()


def test_a_symlinked_root_is_still_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    render.write_tree(root, render.render(root, ENV))
    target = tmp_path / "elsewhere"
    shutil.move(root / "modules/team/services/worker", target)
    (root / "modules/team/services/worker").symlink_to(target, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="services/worker is a symbolic link"):
        render.write_tree(root, render.render(root, ENV))


# ------------------------------------------------------------------ rules

HEAD = """\
project: demo
aws:
  region: eu-west-1
network:
  vpc_id: vpc-0123456789abcdef0
  private_subnet_ids: [subnet-0123456789abcdef0]
services:
  api: {image: "nginx:1.27", port: 80, routes: ["GET /"]}
  billing: {image: "nginx:1.27", port: 81}
"""

RULES = [
    (
        "groups without split",
        "state:\n  groups: #!\n    pay: [billing]\n",
        "state.groups",
        "only allowed with split: service",
    ),
    (
        "group named shared",
        "state:\n  split: service\n  groups:\n    shared: [billing] #!\n",
        "state.groups.shared",
        "the shared root's name",
    ),
    (
        "group named as a service",
        "state:\n  split: service\n  groups:\n    api: [billing] #!\n",
        "state.groups.api",
        "also a service's name",
    ),
    (
        "group name",
        "state:\n  split: service\n  groups:\n    Pay_Team: [billing] #!\n",
        "state.groups.Pay_Team",
        "not a valid root name (allowed: ^[a-z][a-z0-9-]{0,31}$)",
    ),
    (
        "unknown service",
        "state:\n  split: service\n  groups:\n    pay:\n      - billing\n      - invoices #!\n",
        "state.groups.pay[1]",
        "no service 'invoices' (services: api, billing)",
    ),
    (
        "two groups",
        "state:\n  split: service\n  groups:\n    pay: [billing]\n    team:\n      - api\n      - billing #!\n",
        "state.groups.team[1]",
        "'billing' is already in group 'pay'",
    ),
    (
        "twice in a group",
        "state:\n  split: service\n  groups:\n    pay:\n      - billing\n      - billing #!\n",
        "state.groups.pay[1]",
        "'billing' is already earlier in this group",
    ),
    ("empty group", "state:\n  split: service\n  groups:\n    pay: [] #!\n", "state.groups.pay", "lists no services"),
    ("split value", "state:\n  split: services #!\n", "state.split", "'none' or 'service'"),
]


@pytest.mark.parametrize(("text", "ypath", "message"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_state_rules_name_file_line_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, ypath: str, message: str
) -> None:
    (tmp_path / "envs").mkdir()
    body = HEAD + text
    (tmp_path / "envs/bad.yaml").write_text(body, encoding="utf-8")
    line = next(n for n, row in enumerate(body.splitlines(), start=1) if "#!" in row)
    before = tree_snapshot(tmp_path)
    code = main(["--root", str(tmp_path), "render", "bad"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert any(row.startswith(f"envs/bad.yaml:{line}: {ypath}: ") and message in row for row in err.splitlines()), err
    assert "Traceback" not in err and tree_snapshot(tmp_path) == before


def test_a_service_named_shared_needs_a_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "envs").mkdir()
    body = HEAD + '  shared: {image: "nginx:1.27"} #!\nstate:\n  split: service\n'
    (tmp_path / "envs/bad.yaml").write_text(body, encoding="utf-8")
    assert main(["--root", str(tmp_path), "render", "bad"]) == 2
    assert "envs/bad.yaml:10: services.shared: with split: service this service's root would be named 'shared'" in (
        capsys.readouterr().err
    )
    (tmp_path / "envs/bad.yaml").write_text(body + "  groups: {misc: [shared]}\n", encoding="utf-8")
    assert main(["--root", str(tmp_path), "render", "bad"]) == 0, capsys.readouterr().err
    assert (tmp_path / "modules/bad/services/misc/main.tf").is_file()


def test_addons_are_refused_in_a_split_environment_for_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy(tmp_path)
    (root / "addons/team").mkdir(parents=True)
    (root / "addons/team/queue.tf").write_text('resource "aws_sqs_queue" "jobs" {}\n', encoding="utf-8")
    assert main(["--root", str(root), "render", "team", "one"]) == 2
    err = capsys.readouterr().err
    assert "envs/team.yaml:3: state.split: addons are not rendered into split roots yet (addons/team/queue.tf)" in err
    assert not (root / "modules").exists()
    (root / "addons/one").mkdir()
    (root / "addons/team/queue.tf").rename(root / "addons/one/queue.tf")
    assert main(["--root", str(root), "render", "team", "one"]) == 0, capsys.readouterr().err
    assert (root / "modules/one/addon_queue.tf").is_file()


def test_schema_knows_the_state_section() -> None:
    state = env_schema()["$defs"]["StateConfig"]["properties"]
    assert state["split"]["anyOf"][0]["enum"] == ["none", "service"]
    assert state["split"]["default"] == "none"
    assert state["groups"]["anyOf"][0]["additionalProperties"]["anyOf"][0]["type"] == "array"


# ---------------------------------------------------------- on the emulator

MINI = """\
project: splitdemo
aws: {region: ap-northeast-1, emulator: true}
backend: {type: s3, bucket: splitdemo-state}
protect: true
network:
  create: {cidr: 10.61.0.0/16, private_subnets: 1}
alarms:
  sns_topic_arn: "arn:aws:sns:ap-northeast-1:123456789012:splitdemo-ops"
  services:
    billing: {cpu_percent: 70}
services:
  api:
    image: nginx:1.27
    port: 80
    routes: ["GET /"]
    calls: [billing]
    secrets: {TOKEN: "arn:aws:ssm:ap-northeast-1:123456789012:parameter/demo/token"}
  billing: {image: "nginx:1.27", port: 81, routes: ["POST /billing"]}
  worker: {image: "nginx:1.27", calls: [billing]}
scheduled_tasks:
  nightly: {service: worker, schedule: rate(1 day)}
state:
  split: service
  groups: {back: [billing, worker]}
"""
BUCKET, PREFIX = "splitdemo-state", "splitdemo/mini"
SERVICE_ROOTS = ("services/api", "services/back")
HCLFORGE = str(Path(sys.executable).parent / "hclforge")
# A shell's AWS setup that must reach neither terraform nor boto3 on an emulator environment:
# a profile that does not exist, and endpoints where nothing listens.
STRAY_AWS = {
    "AWS_PROFILE": "hclforge-no-such-profile",
    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_ECS": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
}


@pytest.mark.emulator
@pytest.mark.slow
def test_a_split_environment_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23's acceptance, through the CLI, on one protected environment (an S3 backend on the
    emulator, three services that call each other, one group, routes, a schedule, alarms):
    planned before shared exists (exit 3), applied in one command, planned again with no change in
    any root, one root locked by another machine (named, the others planned), set-image changing
    one root's files, two deploys of two roots at once (and a whole apply refused meanwhile),
    a destroy stopped by SIGTERM in its parallel phase, then destroyed to an empty emulator.
    Its own emulator (the project's), stopped at the end."""
    root = tmp_path / "p"
    (root / "envs").mkdir(parents=True)
    (root / "envs/mini.yaml").write_text(MINI, encoding="utf-8")
    shutil.copy(ROOT / "hclforge.toml", root / "hclforge.toml")
    for name, value in STRAY_AWS.items():
        monkeypatch.setenv(name, value)  # and so in each hclforge this test starts
    log = logged_terraform(tmp_path, monkeypatch)
    try:
        _round_trip(root, capsys, log)
    finally:
        main(["--root", str(root), "emulator", "stop"])


def _cli(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-color", "--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _spawn(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HCLFORGE, "--no-color", "--root", str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _states(root: Path) -> dict[str, dict[str, Any]]:
    s3 = emulator_client(root, "s3")
    return {
        path: json.loads(s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{path}.tfstate")["Body"].read())
        for path in ("shared", *SERVICE_ROOTS)
    }


def _managed(state: dict[str, Any]) -> int:
    return len([r for r in state["resources"] if r["mode"] == "managed"])


def _round_trip(root: Path, capsys: pytest.CaptureFixture[str], log: Path) -> None:
    files = root / ".hclforge/envs/mini"
    assert _cli(root, capsys, "bootstrap", "mini")[0] == 0

    # Before shared exists, each service root waits for it: exit 3, and shared's plan is saved.
    code, out, err = _cli(root, capsys, "plan", "mini", "--detailed-exitcode")
    assert code == 3, out + err
    for path in SERVICE_ROOTS:
        assert f"after shared applies, mini/{path} is planned: shared has not been applied yet" in out, out

    # One command: shared (its saved plan, fresh), its outputs kept, then the service roots.
    log.write_text("")
    code, out, err = _cli(root, capsys, "apply", "mini", "--auto-approve")
    assert code == 0, out + err
    # Two reads of shared's state: its saved plan checked, and its outputs, never kept. None
    # before a root's plan (its removed blocks come from the plan file) or its apply (this
    # command made or checked the plan): there were seven, each a terraform process.
    pulls = [line for line in log.read_text().splitlines() if line.startswith("state pull")]
    assert len(pulls) == 2, log.read_text()
    assert "applying the saved plan .hclforge/envs/mini/shared/plan.tfplan" in err
    assert re.search(r"^applied mini \(3 roots\): \d+ created, 0 updated, 0 replaced, 0 deleted$", out, re.M), out
    states = _states(root)
    assert all(_managed(state) for state in states.values()), {k: _managed(v) for k, v in states.items()}
    for private in (
        files / "shared/shared-outputs.json",
        *(files / p / "shared-inputs.tfvars.json" for p in SERVICE_ROOTS),
    ):
        assert private.stat().st_mode & 0o777 == 0o600, private
    outputs = json.loads((files / "shared/shared-outputs.json").read_text(encoding="utf-8"))
    groups = outputs["security_group_ids"]["value"]
    rules = emulator_client(root, "ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [groups["billing"]]}]
    )
    sources = {
        r["ReferencedGroupInfo"]["GroupId"]
        for r in rules["SecurityGroupRules"]
        if not r["IsEgress"] and "ReferencedGroupInfo" in r
    }
    # One rule from the api root, and back's two: from worker, and from the VPC link (billing's routes).
    assert sources == {groups["api"], groups["worker"], outputs["vpc_link_security_group_id"]["value"]}
    iam = emulator_client(root, "iam")
    assert sorted(iam.list_role_policies(RoleName="splitdemo-mini-ecs-task-execution")["PolicyNames"]) == [
        "splitdemo-mini-api-read-secrets",
        "splitdemo-mini-cloudwatch-metrics",
    ]

    # kill -9 of hclforge while the service roots plan, then a plan again: no change in any root.
    # Before the fix, their terraform (on pipes) died of SIGPIPE with its state lock held.
    planning = _spawn(root, "plan", "mini")
    deadline = time.monotonic() + 240
    while not all(_terraform_planning(files / path / "plan.tfplan") for path in SERVICE_ROOTS):
        assert planning.poll() is None and time.monotonic() < deadline, planning.communicate()
        time.sleep(0.05)
    orphans = [pid for path in SERVICE_ROOTS for pid in _terraform_planning(files / path / "plan.tfplan")]
    planning.kill()
    planning.communicate()
    code, out, err = _cli(root, capsys, "plan", "mini", "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes. The infrastructure matches the configuration." in out
    for path in SERVICE_ROOTS:  # each left-behind plan waited for, and said so
        assert re.search(
            rf"^a plan of mini/{path} started at .* by pid \d+ (is still running|finished after)", err, re.M
        )
    for pid in orphans:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for path in ("shared", *SERVICE_ROOTS):
        assert f"mini/{path}: no changes\n" in err, err

    # Another machine's terraform holds api's state lock: api fails, by name; the others are planned.
    s3 = emulator_client(root, "s3")
    lock = {
        "ID": "0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
        "Operation": "OperationTypePlan",
        "Info": "",
        "Who": "alice@laptop",
        "Version": "1.10.0",
        "Created": "2026-12-01T10:00:00.000000Z",
        "Path": f"{BUCKET}/{PREFIX}/services/api.tfstate",
    }
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/services/api.tfstate.tflock", Body=json.dumps(lock).encode())
    code, out, err = _cli(root, capsys, "plan", "mini")
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/services/api.tfstate.tflock")
    assert code == 1, out + err
    assert "mini/services/api: failed\nerror: the state is locked by alice@laptop (plan)" in err, err
    assert "mini/services/back: no changes\n" in err and "mini/shared: no changes\n" in err
    assert err.rstrip().endswith("error: 1 root(s) of mini failed to plan: services/api"), err

    # set-image: files under that service's root only.
    for service, path in (("api", "services/api"), ("worker", "services/back")):
        before = tree_snapshot(root / "modules/mini")
        code, out, err = _cli(root, capsys, "set-image", "mini", service, "nginx:1.28")
        assert code == 0, out + err
        changed = _changed(before, tree_snapshot(root / "modules/mini"))
        assert changed and all(p.startswith(f"{path}/") for p in changed), changed

    # Two deploys of two roots at once: both ship. A whole apply meanwhile is refused, naming a deploy.
    deploys = [_spawn(root, "deploy", "mini", "--service", name, "--auto-approve") for name in ("api", "worker")]
    deadline = time.monotonic() + 240
    while '"plan"' not in _text(files / "services/api/running.json"):
        assert all(d.poll() is None for d in deploys) and time.monotonic() < deadline, [
            d.communicate() for d in deploys
        ]
        time.sleep(0.05)
    refused = subprocess.run(
        [HCLFORGE, "--no-color", "--root", str(root), "apply", "mini", "--auto-approve"], capture_output=True, text=True
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert re.search(r"the state is locked by hclforge pid \d+ \(deploy\)", refused.stderr), refused.stderr
    for deploy in deploys:
        out, err = deploy.communicate(timeout=300)
        assert deploy.returncode == 0, out + err
    ecs = emulator_client(root, "ecs")
    described = ecs.describe_services(cluster="splitdemo-mini", services=["api", "billing", "worker"])["services"]
    images = {
        s["serviceName"]: ecs.describe_task_definition(taskDefinition=s["taskDefinition"])["taskDefinition"][
            "containerDefinitions"
        ][0]["image"]
        for s in described
    }
    assert images == {"api": "nginx:1.28", "billing": "nginx:1.27", "worker": "nginx:1.28"}

    # A protected environment: --auto-approve is not enough.
    code, out, err = _cli(root, capsys, "destroy", "mini", "--auto-approve")
    assert code == 2 and "mini is protected (protect: true): destroy needs --force" in err, out + err
    _destroy_stopped_by_sigterm(root)
    code, out, err = _cli(root, capsys, "destroy", "mini", "--force", "--yes-i-mean-mini")
    assert code == 0, out + err
    assert out.strip() == "destroyed mini (3 roots)"
    _assert_emulator_empty(root)


def _terraform_planning(plan_file: Path) -> list[int]:
    """The pids of the terraform processes writing ``plan_file`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if f"-out={plan_file}".encode() in argv:
            found.append(int(entry.name))
    return found


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _destroy_stopped_by_sigterm(root: Path) -> None:
    """SIGTERM while both service roots destroy: each terraform is stopped and waited for, its lock
    released and its state whole; shared is left alone; nothing runs on."""
    files = root / ".hclforge/envs/mini"
    before = _states(root)
    proc = _spawn(root, "destroy", "mini", "--force", "--yes-i-mean-mini")
    notes: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 240
    while len(notes) < len(SERVICE_ROOTS):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        for path in SERVICE_ROOTS:
            text = _text(files / path / "running.json")
            if '"destroy"' in text:
                notes[path] = json.loads(text)
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, out + err
    assert "error: interrupted (SIGTERM) in mini: " in err and "Traceback" not in err, err
    for path, note in notes.items():
        with pytest.raises(ProcessLookupError):
            os.kill(note["pid"], 0)  # terraform has ended: hclforge waited for it
        assert not (files / path / "running.json").exists()
        with envlock.holding(files / path / "command.lock", f"mini/{path}", "check"):
            pass
    keys = [o["Key"] for o in emulator_client(root, "s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert not [k for k in keys if k.endswith(".tflock")], keys
    after = _states(root)
    assert _managed(after["shared"]) == _managed(before["shared"])  # shared is destroyed last: not reached
    assert all(state["lineage"] == before[path]["lineage"] for path, state in after.items())


def _assert_emulator_empty(root: Path) -> None:
    ecs = emulator_client(root, "ecs")
    assert all(c["status"] != "ACTIVE" for c in ecs.describe_clusters(clusters=["splitdemo-mini"])["clusters"])
    arns = ecs.list_services(cluster="splitdemo-mini")["serviceArns"]
    left = ecs.describe_services(cluster="splitdemo-mini", services=arns)["services"] if arns else []
    assert [s["serviceName"] for s in left if s["status"] == "ACTIVE"] == []
    assert ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"] == []
    ec2 = emulator_client(root, "ec2")
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []
    assert [
        g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"
    ] == []
    assert emulator_client(root, "apigatewayv2").get_apis()["Items"] == []
    iam = emulator_client(root, "iam")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("splitdemo-mini")] == []
    assert iam.list_policies(Scope="Local")["Policies"] == []
    assert emulator_client(root, "logs").describe_log_groups()["logGroups"] == []
    sd = emulator_client(root, "servicediscovery")
    assert sd.list_namespaces()["Namespaces"] == [] and sd.list_services()["Services"] == []
    assert emulator_client(root, "scheduler").list_schedules()["Schedules"] == []
    assert emulator_client(root, "cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert emulator_client(root, "events").list_rules()["Rules"] == []
    assert all(_managed(state) == 0 for state in _states(root).values())
    assert not (root / shared_outputs_file("mini")).exists()


@pytest.mark.parametrize("command", [["routes", "team", "--emulator"]])
def test_commands_of_one_root_refuse_a_split_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """Before this guard, routes planned nothing and reported no route: modules/team/ holds no root."""
    from hclforge.cli.main import main

    shutil.copytree(FIXTURE, tmp_path / "p", ignore=shutil.ignore_patterns(".terraform", ".hclforge"))
    assert main(["--no-color", "--root", str(tmp_path / "p"), *command]) == 2
    err = capsys.readouterr().err
    assert "team has state.split: service: this command works on one root" in err
    assert not (tmp_path / "p/.hclforge/emulator.json").exists()  # nothing started


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["plan", "team", "--root", "services/nope"], "team has no root services/nope; its roots: shared, "),
        (["plan", "team", "--service", "nope"], "team has no service nope; services: api, billing"),
        (["plan", "one", "--root", "shared"], "one has one state (no state.split): its only root is '.'"),
        (["apply", "one", "--service", "api"], "run 'hclforge deploy one --service api'"),
        (["plan", "team", "--json-out", "x.json"], "--json-out writes one root's plan: add --root ROOT"),
        (["plan", "team", "--baseline", "HEAD"], "--baseline applies one tree; team is split into roots"),
        (["init", "team", "--root", "services/billing"], "team has no root services/billing; its roots: shared, "),
        (["output", "one", "--root", "shared"], "one has one state (no state.split): its only root is '.'"),
    ],
)
def test_root_options_name_what_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    from hclforge.cli.main import main

    shutil.copytree(FIXTURE, tmp_path / "p", ignore=shutil.ignore_patterns(".terraform", ".hclforge"))
    assert main(["--no-color", "--root", str(tmp_path / "p"), *command]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p/.hclforge/emulator.json").exists()  # refused before anything started
