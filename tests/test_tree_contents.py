"""A generated tree holds what hclforge rendered and terraform's own working files, nothing else (issue 20, point 2).

Before the fix, terraform planned and applied files nobody rendered: the symlink
check looked only at names ending in ``.tf`` (a linked ``zz_evil.tf.json`` was
read), and the render stamp counted only files with the generated mark (an
unmarked ``extra.tf`` left the tree "fresh", for ``plan`` and ``render --check``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hclforge import render
from hclforge.cli.ops import Workspace
from hclforge.cli.settings import load_settings
from hclforge.errors import ForeignFileError
from hclforge.tree import foreign_files
from tests.conftest import MINIMAL_ENV, run, tree_snapshot

HAND_WRITTEN = 'resource "aws_sqs_queue" "sneaky" {\n  name = "sneaky"\n}\n'


@pytest.fixture
def rendered(project) -> Path:
    """A project whose dev tree was rendered by a command (so its render stamp exists)."""
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    assert Workspace(load_settings(root), "dev").render()
    return root


def _put(tree: Path, rel: str, text: str = HAND_WRITTEN) -> Path:
    path = tree / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ------------------------------------------------------------------ plan, apply, render --check


def test_a_symlinked_tf_json_is_refused_by_plan_apply_and_render_check(
    rendered: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "evil.tf.json"
    outside.write_text('{"resource": {"aws_sqs_queue": {"evil": {"name": "evil"}}}}\n')
    (rendered / "modules/dev/zz_evil.tf.json").symlink_to(outside)
    for args in (("plan", "dev"), ("apply", "dev", "--auto-approve"), ("render", "--check", "dev"), ("render", "dev")):
        code, _out, err = run(rendered, capsys, *args)
        assert code == 2, (args, err)
        assert "modules/dev/zz_evil.tf.json is a symbolic link" in err, args
        assert "Traceback" not in err
    assert not (rendered / ".hclforge/envs/dev/tfdata").exists(), "terraform ran"
    assert (rendered / "modules/dev/zz_evil.tf.json").is_symlink(), "nothing is deleted"


def test_an_unmarked_tf_file_is_refused_by_plan_apply_and_render_check(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = _put(rendered / "modules/dev", "extra.tf")
    for args in (("plan", "dev"), ("apply", "dev", "--auto-approve"), ("render", "--check", "dev"), ("render", "dev")):
        code, _out, err = run(rendered, capsys, *args)
        assert code == 2, (args, err)
        assert "modules/dev/extra.tf: not rendered by hclforge" in err, args
        assert "addons/dev/" in err  # where hand-written Terraform belongs
    assert extra.read_text() == HAND_WRITTEN, "a refused file is never changed or deleted"
    assert not (rendered / ".hclforge/envs/dev/tfdata").exists(), "terraform ran"


@pytest.mark.parametrize(
    "rel",
    [
        "notes.tf",
        "extra.tf.json",
        "main_override.tf",
        "override.tf",
        "override.tf.json",
        "ecs_override.tf.json",
        "terraform.tfvars",
        "prod.auto.tfvars.json",
        "iam/extra.tf",
        "ecs/ecs_override.tf",
        "ecs/more.tf.json",
        "stray/module.tf",
    ],
)
def test_every_kind_of_file_terraform_reads_is_refused(rendered: Path, rel: str) -> None:
    _put(rendered / "modules/dev", rel)
    with pytest.raises(ForeignFileError, match=rf"modules/dev/{rel.replace('.', '[.]')}: not rendered by hclforge"):
        render.render_many(rendered, ["dev"], check=True)
    with pytest.raises(ForeignFileError):
        Workspace(load_settings(rendered), "dev").render()


@pytest.mark.parametrize("rel", ["ecs/main.tf", "iam", "README.md", ".terraform.lock.hcl", "ecs/notes.txt"])
def test_a_symlink_of_any_name_is_refused(rendered: Path, rel: str, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    target = rendered / "modules/dev" / rel
    if target.is_dir():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
        target.symlink_to(outside, target_is_directory=True)
    else:
        target.unlink(missing_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(outside / "x")
    problems = foreign_files(rendered, "dev", set(render.render(rendered, "dev").files))
    assert problems == [f"modules/dev/{rel} is a symbolic link: a generated tree holds no links"]
    with pytest.raises(ForeignFileError, match=f"modules/dev/{rel} is a symbolic link"):
        render.render_many(rendered, ["dev"], check=True)


def test_every_foreign_file_is_named_at_once(rendered: Path) -> None:
    for rel in ("b.tf", "a.tf.json", "iam/c_override.tf"):
        _put(rendered / "modules/dev", rel)
    with pytest.raises(ForeignFileError) as err:
        render.render_many(rendered, ["dev"], check=True)
    assert [line.split(":")[0] for line in str(err.value).splitlines()[1:4]] == [
        "  modules/dev/a.tf.json",
        "  modules/dev/b.tf",
        "  modules/dev/iam/c_override.tf",
    ]


# ------------------------------------------------------------------ what stays allowed


def test_terraforms_own_working_files_are_allowed(rendered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plain ``terraform init/plan`` in the tree, a local state, saved plans, crash logs, OS litter."""
    tree = rendered / "modules/dev"
    providers = tree / ".terraform/providers/registry.terraform.io/hashicorp/aws/5.100.0"
    providers.mkdir(parents=True)
    (providers / "linux_amd64").symlink_to(rendered)  # terraform links providers from its cache
    (tree / ".terraform/terraform.tfstate").write_text("{}")
    for rel, text in {
        ".terraform.lock.hcl": "# lock\n",
        ".terraform.tfstate.lock.info": "{}",
        "terraform.tfstate": "{}",
        "terraform.tfstate.backup": "{}",
        "terraform.tfstate.d/blue/terraform.tfstate": "{}",
        "plan.tfplan": "PK",
        "crash.log": "panic",
        ".DS_Store": "",
        "ecs/.DS_Store": "",
        "NOTES.md": "# why this env exists\n",
    }.items():
        _put(tree, rel, text)
    before = tree_snapshot(tree)
    code, out, err = run(rendered, capsys, "render", "--check", "dev")
    assert code == 0, err
    assert out.strip() == "up to date modules/dev/"
    assert Workspace(load_settings(rendered), "dev").render() == [], "the tree is no longer fresh"
    assert tree_snapshot(tree) == before


