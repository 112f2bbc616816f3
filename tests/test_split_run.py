"""Running a split environment (issue 23.3), without terraform: what binds a service root's plan,
the environment's one summary, the locks of a whole-environment run, a signal in the parallel
phase, shared's kept outputs read safely, and the names of roots and services in messages.

The run on the emulator, with terraform, is ``tests/test_split.py::test_a_split_environment_round_trip``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from hclforge import render
from hclforge.cli import binding, envlock
from hclforge.cli.main import main
from hclforge.cli.root import split_root
from hclforge.cli.rootruns import RootRun, SplitRun
from hclforge.cli.settings import load_settings
from hclforge.cli.summary import Row, Summary
from hclforge.config import load_env
from hclforge.roots import RootLayout, input_values, inputs_text, shared_outputs_file
from tests.conftest import ROOT

FIXTURE = ROOT / "tests/fixtures/split"
ENV = "team"
NO_TERRAFORM = "terraform-must-not-run"
HCLFORGE = str(Path(sys.executable).parent / "hclforge")


def _project(tmp_path: Path, **changes: Any) -> Path:
    """The fixture's environments, without the account guard (nothing here may reach AWS), with ``changes``."""
    root = tmp_path / "p"
    shutil.copytree(FIXTURE / "envs", root / "envs")
    shutil.copy(ROOT / "hclforge.toml", root / "hclforge.toml")
    base = root / "envs/_base.yaml"
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    del data["aws"]["account_id"]
    data.update(changes)
    base.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def _outputs(root: Path) -> dict[str, Any]:
    """What `terraform output -json` prints for the fixture's shared root, with made-up ids."""
    text = render.render(root, ENV).files["shared/outputs.tf"]
    names = [line.split('"')[1] for line in text.splitlines() if line.startswith("output ")]
    values: dict[str, Any] = {name: f"{name}-0123" for name in names}
    values["subnet_ids"] = ["subnet-0a", "subnet-0b"]
    values["security_group_ids"] = {name: f"sg-{name}" for name in ("api", "billing", "invoices", "worker")}
    return {name: {"value": value, "type": "string", "sensitive": False} for name, value in values.items()}


def _keep(root: Path, outputs: dict[str, Any]) -> Path:
    """Shared's outputs kept as hclforge keeps them after shared applies (0600 in a 0700 directory)."""
    path = root / shared_outputs_file(ENV)
    path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    for parent in (root / ".hclforge", root / ".hclforge/envs", root / f".hclforge/envs/{ENV}"):
        parent.chmod(0o700)
    path.write_text(json.dumps(outputs), encoding="utf-8")
    path.chmod(0o600)
    return path


