"""Addons (issue 22, point 3): hand-written Terraform under addons/, copied into the tree, granted from the YAML."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hclforge import addons, envcache, render
from hclforge.config import load_env
from hclforge.errors import ConfigError
from hclforge.paths import MAX_FILE_BYTES
from tests.conftest import MINIMAL_ENV, ROOT, run

QUEUE = """\
resource "aws_sqs_queue" "jobs" {
  name = "${module.ecs.cluster_name}-jobs"
}
"""
BUCKET = """\
resource "aws_s3_bucket" "data" {
  bucket_prefix = "demo-data-"
}
"""


def _env(**api: Any) -> dict[str, Any]:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["services"]["api"].update(api)
    return env


def _grant(*resources: str, actions: tuple[str, ...] = ("sqs:SendMessage",)) -> dict[str, Any]:
    return {"permissions": {"statements": [{"actions": list(actions), "resources": list(resources)}]}}


@pytest.fixture
def demo(project) -> Path:
    """dev with an addon queue in addons/dev/, a bucket in addons/_shared/, and the api granted both."""
    return project(
        {
            "envs/dev.yaml": _env(**_grant("addon:aws_sqs_queue.jobs.arn", "addon:aws_s3_bucket.data.arn/*")),
            "addons/dev/queue.tf": QUEUE,
            "addons/_shared/bucket.tf": BUCKET,
            "addons/_shared/README.md": "# notes beside the addons are never copied\n",
        }
    )


def _problems(root: Path, env: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_env(root, env)
    return [str(p) for p in err.value.problems]


# ------------------------------------------------------------------ copied into the tree


def test_addons_are_copied_into_the_tree_with_a_header_naming_their_source(demo: Path) -> None:
    tree = render.render(demo, "dev")
    assert tree.files["addon_queue.tf"] == (
        "# generated — do not edit: copied by hclforge from addons/dev/queue.tf; edit that file\n\n" + QUEUE
    )
    assert tree.files["addon_bucket.tf"].endswith(BUCKET)
    assert "addons/_shared/bucket.tf" in tree.files["addon_bucket.tf"].splitlines()[0]
    assert not [name for name in tree.files if "README" in name]


def test_a_grant_becomes_a_reference_passed_into_the_iam_module(demo: Path) -> None:
    files = render.render(demo, "dev").files
    assert (
        "  addon_arns = {\n"
        '    "aws_s3_bucket.data.arn" = aws_s3_bucket.data.arn\n'
        '    "aws_sqs_queue.jobs.arn" = aws_sqs_queue.jobs.arn\n'
        "  }\n"
    ) in files["main.tf"]
    assert 'variable "addon_arns" {' in files["iam/variables.tf"]
    assert (
        'resources = [var.addon_arns["aws_sqs_queue.jobs.arn"], "${var.addon_arns["aws_s3_bucket.data.arn"]}/*"]'
        in files["iam/main.tf"]
    )


def test_without_grants_the_iam_module_takes_no_inputs(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV, "addons/dev/queue.tf": QUEUE})
    files = render.render(root, "dev").files
    assert "addon_arns" not in files["main.tf"]
    assert "takes no inputs" in files["iam/variables.tf"]
    assert "addon_queue.tf" in files


def test_the_addon_survives_every_render_and_check(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        code, _out, err = run(demo, capsys, "render", "dev")
        assert code == 0, err
    assert (demo / "modules/dev/addon_queue.tf").read_text().endswith(QUEUE)
    code, out, err = run(demo, capsys, "render", "--check", "dev")
    assert (code, out.strip()) == (0, "up to date modules/dev/"), err


def test_an_edited_addon_makes_the_tree_stale_and_a_removed_one_is_removed(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(demo, capsys, "render", "dev")
    (demo / "addons/dev/queue.tf").write_text(QUEUE.replace("-jobs", "-work"))
    code, _out, err = run(demo, capsys, "render", "--check", "dev")
    assert code == 1
    assert "--- a/modules/dev/addon_queue.tf" in err
    assert '+  name = "${module.ecs.cluster_name}-work"' in err
    (demo / "addons/dev/queue.tf").unlink()
    (demo / "envs/dev.yaml").write_text(json.dumps(_env(**_grant("addon:aws_s3_bucket.data.arn"))))
    code, out, err = run(demo, capsys, "render", "dev")
    assert code == 0, err
    assert "delete  modules/dev/addon_queue.tf" in out
    assert not (demo / "modules/dev/addon_queue.tf").exists()


def test_the_copy_edited_by_hand_is_stale(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(demo, capsys, "render", "dev")
    copy = demo / "modules/dev/addon_queue.tf"
    copy.write_text(copy.read_text() + '\nresource "aws_sqs_queue" "more" {}\n')
    code, _out, err = run(demo, capsys, "render", "--check", "dev")
    assert code == 1
    assert "+++ b/modules/dev/addon_queue.tf" in err


def test_line_endings_and_a_bom_are_normalised(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    (root / "addons/dev").mkdir(parents=True)
    (root / "addons/dev/queue.tf").write_bytes(b"\xef\xbb\xbf" + QUEUE.replace("\n", "\r\n").encode() + b"\r\n\r\n")
    assert render.render(root, "dev").files["addon_queue.tf"].endswith("\n\n" + QUEUE)


def test_a_new_addon_file_is_not_hidden_by_the_environment_cache(demo: Path) -> None:
    cache = demo / ".hclforge/cache/config"
    cache.mkdir(mode=0o700, parents=True)
    first = envcache.load(demo, "dev", cache)
    assert sorted(a.source for a in first.addons) == ["addons/_shared/bucket.tf", "addons/dev/queue.tf"]
    (demo / "addons/dev/topic.tf").write_text('resource "aws_sns_topic" "events" {}\n')
    again = envcache.load(demo, "dev", cache)
    assert sorted(a.source for a in again.addons)[-1] == "addons/dev/topic.tf"
    assert again.inputs["addons/dev/"] != first.inputs["addons/dev/"]


def test_other_environments_and_other_folders_are_not_read(demo: Path) -> None:
    (demo / "envs/prod.yaml").write_text(json.dumps(MINIMAL_ENV))
    (demo / "addons/_copilot/api").mkdir(parents=True)
    (demo / "addons/_copilot/api/ddb.yml").write_text("Resources: {}\n")  # Copilot's CloudFormation: a report
    files = render.render(demo, "prod").files
    assert [name for name in files if name.startswith("addon_")] == ["addon_bucket.tf"]


# ------------------------------------------------------------------ refused, with file and line


@pytest.mark.parametrize(
    ("rel", "content", "expected"),
    [
        ("addons/dev/q.tf.json", "{}", "addons/dev/q.tf.json: is not a .tf file"),
        ("addons/dev/notes.yaml", "a: 1", "addons/dev/notes.yaml: is not a .tf file"),
        ("addons/dev/more/x.tf", QUEUE, "addons/dev/more: is not a file: only .tf files (and .md notes) belong"),
        ("addons/dev/Queue.tf", QUEUE, "addons/dev/Queue.tf: is not a plain addon name"),
        ("addons/dev/queue_override.tf", QUEUE, "addons/dev/queue_override.tf: is named like a terraform override"),
        ("addons/_shared/override.tf", QUEUE, "addons/_shared/override.tf: is named like a terraform override"),
        (
            "addons/dev/t.tf",
            'resource "x" "y" {}\n\nterraform {\n  backend "s3" {}\n}\n',
            "addons/dev/t.tf:3: a terraform block",
        ),
        ("addons/dev/p.tf", 'provider "aws" {\n  region = "us-east-1"\n}\n', "addons/dev/p.tf:1: a provider block"),
        (
            "addons/dev/m.tf",
            'module "q" {\n  source = "../../addons/mods/q"\n}\n',
            "addons/dev/m.tf:1: module q comes from a local path",
        ),
        ("addons/dev/m1.tf", 'module "q" { source = "./q" }\n', "addons/dev/m1.tf:1: module q comes from a local path"),
        (
            "addons/dev/open.tf",
            'resource "a" "b" {\n  x = "y"\n',
            "addons/dev/open.tf:1: the '{' opened here is not closed",
        ),
        ("addons/dev/loose.tf", 'name = "x"\n', "addons/dev/loose.tf:1: 'name' outside a block"),
        ("addons/dev/queue2.tf", QUEUE, "addons/dev/queue2.tf:1: resource aws_sqs_queue.jobs is also declared in "),
        ("addons/_shared/queue.tf", QUEUE, "addons/dev/queue.tf: has the name of addons/_shared/queue.tf"),
    ],
)
def test_a_bad_addon_is_refused_with_its_file_and_line(
    demo: Path, capsys: pytest.CaptureFixture[str], rel: str, content: str, expected: str
) -> None:
    path = demo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    assert any(p.startswith(expected) for p in _problems(demo)), _problems(demo)
    code, _out, err = run(demo, capsys, "render", "dev")
    assert code == 2
    assert expected in err
    assert not (demo / "modules").exists(), "nothing is written"


def test_a_symlinked_or_too_large_or_binary_addon_is_refused(demo: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "evil.tf"
    outside.write_text(QUEUE)
    (demo / "addons/dev/link.tf").symlink_to(outside)
    (demo / "addons/dev/big.tf").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    (demo / "addons/dev/bin.tf").write_bytes(b"\xff\xfe\x00resource")
    problems = _problems(demo)
    assert "addons/dev/link.tf: is a symbolic link: addons are read as they are, never through a link" in problems
    assert any(p.startswith("addons/dev/big.tf: is too large (file is 1048577 bytes") for p in problems)
    assert any(p.startswith("addons/dev/bin.tf: is not UTF-8 text") for p in problems)


def test_a_symlinked_addons_folder_is_refused(demo: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "x.tf").write_text(QUEUE)
    os.rename(demo / "addons/dev", demo / "moved")
    (demo / "addons/dev").symlink_to(outside, target_is_directory=True)
    assert "addons/dev: addons/dev is a symbolic link: refusing to write or read through it" in _problems(demo)


# ------------------------------------------------------------------ grants from the YAML


def test_a_grant_of_a_resource_no_addon_declares_names_the_yaml_line(project) -> None:
    root = project(
        {
            "envs/dev.yaml": "project: demo\naws: {region: eu-west-1}\nnetwork: {vpc_id: vpc-0123456789abcdef0, "
            "private_subnet_ids: [subnet-0123456789abcdef0]}\nservices:\n  api:\n    image: nginx:1.27\n"
            "    permissions:\n      statements:\n        - actions: [sqs:SendMessage]\n"
            '          resources: ["addon:aws_sqs_queue.jobz.arn"]\n',
            "addons/dev/queue.tf": QUEUE,
        }
    )
    assert _problems(root) == [
        "envs/dev.yaml:10: services.api.permissions.statements[0].resources[0]: no addon declares resource "
        "aws_sqs_queue.jobz (in addons/_shared/ or addons/<env>/; declared: aws_sqs_queue.jobs)"
    ]


@pytest.mark.parametrize(
    "ref",
    [
        "addon:aws_sqs_queue.jobs",
        'addon:aws_sqs_queue.jobs.arn"] }\nresource "x" "y" {',
        "addon:aws_sqs_queue.jobs.arn${data.x}",
        "addon:aws_sqs_queue.jobs.arn/${x}",
        "addon:",
    ],
)
def test_a_malformed_reference_is_refused_and_never_rendered(project, ref: str) -> None:
    root = project({"envs/dev.yaml": _env(**_grant(ref)), "addons/dev/queue.tf": QUEUE})
    problems = _problems(root)
    assert len(problems) == 1
    assert "is not an addon reference (allowed: addon:<resource type>.<name>.<attribute>" in problems[0]
    assert "services.api.permissions.statements[0].resources[0]" in problems[0]


def test_a_reference_in_a_shared_layer_is_checked_per_environment(project) -> None:
    """_base grants an addon that only dev has: prod is refused, with the line in _base."""
    base = {k: v for k, v in _env(**_grant("addon:aws_sqs_queue.jobs.arn")).items()}
    root = project(
        {
            "envs/_base.yaml": base,
            "envs/dev.yaml": {"extends": ["_base"]},
            "envs/prod.yaml": {"extends": ["_base"]},
            "addons/dev/queue.tf": QUEUE,
        }
    )
    assert load_env(root, "dev").addons
    [problem] = _problems(root, "prod")
    assert problem.startswith("envs/_base.yaml:")
    assert "no addon declares resource aws_sqs_queue.jobs" in problem


# ------------------------------------------------------------------ the block scanner


def test_the_scanner_finds_top_level_blocks_only() -> None:
    text = """\
