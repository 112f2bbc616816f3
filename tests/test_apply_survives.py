"""hclforge dying never cuts terraform off mid-apply; protect sees deletions (signals: test_interrupt.py).

One applied stack of ``local`` (made protected) is shared: kill -9 of hclforge
mid-apply, the re-apply that recovers, then a service removed from the YAML and
the cluster renamed (refused, then let through with ``--allow-replace``; the
removal applied), and the guarded destroy.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from hclforge.cli.main import main
from tests.conftest import ROOT, WITHOUT_LOCK, emulator_client, start_apply

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]


def _note(path: Path) -> dict[str, Any]:
    """The record of the running apply ({} when there is none)."""
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI run in this process (no interpreter start-up each time): exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--no-color", "--root", str(root), *args])
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def test_kill_9_of_hclforge_mid_apply_then_reapply_and_protect(tmp_path: Path) -> None:
    for name in ("envs", "addons", "modules"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=WITHOUT_LOCK)
    shutil.copy(ROOT / "hclforge.toml", tmp_path / "hclforge.toml")
    env_file = tmp_path / "envs/local.yaml"
    env_file.write_text(env_file.read_text() + "protect: true\n")
    try:
        proc, seen = start_apply(tmp_path, "local")
        proc.kill()  # kill -9: no handler, no cleanup
        proc.communicate()
        note = _note(tmp_path / ".hclforge/envs/local/running.json")

        again = _run(tmp_path, "apply", "local", "--auto-approve")
        text = again.stdout + again.stderr
        assert again.returncode == 0, "".join(seen) + text
        ec2 = emulator_client(tmp_path, "ec2")
        vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
        assert [v["CidrBlock"] for v in vpcs] == ["10.42.0.0/16"]
        assert note["command"] == "apply" and note["pid"] != proc.pid
        assert f"an apply of local started at {note['started']} by pid {note['pid']}" in text
        assert ("is still running" in text) or ("finished after hclforge stopped watching it" in text)
        assert "someone applied in between" not in text
        assert not (tmp_path / ".hclforge/envs/local/running.json").exists()
        state_dir = tmp_path / ".hclforge/state/local"
        assert not (state_dir / ".terraform.tfstate.lock.info").exists()
        assert (state_dir / "terraform.tfstate").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / ".hclforge").stat().st_mode & 0o777 == 0o700
        # The apply that outlived hclforge finished the job: the re-apply's own full plan
        # (refreshed, after it waited) found nothing left to do.
        assert "no changes to apply" in text, text

        # protect: a service removed from the YAML takes its protected log group with it.
        data = yaml.safe_load(env_file.read_text())
        del data["services"]["web"]
        env_file.write_text(yaml.safe_dump(data))
        refused = _run(tmp_path, "plan", "local")
        text = refused.stdout + refused.stderr
        assert refused.returncode == 1, text
        assert "local is protected (protect: true) and the plan would destroy or replace:" in text
        assert "! module.ecs.aws_cloudwatch_log_group.web" in text
        assert not (tmp_path / ".hclforge/envs/local/plan.tfplan").exists()

        # Together with a replacement terraform itself stops on (prevent_destroy), the removed
        # block's resource is still named: it is found in the prior state.
        data["cluster"] = {"name": "sss-local-v2"}
        env_file.write_text(yaml.safe_dump(data))
        both = _run(tmp_path, "plan", "local")
        text = both.stdout + both.stderr
        assert both.returncode == 1, text
        assert "! module.ecs.aws_cloudwatch_log_group.web" in text and "! module.ecs.aws_ecs_cluster.this" in text
        assert "hclforge apply local --allow-replace" in text

        # --allow-replace lets both through (the copy it plans has no prevent_destroy); the
        # deleted rows are filed under the service, the cluster's replacement under "-".
        allowed = _run(tmp_path, "plan", "local", "--allow-replace", "--format", "json", "--detailed-exitcode")
        assert allowed.returncode == 3, allowed.stderr
        rows = json.loads(allowed.stdout)["changes"]
        assert {(r["module"], r["service"]) for r in rows if r["delete"]} >= {("ecs", "web"), ("iam", "web")}
        assert not [r for r in rows if r["service"] == "-" and r["delete"]]
        assert [r for r in rows if (r["module"], r["service"]) == ("ecs", "-") and r["replace"]], rows

        # Applied is the deletion alone: a new cluster would cost some 30 s of the provider's
        # fixed waits, and an apply follows its saved plan.
        del data["cluster"]
        env_file.write_text(yaml.safe_dump(data))
        assert _run(tmp_path, "plan", "local", "--allow-replace").returncode == 0
        removed = _run(tmp_path, "apply", "local", "--auto-approve", "--allow-replace")
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert "0 replaced" in removed.stdout and "0 deleted" not in removed.stdout, removed.stdout
        ecs = emulator_client(tmp_path, "ecs")
        services = ecs.describe_services(cluster="sss-local", services=["api", "web"])["services"]
        assert {s["serviceName"]: s["status"] for s in services} == {"api": "ACTIVE", "web": "INACTIVE"}
        logs = emulator_client(tmp_path, "logs")
        assert [
            g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/ecs/sss-local/")["logGroups"]
        ] == ["/ecs/sss-local/api"]
        # The tree itself (prevent_destroy in place) agrees with the state afterwards.
        assert _run(tmp_path, "plan", "local", "--detailed-exitcode").returncode == 0
        assert not list((tmp_path / "modules/local").rglob("hclforge_override.tf*"))

        # Destroy: --force, then the name typed, or --yes-i-mean-ENV without a terminal.
        for args, message in (
            (["--auto-approve"], "destroy needs --force"),
            (["--force"], "add --yes-i-mean-local"),
            (["--force", "--yes-i-mean-prod"], "no such option: --yes-i-mean-prod"),
        ):
            refused = _run(tmp_path, "destroy", "local", *args)
            assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        destroyed = _run(tmp_path, "destroy", "local", "--force", "--yes-i-mean-local")
        assert destroyed.returncode == 0, destroyed.stderr
        clusters = ecs.describe_clusters(clusters=["sss-local"])["clusters"]
        assert all(c["status"] != "ACTIVE" for c in clusters)
    finally:
        main(["--root", str(tmp_path), "emulator", "stop"])
