"""What the workflows' shell steps do with real input (issue 24): the matrices, the chunks, the comment, the base.

Each test runs one ``run:`` script of a workflow as GitHub runs it (``bash -eo pipefail``),
with the files GitHub gives a step (``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``,
``$RUNNER_TEMP``) and the step's ``env:`` filled in as the expressions would. ``make`` and
``gh`` are stand-ins on PATH (``gh`` records its arguments and the bodies it is given);
``hclforge`` is the real one where the test says so, else a stand-in that prints a
document made by the real :func:`hclforge.affected.matrix`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hclforge import gitrev
from hclforge.affected import Affected, AffectedRoot, RemovedRoot, matrix
from tests.conftest import ROOT
from tests.test_affected import FIXTURE, _commit, _edit, _git

WORKFLOWS = ROOT / ".github/workflows"
HCLFORGE = Path(sys.executable).parent / "hclforge"
BASE = gitrev.Base("main", "0" * 40, "0" * 12)


def _step(workflow: str, job: str, name: str) -> dict[str, Any]:
    """The step of ``job`` whose id or name is ``name``."""
    steps = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["steps"]
    return next(s for s in steps if name in (s.get("id"), s.get("name")))


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def runner(tmp_path: Path) -> Path:
    """A runner's temp folder, with ``make`` and ``gh`` stand-ins in its bin/."""
    temp = tmp_path / "runner"
    _executable(temp / "bin/make", "#!/bin/sh\nexit 0\n")
    # gh: `api ... --jq` lists the comments in $GH_COMMENTS (ids, one a line); POST and PATCH keep the body.
    _executable(
        temp / "bin/gh",
        """#!/bin/bash
echo "$*" >> "$RUNNER_TEMP/gh.log"
case "$*" in
  *"run list"*) echo "${GH_LAST_SUCCESS:-}" ;;
  *"--method POST"*|*"--method PATCH"*)
    for arg in "$@"; do case "$arg" in body=@*) cp "${arg#body=@}" "$RUNNER_TEMP/posted.md" ;; esac; done ;;
  *"--paginate"*) printf '%s' "${GH_COMMENTS:-}" ;;
esac
""",
    )
    return temp


def _run(step: dict[str, Any], cwd: Path, runner: Path, env: dict[str, str]) -> dict[str, str]:
    """Run the step's script; its outputs (``name=value`` lines of ``$GITHUB_OUTPUT``)."""
    output = runner / "output"
    output.write_text("", encoding="utf-8")
    environ = {
        **os.environ,
        "PATH": f"{runner / 'bin'}:{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
        "GITHUB_REPOSITORY": "octo-org/octo-repo",
        **env,
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (runner / "stdout").write_text(done.stdout, encoding="utf-8")
    return dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())


def _fake_hclforge(folder: Path, doc: dict[str, Any]) -> None:
    (folder / "affected.json").write_text(json.dumps(doc), encoding="utf-8")
    _executable(folder / ".venv/bin/hclforge", f"#!/bin/sh\ncat '{folder / 'affected.json'}'\n")


def _roots(env: str, count: int, *, shared: bool = True) -> list[AffectedRoot]:
    first = [AffectedRoot(env, "shared", "", ("tree",))] if shared else []
    return first + [AffectedRoot(env, f"services/s{i:03d}", "shared", ("shared values",)) for i in range(count)]


# ------------------------------------------------------------------ pull requests