def _cli(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--no-color", "--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out + err


# ------------------------------------------------------- what a service root's plan is bound to


def test_a_service_plan_is_stale_once_its_shared_values_changed_and_fresh_after_another_services_change(
    tmp_path: Path,
) -> None:
    """The binding keys of a split root (cli/binding.py): "inputs" (its var file) and "root"; not the YAML."""
    root = _project(tmp_path, backend={"type": "local"})
    render.write_tree(root, render.render(root, ENV))
    settings, loaded = load_settings(root), load_env(root, ENV)
    cfg = loaded.config
    api, payments = RootLayout(ENV, "api", ("api",)), RootLayout(ENV, "payments", ("billing", "invoices"))
    roots = {layout.name: split_root(settings, cfg, layout) for layout in (api, payments)}
    outputs = _outputs(root)
    for layout in (api, payments):
        var_file = roots[layout.name].var_file
        assert var_file is not None and var_file == root / layout.inputs_file
        var_file.parent.mkdir(parents=True, exist_ok=True)
        var_file.write_text(inputs_text(input_values(cfg, layout, outputs)), encoding="utf-8")

    def now(name: str) -> dict[str, Any]:
        return binding.freshness(roots[name], load_env(root, ENV).sources, False)

    planned = now("api")
    assert planned["root"] == "services/api" and planned["yaml"] == "" and planned["inputs"]

    # Another service's image: its root's tree changes, the YAML too; api's plan stays fresh.
    base = root / "envs/_base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace("shop-billing:2.1.0", "shop-billing:2.2.0"))
    render.write_tree(root, render.render(root, ENV))
    assert binding.input_problem(roots["api"], planned, now("api")) is None
    assert binding.input_problem(roots["payments"], planned, now("payments")) == (
        "the plan was made for another root of the environment"
    )

    # Shared applied with a new value api takes: its var file changes, and its plan is stale.
    outputs["execution_role_arn"]["value"] = "arn:aws:iam::111111111111:role/replaced"
    var_file = roots["api"].var_file
    assert var_file is not None
    var_file.write_text(inputs_text(input_values(cfg, api, outputs)), encoding="utf-8")
    assert binding.input_problem(roots["api"], planned, now("api")) == (
        "the values it takes from shared changed since the plan (shared was applied)"
    )
    # A change to api itself names its own tree.
    planned = now("api")
    base.write_text(base.read_text(encoding="utf-8").replace("shop-api:1.0.0", "shop-api:1.0.1"))
    render.write_tree(root, render.render(root, ENV))
    assert binding.input_problem(roots["api"], planned, now("api")) == (
        "the rendered tree modules/team/services/api/ changed since the plan"
    )


# ------------------------------------------------------- the environment's one summary


def _run(*roots: tuple[str, Summary | None, str]) -> SplitRun:
    layouts = [RootLayout(ENV, "shared")] + [RootLayout(ENV, name, (name,)) for name, _, _ in roots[1:]]
    return SplitRun(
        ENV,
        [
            RootRun(layout, summary=summary, waiting=waiting)
            for layout, (_, summary, waiting) in zip(layouts, roots, strict=True)
        ],
    )


def test_the_environment_summary_merges_rows_and_names_each_address_with_its_root() -> None:
    shared = Summary(ENV, [Row("ecs", "", update=1), Row("iam", "", create=1)], output_changes=["subnet_ids"])
    api = Summary(
        ENV,
        [Row("ecs", "api", replace=1, update=1), Row("iam", "", create=2)],
        replaced=["module.ecs.aws_ecs_task_definition.api"],
    )
    worker = Summary(ENV, [Row("ecs", "worker", delete=1)], deleted=["module.ecs.aws_ecs_service.worker"])
    merged = _run(("shared", shared, ""), ("api", api, ""), ("worker", worker, "")).summary()
    assert [(r.module, r.service, r.create, r.update, r.replace, r.delete) for r in merged.rows] == [
        ("ecs", "", 0, 1, 0, 0),
        ("ecs", "api", 0, 1, 1, 0),
        ("ecs", "worker", 0, 0, 0, 1),
        ("iam", "", 3, 0, 0, 0),  # shared's and api's rows of one module and no service: one row
    ]
    assert merged.replaced == ["services/api: module.ecs.aws_ecs_task_definition.api"]
    assert merged.deleted == ["services/worker: module.ecs.aws_ecs_service.worker"]
    assert merged.output_changes == ["shared: subnet_ids"]
    assert merged.totals == {"create": 3, "update": 2, "replace": 1, "delete": 1}


def test_a_run_of_every_root_loads_the_environment_once_and_warns_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each root's workspace loaded the YAML again: a warning was printed once per root."""
    from hclforge.cli import splitcli, splitrun
    from hclforge.cli.app import App

    root = _project(tmp_path, backend={"type": "local"})
    team = root / f"envs/{ENV}.yaml"
    data = yaml.safe_load(team.read_text(encoding="utf-8"))
    data.setdefault("services", {}).setdefault("api", {}).setdefault("environment", {})["API_TOKEN"] = "plain-Value"
    team.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    make = splitcli.maker(App(root, False, False), ENV, emulator=False)
    cfg = load_env(root, ENV).config
    capsys.readouterr()
    workspaces = [make(layout) for layout in splitrun.layouts(ENV, cfg)]
    assert len(workspaces) == 4 and all(ws.loaded is workspaces[0].loaded for ws in workspaces)
    err = capsys.readouterr().err
    assert err.count("API_TOKEN: looks like a secret but is a plain value") == 1, err


@pytest.mark.parametrize(
    ("shared", "api", "waiting", "changes"),
    [
        (Summary(ENV), Summary(ENV), "", False),
        (Summary(ENV, [Row("ecs", "", create=1)]), Summary(ENV), "", True),  # only shared has changes
        (Summary(ENV, output_changes=["cluster_arn"]), Summary(ENV), "", True),  # only shared's outputs change
        (Summary(ENV), Summary(ENV, [Row("ecs", "api", update=1)]), "", True),
        (Summary(ENV), None, "shared has not been applied yet", True),  # a root waits for shared
    ],
    ids=["none", "shared only", "shared outputs only", "a service root", "a root waits"],
)
def test_what_makes_plan_exit_3(shared: Summary, api: Summary | None, waiting: str, changes: bool) -> None:
    """`plan --detailed-exitcode` raises ChangesPresent (exit 3) on SplitRun.has_changes (cli/splitcli.py)."""
    run = _run(("shared", shared, ""), ("api", api, waiting))
    assert run.has_changes is changes
    assert [r.name for r in run.later] == (["services/api"] if waiting else [])


# ------------------------------------------------------- one command at a time


def test_a_whole_environment_run_fails_at_once_on_a_root_another_command_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the fix a whole-environment run took each root's lock only around each plan and
    each apply: it planned shared (here: tried to run terraform) while a deploy held a service
    root, and another command could plan or apply a root between this run's plan and apply of it.
    Now it takes every root's lock first, and a one-root command writes its var file under its own."""
    root = _project(tmp_path)
    monkeypatch.setenv("HCLFORGE_TERRAFORM", NO_TERRAFORM)
    api_lock = root / ".hclforge/envs/team/services/api/command.lock"
    for args in (["apply", ENV, "--auto-approve"], ["plan", ENV], ["destroy", ENV, "--auto-approve"]):
        with envlock.holding(api_lock, "team/services/api", "deploy"):
            code, text = _cli(root, capsys, *args)
        assert code == 1, (args, text)
        assert f"the state is locked by hclforge pid {os.getpid()} (deploy), since " in text, text
        assert "planning or applying team/services/api in this project" in text
        assert "terraform not found" not in text and "Traceback" not in text
    assert not list((root / ".hclforge/envs/team").rglob("*.tfvars.json"))
    assert not list((root / ".hclforge/envs/team").rglob("*.tfplan"))
    with envlock.holding(root / ".hclforge/envs/team/shared/command.lock", "team/shared", "check"):
        pass  # the run that failed let go of the locks it had taken

    # A deploy of a root a whole-environment apply holds: refused before its var file is written.
    _keep(root, _outputs(root))
    with envlock.holding(api_lock, "team/services/api", "apply"):
        code, text = _cli(root, capsys, "deploy", ENV, "--service", "api", "--auto-approve")
        assert code == 1 and f"hclforge pid {os.getpid()} (apply)" in text, text
        assert not (root / ".hclforge/envs/team/services/api/shared-inputs.tfvars.json").exists()
        # Another root is not held: its deploy goes on, to ask S3 whether shared moved on (no credentials here).
        code, text = _cli(root, capsys, "deploy", ENV, "--service", "billing", "--auto-approve")
        assert code == 1 and "could not read the version of team's shared state in S3" in text, text
        # Its var file waits for that answer: values of a shared that may have moved on are not written.
        assert not (root / ".hclforge/envs/team/services/payments/shared-inputs.tfvars.json").exists()


# ------------------------------------------------------- a signal in the parallel phase

STOPPED = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from hclforge.cli import rootruns, tfprocess
    from hclforge.cli.main import _graceful_signals
    from hclforge.errors import Interrupted, exit_code_for
    from hclforge.roots import RootLayout

    out = Path(sys.argv[1])
    # Stands for terraform: on SIGINT it takes a moment to write its state, then exits 1.
    CHILD = (
        "import os, pathlib, signal, sys, time\\n"
        "p = pathlib.Path(sys.argv[1])\\n"
        "def stop(*_):\\n"
        "    time.sleep(0.5)\\n"
        "    p.write_text(f'stopped by SIGINT {os.getpid()}'); sys.exit(1)\\n"
        "signal.signal(signal.SIGINT, stop)\\n"
        "p.write_text(f'running {os.getpid()}')\\n"
        "time.sleep(15)\\n"
        "p.write_text(f'ran to its end {os.getpid()}')\\n"
    )

    def work(root):
        cmd = [sys.executable, "-c", CHILD, str(out / root.layout.name)]
        if root.layout.name == "plans":  # on pipes, as terraform init, output and version run
            tfprocess.run_attached(cmd, ("terraform", "init"), cwd=out, env=dict(os.environ), stdin=None, sink=None)
        else:  # detached, in a session of its own, as plan, apply and destroy run
            log = tfprocess.Detached(out / f"{root.layout.name}.log")
            tfprocess.run_detached(cmd, ("terraform", "apply"), cwd=out, env=dict(os.environ), sink=None, detached=log)

    _graceful_signals()
    roots = [rootruns.RootRun(RootLayout("demo", name, (name,))) for name in ("plans", "applies", "queued")]
    try:
        rootruns.each_root(2, roots, work)
    except Interrupted as err:
        print(err, flush=True)
        sys.exit(exit_code_for(err))
    print("not interrupted:", [repr(r.error) for r in roots], flush=True)
    """
)


def test_sigterm_in_the_parallel_phase_stops_every_terraform_and_starts_no_other(tmp_path: Path) -> None:
    """Python gives a signal to the main thread only: before the fix, terraform went on in the
    other threads to its end (an apply too), and the command exited only then, as if nothing had
    been stopped. Now each gets one SIGINT, is waited for, and the message names what stopped."""
    script = tmp_path / "stopped.py"
    script.write_text(STOPPED, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    markers = {name: tmp_path / name for name in ("plans", "applies", "queued")}
    deadline = time.monotonic() + 60
    while not (markers["plans"].is_file() and markers["applies"].is_file()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    assert out.strip().startswith(
        "interrupted (SIGTERM) in demo: terraform stopped in services/plans, services/applies; "
        "services/queued never started;"
    ), out + err
    for name in ("plans", "applies"):
        said = markers[name].read_text(encoding="utf-8")
        assert said.startswith("stopped by SIGINT"), (name, said)
        with pytest.raises(ProcessLookupError):
            os.kill(int(said.split()[-1]), 0)
    assert not markers["queued"].exists()


# ------------------------------------------------------- shared's kept outputs


def test_shared_outputs_kept_as_a_link_a_fifo_or_damaged_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the fix the file was read with json.loads(path.read_text()): through a link (its
    target taken for shared's values), and a damaged file ended in a traceback. A FIFO is
    refused without being opened for a blocking read (in a process of its own, in case)."""
    root = _project(tmp_path)
    monkeypatch.setenv("HCLFORGE_TERRAFORM", NO_TERRAFORM)
    path = _keep(root, _outputs(root))
    var_file = root / ".hclforge/envs/team/services/api/shared-inputs.tfvars.json"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    path.unlink()
    path.symlink_to(elsewhere)
    code, text = _cli(root, capsys, "plan", ENV, "--service", "api")
    assert code == 2, text
    assert ".hclforge/envs/team/shared/shared-outputs.json is a symbolic link" in text and "Traceback" not in text
    assert not var_file.exists()

    for damage, why in (
        (b"{not json", "not JSON"),
        (b'["subnet_ids"]', "not a JSON object of outputs, each with its value"),
        (b'{"subnet_ids": "subnet-0a"}', "not a JSON object of outputs, each with its value"),
    ):
        path.unlink()
        path.write_bytes(damage)
        path.chmod(0o600)
        code, text = _cli(root, capsys, "plan", ENV, "--service", "api")
        assert code == 1, text
        assert (
            f".hclforge/envs/team/shared/shared-outputs.json is not shared's outputs as hclforge kept them: {why}"
            in (text)
        ), text
        assert "Remove it: the next 'hclforge plan team' reads shared's outputs from its state again" in text
        assert "Traceback" not in text and not var_file.exists()

    path.unlink()
    os.mkfifo(path, 0o600)
    env = {**os.environ, "HCLFORGE_TERRAFORM": NO_TERRAFORM}
    done = subprocess.run(
        [HCLFORGE, "--no-color", "--root", str(root), "plan", ENV, "--service", "api"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert ".hclforge/envs/team/shared/shared-outputs.json is not a regular file" in done.stderr
    assert not var_file.exists()


# ------------------------------------------------------- names in messages


@pytest.mark.parametrize(
    ("option", "said"),
    [("--root", "team has no root services/\\x1b]0;owned\\x07; its roots: "), ("--service", "team has no service ")],
)
def test_a_root_or_service_name_reaches_the_terminal_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, said: str
) -> None:
    """Before the fix the name was printed raw: an escape sequence in it drove the terminal
    (OSC 0 sets its title; click strips only colour sequences)."""
    root = _project(tmp_path)
    value = "services/\x1b]0;owned\x07" if option == "--root" else "\x1b]0;owned\x07"
    code, text = _cli(root, capsys, "plan", ENV, option, value)
    assert code == 2, text
    assert said in text and "\\x1b]0;owned\\x07" in text and "\x1b" not in text and "\x07" not in text


# ------------------------------------------------------- the account guard


@pytest.mark.emulator
@pytest.mark.parametrize(
    "args",
    [
        ["apply", ENV, "--auto-approve"],
        ["destroy", ENV, "--auto-approve"],
        ["deploy", ENV, "--service", "worker", "--auto-approve"],  # one root: --root and --service alike
    ],
    ids=["apply", "destroy", "deploy --service"],
)
def test_another_accounts_credentials_are_refused_before_any_root_inits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, aws_env: Any, args: list[str]
) -> None:
    """Before the fix these ran terraform init (against the S3 backend, with the wrong account's
    credentials) before the check: apply's reuse of fresh plans, destroy's look at each root's
    state, a one-root command reading shared's outputs on a machine that never kept them."""
    root = tmp_path / "p"
    shutil.copytree(FIXTURE / "envs", root / "envs")  # aws.account_id: 111111111111; the emulator is 123456789012
    monkeypatch.setenv("HCLFORGE_TERRAFORM", NO_TERRAFORM)
    code, text = _cli(root, capsys, *args)
    assert code == 2, text
    assert "aws.account_id: your credentials are for AWS account 123456789012, not 111111111111" in text, text
    assert "terraform not found" not in text and "terraform init" not in text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--root", "../../x"], "team has no root ../../x; its roots: shared, services/api, services/payments"),
        (["--root", "services/../shared"], "team has no root services/../shared; its roots: "),
        (["--root", "services/api/"], "team has no root services/api/; its roots: "),
        (["--root", str(ROOT)], "team has no root /"),
        (["--service", "../api"], "team has no service ../api; services: api, billing, invoices, worker"),
        (["--root", "shared", "--service", "api"], "--root and --service each name one root of team: give one"),
    ],
    ids=["dot-dot", "dot-dot inside", "trailing slash", "absolute", "service path", "both"],
)
def test_root_and_service_are_names_never_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    """Matched against the roots there are, never joined to a path; before the fix, --root with
    --service planned the service's root and ignored --root."""
    root = _project(tmp_path)
    monkeypatch.setenv("HCLFORGE_TERRAFORM", NO_TERRAFORM)
    code, text = _cli(root, capsys, "plan", ENV, *args)
    assert code == 2 and said in text, text
    assert not (root / ".hclforge/envs").exists() and not (root / "modules").exists()  # refused before anything


