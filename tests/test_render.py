"""Rendering: golden trees, determinism, headers, and what writing may touch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hclforge import render
from hclforge.config import load_env
from hclforge.errors import StaleTreeError, TemplateError
from tests.conftest import EXAMPLE_ENVS, MINIMAL_ENV, ROOT, tree_snapshot


@pytest.mark.parametrize("env", EXAMPLE_ENVS)
def test_committed_modules_equal_a_fresh_render(env: str) -> None:
    tree = render.render(ROOT, env)
    diff = render.unified_diff(ROOT, tree)
    assert diff == "", f"modules/{env} is stale; run 'python render.py --all':\n{diff}"


@pytest.mark.parametrize("env", EXAMPLE_ENVS)
def test_render_is_deterministic(env: str) -> None:
    """Two processes with different hash seeds render byte-identical trees (no set or dict order leaks)."""
    import hashlib
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import hashlib, json, sys; from pathlib import Path; from hclforge import render; "
        "files = render.render(Path(sys.argv[1]), sys.argv[2]).files; "
        "print(hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", probe, str(ROOT), env],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "4242")
    }
    files = render.render(ROOT, env).files
    assert digests == {hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()}


@pytest.mark.parametrize("env", EXAMPLE_ENVS)
def test_every_file_has_a_header_naming_its_sources(env: str) -> None:
    loaded = load_env(ROOT, env)
    copies = {addon.copy: addon.source for addon in loaded.addons}
    for name, text in render.render_env(loaded).files.items():
        first = text.splitlines()[0]
        assert first.startswith(f"# {render.GENERATED_MARK}"), name
        for source in [copies[name]] if name in copies else loaded.sources:  # an addon's copy names its file
            assert source in first, name


def test_modules_present_only_when_asked_for() -> None:
    assert {p.split("/")[0] for p in render.render(ROOT, "local").files if "/" in p} == {
        "network",
        "cognito",
        "iam",
        "cloudmap",
        "apigateway",
        "ecs",
    }
    assert {p.split("/")[0] for p in render.render(ROOT, "dev").files if "/" in p} == {
        "iam",
        "cloudmap",
        "apigateway",
        "ecs",
    }
    assert "scheduler/main.tf" in render.render(ROOT, "prod").files


def test_addresses_are_unrolled_and_readable() -> None:
    files = render.render(ROOT, "dev").files
    assert 'resource "aws_ecs_service" "api"' in files["ecs/main.tf"]
    assert 'resource "aws_apigatewayv2_route" "api_any_api_proxy"' in files["apigateway/main.tf"]
    assert 'resource "aws_apigatewayv2_route" "admin_any_admin_proxy"' in files["apigateway/main.tf"]
    assert 'resource "aws_iam_role" "task_worker"' in files["iam/main.tf"]
    assert 'resource "aws_iam_role_policies_exclusive" "task_worker"' in files["iam/main.tf"]


def test_emulator_shims_render_only_for_emulator_environments() -> None:
    local = render.render(ROOT, "local").files
    dev = render.render(ROOT, "dev").files
    for shim in ("ecs_service_launch_type", "ecs_service_ignore_az_rebalancing"):
        assert shim in local["ecs/main.tf"]
        assert shim not in "".join(dev.values())
    assert "capacity_provider_strategy" in dev["ecs/main.tf"]


def test_render_writes_only_generated_tf_files(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    target = root / "modules/dev"
    # Things render must never touch:
    keep = {
        ".terraform/providers/marker": "provider",
        ".terraform.lock.hcl": "# lock\n",
        "plan.tfplan": "binary",
        "terraform.tfstate": "{}",
        "notes.md": "# hand-written, no generated header\n",  # a hand-written .tf is refused: test_tree_contents.py
    }
    for rel, text in keep.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text)
    stale = target / "scheduler/main.tf"
    stale.parent.mkdir(parents=True)
    stale.write_text(f"# {render.GENERATED_MARK}: old\n")

    changes = render.write_tree(root, render.render(root, "dev"))

    for rel, text in keep.items():
        assert (target / rel).read_text() == text, rel
    assert not stale.exists() and not stale.parent.exists()
    assert {c.action for c in changes} == {"create", "delete"}
    assert not list(target.glob(".render-*"))
    assert render.write_tree(root, render.render(root, "dev")) == [
        render.FileChange(c.path, "identical") for c in changes if c.action == "create"
    ]


def test_check_reports_a_unified_diff(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    tree = render.render(root, "dev")
    render.write_tree(root, tree)
    render.check_tree(root, tree)
    main = root / "modules/dev/ecs/main.tf"
    main.write_text(main.read_text().replace('"nginx:1.27"', '"nginx:1.26"'))
    with pytest.raises(StaleTreeError) as info:
        render.check_tree(root, tree)
    assert "--- a/modules/dev/ecs/main.tf" in info.value.diff
    assert '-      image     = "nginx:1.26"' in info.value.diff
    assert '+      image     = "nginx:1.27"' in info.value.diff


def test_a_failing_render_leaves_the_previous_tree_byte_identical(project, monkeypatch) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    render.write_tree(root, render.render(root, "dev"))
    before = tree_snapshot(root / "modules")
    real = render._render_template

    def explode(name: str, context: dict) -> str:
        if name.startswith("ecs/"):
            raise TemplateError("boom in the middle")
        return real(name, context)

    monkeypatch.setattr(render, "_render_template", explode)
    (root / "envs/dev.yaml").write_text((root / "envs/dev.yaml").read_text().replace("nginx:1.27", "nginx:1.28"))
    with pytest.raises(TemplateError):
        render.write_tree(root, render.render(root, "dev"))
    assert tree_snapshot(root / "modules") == before


def test_templates_refuse_unescaped_strings() -> None:
    env = render.jinja_env().from_string("x = {{ value }}")
    with pytest.raises(TemplateError, match="unescaped str"):
        env.render(value="a")
    assert env.render(value=render.hcl.quote("a")) == 'x = "a"'


def test_templates_refuse_undefined_values() -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render.jinja_env().from_string("{{ missing | q }}").render()


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "render.py"), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_script_check_passes_on_the_repository() -> None:
    result = _script("--all", "--check", cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_script_renders_and_checks(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    assert _script("--check", "dev", cwd=root).returncode == 1
    result = _script("dev", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "rendered modules/dev/" in result.stdout
    assert _script("--check", "dev", cwd=root).returncode == 0
    (root / "modules/dev/main.tf").write_text("# stale\n")
    result = _script("--all", "--check", cwd=root)
    assert result.returncode == 1
    assert "+++ b/modules/dev/main.tf" in result.stderr and "stale" in result.stderr


def test_script_config_error_exits_2_without_traceback(project) -> None:
    root = project({"envs/dev.yaml": {**MINIMAL_ENV, "services": {"api": {"image": "x:1", "cpu": 999}}}})
    result = _script("dev", cwd=root)
    assert result.returncode == 2
    assert "envs/dev.yaml:" in result.stderr and "services.api.cpu: 999 is not a Fargate CPU size" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / "modules").exists()


def test_script_usage_errors_exit_2(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    assert _script(cwd=root).returncode == 2
    assert _script("dev", "--all", cwd=root).returncode == 2
