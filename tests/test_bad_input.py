"""Bad input at every door: each case exits 2 with file:line, YAML path and message, writes nothing.

The offending line of each case is marked with ``#!``; the expected line number
is read from the text, so the cases stay readable.
"""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from hclforge import hcl
from hclforge.cli.main import main
from hclforge.config import load_env
from hclforge.rules import NAME_RULES, derived_names
from tests.conftest import ROOT, tree_snapshot

HEAD = """\
project: demo
aws:
  region: eu-west-1
network:
  vpc_id: vpc-0123456789abcdef0
  private_subnet_ids: [subnet-0123456789abcdef0]
"""
AUTH = """\
auth:
  cognito:
    user_pool_id: eu-west-1_AbCdEf123
    client_ids: [abcdef123456]
"""
API = """\
services:
  api:
    image: nginx:1.27
    port: 8080
    routes: ["GET /"]
"""
VALID = HEAD + API

CASES: list[tuple[str, str | bytes, str, str]] = [
    # (id, envs/bad.yaml text, YAML path, message fragment)
    (
        "memory-for-cpu",
        HEAD + API + "    cpu: 512\n    memory: 3000 #!\n",
        "services.api.memory",
        "3000 is not valid for cpu 512 (allowed: 1024, 2048, 3072, 4096)",
    ),
    (
        "cpu-size",
        HEAD + API + "    cpu: 300 #!\n",
        "services.api.cpu",
        "300 is not a Fargate CPU size (allowed: 256, 512,",
    ),
    (
        "port-range",
        HEAD + "services:\n  api:\n    image: nginx:1\n    port: 70000 #!\n",
        "services.api.port",
        "70000 is not a port (allowed: 1-65535)",
    ),
    (
        "route-syntax",
        HEAD + "services:\n  api:\n    image: nginx:1\n    port: 80\n    routes:\n      - FETCH /x #!\n",
        "services.api.routes[0]",
        "'FETCH /x' is not a route key",
    ),
    (
        "route-collision",
        HEAD + API + "  web:\n    image: nginx:1\n    port: 80\n    routes:\n      - GET / #!\n",
        "services.web.routes[0]",
        "'GET /' is already routed to service 'api'",
    ),
    (
        "route-needs-port",
        HEAD + "services:\n  api: #!\n    image: nginx:1\n    routes: [GET /]\n",
        "services.api.port",
        "required because the service has routes",
    ),
    (
        "jwt-needs-auth",
        HEAD + API + "    auth: jwt #!\n",
        "services.api.auth",
        "jwt needs the top-level 'auth' section",
    ),
    (
        "schedule-unknown-service",
        VALID + "scheduled_tasks:\n  nightly:\n    service: nope #!\n    schedule: rate(1 day)\n",
        "scheduled_tasks.nightly.service",
        "no service 'nope' (services: api)",
    ),
    (
        "secret-not-arn",
        HEAD + API + "    secrets:\n      DB_PASSWORD: hunter2-plain #!\n",
        "services.api.secrets.DB_PASSWORD",
        "must be the ARN of a Secrets Manager secret or an SSM parameter",
    ),
    (
        "unknown-key-did-you-mean",
        HEAD + "services:\n  api:\n    imag: nginx:1 #!\n",
        "services.api.imag",
        "unknown key (did you mean 'image'?",
    ),
    (
        "wrong-type",
        HEAD + API + "    cpu: lots #!\n",
        "services.api.cpu",
        "input should be a valid integer (got 'lots')",
    ),
    ("missing-required", HEAD + "services:\n  api: #!\n    port: 80\n", "services.api.image", "required but missing"),
    ("missing-top-level", "aws:\n  region: eu-west-1\n" + API, "project", "required but missing"),
    (
        "duplicate-key",
        HEAD + API + "    port: 9090 #!\n",
        "services.api.port",
        "duplicate key (first defined at line 10)",
    ),
    ("tab-indent", HEAD + "services:\n\tapi: {} #!\n", "", "tabs are not allowed for indentation"),
    ("malformed-yaml", HEAD + "services: [api #!\n", "", "invalid YAML"),
    ("empty-file", "", "", "file is empty"),
    ("only-comments", "# nothing here\n", "", "file is empty"),
    ("not-a-mapping", "- a #!\n- b\n", "", "the document must be a mapping"),
    (
        "bad-project",
        VALID.replace("project: demo", "project: Demo_Project #!"),
        "project",
        "string should match pattern",
    ),
    (
        "bad-region",
        VALID.replace("region: eu-west-1", "region: europe #!"),
        "aws.region",
        "string should match pattern",
    ),
    (
        "bad-account",
        VALID.replace("  region: eu-west-1", "  region: eu-west-1\n  account_id: '12345' #!"),
        "aws.account_id",
        "string should match pattern",
    ),
    (
        "account-as-int",
        VALID.replace("  region: eu-west-1", "  region: eu-west-1\n  account_id: 111111111111 #!"),
        "aws.account_id",
        "input should be a valid string",
    ),
    (
        "bad-cidr",
        "project: demo\naws: {region: eu-west-1}\nnetwork:\n  create:\n    cidr: 10.0.0.300/16 #!\n" + API,
        "network.create.cidr",
        "is not an IPv4 network CIDR",
    ),
    (
        "cidr-too-big",
        "project: demo\naws: {region: eu-west-1}\nnetwork:\n  create:\n    cidr: 10.0.0.0/8 #!\n" + API,
        "network.create.cidr",
        "/8 is not allowed (a VPC is /16 to /24)",
    ),
    (
        "network-both",
        VALID.replace("network:", "network: #!\n  create: {cidr: 10.0.0.0/16}"),
        "network",
        "give either vpc_id + private_subnet_ids or create, not both",
    ),
    (
        "network-none",
        "project: demo\naws: {region: eu-west-1}\nnetwork: {} #!\n" + API,
        "network",
        "give either vpc_id + private_subnet_ids",
    ),
    (
        "desired-outside-autoscaling",
        HEAD + API + "    desired_count: 9 #!\n    autoscaling: {min: 1, max: 3, cpu_target: 50}\n",
        "services.api.desired_count",
        "9 is outside autoscaling min..max (1..3)",
    ),
    (
        "autoscaling-min-max",
        HEAD + API + "    autoscaling:\n      min: 5 #!\n      max: 3\n      cpu_target: 50\n",
        "services.api.autoscaling.min",
        "5 is greater than max 3",
    ),
    (
        "autoscaling-no-target",
        HEAD + API + "    autoscaling: {min: 1, max: 3} #!\n",
        "services.api.autoscaling",
        "needs cpu_target and/or memory_target",
    ),
    (
        "log-retention",
        HEAD + API + "    log_retention_days: 10 #!\n",
        "services.api.log_retention_days",
        "10 is not a CloudWatch retention (allowed: 1, 3, 5, 7, 14, 30",
    ),
    (
        "capacity-provider-not-in-cluster",
        HEAD + API + "    capacity_provider: FARGATE_SPOT #!\n",
        "services.api.capacity_provider",
        "FARGATE_SPOT is not in cluster.capacity_providers (allowed: FARGATE)",
    ),
    (
        "capacity-provider-literal",
        HEAD + API + "    capacity_provider: EC2 #!\n",
        "services.api.capacity_provider",
        "must be 'FARGATE' or 'FARGATE_SPOT', not 'EC2'",
    ),
    ("s3-needs-bucket", VALID + "backend: #!\n  type: s3\n", "backend.bucket", "required with type: s3"),
    (
        "local-with-bucket",
        VALID + "backend:\n  type: local\n  bucket: my-state #!\n",
        "backend.bucket",
        "only allowed with type: s3",
    ),
    (
        "dynamodb-needs-table",
        VALID + "backend: #!\n  type: s3\n  bucket: demo-state\n  lock: dynamodb\n",
        "backend.dynamodb_table",
        "required with lock: dynamodb",
    ),
    (
        "health-check-command",
        HEAD + API + "    health_check:\n      command: [curl, localhost] #!\n",
        "services.api.health_check.command",
        "must start with CMD, CMD-SHELL or NONE",
    ),
    (
        "cors-credentials-star",
        VALID + "api:\n  cors:\n    allow_origins: ['*'] #!\n    allow_credentials: true\n",
        "api.cors.allow_origins",
        "'*' is not allowed with allow_credentials: true",
    ),
    (
        "non-utf8",
        (HEAD + "services:\n  api:\n    image: ngi").encode() + b"\xff\xfenx:1 #!\n",
        "",
        "not valid UTF-8 (byte 0xff",
    ),
    (
        "alias-bomb",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d] #!\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
        "",
        "document expands to more than 100000 values",
    ),
    (
        "merge-key",
        VALID + "defaults: &d {cpu: 256}\nother:\n  <<: *d #!\n",
        "other",
        "merge keys ('<<') are not supported",
    ),
    ("reserved-tag", VALID + "tags:\n  Project: other #!\n", "tags.Project", "'Project' is set by hclforge"),
    (
        "env-var-name",
        HEAD + API + "    environment:\n      1BAD: x #!\n",
        "services.api.environment.1BAD",
        "not a valid variable name",
    ),
    (
        "timezone",
        VALID + "scheduled_tasks:\n  nightly:\n    service: api\n    schedule: rate(1 day)\n"
        "    timezone: Mars/Olympus #!\n",
        "scheduled_tasks.nightly.timezone",
        "'Mars/Olympus' is not an IANA time zone",
    ),
    (
        "schedule-expression",
        VALID + "scheduled_tasks:\n  nightly:\n    service: api\n    schedule: every day #!\n",
        "scheduled_tasks.nightly.schedule",
        "string should match pattern",
    ),
    (
        "pool-other-region",
        HEAD + AUTH.replace("eu-west-1_AbCdEf123", "us-east-1_AbCdEf123 #!") + API,
        "auth.cognito.user_pool_id",
        "the pool is in us-east-1, not in aws.region eu-west-1",
    ),
    (
        "cognito-neither",
        HEAD + "auth:\n  cognito: {} #!\n" + API,
        "auth.cognito",
        "give either user_pool_id + client_ids",
    ),
    (
        "duplicate-capacity-providers",
        VALID + "cluster:\n  capacity_providers: [FARGATE, FARGATE] #!\n",
        "cluster.capacity_providers",
        "each capacity provider may appear once",
    ),
    (
        "policy-arn",
        HEAD + API + "    permissions:\n      managed_policy_arns:\n        - not-an-arn #!\n",
        "services.api.permissions.managed_policy_arns[0]",
        "'not-an-arn' is not an IAM policy ARN",
    ),
    (
        "statement-action",
        HEAD + API + "    permissions:\n      statements:\n        - actions: [dynamodb GetItem] #!\n"
        "          resources: ['*']\n",
        "services.api.permissions.statements[0].actions[0]",
        "string should match pattern",
    ),
    (
        "service-name",
        HEAD + "services:\n  Api: #!\n    image: nginx:1\n",
        "services.Api",
        "'Api' is not a valid service name",
    ),
    (
        "emulator-with-account",
        VALID.replace("  region: eu-west-1", "  region: eu-west-1\n  emulator: true\n  account_id: '111111111111' #!"),
        "aws.account_id",
        "not allowed with emulator: true",
    ),
    (
        "emulator-autoscaling",
        VALID.replace("  region: eu-west-1", "  region: eu-west-1\n  emulator: true")
        + "    autoscaling: {min: 1, max: 2, cpu_target: 50} #!\n",
        "services.api.autoscaling",
        "not supported on the emulator",
    ),
    (
        "image-with-space",
        HEAD + "services:\n  api:\n    image: nginx latest #!\n",
        "services.api.image",
        "not a container image reference",
    ),
    ("no-services", HEAD + "services: {} #!\n", "services", "dictionary should have at least 1 item"),
    (
        "bool-as-string",
        HEAD + API + "    readonly_root_filesystem: 'yes' #!\n",
        "services.api.readonly_root_filesystem",
        "input should be a valid boolean",
    ),
    ("extends-not-list", "extends: {a: 1} #!\n" + VALID, "extends", "must be a list of layer names"),
    # Explicit tags: refused at the tag, the value never shown (it may be a secret).
    ("tag-int", HEAD + API + "    cpu: !!int 512 #!\n", "", "explicit tag '!!int' is not allowed"),
    ("tag-float", HEAD + API + "    desired_count: !!float 1 #!\n", "", "explicit tag '!!float' is not allowed"),
    ("tag-bool", HEAD + API + "    exec: !!bool yes #!\n", "", "explicit tag '!!bool' is not allowed"),
    ("tag-timestamp", VALID + "x: !!timestamp 2001-12-14 #!\n", "", "explicit tag '!!timestamp' is not allowed"),
    ("tag-binary", HEAD + API + "    command: [!!binary aGk=] #!\n", "", "explicit tag '!!binary' is not allowed"),
    ("tag-set", HEAD + API + "    environment: !!set {A} #!\n", "", "explicit tag '!!set' is not allowed"),
    ("tag-omap", VALID + "tags: !!omap [{Team: x}] #!\n", "", "explicit tag '!!omap' is not allowed"),
    ("tag-local", HEAD + "services:\n  api:\n    image: !env IMAGE #!\n", "", "explicit tag '!env' is not allowed"),
    (
        "impossible-date",
        HEAD + API + "    environment:\n      DAY: 2001-13-45 #!\n",
        "services.api.environment.DAY",
        "not a valid value of its YAML type; quote it if it is meant as a string",
    ),
    ("recursive-alias", VALID + "x: &x [*x] #!\n", "x[0]", "recursive alias: this value contains itself"),
    ("deep-nesting", VALID + "x: " + "[" * 200 + "]" * 200 + " #!\n", "x", "nested more than 64 levels deep"),
    ("deeper-nesting", VALID + "x: " + "[" * 5000 + "]" * 5000 + " #!\n", "", "exceeded maximum nesting depth"),
    # Layer names become file names and header text: no newline, no path, no overlong name.
    (
        "layer-name-injection",
        'extends: ["_x\\nresource \\"aws_s3_bucket\\" \\"evil\\" {}"] #!\n' + VALID,
        "extends[0]",
        "is not a layer name (allowed: ^_?[a-z][a-z0-9_-]{0,63}$",
    ),
    ("layer-outside-envs", "extends: [../../x] #!\n" + VALID, "extends[0]", "is not a layer name"),
    ("layer-name-too-long", "extends: [_" + "a" * 300 + "] #!\n" + VALID, "extends[0]", "is not a layer name"),
    (
        "layer-name-in-a-list",
        "extends:\n  - _Bad #!\n  - _base\n" + VALID,
        "extends[0]",
        "'_Bad' is not a layer name",
    ),
    # A trailing newline slipped through every `re.match("...$")`; patterns now match the whole text.
    (
        "service-name-trailing-newline",
        HEAD + 'services:\n  "worker\\n": #!\n    image: nginx:1\n',
        "services.worker\\n",
        "'worker\\n' is not a valid service name",
    ),
    (
        "routed-service-name-trailing-newline",
        HEAD + 'services:\n  "web\\n": #!\n    image: nginx:1\n    port: 80\n    routes: ["GET /web"]\n',
        "services.web\\n",
        "'web\\n' is not a valid service name",
    ),
    ("tag-key-trailing-newline", VALID + 'tags:\n  "Team\\n": x #!\n', "tags.Team\\n", "is not a tag key"),
    (
        "route-trailing-newline",
        HEAD + 'services:\n  api:\n    image: nginx:1\n    port: 80\n    routes:\n      - "GET /\\n" #!\n',
        "services.api.routes[0]",
        "is not a route key",
    ),
    (
        "image-trailing-newline",
        HEAD + 'services:\n  api:\n    image: "nginx:1\\n" #!\n',
        "services.api.image",
        "not a container image reference",
    ),
    (
        "env-var-name-trailing-newline",
        HEAD + API + '    environment:\n      "OK\\n": x #!\n',
        "services.api.environment.OK\\n",
        "not a valid variable name",
    ),
    (
        "secret-arn-trailing-newline",
        HEAD + API + '    secrets:\n      DB: "arn:aws:ssm:eu-west-1:111111111111:parameter/db\\n" #!\n',
        "services.api.secrets.DB",
        "must be the ARN of a Secrets Manager secret or an SSM parameter",
    ),
    (
        "policy-arn-trailing-newline",
        HEAD + API + '    permissions:\n      managed_policy_arns:\n        - "arn:aws:iam::aws:policy/X\\n" #!\n',
        "services.api.permissions.managed_policy_arns[0]",
        "is not an IAM policy ARN",
    ),
    (
        "task-name-trailing-newline",
        VALID + 'scheduled_tasks:\n  "nightly\\n": #!\n    service: api\n    schedule: rate(1 day)\n',
        "scheduled_tasks.nightly\\n",
        "is not a valid task name",
    ),
    # pydantic-core's regex (Rust) anchors `$` at the very end: these patterns were already safe.
    (
        "project-trailing-newline",
        VALID.replace("project: demo", 'project: "demo\\n" #!'),
        "project",
        "string should match pattern",
    ),
    (
        "region-trailing-newline",
        VALID.replace("region: eu-west-1", 'region: "eu-west-1\\n" #!'),
        "aws.region",
        "string should match pattern",
    ),
    (
        "control-characters-are-escaped",
        HEAD + API + '    environment:\n      "BAD\\e[31m\\u202e": x #!\n',
        "services.api.environment.BAD\\x1b[31m\\u202e",
        "not a valid variable name",
    ),
]


