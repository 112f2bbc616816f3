"""A state per service (issue 23, first slice): the split roots' configuration, rules and rendering.

The fixture ``tests/fixtures/split`` is one shop of four services, rendered with a state per
service (``team``: roots shared, api, payments = billing + invoices, worker) and as one root
(``one``, the same YAML without ``state``). Its split tree is committed under
``tests/fixtures/split/modules/team/``, so a reviewer sees what a template change does to it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from python_terraform import IsFlagged

from hclforge import render
from hclforge.cli import emulator
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
from tests.conftest import ROOT, tree_snapshot

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


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
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
network:
  create: {cidr: 10.61.0.0/16, private_subnets: 1}
services:
  api:
    image: nginx:1.27
    port: 80
    routes: ["GET /"]
    calls: [billing]
    secrets: {TOKEN: "arn:aws:ssm:ap-northeast-1:123456789012:parameter/demo/token"}
  billing: {image: "nginx:1.27", port: 81}
  worker: {image: "nginx:1.27", calls: [billing]}
scheduled_tasks:
  nightly: {service: worker, schedule: rate(1 day)}
state:
  split: service
  groups: {back: [billing, worker]}
"""


@pytest.mark.emulator
@pytest.mark.slow
def test_roots_apply_in_order_with_shared_values_as_literal_inputs(tmp_path: Path, tf_env: dict[str, str]) -> None:
    """shared applies; its `terraform output -json`, mapped by roots.input_values, is each service
    root's -var-file; every root then re-plans clean, shared included (the rules other roots add to
    its security groups are no drift of its own). An emulator of its own: nothing is left in the
    session's."""
    moto = emulator.start(tmp_path / "emulator", 0)
    try:
        _apply_split_roots(tmp_path, tf_env, moto)
    finally:
        emulator.stop(tmp_path / "emulator")


def _apply_split_roots(tmp_path: Path, tf_env: dict[str, str], moto: emulator.Emulator) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs/mini.yaml").write_text(MINI, encoding="utf-8")
    cfg = load_env(tmp_path, "mini").config
    render.write_tree(tmp_path, render.render(tmp_path, "mini"))
    env = {**tf_env, **moto.client_env("ap-northeast-1")}
    layouts = split_layout("mini", cfg)

    def terraform(layout: RootLayout) -> Terraform:
        return Terraform(tmp_path / layout.tree_dir, env={**env, "TF_DATA_DIR": str(tmp_path / "data" / layout.name)})

    def plan(layout: RootLayout) -> tuple[Terraform, Path, bool]:
        tf = terraform(layout)
        out = tmp_path / f"{layout.name}.tfplan"
        var_file = None if layout.shared else str(tmp_path / layout.inputs_file)
        changes = tf.run("plan", ok=(0, 2), out=str(out), detailed_exitcode=IsFlagged, var_file=var_file)
        return tf, out, changes.returncode == 2

    shared = layouts[0]
    terraform(shared).init()
    tf, out, _ = plan(shared)
    tf.apply_plan(out)
    outputs = tf.output_json()
    for layout in layouts[1:]:
        path = tmp_path / layout.inputs_file
        path.parent.mkdir(parents=True)
        path.write_text(inputs_text(input_values(cfg, layout, outputs)), encoding="utf-8")
        terraform(layout).init()
        tf, out, changes = plan(layout)
        assert changes
        tf.apply_plan(out)
    assert [plan(layout)[2] for layout in layouts] == [False, False, False]
    assert (tmp_path / ".hclforge/envs/mini/services/back/terraform.tfstate").is_file()

    ec2 = moto.client("ec2", "ap-northeast-1")
    groups = outputs["security_group_ids"]["value"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [groups["billing"]]}])
    sources = {
        r["ReferencedGroupInfo"]["GroupId"]
        for r in rules["SecurityGroupRules"]
        if not r["IsEgress"] and "ReferencedGroupInfo" in r
    }
    assert sources == {groups["api"], groups["worker"]}  # one rule from the api root, one from back's
    iam = moto.client("iam", "ap-northeast-1")
    assert sorted(iam.list_role_policies(RoleName="splitdemo-mini-ecs-task-execution")["PolicyNames"]) == [
        "splitdemo-mini-api-read-secrets",
        "splitdemo-mini-cloudwatch-metrics",
    ]


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
