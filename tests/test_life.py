"""The life of the ``local`` stack on the emulator, in one applied stack.

Plan, the refusals of a stale or unconfirmed apply, apply, re-plan, outputs and
what the emulator holds, drift; then day two (issue 12: set-image, deploy
--service, status, logs, run); then destroy. A secret is referenced from the
start, and at the end no file, summary or log holds its value.

One stack for all of it: creating one costs some 20 s the provider spends
waiting (the ECS cluster and its capacity providers each wait 10 s before the
first poll, on AWS as on the emulator).
"""

from __future__ import annotations

import difflib
import json
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hclforge.cli.summary import summarize
from tests.conftest import ROOT, emulator_client, run

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]
CANARY = "canary-s3cr3t-Value-8d2f"
NEW_IMAGE = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/sss-api:1.5.0"
# Runs one CLI command on the project: exit code, stdout, stderr.
Cli = Callable[..., tuple[int, str, str]]


def test_life_of_the_local_stack(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tmp_before = set(Path(tempfile.gettempdir()).iterdir())
    said: list[str] = []

    def cli(*args: str) -> tuple[int, str, str]:
        code, out, err = run(repo, capsys, *args)
        said.append(out + err)
        return code, out, err

    # A secret, referenced by its ARN only.
    assert cli("emulator", "start")[0] == 0
    arn = emulator_client(repo, "secretsmanager").create_secret(Name="sss/db", SecretString=CANARY)["ARN"]
    env_file = repo / "envs/local.yaml"
    env_file.write_text(
        env_file.read_text().replace("  api:\n", f"  api:\n    secrets:\n      DB_PASSWORD: {arn}\n", 1)
    )

    _plan_apply_and_read_back(repo, cli)
    _day_two(repo, cli, env_file)

    # Destroy (verbose: terraform's own lines are shown) leaves nothing of the stack.
    registries = _state_ids(repo, "aws_service_discovery_service")
    assert len(registries) == 2
    managed = [i for r in _state_resources(repo) if r["mode"] == "managed" for i in r["instances"]]
    code, out, err = cli("-v", "destroy", "local", "--auto-approve")
    assert code == 0, err
    # What was destroyed: the managed resources, not the data sources it read first.
    assert out.strip() == f"destroyed local: {len(managed)} resource(s)"
    ecs = emulator_client(repo, "ecs")
    assert all(c["status"] != "ACTIVE" for c in ecs.describe_clusters(clusters=["sss-local"])["clusters"])
    # Cloud Map services by id: once (in about a dozen runs) moto kept a second "api" the state never
    # held, which fits a create the provider retried under load (AWS makes that retry idempotent
    # with CreatorRequestId; moto keeps it but does not dedupe on it). What terraform made must be gone.
    left = emulator_client(repo, "servicediscovery").list_services()["Services"]
    assert not registries & {s["Id"] for s in left}, (left, err)
    assert emulator_client(repo, "apigatewayv2").get_apis()["Items"] == []
    assert emulator_client(repo, "sqs").list_queues().get("QueueUrls", []) == []  # the addon's queue too
    iam = emulator_client(repo, "iam")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("sss-local")] == []
    assert [v for v in emulator_client(repo, "ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []
    assert emulator_client(repo, "cognito-idp").list_user_pools(MaxResults=10)["UserPools"] == []
    logs = emulator_client(repo, "logs")
    assert not [g for g in logs.describe_log_groups()["logGroups"] if g["logGroupName"].startswith("/ecs/sss-local")]

    # The secret's value is nowhere: not in a file under the project, not in anything said.
    assert arn in (repo / "modules/local/ecs/main.tf").read_text()  # referenced by ARN
    leaks = [str(p) for p in repo.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert leaks == []
    assert not any(CANARY in text for text in said)
    # python-terraform's temporary var files are never made, so none can outlive a command.
    new = [p.name for p in set(Path(tempfile.gettempdir()).iterdir()) - tmp_before if p.suffix == ".tfvars.json"]
    assert new == []


def _plan_apply_and_read_back(repo: Path, cli: Cli) -> None:
    # Plan: changes -> exit 3 with --detailed-exitcode; the summary is printed.
    plan_json = repo / "plan.json"
    code, out, err = cli("plan", "local", "--detailed-exitcode", "--json-out", str(plan_json))
    assert code == 3, err
    assert "ecs          api" in out and "total" in out
    assert "terraform init (local)" in err

    # The plan's show -json (--json-out) summarizes as the event stream did.
    meta = json.loads((repo / ".hclforge/envs/local/plan.meta.json").read_text())
    from_show = summarize("local", json.loads(plan_json.read_text()), ["api", "web"])
    assert from_show.to_json() == meta["summary"]
    created = meta["summary"]["totals"]["create"]
    assert meta["summary"]["totals"] == {"create": created, "update": 0, "replace": 0, "delete": 0}
    assert meta["rollout"] == ["api", "web"]  # what an apply in another process waits for

    # Without a terminal and without --auto-approve, apply refuses at once.
    code, _, err = cli("apply", "local")
    assert code == 2 and "apply needs confirmation and there is no terminal" in err

    # A plan that went stale (the YAML changed after plan) is refused, with the reason.
    env_file = repo / "envs/local.yaml"
    original = env_file.read_text()
    env_file.write_text(original.replace("LOG_LEVEL: debug", "LOG_LEVEL: warn"))
    code, _, err = cli("apply", "local", "--auto-approve")
    assert code == 1 and "the saved plan is stale: the environment's YAML changed since the plan" in err
    env_file.write_text(original)

    # Apply the (again fresh) saved plan; it waits for both rollouts.
    code, out, err = cli("apply", "local", "--auto-approve")
    assert code == 0, err
    assert f"applied local: {created} created, 0 updated, 0 replaced, 0 deleted" in out
    assert "applying the saved plan" in err
    assert "rolled out: api, web" in out

    # Re-plan: no changes at all, and no terraform init (nothing it depends on changed).
    code, out, err = cli("plan", "local", "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes" in out and "terraform init" not in err

    # Outputs are sane.
    code, out, _ = cli("output", "local", "--json")
    outputs = json.loads(out)
    assert outputs["api_endpoint"]["value"].startswith("https://")
    assert outputs["cluster_name"]["value"] == "sss-local"
    assert outputs["service_names"]["value"] == {"api": "api", "web": "web"}
    assert outputs["namespace"]["value"] == "sss-local.internal"

    # The emulator holds what the plan said.
    ecs = emulator_client(repo, "ecs")
    assert any(a.endswith("/sss-local") for a in ecs.list_clusters()["clusterArns"])
    services = {s.split("/")[-1] for s in ecs.list_services(cluster="sss-local")["serviceArns"]}
    assert services == {"api", "web"}
    sd_services = {s["Name"] for s in emulator_client(repo, "servicediscovery").list_services()["Services"]}
    assert sd_services == {"api", "web"}
    apigw = emulator_client(repo, "apigatewayv2")
    api_id = next(a["ApiId"] for a in apigw.get_apis()["Items"] if a["Name"] == "sss-local")
    routes = {r["RouteKey"]: r["AuthorizationType"] for r in apigw.get_routes(ApiId=api_id)["Items"]}
    assert routes == {"ANY /api/{proxy+}": "JWT", "GET /api": "JWT", "GET /": "NONE", "GET /static/{proxy+}": "NONE"}
    # The addon (addons/local/jobs.tf) was applied with the tree, its output is the environment's, and
    # the api's task role may send to exactly its queue (envs/local.yaml: addon:aws_sqs_queue.jobs.arn).
    sqs = emulator_client(repo, "sqs")
    queue_url = sqs.get_queue_url(QueueName="sss-local-jobs")["QueueUrl"]
    assert outputs["jobs_queue_url"]["value"] == queue_url
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = emulator_client(repo, "iam").get_role_policy(
        RoleName="sss-local-api-task", PolicyName="sss-local-api-permissions"
    )["PolicyDocument"]
    if isinstance(policy, str):
        policy = json.loads(urllib.parse.unquote(policy))
    [statement] = policy["Statement"]
    assert (statement["Resource"], sorted(statement["Action"])) == (queue_arn, ["sqs:GetQueueUrl", "sqs:SendMessage"])

    # Drift: a change behind Terraform's back is reported (exit 3), and drift is read-only.
    assert cli("drift", "local")[0] == 0
    retention = _state_retention(repo)
    assert retention not in (None, 1)
    emulator_client(repo, "logs").put_retention_policy(logGroupName="/ecs/sss-local/api", retentionInDays=1)
    code, out, _ = cli("drift", "local")
    assert code == 3, out
    assert "~ module.ecs.aws_cloudwatch_log_group.api: retention_in_days" in out
    assert _state_retention(repo) == retention  # drift is read-only: the state keeps what was applied


def _day_two(repo: Path, cli: Cli, env_file: Path) -> None:
    # set-image: exactly one YAML line changes, comments kept; the HCL diff follows.
    before = env_file.read_text()
    code, out, err = cli("set-image", "local", "api", NEW_IMAGE)
    assert code == 0, err
    after = env_file.read_text()
    delta = [d for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:1] in "+-"]
    # api's image comes from _base.yaml: local.yaml gains exactly one line, nothing else moves.
    assert delta == [f"+     image: {NEW_IMAGE}"], delta
    assert [line for line in before.splitlines() if line.lstrip().startswith("#")] == [
        line for line in after.splitlines() if line.lstrip().startswith("#")
    ]
    assert f"+    image: {NEW_IMAGE}" in out  # the YAML diff
    assert "modules/local/ecs/main.tf" in out and f'+      image     = "{NEW_IMAGE}"' in out

    # Bad input: exit 2, nothing written.
    snapshot = env_file.read_bytes()
    assert cli("set-image", "local", "nope", NEW_IMAGE)[0] == 2
    assert cli("set-image", "local", "api", "not an image")[0] == 2
    assert cli("set-image", "local", "api", NEW_IMAGE, "--layer", "../hclforge.toml")[0] == 2
    assert cli("set-image", "local", "api", NEW_IMAGE, "--layer", "missing.yaml")[0] == 2
    code, _, err = cli("set-image", "local", "api", NEW_IMAGE, "--layer", "prod.yaml")
    assert code == 2 and "not a layer of local" in err
    assert env_file.read_bytes() == snapshot
    assert (repo / "envs/prod.yaml").read_bytes() == (ROOT / "envs/prod.yaml").read_bytes()

    # deploy --service api: a targeted plan, apply, and the rollout completes.
    code, out, err = cli("deploy", "local", "--service", "api", "--auto-approve", "--timeout", "2m")
    assert code == 0, out + err
    assert "rolled out: api" in out
    # One line says why it targeted; terraform's own -target warnings (plan and apply) are left out.
    assert err.count("deploy --service api: only the ECS service and task definition of api") == 1
    assert "Resource targeting is in effect" not in err and "Applied changes may be incomplete" not in err
    assert "api" in err and "COMPLETED" in err  # the progress lines
    # It planned the part from the state as left (no refresh): the drift made above stays,
    # in the emulator, for the full plan (drift) to show as it did. (api's task definition
    # names the log group: with a refresh, the deploy put its retention back; checked.)
    assert _state_retention(repo) not in (None, 1)
    group = emulator_client(repo, "logs").describe_log_groups(logGroupNamePrefix="/ecs/sss-local/api")["logGroups"]
    assert [g.get("retentionInDays") for g in group] == [1]

    # status: the new image for api.
    code, out, err = cli("status", "local")
    assert code == 0, err
    assert f"image {NEW_IMAGE}" in out
    assert "service web:" in out and "api endpoint: https://" in out
    code, out, _ = cli("status", "local", "--json")
    assert {s["service"]: s["image"] for s in json.loads(out)["services"]}["api"] == NEW_IMAGE

    # A plan of a part (deploy --service, interrupted before its apply) is never applied by plain apply.
    from hclforge.cli.ops import Workspace
    from hclforge.cli.planapply import plan
    from hclforge.cli.settings import load_settings

    plan(Workspace(load_settings(repo), "local"), targets=["module.ecs.aws_ecs_service.web"])
    code, _, err = cli("apply", "local", "--auto-approve")
    assert code == 1 and "the saved plan covers module.ecs.aws_ecs_service.web, not what this command applies" in err

    # logs: an event put with boto3 is read back.
    logs = emulator_client(repo, "logs")
    group, stream = "/ecs/sss-local/api", "ecs/api/0123456789abcdef"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": "hello"}])
    code, out, err = cli("logs", "local", "api", "--since", "1h")
    assert code == 0, err
    assert "hello" in out and "01234567" in out
    assert cli("logs", "local", "nope")[0] == 2

    # run --no-wait: the task ARN.
    code, out, err = cli("run", "local", "api", "--no-wait", "--", "echo", "hi")
    assert code == 0, err
    assert out.strip().startswith("arn:aws:ecs:") and ":task/sss-local/" in out


def _state_resources(repo: Path) -> list[dict[str, Any]]:
    """The resources in the state of local."""
    return list(json.loads((repo / ".hclforge/state/local/terraform.tfstate").read_text())["resources"])


def _state_retention(repo: Path) -> object:
    """The retention of api's log group in the state of local (None when it is not there)."""
    for res in _state_resources(repo):
        if (res.get("module"), res["type"], res["name"]) == ("module.ecs", "aws_cloudwatch_log_group", "api"):
            return res["instances"][0]["attributes"]["retention_in_days"]
    return None


def _state_ids(repo: Path, rtype: str) -> set[str]:
    """The ids of every ``rtype`` in the state of local."""
    return {i["attributes"]["id"] for r in _state_resources(repo) if r["type"] == rtype for i in r["instances"]}