def test_a_stale_generated_file_is_still_removed_by_render(rendered: Path) -> None:
    """A file with the generated mark that the render no longer writes is hclforge's own: render deletes it."""
    stale = _put(rendered / "modules/dev", "scheduler/main.tf", f"# {render.GENERATED_MARK}: old\n")
    changes = render.render_many(rendered, ["dev"], check=False)["dev"]
    assert render.FileChange("scheduler/main.tf", "delete") in changes
    assert not stale.exists()


def test_the_emulator_copy_gets_its_override_and_the_tree_stays_fresh(rendered: Path) -> None:
    ws = Workspace(load_settings(rendered), "dev", emulator=True)
    assert ws.render() == []
    ws.prepare_workdir()
    copy = rendered / ".hclforge/envs/dev/emulator-tree"
    assert (copy / "hclforge_override.tf.json").is_file()
    assert sorted(p.name for p in copy.glob("*.tf*")) == ["hclforge_override.tf.json", "main.tf", "outputs.tf"]
    assert not (rendered / "modules/dev/hclforge_override.tf.json").exists()
    assert Workspace(load_settings(rendered), "dev").render() == []


def test_a_fifo_is_named_not_opened(rendered: Path) -> None:
    os.mkfifo(rendered / "modules/dev/ecs/pipe.tf")
    with pytest.raises(ForeignFileError, match=r"modules/dev/ecs/pipe\.tf is not a regular file"):
        render.render_many(rendered, ["dev"], check=True)
