"""``hclforge state split|join ENV`` (issue 23.4): moving an environment between one state and a state per root.

The unit tests check where each resource goes and the journal on the committed fixture
``tests/fixtures/split`` (``one`` and ``team`` are one shop, rendered one way and the
other). One emulator test applies a small environment with one state on an S3 backend,
splits it (killed once mid-move, then run again), and joins it back, reading the ids
back with boto3.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from hclforge import render, statemove
from hclforge.cli.main import main
from hclforge.config import load_env
from hclforge.errors import StateMoveRefused
from hclforge.roots import ONE_ROOT_ONLY, split_layout
from hclforge.statemove import Journal, Source, Target, address_of, fingerprint
from tests.conftest import ROOT, emulator_client, run

FIXTURE = ROOT / "tests/fixtures/split"
HCLFORGE = str(Path(sys.executable).parent / "hclforge")
COMBINED, PIN = ONE_ROOT_ONLY


def _owners(command: str) -> tuple[dict[str, str], set[str], dict[str, str]]:
    loaded = load_env(FIXTURE, "team")
    cfg = loaded.config
    one = render.render(FIXTURE, "one").files
    split = render.render(FIXTURE, "team").files
    placed, dropped = statemove.owners(command, cfg, one, split, split_layout("team", cfg))
    return placed, dropped, one


def _resource(address: str, ident: str) -> dict[str, Any]:
    _, module, rtype, name = address.split(".")
    return {
        "module": f"module.{module}",
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
        "instances": [{"schema_version": 0, "attributes": {"id": ident}}],
    }


def _state(addresses: list[str], lineage: str = "0a1b2c3d-0000-4000-8000-000000000001") -> dict[str, Any]:
    resources = [_resource(a, f"id-{i}") for i, a in enumerate(addresses)]
    return {"version": 4, "serial": 7, "lineage": lineage, "outputs": {}, "resources": resources}


# ---------------------------------------------------------------- where each resource goes


def test_split_puts_every_resource_of_the_one_root_in_one_root_and_drops_only_the_pin() -> None:
    placed, dropped, one = _owners("split")
    one_addresses = statemove.declared(one, "")
    assert dropped == {PIN}
    assert one_addresses - set(placed) == {PIN}
    assert placed[COMBINED] == "shared"  # shared's apply deletes it, after the service roots made their own
    assert placed["module.ecs.aws_ecs_service.billing"] == "services/payments"
    assert placed["module.ecs.aws_security_group.billing"] == "shared"
    moved = statemove.partition({"": _state(sorted(one_addresses))}, placed, dropped, sorted(set(placed.values())))
    assert sum(len(r) for r in moved.values()) == len(one_addresses) - 1


def test_join_takes_every_resource_of_the_split_roots_and_drops_their_secrets_policies() -> None:
    placed, dropped, one = _owners("join")
    assert set(placed.values()) == {""}
    assert dropped == {
        "module.iam.aws_iam_role_policy.execution_api",
        "module.iam.aws_iam_role_policy.execution_billing",
    }
    assert set(placed) == statemove.declared(one, "")


def test_a_scratch_root_gets_the_backend_block_of_the_root_it_reads_and_no_provider() -> None:
    shared = render.render(FIXTURE, "team").files["shared/main.tf"]
    block = statemove.backend_block(shared)
    assert block.startswith("terraform {\n") and block.endswith("}\n")
    assert re.search(r'key +?= "shop/team/shared.tfstate"', block) and re.search(r"use_lockfile += true", block)
    assert "required_providers" not in block and "provider" not in block.replace("required_version", "")
    one = statemove.backend_block(render.render(FIXTURE, "one").files["main.tf"])
    assert re.search(r'key +?= "shop/one/terraform.tfstate"', one)


def test_a_resource_in_no_new_root_or_in_two_states_is_refused() -> None:
    placed, dropped, _ = _owners("split")
    orphan = _state(["module.ecs.aws_ecs_service.api", "module.ecs.aws_ecs_service.gone"])
    with pytest.raises(
        StateMoveRefused, match=r"in no root of the new layout's configuration:\n  module.ecs.aws_ecs_se"
    ):
        statemove.partition({"": orphan}, placed, dropped, ["services/api"])
    twice = {
        "shared": _state(["module.ecs.aws_ecs_cluster.this"]),
        "services/api": _state(["module.ecs.aws_ecs_cluster.this"]),
    }
    with pytest.raises(
        StateMoveRefused, match=re.escape("module.ecs.aws_ecs_cluster.this is in two states, shared and services/api")
    ):
        statemove.partition(twice, *_owners("join")[:2], [""])


def test_join_without_a_group_finds_the_groups_resources_missing() -> None:
    """billing and invoices were in root payments: read from roots of their own, they are not found."""
    placed, _, _ = _owners("join")
    present = sorted(a for a in placed if "billing" not in a and "invoices" not in a)
    missing = statemove.unread({"shared": _state(present)}, placed)
    assert "module.ecs.aws_ecs_service.billing" in missing and COMBINED not in missing and PIN not in missing


# ---------------------------------------------------------------- the journal


def _journal(tmp_path: Path) -> tuple[Journal, dict[str, Any]]:
    backup = _state(["module.ecs.aws_ecs_cluster.this", "module.ecs.aws_ecs_service.api", PIN])
    cluster, service = backup["resources"][:2]
    targets = [
        Target("shared", ["module.ecs.aws_ecs_cluster.this"], fingerprint([cluster])),
        Target("services/api", ["module.ecs.aws_ecs_service.api"], fingerprint([service])),
    ]
    name = statemove.backup_name(backup["lineage"], 7)
    source = Source("", backup["lineage"], 7, name, "0" * 64, 3)
    return Journal("split", "team", False, "move", [source], targets, [PIN]), {"": backup}


def test_a_journal_reads_back_as_written(tmp_path: Path) -> None:
    journal, backups = _journal(tmp_path)
    again = Journal.parse(journal.text(), tmp_path / "state-move.json")
    assert again == journal
    again.check_backups(backups)
    assert [address_of(r) for r in again.resources(backups, again.targets[1])] == ["module.ecs.aws_ecs_service.api"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("services/api", "services/apj"),
        lambda t: t.replace('"stage": "move"', '"stage": "settle"'),
        lambda t: t[: len(t) // 2],
        lambda t: "[]",
        lambda t: t.replace('"serial": 7', '"serial": "7"'),
    ],
    ids=["root", "stage", "cut", "not-a-journal", "serial-as-text"],
)
def test_a_journal_changed_by_hand_is_refused(tmp_path: Path, tamper: Any) -> None:
    journal, _ = _journal(tmp_path)
    changed = tamper(journal.text())
    assert changed != journal.text()
    with pytest.raises(
        StateMoveRefused, match=r"state-move.json is not a journal hclforge wrote, or was changed since"
    ):
        Journal.parse(changed, tmp_path / "state-move.json")


def test_a_journal_with_a_new_checksum_and_wrong_types_is_refused_too(tmp_path: Path) -> None:
    journal, _ = _journal(tmp_path)
    journal.sources[0].serial = "7"  # type: ignore[assignment]
    with pytest.raises(StateMoveRefused, match=r"\(bad serial or count\)"):
        Journal.parse(journal.text(), tmp_path / "state-move.json")


def test_a_journal_changed_with_a_new_checksum_still_has_to_match_its_backups(tmp_path: Path) -> None:
    journal, backups = _journal(tmp_path)
    journal.targets[0].addresses, journal.targets[1].addresses = (
        [],
        [*journal.targets[0].addresses, *journal.targets[1].addresses],
    )
    forged = Journal.parse(journal.text(), tmp_path / "state-move.json")  # its checksum is right
    with pytest.raises(StateMoveRefused, match="does not match its backups"):
        forged.check_backups(backups)
    journal, backups = _journal(tmp_path)
    journal.dropped = []  # the pin would be left in no state and in none dropped
    with pytest.raises(StateMoveRefused, match="does not match its backups"):
        Journal.parse(journal.text(), tmp_path / "j.json").check_backups(backups)


# ---------------------------------------------------------------- refusals before anything is moved


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "p", ignore=shutil.ignore_patterns(".terraform", ".hclforge"))
    return tmp_path / "p"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["state", "split", "nope"], "envs/nope.yaml: no such environment (known environments: one, team)"),
        (["state", "split", "one"], "does not say where to move one's resources: add 'state: {split: service}'"),
        (["state", "join", "team"], "still says state.split: service: remove 'state' (or set split: none)"),
        (["state", "join", "one", "--group", "shared=api"], "--group shared: not a root name"),
        (["state", "join", "one", "--group", "pay=billing,nope"], "each service once, in one group, and known"),
        (["state", "split", "team", "--emulator", "-j", "0"], "Invalid value for '--jobs'"),
    ],
)
def test_wrong_input_is_refused_with_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    root = _copy(tmp_path)
    code, _, err = run(root, capsys, *args)
    assert (code, message in err, "Traceback" in err) == (2, True, False), err
    assert not list(root.glob(".hclforge/envs/*/state-backup-*")) and not list(
        root.glob(".hclforge/envs/*/state-move*")
    )


def test_a_journal_that_does_not_add_up_is_refused_before_terraform_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy(tmp_path)
    journal = root / ".hclforge/envs/team/state-move.json"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"command": "split", "env": "team", "stage": "move"}', encoding="utf-8")
    code, _, err = run(root, capsys, "state", "split", "team")
    assert code == 2
    assert f"error: {journal} is not a journal hclforge wrote, or was changed since" in err
    assert "refusing to guess" in err and "state-backup-*.tfstate" in err
    assert not (root / ".hclforge/envs/team/tfdata").exists() and not list(root.rglob("state-backup-*"))


def test_a_move_refuses_while_another_command_holds_a_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every root's command lock is taken before anything is read: another command holding one stops the move."""
    from hclforge.cli import envlock

    root = _copy(tmp_path)
    lock = root / ".hclforge/envs/team/services/payments/command.lock"
    with envlock.holding(lock, "team", "apply"):
        code, _, err = run(root, capsys, "state", "split", "team")
    assert code == 1
    assert "the state is locked by hclforge pid" in err and "(apply)" in err
    assert not (root / ".hclforge/envs/team/state-move.json").exists()


