"""Remote state on S3 (on the emulator): bootstrap, and two concurrent applies of one environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hclforge.cli.main import main
from tests.conftest import MINIMAL_ENV, emulator_client

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]
BUCKET = "demo-shared-state"
KEY = "demo/shared/terraform.tfstate"
HCLFORGE = str(Path(sys.executable).parent / "hclforge")


@pytest.fixture
def shared(project) -> Iterator[Path]:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env.update({"aws": {"region": "eu-west-1", "emulator": True}, "backend": {"type": "s3", "bucket": BUCKET}})
    env["network"] = {"create": {"cidr": "10.9.0.0/16", "private_subnets": 1}}
    root = project({"envs/shared.yaml": env})
    yield root
    main(["--root", str(root), "emulator", "stop"])


def _s3(root: Path):  # type: ignore[no-untyped-def]
    return emulator_client(root, "s3", "eu-west-1")


def test_bootstrap_is_idempotent_and_hardens_the_bucket(shared: Path, capsys) -> None:
    assert main(["--root", str(shared), "bootstrap", "shared"]) == 0
    err = capsys.readouterr().err
    assert f"bucket {BUCKET}: created in eu-west-1" in err and "the emulator speaks plain HTTP" in err
    assert main(["--root", str(shared), "bootstrap", "shared"]) == 0
    assert f"bucket {BUCKET}: exists" in capsys.readouterr().err
    s3 = _s3(shared)
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())


def test_bootstrap_puts_a_tls_only_policy_and_a_lock_table_on_aws(shared: Path) -> None:
    """What real AWS gets, against the emulator: the TLS-only policy and a DynamoDB lock table."""
    from hclforge.cli.awsaccess import EmulatorSession as _EmulatorSession
    from hclforge.cli.bootstrap import bootstrap
    from hclforge.cli.emulator import Emulator
    from hclforge.config import load_env

    main(["--root", str(shared), "emulator", "start"])
    env_file = shared / "envs/shared.yaml"
    env_file.write_text(env_file.read_text().replace(BUCKET, "demo-aws-like"))
    cfg = load_env(shared, "shared").config
    cfg.backend.lock, cfg.backend.dynamodb_table = "dynamodb", "demo-locks"
    port = json.loads((shared / ".hclforge/emulator.json").read_text())["port"]
    session = _EmulatorSession(Emulator(0, port), "eu-west-1")
    said: list[str] = []
    bootstrap(cfg, session, said.append, tls_only=True)
    assert "bucket demo-aws-like: versioning on, encrypted (AES256), public access blocked, TLS only" in said
    assert "lock table demo-locks: created" in said
    policy = json.loads(_s3(shared).get_bucket_policy(Bucket="demo-aws-like")["Policy"])
    assert policy["Statement"][0]["Effect"] == "Deny"
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    said.clear()
    bootstrap(cfg, session, said.append, tls_only=True)
    assert "lock table demo-locks: exists" in said and "bucket demo-aws-like: exists" in said


def test_bootstrap_of_a_local_backend_is_a_usage_error(project, capsys) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    assert main(["--root", str(root), "bootstrap", "dev"]) == 2
    assert "nothing to bootstrap" in capsys.readouterr().err


@pytest.mark.slow
def test_two_concurrent_applies(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    assert main(["--root", str(shared), "bootstrap", "shared"]) == 0
    s3 = _s3(shared)
    # The second apply runs from another checkout of the project (another machine, as far as
    # hclforge's own files go: in one checkout, hclforge's command lock refuses it before
    # terraform runs), on the same emulator.
    other = tmp_path_factory.mktemp("other-checkout")
    shutil.copytree(shared / "envs", other / "envs")
    shutil.copy(shared / "hclforge.toml", other / "hclforge.toml")
    (other / ".hclforge").mkdir(mode=0o700)
    shutil.copy(shared / ".hclforge/emulator.json", other / ".hclforge/emulator.json")
    assert main(["--root", str(other), "init", "shared"]) == 0  # so that its apply meets the lock at once
    first = subprocess.Popen(
        [HCLFORGE, "--root", str(shared), "apply", "shared", "--auto-approve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _check_concurrent(shared, other, s3, first)
    finally:
        if first.poll() is None:
            # Never leave an apply running after a failure: SIGTERM stops hclforge and its
            # detached terraform gracefully (a kill -9 would leave terraform to finish alone).
            first.terminate()
            first.wait(timeout=300)


def _check_concurrent(shared: Path, other: Path, s3: Any, first: subprocess.Popen[str]) -> None:
    """The second apply fails on the lock while the first runs; the first's state is whole."""
    # Wait until the first holds the lock for its apply (not for its plan).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        try:
            lock = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{KEY}.tflock")["Body"].read())
            if lock.get("Operation") == "OperationTypeApply":
                break
        except s3.exceptions.NoSuchKey:
            pass
        time.sleep(0.2)
    else:
        pytest.fail(f"the first apply never held the lock: {first.communicate()}")

    second = subprocess.run(
        [HCLFORGE, "--root", str(other), "apply", "shared", "--auto-approve"], capture_output=True, text=True
    )
    assert first.poll() is None, "the second apply must fail while the first still runs"
    assert second.returncode == 1, second.stderr
    assert "the state is locked by" in second.stderr and "(apply), since 20" in second.stderr
    assert "Traceback" not in second.stderr

    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    state = json.loads(s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read())
    addresses = [(r.get("module"), r["type"], r["name"]) for r in state["resources"] if r["mode"] == "managed"]
    assert len(addresses) == len(set(addresses)) and all(len(r["instances"]) == 1 for r in state["resources"])
    serial = state["serial"]
    # The bucket is versioned: every state write left a version. One writer only: a single lineage,
    # serials 1..N each written once (terraform also persists a snapshot during a long apply).
    versions = [v for v in s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"] if v["Key"] == KEY]
    written = [
        json.loads(s3.get_object(Bucket=BUCKET, Key=KEY, VersionId=v["VersionId"])["Body"].read()) for v in versions
    ]
    assert {w["lineage"] for w in written} == {state["lineage"]}
    assert sorted(w["serial"] for w in written) == list(range(1, serial + 1))  # each serial written once
    # Nothing to do on a re-plan; an apply of no changes writes no new state.
    assert main(["--root", str(shared), "apply", "shared", "--auto-approve"]) == 0
    again = json.loads(s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read())
    assert again["serial"] == serial and again["lineage"] == state["lineage"]
