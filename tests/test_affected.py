"""``hclforge affected`` (issue 24): the roots a change affects, from a real git repository.

Every test works on a copy of one repository: the split fixture (``tests/fixtures/split``:
``team`` split into shared, api, payments = billing + invoices, worker; ``one`` the same
shop as one root; both over the layer ``envs/_base.yaml``), rendered and committed on
``main``. A test edits the work tree (or commits on a branch) and reads what ``affected``
prints, as text and as the JSON matrix CI consumes. Nothing runs terraform, and nothing
may start the emulator or read AWS credentials.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hclforge import render
from hclforge.affected import MATRIX_LIMIT, find_affected
from hclforge.hclrefs import SharedChanges
from hclforge.roots import RootLayout, input_values, inputs_text, shared_outputs_file
from tests.conftest import ROOT, run

FIXTURE = ROOT / "tests/fixtures/split"
TEAM = ("shared", "services/api", "services/payments", "services/worker")


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit(root: Path, message: str) -> None:
    """Render every environment, as a commit of this project does (CI checks it), and commit."""
    render.render_many(root, render.select_envs(root, [], True), check=False)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture's environments with their trees rendered, committed on main."""
    root = tmp_path_factory.mktemp("affected") / "repo"
    shutil.copytree(FIXTURE / "envs", root / "envs")
    shutil.copy(ROOT / "hclforge.toml", root / "hclforge.toml")
    (root / ".gitignore").write_text(".hclforge/\n", encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _commit(root, "base")
    return root


@pytest.fixture
def repo(committed: Path, tmp_path: Path) -> Path:
    """A copy of the committed repository, for one test to change."""
    shutil.copytree(committed, tmp_path / "repo")
    return tmp_path / "repo"


def _edit(root: Path, change: Callable[[dict[str, Any]], None], layer: str = "_base") -> None:
    path = root / "envs" / f"{layer}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _matrix(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(root, capsys, "affected", "--format", "json", *args)
    assert (code, err) == (0, ""), err
    assert out.count("\n") == 1  # one line: a step writes it to $GITHUB_OUTPUT as it is
    doc: dict[str, Any] = json.loads(out)
    return doc


def _listed(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    for entry in doc["include"]:
        assert set(entry) == {"env", "root", "after"}  # a matrix entry, nothing else
    return [(e["env"], e["root"], e["after"]) for e in doc["include"]]


def _image(name: str, tag: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data.setdefault("services", {}).setdefault(name, {})["image"] = (
            f"111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/shop-{name}:{tag}"
        )

    return change


# ------------------------------------------------------------------ the rule


def test_one_services_image_lists_its_root_only_in_every_environment_that_uses_the_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(repo, _image("api", "1.0.1"))
    assert _listed(_matrix(repo, capsys)) == [("one", ".", ""), ("team", "services/api", "")]
    # In team's own file, only team.
    _git(repo, "checkout", "-q", "--", "envs")
    _edit(repo, _image("billing", "2.2.0"), layer="team")
    assert _listed(_matrix(repo, capsys)) == [("team", "services/payments", "")]


def test_a_shared_layers_network_lists_shared_first_then_every_service_root_after_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(repo, lambda d: d["network"]["create"].update(cidr="10.43.0.0/16"))
    code, out, err = run(repo, capsys, "affected", "--base", "main")
    assert (code, err) == (0, "")
    sha = _git(repo, "rev-parse", "main")[:12]
    assert out.splitlines() == [
        f"5 root(s) affected since main ({sha}):",
        "  env   root               after   why",
        "  one   .                          tree",
        "  team  shared                     tree",
        "  team  services/api       shared  shared values",
        "  team  services/payments  shared  shared values",
        "  team  services/worker    shared  shared values",
    ]
    assert _listed(_matrix(repo, capsys)) == [
        ("one", ".", ""),
        ("team", "shared", ""),
        *(("team", root, "shared") for root in TEAM[1:]),
    ]


def test_a_change_that_renders_nothing_lists_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (repo / "envs/_base.yaml").open("a", encoding="utf-8") as f:
        f.write("# a comment changes no rendered file\n")
    _commit(repo, "a comment")
    assert _matrix(repo, capsys, "--base", "HEAD~1") == {"include": []}
    code, out, _ = run(repo, capsys, "affected", "--base", "HEAD~1")
    assert (code, out) == (0, f"nothing affected since HEAD~1 ({_git(repo, 'rev-parse', 'HEAD~1')[:12]})\n")


def test_a_template_change_of_hclforge_counts(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The YAML is the same and the committed trees are a fresh clone's: a new hclforge renders otherwise."""
    import jinja2

    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES, templates)
    ecs = templates / "ecs/main.tf.j2"
    ecs.write_text(ecs.read_text().replace('("enabled" if', '("enhanced" if'), encoding="utf-8")
    cloudmap = templates / "cloudmap/main.tf.j2"
    cloudmap.write_text(cloudmap.read_text() + "\n# A note outside any block.\n", encoding="utf-8")
    monkeypatch.setattr(render.jinja_env(), "loader", jinja2.FileSystemLoader(templates))
    result = find_affected(repo)
    # Container Insights is the cluster's: shared changes and the cluster's ARN with it (the rule does not
    # know which arguments replace a resource). The note changes files of shared, api and payments, no value.
    assert [(r.env, r.root, r.after, r.why) for r in result.roots] == [
        ("one", ".", "", ("tree",)),
        ("team", "shared", "", ("tree",)),
        ("team", "services/api", "shared", ("tree", "shared values")),
        ("team", "services/payments", "shared", ("tree", "shared values")),
        ("team", "services/worker", "shared", ("shared values",)),
    ]
    ecs.write_text(ecs.read_text().replace('("enhanced" if', '("enabled" if'), encoding="utf-8")
    result = find_affected(repo)
    assert [(r.root, r.after, r.why) for r in result.roots if r.env == "team"] == [
        ("shared", "", ("tree",)),
        ("services/api", "", ("tree",)),
        ("services/payments", "", ("tree",)),
    ]


def test_a_shared_change_marks_only_the_roots_that_take_a_value_it_can_change(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The API's CORS: the HTTP API's block changes; only the routed roots take its id.
    _edit(repo, lambda d: d["api"]["cors"].update(allow_origins=["https://www.example.com"]))
    assert _listed(_matrix(repo, capsys, "--env", "team")) == [
        ("team", "shared", ""),
        ("team", "services/api", "shared"),
        ("team", "services/payments", "shared"),
    ]
    # A new service: its security group is new in shared; no other root's group or value moves.
    _git(repo, "checkout", "-q", "--", "envs")
    _edit(repo, _image("a-much-longer-name", "1"))
    result = find_affected(repo, envs=["team"])
    assert [(r.root, r.after, r.why) for r in result.roots] == [
        ("shared", "", ("tree",)),
        ("services/a-much-longer-name", "shared", ("new", "shared values")),
    ]


def test_roots_moved_removed_and_environments_added_and_deleted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(repo, lambda d: d.pop("state"), layer="team")  # team: one root again
    (repo / "envs/one.yaml").unlink()
    shutil.copy(repo / "envs/team.yaml", repo / "envs/two.yaml")
    doc = _matrix(repo, capsys)
    assert _listed(doc) == [("team", ".", ""), ("two", ".", "")]
    # The removed roots are apart: CI can name them, and no job plans a root that is not rendered.
    assert doc["removed"] == [{"env": "one", "root": "."}, *({"env": "team", "root": root} for root in TEAM)]
    code, out, _ = run(repo, capsys, "affected", "--env", "one")
    assert code == 0 and out.splitlines()[1:] == [
        "removed: one . is no longer rendered; its resources stay in its state until it is destroyed (see docs/ci.md)"
    ]
    result = find_affected(repo, envs=["two"])
    assert [(r.root, r.why) for r in result.roots] == [(".", ("new",))] and result.removed == ()


def test_a_tracked_provider_lock_counts_and_an_untracked_one_does_not(repo: Path) -> None:
    lock = repo / "modules/one/.terraform.lock.hcl"
    lock.write_text("# providers\n", encoding="utf-8")
    _commit(repo, "lock one")
    (repo / "modules/team/shared/.terraform.lock.hcl").write_text("# a local init\n", encoding="utf-8")
    assert find_affected(repo, base="HEAD").roots == ()
    lock.write_text("# providers, upgraded\n", encoding="utf-8")
    assert [(r.env, r.root, r.why) for r in find_affected(repo, base="HEAD").roots] == [("one", ".", ("lock",))]


def test_a_service_root_planned_here_with_other_shared_values_is_affected(repo: Path) -> None:
    """The var file of shared values it was planned with, against what shared's kept outputs give now."""
    from hclforge.config import load_env

    cfg = load_env(repo, "team").config
    names = ["subnet_ids", "cluster_arn", "cluster_name", "execution_role_arn", "execution_role_name", "namespace_id"]
    names += ["api_id", "vpc_link_id", "vpc_link_security_group_id", "authorizer_id", "endpoint_security_group_id"]
    values: dict[str, Any] = {name: f"{name}-1" for name in [*names, "scheduler_role_arn"]}
    values["subnet_ids"] = ["subnet-0a"]
    values["security_group_ids"] = {name: f"sg-{name}" for name in ("api", "billing", "invoices", "worker")}
    outputs = {name: {"value": value, "type": "string", "sensitive": False} for name, value in values.items()}
    kept = repo / shared_outputs_file("team")
    kept.parent.mkdir(parents=True)
    kept.write_text(json.dumps(outputs), encoding="utf-8")
    for name, services in (("api", ("api",)), ("worker", ("worker",))):
        layout = RootLayout("team", name, services)
        (repo / layout.inputs_file).parent.mkdir(parents=True)
        (repo / layout.inputs_file).write_text(inputs_text(input_values(cfg, layout, outputs)), encoding="utf-8")
    assert find_affected(repo).roots == ()
    outputs["security_group_ids"]["value"]["api"] = "sg-api-2"  # api's own group; worker calls billing only
    kept.write_text(json.dumps(outputs), encoding="utf-8")
    assert [(r.root, r.after, r.why) for r in find_affected(repo).roots] == [("services/api", "", ("inputs",))]

    # A checkout's .hclforge/ is read as hclforge reads its own: a link (git stores them) or a
    # FIFO is refused, never followed nor blocked on; a damaged file compares nothing.
    from hclforge.errors import UnsafePathError

    kept.unlink()
    kept.symlink_to(repo / "envs/team.yaml")
    with pytest.raises(UnsafePathError):
        find_affected(repo)
    kept.unlink()
    os.mkfifo(kept)
    with pytest.raises(UnsafePathError):
        find_affected(repo)
    kept.unlink()
    kept.write_text("{not json", encoding="utf-8")
    assert find_affected(repo).roots == ()


# ------------------------------------------------------------------ the base


def test_the_default_base_is_the_merge_base_with_the_default_branch(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature")
    _edit(repo, _image("api", "1.0.1"), layer="team")
    _commit(repo, "api 1.0.1")
    _git(repo, "checkout", "-q", "main")
    _edit(repo, _image("worker", "3.0.1"), layer="team")
    _commit(repo, "worker 3.0.1 on main")
    _git(repo, "checkout", "-q", "feature")
    result = find_affected(repo)
    assert result.base.name == "merge base of HEAD and main"
    assert [r.root for r in result.roots] == ["services/api"]  # main's own change since is not this branch's
    assert [r.root for r in find_affected(repo, base="main").roots] == ["services/api", "services/worker"]
    # A clone's origin/HEAD comes first; a CI checkout has origin/<branch> only.
    _git(repo, "branch", "-q", "-m", "main", "trunk")
    _git(repo, "update-ref", "refs/remotes/origin/trunk", "trunk")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert find_affected(repo).base.name == "merge base of HEAD and origin/trunk"


def test_bad_bases_and_environments_are_usage_errors(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(repo, capsys, "affected", "--base", "no-such-branch")
    assert (code, out) == (2, "")
    assert err == (
        "error: 'no-such-branch' is not a commit or tree of this repository (fetch it, e.g. git fetch origin, "
        "or pass --base)\n"
    )
    assert run(repo, capsys, "affected", "--env", "three")[::2] == (
        2,
        "error: no environment three: not in envs/ and not under modules/ at merge base of HEAD and main\n",
    )
    _git(repo, "branch", "-q", "-m", "main", "work")
    assert run(repo, capsys, "affected")[::2] == (
        2,
        "error: no default branch to compare with (looked for origin/HEAD, main, origin/main, master, "
        "origin/master): pass --base REF\n",
    )
    shutil.rmtree(repo / ".git")
    assert run(repo, capsys, "affected")[::2] == (
        2,
        f"error: {repo} is not in a git repository: affected compares the work tree with a git revision\n",
    )


def test_a_project_in_a_folder_of_the_repository_and_the_empty_tree_as_base(committed: Path, tmp_path: Path) -> None:
    top = tmp_path / "mono"
    shutil.copytree(committed, top / "infra")
    shutil.move(top / "infra/.git", top / ".git")
    _git(top, "add", "-A")
    _git(top, "commit", "-q", "-m", "move to infra/")
    assert find_affected(top / "infra", base="HEAD").roots == ()
    empty = _git(top, "hash-object", "-t", "tree", "/dev/null")  # nothing deployed yet: every root is new
    result = find_affected(top / "infra", base=empty, envs=["team"])
    assert [(r.root, r.after) for r in result.roots] == [("shared", ""), *((root, "shared") for root in TEAM[1:])]


# ------------------------------------------------------------------ CI


def test_json_is_a_matrix_and_chunks_past_256_roots_without_aws_or_the_emulator(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(repo / "no-such-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(repo / "no-such-aws-credentials"))
    services = {f"s{i:03d}": {"image": f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/s:{i}"} for i in range(300)}
    big = {
        "project": "big",
        "aws": {"region": "eu-west-1", "account_id": "111111111111"},
        "network": {"vpc_id": "vpc-0123456789abcdef0", "private_subnet_ids": ["subnet-0123456789abcdef0"]},
        "state": {"split": "service"},
        "services": services,
    }
    (repo / "envs/big.yaml").write_text(yaml.safe_dump(big), encoding="utf-8")
    started = time.perf_counter()
    doc = _matrix(repo, capsys)
    elapsed = time.perf_counter() - started
    assert sorted(doc) == ["chunks"]
    chunks = [chunk["include"] for chunk in doc["chunks"]]
    assert [len(chunk) for chunk in chunks] == [MATRIX_LIMIT, 301 - MATRIX_LIMIT]
    flat = [entry for chunk in chunks for entry in _listed({"include": chunk})]
    assert flat == [("big", "shared", ""), *(("big", f"services/{name}", "shared") for name in services)]
    assert not (repo / ".hclforge/emulator.json").exists()
    print(f"affected on a new 300-service environment: {elapsed:.1f} s")  # the figure, not an assertion


def test_the_order_is_deterministic_and_the_library_says_why(repo: Path) -> None:
    _edit(repo, lambda d: d["network"]["create"].update(private_subnets=3))
    first = find_affected(repo)
    assert first == find_affected(repo)
    assert [(r.env, r.root) for r in first.roots] == [("one", "."), *(("team", root) for root in TEAM)]
    assert [r.root for r in first.of_env("team")] == list(TEAM)


def test_shared_changes_keep_a_map_s_keys_apart_and_give_up_on_what_they_cannot_read() -> None:
    files = {r: t for r, t in render.render(FIXTURE, "team").files.items() if r.startswith("shared/")}
    base = {r.removeprefix("shared/"): t for r, t in files.items()}
    work = dict(base)
    work["ecs/main.tf"] = base["ecs/main.tf"].replace('"Tasks of ECS service billing"', '"Billing tasks"')
    changes = SharedChanges(base, work)
    assert [k for k in ("api", "billing", "invoices", "worker") if changes.can_change("security_group_ids", k)] == [
        "billing"
    ]
    assert changes.can_change("security_group_ids") and not changes.can_change("cluster_arn")
    assert SharedChanges(base, {**work, "main.tf": base["main.tf"] + "whatever\n"}).can_change("cluster_arn")
    assert SharedChanges(base, base, lock_changed=True).can_change("cluster_arn")
    assert not SharedChanges(base, base).can_change("subnet_ids")


def test_skip_emulator_leaves_out_the_environments_that_run_on_the_emulator(repo: Path) -> None:
    """Nothing to deploy there: the deploy workflow asks for the others only."""
    local = {
        "project": "shop",
        "aws": {"region": "ap-northeast-1", "emulator": True},
        "network": {"create": {"cidr": "10.50.0.0/16", "private_subnets": 2}},
        "services": {"web": {"image": "nginx:1.27", "port": 80, "routes": ["GET /"], "auth": "none"}},
    }
    (repo / "envs/local.yaml").write_text(yaml.safe_dump(local), encoding="utf-8")
    _edit(repo, _image("api", "1.0.1"))
    listed = [(r.env, r.root) for r in find_affected(repo).roots]
    assert listed == [("local", "."), ("one", "."), ("team", "services/api")]
    assert [(r.env, r.root) for r in find_affected(repo, skip_emulator=True).roots] == listed[1:]