def test_kept_outputs_are_read_again_once_shared_was_applied_elsewhere(tmp_path: Path) -> None:
    """Shared applied on another machine (a CI job) moves its state on: this machine's kept outputs
    are no longer current, and a service root must not be planned with them (Atmos #2355). Before,
    ensure_inputs used whatever was kept, for ever. A local backend here: the state's size and mtime."""
    from hclforge.cli.ops import Workspace
    from hclforge.cli.sharedvalues import current_outputs, shared_state_id
    from hclforge.roots import RootLayout

    root = _project(tmp_path, backend={"type": "local"})
    outputs = _outputs(root)
    path = _keep(root, outputs)
    notes: list[str] = []
    ws = Workspace(load_settings(root), ENV, layout=RootLayout(ENV, "api", ("api",)), info=notes.append)
    state = root / ".hclforge/envs/team/shared/terraform.tfstate"
    assert shared_state_id(ws) == "absent"
    state.write_text('{"version": 4, "serial": 1}', encoding="utf-8")
    path.with_name(path.name + ".source").write_text(shared_state_id(ws) + "\n", encoding="utf-8")
    assert current_outputs(ws) == outputs and notes == []
    state.write_text('{"version": 4, "serial": 22}', encoding="utf-8")  # applied elsewhere
    assert current_outputs(ws) is None
    assert notes == ["team/shared's state changed since its outputs were kept here: reading them again"]
    path.with_name(path.name + ".source").unlink()  # kept by an older hclforge: not known current
    assert current_outputs(ws) is None
