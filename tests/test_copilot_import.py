"""``hclforge import copilot`` (issue 22): real Copilot manifests in, environment files that validate out.

The fixtures under tests/fixtures/copilot/ are Copilot's own manifests (see its README);
each test imports them into a project made by ``hclforge new``, as a team would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hclforge.cli.main import main
from hclforge.config import load_env
from hclforge.copilot.manifests import Yaml12Loader, for_env, leaves, read_workspace
from hclforge.copilot.schedule import ScheduleError, convert
from hclforge.errors import ConfigError
from hclforge.source import dotted, load_document
from tests.conftest import ROOT, tree_snapshot

FIXTURES = ROOT / "tests/fixtures/copilot"
ACCOUNT = "111122223333"
ECR = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture
def new_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A project just made by ``hclforge new``."""
    root = tmp_path / "proj"
    assert main(["new", str(root), "--region", "eu-west-1"]) == 0
    capsys.readouterr()
    return root


def _import(root: Path, app: str, *args: str) -> int:
    return main(["--root", str(root), "import", "copilot", str(FIXTURES / app), *args])


def _show(root: Path, env: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["--root", str(root), "show", env, "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


MULTI_IMAGES = (
    "--image",
    f"front-end={ECR}/front-end:1",
    "--image",
    f"testers={ECR}/testers:1",
    "--image",
    f"cuteness-aggregator={ECR}/ca:1",
)


# ------------------------------------------------------------------ the command


def test_import_names_the_images_to_supply_then_validates_once_they_are(
    new_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _import(new_project, "multi-svc", "--region", "eu-west-1", "--account-id", ACCOUNT) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in (new_project / "envs").glob("*.yaml")) == [
        "_base.yaml",
        "_copilot.yaml",
        "dev.yaml",
        "local.yaml",
        "prod.yaml",
        "test.yaml",
    ]
    # Each built image fails validation at its file:line, saying what to pass.
    todo = out[out.index("To supply") :]
    for name in ("front-end", "testers", "cuteness-aggregator"):
        assert f"services.{name}.image: not a container image reference" in todo
        text = (new_project / "envs/_copilot.yaml").read_text()
        line = next(i for i, t in enumerate(text.splitlines(), 1) if f"pass --image {name}=URI" in t)
        assert f"envs/_copilot.yaml:{line}: services.{name}.image" in todo
    with pytest.raises(ConfigError):
        load_env(new_project, "test")

    assert (
        _import(new_project, "multi-svc", "--region", "eu-west-1", "--account-id", ACCOUNT, "--force", *MULTI_IMAGES)
        == 0
    )
    assert "To supply" not in capsys.readouterr().out
    for env in ("test", "prod"):
        load_env(new_project, env)  # raises on any problem
    test = _show(new_project, "test", capsys)
    assert test["network"]["vpc_id"] == "vpc-0a1b2c3d4e5f60718"
    assert test["network"]["private_subnet_ids"] == ["subnet-0a1b2c3d4e5f60713", "subnet-0a1b2c3d4e5f60714"]
    assert _show(new_project, "prod", capsys)["network"]["create"]["cidr"] == "10.0.0.0/16"
    front = test["services"]["front-end"]
    assert front["image"] == f"{ECR}/front-end:1"
    assert front["routes"] == ["$default"]
    assert front["autoscaling"] == {"min": 2, "max": 5, "cpu_target": 70, "memory_target": 80}
    assert front["desired_count"] == 2 and front["ephemeral_storage_gib"] == 30 and front["port"] == 80
    # yaml.v3 (Copilot) reads `on` as the string "on", not as true.
    assert front["environment"] == {"TEST_JSON_ENV_VAR": "{}", "TEST_BOOL_ENV_VAR": "on", "TEST_JOB_CHECK_VAR": "no"}
    job = test["services"]["job"]
    assert job["desired_count"] == 0 and job["ephemeral_storage_gib"] == 200
    assert job["secrets"] == {
        "SQL_PASS": f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/SQL_PASS",
        "DB": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:demo/test/mysql",
    }
    assert job["sidecars"]["nginx"]["depends_on_main"] is True
    assert test["scheduled_tasks"]["job"]["schedule"] == "cron(0 12 ? * MON *)"
    assert test["scheduled_tasks"]["cuteness-aggregator"]["schedule"] == "cron(0 0/2 * * ? *)"
    assert test["services"]["subscribers"]["health_check"]["interval"] == 6
    assert set(test["services"]) == {"cuteness-aggregator", "front-end", "job", "subscribers", "testers"}


def test_the_report_names_every_unsupported_field(new_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _import(new_project, "multi-svc", "--region", "eu-west-1", "--account-id", ACCOUNT) == 0
    out = capsys.readouterr().out
    unsupported = [line for line in out.splitlines() if line.startswith("not supported")]
    for where, field in [
        ("front-end/manifest.yml:25", "nlb"),
        ("front-end/manifest.yml:46", "storage.volumes.efsTestVolume"),
        ("front-end/manifest.yml:57", "env_file"),
        ("testers/manifest.yml:24", "subscribe"),
        ("job/manifest.yml:39", "publish"),
        ("job/manifest.yml:27", "retries"),
        ("job/manifest.yml:29", "timeout"),
        ("job/manifest.yml:45", "secrets.GIT_USERNAME"),
        ("job/manifest.yml:71", "network.vpc.security_groups"),
        ("frontend/manifest.yml:8", "type"),
        ("svc/manifest.yml:7", "type"),
        ("cuteness-aggregator/manifest.yml:38", "environments.phonetool.network.vpc.placement"),
    ]:
        assert any(f"copilot/{where} " in line and f" {field} " in line for line in unsupported), (where, field)
    assert "Request-Driven Web Service: not imported; nearest:" in out
    assert "Static Site: not imported; nearest: an S3 bucket and CloudFront distribution as an addon" in out
    assert "from_cfn stack-SSMGHUserName: a CloudFormation export is not read" in out
    assert "Worker Service's SQS queue" in out and "addons/<env>/*.tf" in out


@pytest.mark.parametrize(("app", "images"), [("multi-svc", ()), ("fe", ()), ("orders", ())])
def test_every_field_met_has_a_row(
    new_project: Path, capsys: pytest.CaptureFixture[str], app: str, images: tuple[str, ...]
) -> None:
    """Nothing is dropped silently: every field written in a manifest is named by a row (or its parent's)."""
    assert _import(new_project, app, "--region", "eu-west-1", "--account-id", ACCOUNT, *images) == 0
    out = capsys.readouterr().out
    rows: dict[str, set[str]] = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[0] in ("mapped", "changed", "not"):
            where, field = (parts[2], parts[3]) if parts[0] == "not" else (parts[1], parts[2])
            rows.setdefault(where.split(":")[0], set()).add(field)
    ws = read_workspace(FIXTURES / app)
    for manifest in [*ws.workloads.values(), *ws.envs.values()]:
        fields = rows[manifest.file]
        for leaf in leaves(manifest.data):
            names = {dotted(leaf[:n]) for n in range(1, len(leaf) + 1)}
            parts = [f for f in fields if f.startswith((f"{dotted(leaf)}[", f"{dotted(leaf)}."))]
            assert names & fields or parts, f"{manifest.file}: {dotted(leaf)} has no row"


def test_orders_values_appear_in_show(new_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _import(new_project, "orders", "--image", f"api={ECR}/orders-api:abc123") == 0
    out = capsys.readouterr().out
    assert "aws.region: eu-west-1 (from the certificate arn:aws:acm:eu-west-1:123456789012" in out
    test, prod = _show(new_project, "test", capsys), _show(new_project, "prod", capsys)
    api = test["services"]["api"]
    assert (api["cpu"], api["memory"], api["port"], api["exec"]) == (512, 1024, 8080, True)
    assert api["cpu_architecture"] == "ARM64"
    assert api["routes"] == ["ANY /api", "ANY /api/{proxy+}"]
    assert api["autoscaling"] == {"min": 1, "max": 4, "cpu_target": 60, "memory_target": None}
    assert api["secrets"]["DB_PASSWORD"] == (
        "arn:aws:ssm:eu-west-1:123456789012:parameter/copilot/orders/test/secrets/db_password"
    )
    assert (
        api["secrets"]["STRIPE_KEY"] == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/stripe:api_key::"
    )
    # A variable naming another service's endpoint opens calls, rewritten to hclforge's name.
    assert api["environment"]["PAYMENTS_URL"] == "http://payments.orders-test.internal:8081"
    assert api["calls"] == ["payments"]
    assert test["services"]["nightly"]["environment"]["API_URL"] == "http://api.orders-test.internal:8080"
    assert test["services"]["nightly"]["calls"] == ["api"]
    assert test["api"]["domain"] == {
        "name": "api.orders.example.com",
        "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "zone_id": "Z0873220N255IR3MTNR4",
    }
    assert test["scheduled_tasks"]["nightly"]["schedule"] == "cron(0 0 * * ? *)"
    assert prod["scheduled_tasks"]["nightly"]["schedule"] == "cron(30 2 ? * MON-FRI *)"
    assert test["services"]["nightly"]["command"] == ["python", "-m", "report", "--since", "1 day"]
    assert test["services"]["payments"]["ephemeral_storage_gib"] == 50
    # Environment overrides: prod's size, range and spot.
    assert (prod["services"]["api"]["cpu"], prod["services"]["api"]["memory"]) == (1024, 2048)
    assert prod["services"]["api"]["autoscaling"] == {"min": 2, "max": 10, "cpu_target": 50, "memory_target": 70}
    payments = prod["services"]["payments"]
    assert payments["desired_count"] == 4 and payments["capacity"] == {"FARGATE_SPOT": {"base": 0, "weight": 1}}
    assert prod["cluster"]["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    assert test["services"]["payments"]["desired_count"] == 2
    assert prod["network"]["create"] == {
        "cidr": "10.1.0.0/16",
        "private_subnets": 3,
        "egress": "nat",
        "nat_gateways": 1,
    }


def test_fe_overrides_per_environment(new_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Copilot's svc-manifest.yml: spot in staging, a spot_from range in prod, autoscaling in test."""
    args = ("--region", "us-west-2", "--account-id", ACCOUNT, "--image", f"fe={ECR}/fe:1", "--image", "dogworker=x/y:1")
    assert _import(new_project, "fe", *args, "--image", "http-full-config=x/z:1") == 0
    out = capsys.readouterr().out
    assert "To supply" not in out
    staging, prod, test = (_show(new_project, e, capsys)["services"] for e in ("staging", "prod", "test"))
    assert staging["fe"]["desired_count"] == 5 and staging["fe"]["capacity"] == {
        "FARGATE_SPOT": {"base": 0, "weight": 1}
    }
    assert prod["fe"]["capacity"] == {"FARGATE_SPOT": {"base": 0, "weight": 1}, "FARGATE": {"base": 5, "weight": 0}}
    assert prod["fe"]["autoscaling"]["min"] == 3 and prod["fe"]["log_retention_days"] == 1
    assert prod["fe"]["routes"] == ["ANY /superadmin", "ANY /superadmin/{proxy+}"]
    assert prod["fe"]["sidecars"]["nginx"]["port"] == 8080
    assert test["fe"]["autoscaling"] == {"min": 2, "max": 10, "cpu_target": 70, "memory_target": None}
    assert test["fe"]["routes"] == ["$default"]
    # The alias without a certificate is left as a comment naming what to give.
    assert "#   domain: {name: example.com, certificate_arn: ARN" in (new_project / "envs/test.yaml").read_text()
    assert "api.domain is left as a comment in the environment file" in out
    assert "project: fe (no copilot/.workspace names the application: named after its folder)" in out


def test_one_environment_under_a_new_name(new_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--account-id", ACCOUNT, "--region", "us-west-2", "--env", "prod=fe-prod", "--image", "dogworker=x/y:1")
    assert _import(new_project, "fe", *args, "--image", "fe=x/fe:1", "--image", "http-full-config=x/h:1") == 0
    out = capsys.readouterr().out
    assert (new_project / "envs/fe-prod.yaml").is_file() and not (new_project / "envs/prod.yaml").exists()
    assert "environment staging is not imported (pass --env staging to import it)" in out
    cfg = _show(new_project, "fe-prod", capsys)
    assert cfg["service_discovery"]["namespace"] == "fe-fe-prod.internal"


def test_an_unset_shell_variable_fails_validation_until_it_is_set(
    new_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """svc-manifest.yml's staging image is ``…/vault/e2e:${TAG}``: Copilot reads TAG from the shell."""
    monkeypatch.delenv("TAG", raising=False)
    args = ("--region", "us-west-2", "--account-id", ACCOUNT, "--env", "staging", "--image", "dogworker=x/y:1")
    assert _import(new_project, "fe", *args, "--image", "http-full-config=x/z:1") == 0
    out = capsys.readouterr().out
    assert "keeps ${TAG} (not set in this shell) and fails validation" in out
    assert "services.fe.image: not a container image reference" in out
    monkeypatch.setenv("TAG", "1.4.2")
    assert _import(new_project, "fe", *args, "--image", "http-full-config=x/z:1", "--force") == 0
    capsys.readouterr()
    image = _show(new_project, "staging", capsys)["services"]["fe"]["image"]
    assert image == "123456789000.dkr.ecr.us-east-1.amazonaws.com/vault/e2e:1.4.2"


# ------------------------------------------------------------------ refusals


def test_existing_files_are_never_overwritten_without_force(
    new_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (new_project / "envs/test.yaml").write_text("project: mine\n")
    before = tree_snapshot(new_project)
    assert _import(new_project, "orders", "--image", "api=x/y:1") == 2
    err = capsys.readouterr().err
    assert f"{new_project / 'envs/test.yaml'} already exist(s): nothing was written" in err
    assert "--force" in err
    assert tree_snapshot(new_project) == before
    assert _import(new_project, "orders", "--image", "api=x/y:1", "--force") == 0
    assert "extends: [_copilot]" in (new_project / "envs/test.yaml").read_text()


@pytest.mark.parametrize(
    ("app", "args", "message"),
    [
        ("multi-svc", ("--account-id", ACCOUNT), "--region is needed: Copilot keeps environment prod's region outside"),
        ("multi-svc", ("--region", "eu-west-1"), "--account-id is needed: secrets name SSM parameters"),
        ("orders", ("--image", "nope=x:1"), "--image names no workload: nope"),
        ("orders", ("--image", "api"), "'api' is not SERVICE=URI"),
        ("orders", ("--env", "Bad"), "'Bad' cannot name an hclforge environment"),
        ("multi-svc", ("--region", "mars-1"), "'mars-1' is not an AWS region"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    new_project: Path, capsys: pytest.CaptureFixture[str], app: str, args: tuple[str, ...], message: str
) -> None:
    before = tree_snapshot(new_project)
    assert _import(new_project, app, *args) == 2
    assert message in capsys.readouterr().err
    assert tree_snapshot(new_project) == before


def test_a_broken_manifest_is_named_with_its_line(
    tmp_path: Path, new_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "orders", app)
    (app / "copilot/api/manifest.yml").write_text("name: api\ntype: Backend Service\nname: again\n")
    assert main(["--root", str(new_project), "import", "copilot", str(app)]) == 2
    err = capsys.readouterr().err
    assert "copilot/api/manifest.yml:3: name: duplicate key (first defined at line 1)" in err


def test_a_folder_without_manifests_is_refused(
    tmp_path: Path, new_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(new_project), "import", "copilot", str(tmp_path)]) == 2
    assert "holds no Copilot manifests" in capsys.readouterr().err


# ------------------------------------------------------------------ the parts


@pytest.mark.parametrize(
    ("copilot", "scheduler"),
    [
        ("@daily", "cron(0 0 * * ? *)"),
        ("@midnight", "cron(0 0 * * ? *)"),
        ("@hourly", "cron(0 * * * ? *)"),
        ("@weekly", "cron(0 0 ? * 1 *)"),
        ("@monthly", "cron(0 0 1 * ? *)"),
        ("@yearly", "cron(0 0 1 1 ? *)"),
        ("@every 1h30m", "rate(90 minutes)"),
        ("@every 5h", "rate(5 hours)"),
        ("@every 48h", "rate(2 days)"),
        ("@every 1m", "rate(1 minute)"),
        ("0 12 * * MON", "cron(0 12 ? * MON *)"),
        ("0 9 * * 1-5", "cron(0 9 ? * MON-FRI *)"),
        ("0 9 * * 0", "cron(0 9 ? * SUN *)"),
        ("0 9 * * 7", "cron(0 9 ? * SUN *)"),  # Sunday as 7: Copilot's own conversion writes 8
        ("0 9 * * */2", "cron(0 9 ? * SUN,TUE,THU,SAT *)"),  # Copilot's writes */3
        ("0 9 * * 6,0", "cron(0 9 ? * SUN,SAT *)"),
        ("*/15 * * * *", "cron(0/15 * * * ? *)"),
        ("0 */2 * * *", "cron(0 0/2 * * ? *)"),
        ("30 4 1 * *", "cron(30 4 1 * ? *)"),
        ("0 0 1-10/3 jan *", "cron(0 0 1,4,7,10 JAN ? *)"),
        ("0 0 * * 0-6", "cron(0 0 * * ? *)"),
        ("rate(10 minutes)", "rate(10 minutes)"),
        ("cron(0 12 ? * MON-FRI *)", "cron(0 12 ? * MON-FRI *)"),
    ],
)
def test_schedules_become_eventbridge_scheduler_expressions(copilot: str, scheduler: str) -> None:
    assert convert(copilot).expression == scheduler


def test_a_cron_time_zone_is_kept() -> None:
    converted = convert("CRON_TZ=Asia/Tokyo 30 8 * * *")
    assert (converted.expression, converted.timezone) == ("cron(30 8 * * ? *)", "Asia/Tokyo")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("none", "'none' disables the job"),
        ("0 9 1 * 1", "restricts both day-of-month and day-of-week"),
        ("@every 30s", "must be a whole number of minutes"),
        ("0 9 * * 8", "'8' is out of range (0-7)"),
        ("61 * * * *", "'61' is out of range (0-59)"),
        ("every day", "is not a schedule"),
        ("@sometimes", "is not a preset"),
        ("rate(5 fortnights)", "is not a rate expression"),
        ("cron(0 12 * * ?)", "is not an AWS cron expression"),
    ],
)
def test_schedules_that_cannot_convert_say_why(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=re_escape(message)):
        convert(schedule)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def _view(tmp_path: Path, text: str, env: str, shell: dict[str, str] | None = None) -> dict[str, Any]:
    (tmp_path / "copilot/svc").mkdir(parents=True, exist_ok=True)
    (tmp_path / "copilot/svc/manifest.yml").write_text(text)
    ws = read_workspace(tmp_path)
    return for_env(ws.workloads["svc"], env, "app", shell or {}).data


def test_overrides_follow_copilots_merge(tmp_path: Path) -> None:
    base = """\
name: svc
type: Backend Service
image: {build: Dockerfile, port: 80}
count: {range: 1-4, cpu_percentage: 50}
variables: {A: a, B: b}
secrets: {S: {from_cfn: x}}
environments:
  spot: {count: {spot: 3}}
  located: {image: {location: repo/img:1}}
  maps: {variables: {B: c}, secrets: {S: {secretsmanager: y}}, count: null}
"""
    assert _view(tmp_path, base, "spot")["count"] == {"spot": 3}  # spot unsets the autoscaling fields
    assert _view(tmp_path, base, "located")["image"] == {"port": 80, "location": "repo/img:1"}  # and drops build
    maps = _view(tmp_path, base, "maps")
    assert maps["variables"] == {"A": "a", "B": "c"}  # maps merge
    assert maps["secrets"] == {"S": {"secretsmanager": "y"}}  # a secret is replaced whole
    assert maps["count"] == {"range": "1-4", "cpu_percentage": 50}  # null overrides nothing
    assert _view(tmp_path, base, "other")["count"] == {"range": "1-4", "cpu_percentage": 50}


def test_variables_are_substituted_as_copilot_does(tmp_path: Path) -> None:
    text = (
        "name: svc\ntype: Backend Service\nvariables:\n"
        "  A: ${COPILOT_APPLICATION_NAME}-${COPILOT_ENVIRONMENT_NAME}\n  B: ${X}\n  C: \\${X}\n  D: ${NOPE}\n"
    )
    view = _view(tmp_path, text, "dev", {"X": "from-shell"})
    assert view["variables"] == {"A": "app-dev", "B": "from-shell", "C": "${X}", "D": "${NOPE}"}


def test_manifests_read_yaml_1_2_booleans(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text("on:\n  schedule: '@daily'\nA: yes\nB: true\nC: off\n")
    data = load_document(path, "m.yml", loader=Yaml12Loader).data
    assert data == {"on": {"schedule": "@daily"}, "A": "yes", "B": True, "C": "off"}


@pytest.mark.terraform
def test_an_imported_environment_passes_hclforge_validate(
    new_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schema, rules and terraform validate on the rendered tree (ARM64, a schedule, spot, a domain, calls)."""
    assert _import(new_project, "orders", "--image", f"api={ECR}/orders-api:abc123") == 0
    capsys.readouterr()
    assert main(["--root", str(new_project), "validate", "prod", "--no-routes"]) == 0
    assert "valid  prod" in capsys.readouterr().out


def test_an_unknown_field_is_reported_not_dropped(
    tmp_path: Path, new_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app/copilot"
    (app / "api").mkdir(parents=True)
    (app / "api/manifest.yml").write_text(
        "name: api\ntype: Backend Service\nimage: {location: repo/api:1, port: 80}\n"
        "gpu: 1\nimage_pull: {policy: always}\nenvironments:\n  test:\n    future_field: x\n"
    )
    assert (
        main(
            ["--root", str(new_project), "import", "copilot", str(app.parent), "--env", "test", "--region", "eu-west-1"]
        )
        == 0
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if "no equivalent of this field" in line]
    assert [line.split()[3] for line in rows] == ["gpu", "image_pull.policy", "environments.test.future_field"]
    assert [line.split()[2] for line in rows] == [
        "copilot/api/manifest.yml:4",
        "copilot/api/manifest.yml:5",
        "copilot/api/manifest.yml:8",
    ]


def test_addons_and_overrides_are_reported_as_cloudformation_never_dropped(
    tmp_path: Path, new_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Copilot's addons/ are CloudFormation: named in the report with where hclforge's addons go."""
    app = tmp_path / "app/copilot"
    (app / "api/addons").mkdir(parents=True)
    (app / "api/manifest.yml").write_text("name: api\ntype: Backend Service\nimage: {location: repo/api:1, port: 80}\n")
    (app / "api/addons/jobs.yml").write_text("Resources:\n  Jobs:\n    Type: AWS::SQS::Queue\n")
    (app / "api/overrides").mkdir()
    (app / "api/overrides/cfn.patches.yml").write_text("- op: add\n  path: /Resources/X\n  value: {}\n")
    (app / "environments/addons").mkdir(parents=True)
    (app / "environments/addons/bucket.yml").write_text("Resources:\n  B:\n    Type: AWS::S3::Bucket\n")
    args = ["--root", str(new_project), "import", "copilot", str(app.parent), "--env", "test", "--region", "eu-west-1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    rows = {line.split()[2]: line for line in out.splitlines() if "not imported" in line}
    assert set(rows) == {"copilot/api/addons/", "copilot/api/overrides/", "copilot/environments/addons/"}
    assert "CloudFormation templates, not imported" in rows["copilot/api/addons/"]
    assert "addons/<env>/*.tf" in rows["copilot/environments/addons/"]
    assert "not supported" in rows["copilot/api/overrides/"]