def test_the_pr_affected_step_hands_the_plan_job_a_list_of_matrices(tmp_path: Path, runner: Path) -> None:
    step = _step("ci.yml", "affected", "affected")
    roots = (*_roots("big", 299), AffectedRoot("one", ".", "", ("tree",)))
    _fake_hclforge(tmp_path, matrix(Affected(BASE, roots, (RemovedRoot("team", "services/old"),))))
    out = _run(step, tmp_path, runner, {"BASE_REF": "origin/main"})
    chunks = json.loads(out["chunks"])
    assert [len(chunk["include"]) for chunk in chunks] == [256, 45] and json.loads(out["ids"]) == [0, 1]
    assert [e for chunk in chunks for e in chunk["include"]] == [root.entry() for root in roots]
    assert json.loads(out["removed"]) == [{"env": "team", "root": "services/old"}]
    # Under 256: one matrix, without the removed list in it; nothing affected: no matrix, no plan job.
    _fake_hclforge(tmp_path, matrix(Affected(BASE, roots[-1:], (RemovedRoot("team", "services/old"),))))
    out = _run(step, tmp_path, runner, {"BASE_REF": "origin/main"})
    assert json.loads(out["chunks"]) == [{"include": [{"env": "one", "root": ".", "after": ""}]}]
    assert out["ids"] == "[0]"
    _fake_hclforge(tmp_path, matrix(Affected(BASE, (), ())))
    assert _run(step, tmp_path, runner, {"BASE_REF": "origin/main"}) == {"chunks": "[]", "ids": "[]", "removed": "[]"}


def test_each_plan_job_names_its_artifact_and_the_comment_groups_them_by_environment(
    tmp_path: Path, runner: Path
) -> None:
    roots = [
        AffectedRoot("one", ".", "", ("tree",)),
        AffectedRoot("team", "shared", "", ("tree",)),
        AffectedRoot("team", "services/api", "shared", ("shared values",)),
        AffectedRoot("team", "services/worker", "shared", ("shared values",)),
    ]
    plan = _step("plan-roots.yml", "plan", "plan")
    summaries = tmp_path / "summaries"
    _executable(tmp_path / ".venv/bin/hclforge", '#!/bin/sh\necho "summary of $2 $4 ($*)"\n')
    for root in roots[:-1]:  # the worker's plan failed: no artifact
        env = {"PLAN_ROLE": "arn:aws:iam::111111111111:role/plan", "ENV_NAME": root.env, "ROOT": root.root}
        artifact = _run(plan, tmp_path, runner, {**env, "BASE_REF": "origin/main"})["artifact"]
        (summaries / artifact).mkdir(parents=True)
        shutil.copy(runner / "summary.md", summaries / artifact / "summary.md")
    assert sorted(p.name for p in summaries.iterdir()) == [
        "plan-one-whole",
        "plan-team-services_api",
        "plan-team-shared",
    ]
    assert (summaries / "plan-team-services_api/summary.md").read_text() == (
        "summary of team services/api (plan team --root services/api --format markdown)\n"
    )
    _run(plan, tmp_path, runner, {"PLAN_ROLE": "", "ENV_NAME": "one", "ROOT": ".", "BASE_REF": "origin/main"})
    assert "--emulator --baseline origin/main" in (runner / "summary.md").read_text()

    comment = _step("ci.yml", "comment", "Post or update the plan comment")
    env = {
        "CHUNKS": json.dumps([matrix(Affected(BASE, tuple(roots), ()))]),
        "REMOVED": json.dumps([{"env": "team", "root": "services/old"}]),
        "PR_NUMBER": "7",
    }
    _run(comment, tmp_path, runner, env)
    body = (runner / "posted.md").read_text()
    assert body.splitlines()[:4] == ["<!-- hclforge plan -->", "## hclforge plan of the affected roots", "", "### one"]
    assert body.index("### one") < body.index("summary of one .") < body.index("### team")
    assert body.index("#### `shared`") < body.index("#### `services/api` (planned again after shared applies)")
    assert "#### `services/worker` (planned again after shared applies)\n_No summary: the plan failed" in body
    assert body.rstrip().endswith(
        "No longer rendered, so not planned: destroy each before merging (docs/ci.md).\n- `team` `services/old`"
    )
    log = (runner / "gh.log").read_text().splitlines()
    assert log[-1] == "api --method POST repos/octo-org/octo-repo/issues/7/comments -F body=@comment.md"
    # The next push edits that comment.
    _run(comment, tmp_path, runner, {**env, "GH_COMMENTS": "4242\n"})
    log = (runner / "gh.log").read_text().splitlines()
    assert log[-1] == "api --method PATCH repos/octo-org/octo-repo/issues/comments/4242 -F body=@comment.md"