def test_no_apply_runs_while_a_move_is_unfinished(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only a plan (it changes nothing) and the move itself run beside an unfinished move's journal."""
    root = _copy(tmp_path)
    journal = root / ".hclforge/envs/one/state-move.json"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"command": "join"}', encoding="utf-8")
    code, _, err = run(root, capsys, "apply", "one", "--auto-approve")
    assert code == 2
    assert f"a 'state join' of one did not finish ({journal})" in err
    assert "run 'hclforge state join one' to finish it" in err


LOCAL = {
    "project": "lc",
    "aws": {"region": "eu-west-1"},
    "network": {"vpc_id": "vpc-0123456789abcdef0", "private_subnet_ids": ["subnet-0123456789abcdef0"]},
    "services": {"api": {"image": "nginx:1.27", "port": 80, "routes": ["GET /"]}},
    "state": {"split": "service"},
}


@pytest.mark.terraform
def test_nothing_to_move_and_a_root_holding_other_resources_are_refused(
    project, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """A local backend: the old state and the roots' are files; nothing is written when the move is refused."""
    root = project({"envs/lc.yaml": LOCAL})
    code, _, err = run(root, capsys, "state", "split", "lc")
    assert code == 2 and "error: nothing to move: .hclforge/state/lc/terraform.tfstate holds no resource" in err, err

    old = root / ".hclforge/state/lc/terraform.tfstate"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text(json.dumps({**_state(["module.ecs.aws_ecs_service.api"]), "terraform_version": "1.11.4"}))
    other = root / ".hclforge/envs/lc/shared/terraform.tfstate"
    lineage = "0a1b2c3d-0000-4000-8000-000000000002"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_text(
        json.dumps({**_state(["module.ecs.aws_ecs_cluster.this"], lineage), "terraform_version": "1.11.4"})
    )
    before = old.read_bytes(), other.read_bytes()
    code, _, err = run(root, capsys, "state", "split", "lc")
    assert code == 2, err
    assert (
        "error: already holding resources that are not the ones being moved: "
        "lc/shared (1 in .hclforge/envs/lc/shared/terraform.tfstate); nothing was moved" in err
    )
    assert (old.read_bytes(), other.read_bytes()) == before
    assert not list(root.glob(".hclforge/envs/lc/state-backup-*"))
    assert not (root / ".hclforge/envs/lc/state-move.json").exists()


# ---------------------------------------------------------------- on the emulator

SHOP: dict[str, Any] = {
    "project": "mv",
    "aws": {"region": "eu-west-1", "emulator": True},
    "backend": {"type": "s3", "bucket": "mv-state"},
    "network": {"create": {"cidr": "10.7.0.0/16", "private_subnets": 1}},
    "services": {
        "api": {
            "image": "nginx:1.27",
            "port": 80,
            "routes": ["GET /"],
            "calls": ["billing"],
            "secrets": {"TOKEN": "arn:aws:ssm:eu-west-1:123456789012:parameter/mv/token"},
        },
        "billing": {"image": "nginx:1.27", "port": 81, "routes": ["POST /pay"], "calls": ["invoices"]},
        "invoices": {"image": "nginx:1.27", "port": 82},
    },
}
SPLIT = {"split": "service", "groups": {"back": ["billing", "invoices"]}}
OLD_KEY = "mv/shop/terraform.tfstate"


def _write_env(root: Path, state: dict[str, Any] | None) -> None:
    data = {**SHOP, **({"state": state} if state else {})}
    (root / "envs/shop.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _ids(root: Path) -> dict[str, Any]:
    """What must survive every move: the ECS services' ARNs and the VPCs, read back from the emulator."""
    ecs = emulator_client(root, "ecs", "eu-west-1")
    arns = sorted(ecs.list_services(cluster="mv-shop")["serviceArns"])
    vpcs = sorted(v["VpcId"] for v in emulator_client(root, "ec2", "eu-west-1").describe_vpcs()["Vpcs"])
    return {"services": arns, "vpcs": vpcs}


def _s3_state(root: Path, key: str) -> dict[str, Any]:
    body = emulator_client(root, "s3", "eu-west-1").get_object(Bucket="mv-state", Key=key)["Body"].read()
    return dict(json.loads(body))


def _inline_policies(root: Path) -> list[str]:
    iam = emulator_client(root, "iam", "eu-west-1")
    return sorted(iam.list_role_policies(RoleName="mv-shop-ecs-task-execution")["PolicyNames"])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _split_killed_after_one_root(root: Path) -> None:
    """Start ``state split``, kill -9 it once the journal says a root's state is written, and let its terraform end."""
    journal = root / ".hclforge/envs/shop/state-move.json"
    with (root / "killed.log").open("w") as log:
        proc = subprocess.Popen(
            [HCLFORGE, "--no-color", "--root", str(root), "state", "split", "shop"], stdout=log, stderr=log
        )
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if any(t["lineage"] for t in json.loads(journal.read_text())["targets"]):
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    assert proc.poll() is None, (root / "killed.log").read_text()
    children = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)  # its terraform, if one was running, ends on its own and lets go of the lock


@pytest.fixture
def shop(project) -> Any:  # type: ignore[no-untyped-def]
    root = project({"envs/shop.yaml": "project: mv\n"})
    yield root
    main(["--root", str(root), "emulator", "stop"])


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_split_killed_then_finished_then_joined_keeps_every_id(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_env(shop, None)
    assert run(shop, capsys, "bootstrap", "shop")[0] == 0
    code, _, err = run(shop, capsys, "apply", "shop", "--auto-approve", "--no-wait")
    assert code == 0, err
    before, old = _ids(shop), _s3_state(shop, OLD_KEY)
    assert len(before["services"]) == 3 and _inline_policies(shop) == [
        "mv-shop-cloudwatch-metrics",
        "mv-shop-read-secrets",
    ]

    _write_env(shop, SPLIT)
    _split_killed_after_one_root(shop)
    journal_file = shop / ".hclforge/envs/shop/state-move.json"
    assert json.loads(journal_file.read_text())["stage"] == "move"
    now = _s3_state(shop, OLD_KEY)  # the old state is whole
    assert (now["lineage"], now["serial"], fingerprint(now["resources"])) == (
        old["lineage"],
        old["serial"],
        fingerprint(old["resources"]),
    )
    text = journal_file.read_text()
    journal_file.write_text(text.replace("services/api", "services/apj"))
    code, _, err = run(shop, capsys, "state", "split", "shop")
    assert code == 2 and "is not a journal hclforge wrote, or was changed since" in err, err
    journal_file.write_text(text)

    code, out, err = run(shop, capsys, "state", "split", "shop")
    assert code == 0, err
    assert "shop/shared: no changes\n  shop/services/api: no changes\n  shop/services/back: no changes" in out, out
    assert "created module.iam.aws_iam_role_policy.execution_api" in out
    assert f"deleted {COMBINED}" in out and f"{PIN} dropped from state" in out
    assert _ids(shop) == before
    assert _inline_policies(shop) == ["mv-shop-api-read-secrets", "mv-shop-cloudwatch-metrics"]
    emptied = _s3_state(shop, OLD_KEY)
    assert emptied["lineage"] == old["lineage"] and emptied["resources"] == []
    backup = shop / ".hclforge/envs/shop" / statemove.backup_name(old["lineage"], old["serial"])
    assert backup.stat().st_mode & 0o777 == 0o600
    assert fingerprint(json.loads(backup.read_text())["resources"]) == fingerprint(old["resources"])
    assert not journal_file.exists()
    vpc = _s3_state(shop, "mv/shop/shared.tfstate")["resources"]
    assert [r["instances"][0]["attributes"]["id"] for r in vpc if r["type"] == "aws_vpc"] == [
        r["instances"][0]["attributes"]["id"] for r in old["resources"] if r["type"] == "aws_vpc"
    ]

    _write_env(shop, None)
    code, out, err = run(shop, capsys, "state", "join", "shop", "--group", "back=billing,invoices")
    assert code == 0, err
    assert "plans after the move:\n  shop: no changes" in out, out
    assert _ids(shop) == before
    assert _inline_policies(shop) == ["mv-shop-cloudwatch-metrics", "mv-shop-read-secrets"]
    assert all(
        _s3_state(shop, f"mv/shop/{k}.tfstate")["resources"] == [] for k in ("shared", "services/api", "services/back")
    )