def _expected_line(text: str | bytes) -> int:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if "#!" in line:
            return number
    return 0


@pytest.mark.parametrize(("text", "ypath", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_environment_file(project, capsys, text: str | bytes, ypath: str, message: str) -> None:
    root = project({})
    (root / "envs").mkdir()
    path = root / "envs" / "bad.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    before = tree_snapshot(root)

    code = main(["--root", str(root), "render", "bad"])

    err = capsys.readouterr().err
    assert code == 2, err
    line = _expected_line(text)
    where = f"envs/bad.yaml:{line}: " if line else "envs/bad.yaml: "
    lines = [ln for ln in err.splitlines() if ln.startswith("envs/")]
    expected_prefix = where + (f"{ypath}: " if ypath else "")
    assert any(ln.startswith(expected_prefix) and message in ln for ln in lines), (
        f"expected a line starting {expected_prefix!r} containing {message!r}, got:\n{err}"
    )
    assert "Traceback" not in err
    assert "nothing was written" in err
    assert tree_snapshot(root) == before


def test_no_raw_control_character_reaches_the_terminal(project, capsys) -> None:
    root = project({"envs/bad.yaml": HEAD + API + '    environment:\n      "A\\e]0;pwned\\a\\nB": x\n'})
    assert main(["--root", str(root), "render", "bad"]) == 2
    err = capsys.readouterr().err
    assert "services.api.environment.A\\x1b]0;pwned\\x07\\nB: not a valid variable name" in err
    assert not any(ch in err for ch in "\x1b\x07"), err
    assert len(err.splitlines()) == 2  # the problem and the count: no forged line


def test_deep_block_nesting_ends_in_a_message(project, capsys) -> None:
    deep = "".join(" " * i + f"k{i}:\n" for i in range(1, 900)) + " " * 900 + "end: 1\n"
    root = project({"envs/bad.yaml": VALID + "x:\n" + deep})
    assert main(["--root", str(root), "render", "bad"]) == 2
    err = capsys.readouterr().err
    assert "envs/bad.yaml:" in err and ": x: nested more than 64 levels deep" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("tag", ["!!int", "!!float", "!!binary", "!!timestamp", "!secret"])
def test_tagged_secret_is_never_echoed(project, capsys, tag: str) -> None:
    root = project({"envs/bad.yaml": HEAD + API + f"    secrets:\n      TOKEN: {tag} hunter2-Value\n"})
    assert main(["--root", str(root), "render", "bad"]) == 2
    captured = capsys.readouterr()
    assert f"envs/bad.yaml:13: explicit tag '{tag}' is not allowed" in captured.err
    assert "hunter2" not in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_layer_symlink_leading_outside_envs_is_refused(project, capsys) -> None:
    root = project({"outside.yaml": VALID, "envs/bad.yaml": "extends: [_evil]\n"})
    (root / "envs/_evil.yaml").symlink_to(root / "outside.yaml")
    assert main(["--root", str(root), "render", "bad"]) == 2
    err = capsys.readouterr().err
    assert "envs/bad.yaml:1: extends[0]: layer '_evil': '_evil.yaml' leads outside envs/" in err


def test_environment_symlink_leading_outside_envs_is_refused(project, capsys) -> None:
    root = project({"outside.yaml": VALID, "envs/.keep": ""})
    (root / "envs/bad.yaml").symlink_to(root / "outside.yaml")
    assert main(["--root", str(root), "render", "bad"]) == 2
    assert "envs/bad.yaml: 'bad.yaml' leads outside envs/" in capsys.readouterr().err


def test_symlink_inside_envs_is_followed(project) -> None:
    root = project({"envs/_shared.yaml": VALID, "envs/good.yaml": "extends: [_base]\n"})
    (root / "envs/_base.yaml").symlink_to("_shared.yaml")
    assert main(["--root", str(root), "render", "good"]) == 0


def _in_thread(fn: Callable[[], int]) -> int:
    """Run ``fn`` with a deadline: opening a FIFO would block the test run forever."""
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "blocked on a FIFO"
    return result[0]


@pytest.mark.parametrize("fifo", ["envs/_pipe.yaml", "envs/bad.yaml"])
def test_fifo_is_refused_without_blocking(project, capsys, fifo: str) -> None:
    root = project({"envs/bad.yaml": "extends: [_pipe]\n" + VALID})
    if fifo == "envs/bad.yaml":
        (root / fifo).unlink()
    os.mkfifo(root / fifo)
    assert _in_thread(lambda: main(["--root", str(root), "render", "bad"])) == 2
    assert "is not a regular file" in capsys.readouterr().err


def test_huge_file_is_not_read_whole(project, capsys) -> None:
    root = project({"envs/bad.yaml": VALID})
    with (root / "envs/bad.yaml").open("r+b") as f:
        f.truncate(1024**3)  # sparse: costs no disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["--root", str(root), "render", "bad"]) == 2
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert "envs/bad.yaml: file is 1073741824 bytes; at most 1048576 are allowed" in capsys.readouterr().err
    assert grown_kib < 100 * 1024


@pytest.mark.parametrize("name", ["Team\n", "api\n", "a\nb"])
def test_hcl_names_match_the_whole_text(name: str) -> None:
    assert hcl.key(name) == hcl.quote(name)  # quoted, never bare
    with pytest.raises(ValueError):
        hcl.ident(name)
    with pytest.raises(ValueError):
        hcl.label(name)


def test_secret_value_is_never_echoed(project, capsys) -> None:
    root = project({"envs/bad.yaml": HEAD + API + "    secrets:\n      TOKEN: s3cr3t-Value-42\n"})
    assert main(["--root", str(root), "render", "bad"]) == 2
    captured = capsys.readouterr()
    assert "s3cr3t-Value-42" not in captured.err + captured.out


def test_secret_of_wrong_type_is_never_echoed(project, capsys) -> None:
    root = project({"envs/bad.yaml": HEAD + API + "    secrets:\n      TOKEN: 123456789\n"})
    assert main(["--root", str(root), "render", "bad"]) == 2
    assert "123456789" not in capsys.readouterr().err


def test_all_problems_are_reported_at_once(project, capsys) -> None:
    root = project({"envs/bad.yaml": HEAD + API + "    cpu: 300\n    log_retention_days: 10\n"})
    assert main(["--root", str(root), "render", "bad"]) == 2
    err = capsys.readouterr().err
    assert "services.api.cpu" in err and "services.api.log_retention_days" in err
    assert "2 problem(s)" in err


def test_missing_environment_suggests_a_name(project, capsys) -> None:
    root = project({"envs/dev.yaml": VALID})
    assert main(["--root", str(root), "render", "dve"]) == 2
    assert "envs/dve.yaml: no such environment (did you mean 'dev'?)" in capsys.readouterr().err


def test_extends_cycle(project, capsys) -> None:
    root = project(
        {"envs/_a.yaml": "extends: [_b]\n", "envs/_b.yaml": "extends: [_a]\n", "envs/bad.yaml": "extends: [_a]\n"}
    )
    assert main(["--root", str(root), "render", "bad"]) == 2
    assert "extends: extends cycle: bad -> _a -> _b -> _a" in capsys.readouterr().err


def test_extends_missing_layer(project, capsys) -> None:
    root = project({"envs/bad.yaml": "extends: [_nope] #!\n" + VALID})
    assert main(["--root", str(root), "render", "bad"]) == 2
    assert "envs/bad.yaml:1: extends[0]: layer '_nope' not found (expected envs/_nope.yaml)" in capsys.readouterr().err


def test_error_in_a_layer_names_the_layer_file(project, capsys) -> None:
    root = project({"envs/_base.yaml": VALID + "    cpu: 300\n", "envs/bad.yaml": "extends: [_base]\n"})
    assert main(["--root", str(root), "render", "bad"]) == 2
    assert "envs/_base.yaml:12: services.api.cpu: 300 is not a Fargate CPU size" in capsys.readouterr().err


def test_derived_role_name_over_64_characters(project, capsys) -> None:
    env = "e" * 20
    text = VALID.replace("project: demo", "project: abcdefghijklmnopqrst").replace(
        "  api:", "  a-very-long-service-name-abcdef:"
    )
    root = project({f"envs/{env}.yaml": text})
    assert main(["--root", str(root), "render", env]) == 2
    role = f"abcdefghijklmnopqrst-{env}-a-very-long-service-name-abcdef-task"
    assert (
        f"envs/{env}.yaml:8: services.a-very-long-service-name-abcdef: derived IAM role name '{role}' "
        f"is {len(role)} characters (at most 64); shorten the name"
    ) in capsys.readouterr().err


def test_huge_file_is_refused(project, capsys) -> None:
    root = project({"envs/bad.yaml": VALID + "# " + "x" * (1024 * 1024) + "\n"})
    assert main(["--root", str(root), "render", "bad"]) == 2
    assert "at most 1048576 are allowed" in capsys.readouterr().err


def test_invalid_environment_name(project, capsys) -> None:
    root = project({"envs/Bad_Env.yaml": VALID})
    assert main(["--root", str(root), "render", "Bad_Env"]) == 2
    assert "'Bad_Env' is not a valid environment name" in capsys.readouterr().err


def test_one_bad_environment_stops_render_all_before_anything_is_written(project) -> None:
    root = project({"envs/good.yaml": VALID, "envs/bad.yaml": VALID + "    cpu: 300\n"})
    assert main(["--root", str(root), "render", "--all"]) == 2
    assert not (root / "modules").exists()


def test_case_count() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


def test_valid_base_case_renders(project) -> None:
    root = project({"envs/bad.yaml": VALID})
    assert main(["--root", str(root), "render", "bad"]) == 0
    assert (Path(root) / "modules/bad/main.tf").is_file()


# Every derived AWS name, its rule, and a name that breaks it. The rule is checked directly for each
# kind; NAME_YAML_CASES below reach every rule that a valid-looking file can break.
NAME_RULE_CASES: list[tuple[str, str, str]] = [
    # (kind, a name AWS takes, a name AWS refuses)
    ("HTTP API name", "Sales API (prod)", "Sales\tAPI"),
    ("VPC link name", "sss-dev", "x" * 129),
    ("IAM role name", "sss-dev-api-task", "sss dev"),
    ("IAM role name", "a" * 64, "a" * 65),
    ("IAM policy name", "sss-dev-api+permissions@x", "sss/dev"),
    ("IAM policy name", "a" * 128, "a" * 129),
    ("ECS cluster name", "sss_dev-1", "sss.dev"),
    ("ECS service name", "api", "api:v2"),
    ("ECS task family", "sss-dev-api", "a" * 256),
    ("log group name", "/ecs/sss-dev/api#1.0", "/aws/apigateway/Sales API"),
    ("security group name prefix", "sss-dev-api-tasks (v2)-", "sg-dev-api-tasks-"),
    ("security group name prefix", "a" * 100, "a" * 101),
    ("CloudWatch alarm name", "sss-prod-api-running-below-desired", "sss-prod\napi"),
    ("EventBridge rule name", "sss-prod-deployment-failed", "sss prod"),
    ("EventBridge rule name", "a" * 64, "a" * 65),
    ("Cloud Map service name", "api_v2", "api-"),
    ("Cloud Map service name", "a" * 63, "a" * 64),
    ("Cloud Map namespace", "sss-dev.internal", "sss-dev-.internal"),
    ("schedule name", "sss-dev-nightly_1.0", "sss dev nightly"),
    ("schedule name", "a" * 64, "a" * 65),
    ("Cognito user pool name", "sss dev+pool", "sss/dev"),
    ("Cognito app client name", "sss-dev-api", "x" * 129),
]


@pytest.mark.parametrize(("kind", "good", "bad"), NAME_RULE_CASES, ids=[f"{c[0]}:{c[2][:12]}" for c in NAME_RULE_CASES])
def test_name_rule(kind: str, good: str, bad: str) -> None:
    most, pattern, _allowed = NAME_RULES[kind]
    assert len(good) <= most and pattern.fullmatch(good)
    assert len(bad) > most or not pattern.fullmatch(bad)


def test_every_derived_name_has_a_rule_and_a_case() -> None:
    kinds = {kind for _path, kind, _value in derived_names(load_env(ROOT, "local").config)}
    kinds |= {kind for _path, kind, _value in derived_names(load_env(ROOT, "prod").config)}
    assert kinds <= set(NAME_RULES)
    assert set(NAME_RULES) == {c[0] for c in NAME_RULE_CASES}


NAME_YAML_CASES: list[tuple[str, str, str, str, str]] = [
    # (kind, environment, envs/<env>.yaml text, YAML path, message fragment)
    (
        "HTTP API name",
        "bad",
        VALID + 'api:\n  name: "Sales\\tAPI" #!\n',
        "api.name",
        "derived HTTP API name 'Sales\\tAPI' is not allowed by AWS (allowed: 1-128 characters, no control",
    ),
    (
        "log group name",
        "bad",
        VALID + "api:\n  name: Sales API #!\n",
        "api.name",
        "derived log group name '/aws/apigateway/Sales API' is not allowed by AWS (allowed: 1-512 of [A-Za-z0-9._/#-])",
    ),
    (
        "IAM role name",
        "e" * 20,
        VALID.replace("project: demo", "project: abcdefghijklmnopqrst").replace("  api:", "  " + "a" * 32 + ": #!"),
        "services." + "a" * 32,
        "derived IAM role name 'abcdefghijklmnopqrst-eeeeeeeeeeeeeeeeeeee-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-task' "
        "is 79 characters (at most 64)",
    ),
    (
        "security group name prefix",
        "bad",
        VALID.replace("project: demo", "project: sg-demo #!"),
        "project",
        "derived security group name prefix 'sg-demo-bad-vpc-link-' is not allowed by AWS (allowed: 1-100 of letters",
    ),
    (
        "Cloud Map service name",
        "bad",
        VALID.replace("  api:", "  api-: #!"),
        "services.api-",
        "derived Cloud Map service name 'api-' is not allowed by AWS (allowed: a DNS label",
    ),
    (
        "Cloud Map namespace",
        "bad-",
        VALID.replace("project: demo", "project: demo #!"),
        "project",
        "derived Cloud Map namespace 'demo-bad-.internal' is not allowed by AWS (allowed: DNS labels",
    ),
    (
        "schedule name",
        "e" * 20,
        VALID.replace("project: demo", "project: abcdefghijklmnopqrst")
        + "scheduled_tasks:\n  "
        + "n" * 32
        + ": #!\n    service: api\n    schedule: rate(1 day)\n",
        "scheduled_tasks." + "n" * 32,
        "derived schedule name 'abcdefghijklmnopqrst-eeeeeeeeeeeeeeeeeeee-nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn' "
        "is 74 characters (at most 64)",
    ),
]


@pytest.mark.parametrize(
    ("env", "text", "ypath", "message"), [c[1:] for c in NAME_YAML_CASES], ids=[c[0] for c in NAME_YAML_CASES]
)
def test_derived_name_refused_with_file_and_line(
    project, capsys, env: str, text: str, ypath: str, message: str
) -> None:
    root = project({f"envs/{env}.yaml": text})
    before = tree_snapshot(root)
    code = main(["--root", str(root), "render", env])
    err = capsys.readouterr().err
    assert code == 2, err
    expected = f"envs/{env}.yaml:{_expected_line(text)}: {ypath}: {message}"
    assert any(ln.startswith(expected) for ln in err.splitlines()), f"expected {expected!r} in:\n{err}"
    assert "Traceback" not in err and "nothing was written" in err
    assert tree_snapshot(root) == before


@pytest.mark.parametrize("name", ["DB_PASSWORD", "api_token", "ClientSecret", "STRIPE_KEY", "key", "SECRET"])
@pytest.mark.parametrize("command", ["render", "show"])
def test_plain_value_under_a_secret_name_warns(project, capsys, name: str, command: str) -> None:
    root = project({"envs/dev.yaml": HEAD + API + f"    environment:\n      {name}: hunter2-Value\n"})
    assert main(["--root", str(root), command, "dev"]) == 0
    captured = capsys.readouterr()
    assert (
        f"warning: envs/dev.yaml:13: services.api.environment.{name}: looks like a secret but is a plain value"
    ) in captured.err
    assert "move it under secrets:" in captured.err
    assert "hunter2" not in captured.err


@pytest.mark.parametrize("name", ["KEYBOARD", "MONKEY", "LOG_LEVEL", "TOKEN_ARN"])
def test_ordinary_names_and_arns_do_not_warn(project, capsys, name: str) -> None:
    value = "arn:aws:ssm:eu-west-1:111111111111:parameter/x" if name.endswith("_ARN") else "info"
    root = project({"envs/dev.yaml": HEAD + API + f"    environment:\n      {name}: '{value}'\n"})
    assert main(["--root", str(root), "render", "dev"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert load_env(root, "dev").warnings == []
