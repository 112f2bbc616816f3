"""Secrets never leak: after a full round trip, no file and no output holds a secret's value."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from hclforge.cli.main import main
from tests.conftest import MINIMAL_ENV, emulator_client

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]
CANARY = "canary-s3cr3t-Value-8d2f"


@pytest.mark.slow
def test_no_secret_value_in_files_summaries_or_logs(project, capsys) -> None:
    root = project({})
    tmp_before = set(Path(tempfile.gettempdir()).iterdir())
    try:
        assert main(["--root", str(root), "emulator", "start"]) == 0
        sm = emulator_client(root, "secretsmanager", "eu-west-1")
        arn = sm.create_secret(Name="demo/db", SecretString=CANARY)["ARN"]
        env = json.loads(json.dumps(MINIMAL_ENV))
        env["aws"] = {"region": "eu-west-1", "emulator": True}
        env["network"] = {"create": {"cidr": "10.6.0.0/16", "private_subnets": 1}}
        env["services"]["api"]["secrets"] = {"DB_PASSWORD": arn}
        (root / "envs").mkdir(exist_ok=True)
        (root / "envs/secret.yaml").write_text(json.dumps(env))
        outputs = []
        for args in (
            ["plan", "secret"],
            ["apply", "secret", "--auto-approve"],
            ["plan", "secret", "--format", "json"],
            ["output", "secret", "--json"],
            ["show", "secret"],
            ["-v", "destroy", "secret", "--auto-approve"],
        ):
            code = main(["--root", str(root), *args])
            captured = capsys.readouterr()
            outputs.append(captured.out + captured.err)
            assert code == 0, captured.err
        assert arn in (root / "modules/secret/ecs/main.tf").read_text()  # referenced by ARN
        leaks = [str(p) for p in root.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
        assert leaks == [], leaks
        assert not any(CANARY in text for text in outputs)
    finally:
        main(["--root", str(root), "emulator", "stop"])
    # python-terraform's temporary var files are never made, so none can outlive a command.
    new = [p.name for p in set(Path(tempfile.gettempdir()).iterdir()) - tmp_before if p.suffix == ".tfvars.json"]
    assert new == []
