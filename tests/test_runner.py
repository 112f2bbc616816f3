"""The terraform runner: python-terraform's defects are worked around, output streams."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from python_terraform import IsFlagged, IsNotFlagged
from python_terraform import Terraform as PyTerraform

from hclforge.cli.ops import Workspace
from hclforge.cli.settings import load_settings
from hclforge.cli.terraform import Terraform, build_args
from hclforge.errors import TerraformError
from tests.conftest import MINIMAL_ENV


@pytest.mark.parametrize(
    ("command", "args", "options", "expected"),
    [
        (
            "plan",
            (),
            {"out": "p.tfplan", "detailed_exitcode": IsFlagged},
            ["plan", "-out=p.tfplan", "-detailed-exitcode"],
        ),
        (
            "apply",
            ("p.tfplan",),
            {"input": False, "no_color": IsFlagged},
            ["apply", "-input=false", "-no-color", "p.tfplan"],
        ),
        ("init", (), {"backend": False, "reconfigure": None}, ["init", "-backend=false"]),
        ("destroy", (), {"auto_approve": IsFlagged, "var": None}, ["destroy", "-auto-approve"]),
        ("plan", (), {"target": ["a.b", "c.d"]}, ["plan", "-target=a.b", "-target=c.d"]),
        ("plan", (), {"refresh": False}, ["plan", "-refresh=false"]),
        ("plan", (), {"refresh": None}, ["plan"]),
        ("show", ("x",), {"json": IsFlagged, "no_color": IsNotFlagged}, ["show", "-json", "x"]),
        ("state pull", (), {}, ["state", "pull"]),
    ],
)
def test_build_args_table(command: str, args: tuple[str, ...], options: dict, expected: list[str]) -> None:
    assert build_args("terraform", command, *args, **options) == ["terraform", *expected]


def test_dict_options_are_refused_because_python_terraform_writes_a_var_file() -> None:
    with pytest.raises(TypeError, match="var-file"):
        build_args("terraform", "plan", var={})


def _argv(tf: Terraform, method: str, *args: object) -> list[str]:
    seen: list[list[str]] = []

    def fake_execute(argv, **_kw):  # type: ignore[no-untyped-def]
        seen.append(list(argv))
        from hclforge.cli.terraform import Result

        return Result(tuple(argv), 2 if method == "plan" else 0, "{}", "")

    tf.execute = fake_execute  # type: ignore[method-assign]
    getattr(tf, method)(*args)
    return seen[0]


def test_python_terraform_destroy_still_sends_force() -> None:
    """The upstream defect this runner exists for: if this fails, python-terraform fixed it."""
    py = PyTerraform(working_dir="/nonexistent")
    options = py._generate_default_options({"force": IsFlagged})
    assert "-force" in py.generate_cmd_string("destroy", **options)


def test_destroy_sends_auto_approve_not_force(tmp_path: Path) -> None:
    argv = _argv(Terraform(tmp_path), "destroy")
    assert "-force" not in argv and "-auto-approve" in argv
    assert not any(a.startswith("-var-file") for a in argv)


def test_python_terraform_adds_a_var_file_for_empty_vars() -> None:
    py = PyTerraform(working_dir="/nonexistent")
    argv = py.generate_cmd_string("apply", "p.tfplan", var={})
    assert any(a.startswith("-var-file=") for a in argv)
    py.temp_var_files.clean_up()


def test_saved_plan_apply_has_no_var_file_and_no_prompt_flags(tmp_path: Path) -> None:
    argv = _argv(Terraform(tmp_path), "apply_plan", tmp_path / "p.tfplan")
    assert argv[-1] == str(tmp_path / "p.tfplan")
    assert not any(a.startswith(("-var-file", "-var=", "-auto-approve")) for a in argv)
    assert "-input=false" in argv


def test_python_terraform_ties_auto_approve_to_skip_plan() -> None:
    calls: list[tuple] = []
    py = PyTerraform(working_dir="/nonexistent")
    py.cmd = lambda *a, **kw: calls.append((a, kw))  # type: ignore[method-assign]
    py.apply("p.tfplan", var=None)
    assert calls[0][1]["auto-approve"] is False  # -auto-approve=false unless skip_plan


def test_plan_reads_detailed_exit_code_2_as_changes(tmp_path: Path) -> None:
    argv = _argv(Terraform(tmp_path), "plan", tmp_path / "p.tfplan")
    assert "-detailed-exitcode" in argv


def test_no_positional_directory_and_non_interactive(tmp_path: Path) -> None:
    argv = _argv(Terraform(tmp_path), "init")
    assert argv[1] == "init" and "-input=false" in argv and "-no-color" in argv
    assert str(tmp_path) not in argv


def test_color_only_when_asked(tmp_path: Path) -> None:
    assert "-no-color" not in _argv(Terraform(tmp_path, color=True), "init")


def _fake_terraform(tmp_path: Path, body: str) -> str:
    script = tmp_path / "terraform"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_output_streams_line_by_line(tmp_path: Path) -> None:
    marker = tmp_path / "first-seen"
    binary = _fake_terraform(
        tmp_path,
        f'echo first\ni=0\nwhile [ ! -f "{marker}" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n'
        f'if [ -f "{marker}" ]; then echo second; else echo buffered; fi\n',
    )
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        if line == "first":
            marker.touch()

    Terraform(tmp_path, binary=binary, sink=sink).execute([binary, "version"])
    assert lines == ["first", "second"]


def test_terraform_runs_with_gogc_400_unless_the_user_set_gogc(tmp_path: Path, monkeypatch) -> None:
    """Go's collector at 400 for terraform and its provider (about a quarter less CPU, make bench)."""
    binary = _fake_terraform(tmp_path, 'echo "GOGC=$GOGC"\n')
    scrubbed = {"PATH": os.environ["PATH"]}  # as on the emulator: a whole environment of hclforge's own
    for base_env in (None, scrubbed):
        monkeypatch.delenv("GOGC", raising=False)
        lines: list[str] = []
        Terraform(tmp_path, binary=binary, sink=lines.append, base_env=base_env).execute([binary, "version"])
        assert lines == ["GOGC=400"]
        monkeypatch.setenv("GOGC", "off")
        lines.clear()
        Terraform(tmp_path, binary=binary, sink=lines.append, base_env=base_env).execute([binary, "version"])
        assert lines == ["GOGC=off"]


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TerraformError, match="terraform not found: 'no-such-terraform' is not on PATH"):
        Terraform(tmp_path, binary="no-such-terraform").init()