# provider "aws" {} in a comment
/* terraform {
} */
locals {
  policy = <<-EOT
    provider "x" {
    EOT
  text = "terraform { ${jsonencode({ a = "}" })} }"
  j    = "%{ if true }{%{ endif }"
}

resource "aws_sqs_queue" "jobs" { name = "q" }
data "aws_caller_identity" "me" {}
module "m" {
  source = "terraform-aws-modules/sqs/aws"
}
"""
    blocks = addons.top_level_blocks(text)
    assert [(b.kind, b.labels, b.line) for b in blocks] == [
        ("locals", (), 4),
        ("resource", ("aws_sqs_queue", "jobs"), 12),
        ("data", ("aws_caller_identity", "me"), 13),
        ("module", ("m",), 14),
    ]
    assert blocks[1].strings == {"name": "q"}
    assert blocks[3].strings == {"source": "terraform-aws-modules/sqs/aws"}


def test_the_example_environment_carries_its_addon() -> None:
    """local: the jobs queue (addons/local/jobs.tf), granted to the api service in envs/local.yaml."""
    loaded = load_env(ROOT, "local")
    assert [a.source for a in loaded.addons] == ["addons/local/jobs.tf"]
    statements = loaded.config.services["api"].permissions.statements
    assert statements[0].resources == ["addon:aws_sqs_queue.jobs.arn"]
    assert (ROOT / "modules/local/addon_jobs.tf").read_text() == addons.copy_text(loaded.addons[0])


# ------------------------------------------------------------------ the example's addon, rendered again


def test_the_example_addon_survives_a_render_and_the_check(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """local's addon copy is current: rendering again writes nothing, and render --check passes.

    Its plan on the emulator (the queue, and the grant as a reference into the iam module) is
    checked with local's inventory in tests/test_plans.py; its apply, in tests/test_life.py.
    """
    copy = repo / "modules/local/addon_jobs.tf"
    before = copy.read_bytes()
    code, out, err = run(repo, capsys, "render", "local")
    assert (code, out.strip()) == (0, "rendered modules/local/"), err  # nothing to write: the copy is current
    code, out, err = run(repo, capsys, "render", "--all", "--check")
    assert code == 0, err
    assert copy.read_bytes() == before