# ------------------------------------------------------------------ deploys


def test_the_deploy_base_is_the_last_successful_run_else_the_push_parent_else_the_empty_tree(
    tmp_path: Path, runner: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "a").write_text("a\n", encoding="utf-8")
    _git(repo, "add", "a")
    _git(repo, "commit", "-q", "-m", "a")
    head = _git(repo, "rev-parse", "HEAD")
    step = _step("deploy.yml", "affected", "base")
    asked = {"ASKED": "", "BEFORE": "f" * 40}
    assert _run(step, repo, runner, {**asked, "GH_LAST_SUCCESS": head}) == {"base": head}
    assert "run list --workflow deploy.yml --branch main --status success" in (runner / "gh.log").read_text()
    assert _run(step, repo, runner, {**asked, "BEFORE": head}) == {"base": head}
    empty = _git(repo, "hash-object", "-t", "tree", "/dev/null")
    assert _run(step, repo, runner, {**asked, "GH_LAST_SUCCESS": "e" * 40}) == {"base": empty}
    assert _run(step, repo, runner, {"ASKED": "main", "BEFORE": ""}) == {"base": "main"}


def test_the_deploy_affected_step_gives_each_environment_its_first_root_and_its_service_matrices(
    tmp_path: Path, runner: Path
) -> None:
    """The real hclforge on a real repository: a shared layer's network, and a new environment of 300 services."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE / "envs", repo / "envs")
    (repo / ".gitignore").write_text(".hclforge/\n.venv/\n", encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _commit(repo, "base")
    _executable(repo / ".venv/bin/hclforge", f'#!/bin/sh\nexec "{HCLFORGE}" "$@"\n')
    _edit(repo, lambda d: d["network"]["create"].update(cidr="10.43.0.0/16"))
    services = {f"s{i:03d}": {"image": f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/s:{i}"} for i in range(300)}
    big = {
        "project": "big",
        "aws": {"region": "eu-west-1", "account_id": "111111111111"},
        "network": {"vpc_id": "vpc-0123456789abcdef0", "private_subnet_ids": ["subnet-0123456789abcdef0"]},
        "state": {"split": "service"},
        "services": services,
    }
    (repo / "envs/big.yaml").write_text(yaml.safe_dump(big), encoding="utf-8")
    (repo / "envs/one.yaml").unlink()  # a removed environment: warned, never applied
    out = _run(_step("deploy.yml", "affected", "affected"), repo, runner, {"BASE": "main"})
    assert json.loads(out["envs"]) == ["big", "team"]
    plans = json.loads(out["plans"])
    assert plans["team"] == {
        "first": {"include": [{"env": "team", "root": "shared", "after": ""}]},
        "services": [
            {
                "include": [
                    {"env": "team", "root": f"services/{n}", "after": "shared"} for n in ("api", "payments", "worker")
                ]
            }
        ],
        "ids": [0],
    }
    assert plans["big"]["first"] == {"include": [{"env": "big", "root": "shared", "after": ""}]}
    assert [len(m["include"]) for m in plans["big"]["services"]] == [256, 44] and plans["big"]["ids"] == [0, 1]
    assert [e["root"] for m in plans["big"]["services"] for e in m["include"]] == [f"services/{n}" for n in services]
    assert (runner / "stdout").read_text() == "::warning::one . is no longer rendered: destroy it (docs/ci.md)\n"
    summary = (runner / "summary.md").read_text().splitlines()
    assert summary[:3] == ["| env | root | after |", "| --- | --- | --- |", "| big | shared |  |"]