def test_failure_carries_stderr_and_exit_code(tmp_path: Path) -> None:
    binary = _fake_terraform(tmp_path, 'echo "Error: something broke" >&2\nexit 1\n')
    with pytest.raises(TerraformError, match="terraform init failed \\(exit 1\\):\nError: something broke") as info:
        Terraform(tmp_path, binary=binary).init()
    assert info.value.returncode == 1


@pytest.mark.terraform
def test_real_plan_exit_codes(tmp_path: Path, tf_env: dict[str, str]) -> None:
    (tmp_path / "main.tf").write_text('output "x" {\n  value = "a"\n}\n')
    tf = Terraform(tmp_path, env={**tf_env, "TF_DATA_DIR": str(tmp_path / ".data")})
    tf.init()
    assert tf.plan(tmp_path / "p.tfplan") is True
    tf.apply_plan(tmp_path / "p.tfplan")
    assert tf.plan(tmp_path / "p.tfplan") is False
    assert tf.output_json("x") == "a"


@pytest.mark.terraform
def test_init_is_skipped_when_nothing_changed(project, tf_env: dict[str, str], monkeypatch) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", str(Path(tf_env["TF_CLI_CONFIG_FILE"]).parent / "cache"))
    settings = load_settings(root)

    def workspace() -> Workspace:
        return Workspace(settings, "dev")

    assert workspace().init() is True
    assert workspace().init() is False
    env_file = root / "envs/dev.yaml"
    env_file.write_text(env_file.read_text().replace("nginx:1.27", "nginx:1.28"))
    assert workspace().init() is False  # a child module changed: no init needed
    env_file.write_text(env_file.read_text().replace("eu-west-1", "eu-central-1"))
    assert workspace().init() is True  # the root module changed
    assert workspace().init(force=True) is True
    assert (root / "modules/dev/.terraform.lock.hcl").is_file()
    assert not (root / "modules/dev/.terraform").exists()  # the data dir lives under .hclforge/
    assert os.path.isdir(root / ".hclforge/envs/dev/tfdata")


@pytest.mark.parametrize(
    ("backend", "reinit"), [({"type": "local"}, False), ({"type": "s3", "bucket": "demo-state"}, True)]
)
def test_a_new_emulator_port_needs_init_only_for_an_s3_backend(project, backend: dict[str, str], reinit: bool) -> None:
    """An emulator restarted on another port used to re-init every local-state tree (1.4 CPU-s each)."""
    root = project({"envs/dev.yaml": {**MINIMAL_ENV, "backend": backend}})
    ws = Workspace(load_settings(root), "dev")
    ws.render()

    def fingerprint(port: int) -> str:
        ws._runner = ws.make_runner(
            ws.root.work_dir, ws.root.data_dir, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        )
        return ws._init_fingerprint()

    assert (fingerprint(40001) != fingerprint(40002)) is reinit
