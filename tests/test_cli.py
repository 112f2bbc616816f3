"""The CLI: commands, messages and the documented exit codes (0, 1, 2, 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hclforge.cli.main import main
from tests.conftest import run


def test_envs_lists_every_environment(repo: Path, capsys) -> None:
    code, out, _ = run(repo, capsys, "envs")
    assert code == 0
    assert "local        ap-northeast-1   emulator       local    api, web" in out
    assert "prod         ap-northeast-1   222222222222   s3       api, worker" in out


def test_show_fills_defaults(repo: Path, capsys) -> None:
    code, out, _ = run(repo, capsys, "show", "dev", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["cluster"]["name"] == "sss-dev"
    assert data["services"]["worker"]["auth"] == "jwt"
    assert data["services"]["admin"]["cpu"] == 256


def test_render_check_exit_codes(repo: Path, capsys) -> None:
    assert run(repo, capsys, "render", "--all", "--check")[0] == 0
    main_tf = repo / "modules/dev/ecs/main.tf"
    main_tf.write_text(main_tf.read_text().replace("sss-api:1.4.2", "sss-api:1.4.1"))
    code, _, err = run(repo, capsys, "render", "--all", "--check")
    assert code == 1
    assert "--- a/modules/dev/ecs/main.tf" in err and "modules/ is stale" in err
    assert run(repo, capsys, "render", "dev")[0] == 0
    assert run(repo, capsys, "render", "--all", "--check")[0] == 0


def test_config_error_exits_2(repo: Path, capsys) -> None:
    (repo / "envs/dev.yaml").write_text((repo / "envs/dev.yaml").read_text().replace("memory: 1024", "memory: 1000"))
    code, _, err = run(repo, capsys, "plan", "dev")
    assert code == 2
    assert "envs/dev.yaml:" in err and "services.worker.memory: 1000 is not valid for cpu 256" in err


def test_usage_errors_exit_2(repo: Path, capsys) -> None:
    assert run(repo, capsys, "no-such-command")[0] == 2
    assert run(repo, capsys, "plan")[0] == 2
    assert run(repo, capsys, "plan", "dev", "--format", "yaml")[0] == 2
    assert run(repo, capsys, "render", "dev", "--all")[0] == 2


def test_missing_terraform_exits_1(repo: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HCLFORGE_TERRAFORM", "no-such-terraform")
    code, _, err = run(repo, capsys, "init", "dev")
    assert code == 1
    assert "terraform not found: 'no-such-terraform' is not on PATH" in err
    assert "Traceback" not in err


def test_missing_mirror_override_exits_2(repo: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HCLFORGE_PROVIDER_MIRROR", str(repo / "no-mirror"))
    code, _, err = run(repo, capsys, "init", "dev")
    assert code == 2
    assert "does not exist" in err


def test_emulator_status_when_stopped_exits_1(repo: Path, capsys) -> None:
    code, _, err = run(repo, capsys, "emulator", "status")
    assert code == 1 and "emulator not running" in err


def test_show_origin_names_the_layer_of_each_value(repo: Path, capsys) -> None:
    code, out, _ = run(repo, capsys, "show", "dev", "--origin", "--json")
    assert code == 0
    rows = {r["path"]: (r["value"], r["origin"]) for r in json.loads(out)}
    base = (repo / "envs/_base.yaml").read_text().splitlines()
    dev = (repo / "envs/dev.yaml").read_text().splitlines()
    assert rows["project"] == ("sss", f"envs/_base.yaml:{base.index('project: sss') + 1}")
    account_line = dev.index('  account_id: "111111111111"') + 1
    assert rows["aws.account_id"] == ("111111111111", f"envs/dev.yaml:{account_line}")
    assert rows["cluster.name"] == ("sss-dev", "default")
    assert rows["services.worker.cpu"][1].startswith("envs/dev.yaml:")
    assert rows["services.api.cpu"][1].startswith("envs/_base.yaml:")
    assert rows["environment"] == ("dev", "file name")
    code, out, _ = run(repo, capsys, "show", "dev", "--origin")
    assert code == 0
    assert any(line.startswith("project ") and line.endswith("envs/_base.yaml:4") for line in out.splitlines())


def test_diff_lists_config_differences(repo: Path, capsys) -> None:
    code, out, _ = run(repo, capsys, "diff", "dev", "prod")
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == ["--- dev", "+++ prod"]
    assert "~ services.api.cpu: 512 -> 1024" in lines
    assert '- services.admin.image: "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/sss-admin:0.9.0"' in lines
    assert '+ scheduled_tasks.nightly-report.schedule: "cron(0 18 * * ? *)"' in lines
    assert not any(" environment:" in line for line in lines)
    code, out, _ = run(repo, capsys, "diff", "dev", "dev")
    assert code == 0 and out.strip() == "dev and dev have the same config"


def test_plan_all_json_out_needs_one_file_per_environment(repo: Path, capsys) -> None:
    code, _, err = run(repo, capsys, "plan", "--all", "--emulator", "--json-out", str(repo / "plan.json"))
    assert code == 2
    assert "error: --json-out with --all needs {env} in the path, e.g. plans/{env}.json" in err
    assert not (repo / ".hclforge/envs").exists()  # refused before anything was planned


def test_plan_all_config_error_exits_2(repo: Path, capsys) -> None:
    (repo / "envs/dev.yaml").write_text((repo / "envs/dev.yaml").read_text().replace("memory: 1024", "memory: 1000"))
    # (The other environments plan as in test_plans.py; only the broken one is kept.)
    (repo / "envs/local.yaml").unlink()
    (repo / "envs/prod.yaml").unlink()
    code, _, err = run(repo, capsys, "plan", "--all", "--emulator")
    assert code == 2
    assert err.count("services.worker.memory: 1000 is not valid for cpu 256") == 1


@pytest.mark.emulator
def test_account_guard_refuses_another_account_before_terraform(project, capsys, aws_env, monkeypatch) -> None:
    from tests.conftest import MINIMAL_ENV

    env = {**MINIMAL_ENV, "aws": {"region": "eu-west-1", "account_id": "111111111111"}}
    root = project({"envs/dev.yaml": env})
    # STS answers from the emulator (account 123456789012); terraform must never run.
    monkeypatch.setenv("HCLFORGE_TERRAFORM", "terraform-must-not-run")
    for args in (
        ["plan", "dev"],
        ["apply", "dev", "--auto-approve"],
        ["destroy", "dev", "--auto-approve"],
        ["drift", "dev"],
    ):
        code = main(["--root", str(root), *args])
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        assert (
            "envs/dev.yaml:" in err
            and "aws.account_id: your credentials are for AWS account 123456789012, not 111111111111" in err
        )
        assert "terraform not found" not in err
    # The matching account passes the guard (and then needs terraform, which is missing here).
    (root / "envs/dev.yaml").write_text((root / "envs/dev.yaml").read_text().replace("111111111111", "123456789012"))
    code = main(["--root", str(root), "plan", "dev"])
    assert code == 1 and "terraform not found" in capsys.readouterr().err
