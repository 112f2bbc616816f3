"""Help and shell completion (issue 21, point 8): what ``--help`` says and what Tab offers.

Every command's help is read from the CLI itself, so a command added later is held
to the same rules: an example of itself, and no word of the code (a module or class
name, "main maps ..."). Completions go through click's completion protocol, as a
shell drives it (``_HCLFORGE_COMPLETE=bash_complete``, ``COMP_WORDS``, ``COMP_CWORD``):
in this process for the cases, and once through the installed console script.
(Tests do not import click: only ``cli/`` does.)
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import hclforge
import hclforge.cli
from hclforge.cli.main import cli, main
from hclforge.config import load_env
from hclforge.errors import HclforgeError
from hclforge.names import service_names
from tests.conftest import ROOT, run

Project = Callable[[dict[str, Any]], Path]


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if hasattr(command, "commands"):  # a group
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(cli))

# Module names that are ordinary words (a help text may say "render" or "status");
# every other module name (planapply, oneoff, tfprocess...) is the code's own word.
# fmt: off
WORDS = frozenset({
    "app", "baseline", "batch", "binding", "bootstrap", "cli", "completion", "config", "cost", "deploy", "durations",
    "emulator", "errors", "execute", "explain", "hcl", "loaded", "logs", "main", "model", "names", "ops", "paths",
    "private", "progress", "protect", "render", "rollout", "root", "roots", "routes", "rules", "runs", "scaffold",
    "schema", "settings", "shims", "source", "status", "summary", "terraform", "tree",
})
# fmt: on


def _code_words() -> set[str]:
    """Module names that are not ordinary words, the names of the error classes, and compound class names."""
    modules: list[str] = []
    for package in (hclforge, hclforge.cli):
        modules += [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    command_names = {part for path in COMMANDS for part in path}
    words = {m.rsplit(".", 1)[1] for m in modules} - WORDS - command_names
    for name in modules:
        if name.endswith("motoserve"):  # the emulator's process: importing it changes botocore
            continue
        for cls_name, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if not cls.__module__.startswith("hclforge"):
                continue
            # A one-word class (Service, Summary) is an English word; TaskExitCode or EventStream is code.
            if issubclass(cls, HclforgeError) or sum(ch.isupper() for ch in cls_name) > 1 or cls_name == "Workspace":
                words.add(cls_name)
    return words


@pytest.fixture
def helps(capsys: pytest.CaptureFixture[str]) -> Callable[[tuple[str, ...]], str]:
    """The ``--help`` of a command, as printed."""

    def show(path: tuple[str, ...]) -> str:
        code, out, err = run(ROOT, capsys, *path, "--help")
        assert (code, err) == (0, ""), err
        return out

    return show


def test_no_help_names_the_code(helps: Callable[[tuple[str, ...]], str]) -> None:
    words = _code_words()
    assert {"planapply", "oneoff", "Interrupted", "TaskExitCode", "Workspace"} <= words
    found = []
    for path in COMMANDS:
        text = helps(path)
        found += [(path, w) for w in sorted(words) if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]
        found += [(path, m.group()) for m in re.finditer(r"\bhclforge\.(?!toml\b)\w+|\b\w+\.py\b|\bmain maps\b", text)]
    assert found == []


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "hclforge")
def test_every_command_shows_an_example_of_itself(
    path: tuple[str, ...], helps: Callable[[tuple[str, ...]], str]
) -> None:
    example = " ".join(("Example: hclforge", *path))
    text = helps(path)
    assert re.search(rf"^  {re.escape(example)}\b", text, flags=re.M), text


def test_apply_and_deploy_say_when_to_use_them(helps: Callable[[tuple[str, ...]], str]) -> None:
    apply_help = " ".join(helps(("apply",)).split())
    deploy_help = " ".join(helps(("deploy",)).split())
    assert "Use apply for infrastructure changes reviewed as a plan" in apply_help
    assert "To ship an image to running services, use deploy." in apply_help
    assert "Use deploy to ship an image" in deploy_help
    assert "waits up to --timeout for every ECS service it changed to finish rolling out" in deploy_help
    assert "For infrastructure changes reviewed as a saved plan first, use plan, then apply." in deploy_help


def test_logs_help_is_about_logs(helps: Callable[[tuple[str, ...]], str]) -> None:
    text = " ".join(helps(("logs",)).split())
    assert "--follow until Ctrl-C" in text and "Interrupted" not in text and "130" not in text


# ------------------------------------------------------------------ completion


Complete = Callable[[Path, list[str], str], list[str]]


@pytest.fixture
def complete(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Complete:
    """What Tab offers for ``incomplete`` after ``hclforge --root ROOT ARGS...``, as bash asks for it."""

    def ask(root: Path, args: list[str], incomplete: str) -> list[str]:
        words = ["hclforge", "--root", str(root), *args, incomplete]
        monkeypatch.setenv("_HCLFORGE_COMPLETE", "bash_complete")
        monkeypatch.setenv("COMP_WORDS", shlex.join(words))
        monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
        with pytest.raises(SystemExit) as done:
            main([])
        out, err = capsys.readouterr()
        assert (done.value.code, err) == (0, "")
        return [line.removeprefix("plain,") for line in out.splitlines() if line]

    return ask


def test_environments_complete_from_the_file_names(complete: Complete) -> None:
    assert complete(ROOT, ["plan"], "") == ["dev", "local", "prod"]
    assert complete(ROOT, ["plan"], "p") == ["prod"]
    assert complete(ROOT, ["diff", "dev"], "") == ["dev", "local", "prod"]
    assert complete(ROOT, ["render", "dev"], "l") == ["local"]
    assert complete(ROOT, ["logs"], "d") == ["dev"]


@pytest.mark.parametrize("env", ["dev", "local", "prod"])
def test_services_complete_as_the_layered_environment_has_them(env: str, complete: Complete) -> None:
    services = list(load_env(ROOT, env).config.services)
    assert len(services) >= 2
    assert service_names(ROOT, env) == services
    assert complete(ROOT, ["logs", env], "") == services
    assert complete(ROOT, ["run", env], services[1][:2]) == [s for s in services if s.startswith(services[1][:2])]
    assert complete(ROOT, ["deploy", env, "--service"], "") == services
    assert complete(ROOT, ["set-image", env], "") == services


def test_service_completion_follows_layers_and_null(project: Project, complete: Complete) -> None:
    image = {"image": "nginx:1.27"}
    root = project(
        {
            "envs/_base.yaml": {"services": {"api": image, "web": image}},
            "envs/_mid.yaml": {"extends": ["_base"], "services": {"jobs": image}},
            "envs/dev.yaml": {"extends": ["_mid"], "services": {"web": None, "admin": image}},
            "envs/flat.yaml": {"extends": "_base", "services": None},
        }
    )
    assert complete(root, ["logs", "dev"], "") == ["api", "jobs", "admin"]
    assert complete(root, ["logs", "flat"], "") == []
    assert complete(root, ["logs"], "") == ["dev", "flat"]


@pytest.mark.parametrize(
    "files",
    [
        {"envs/dev.yaml": "services: [unclosed\n"},  # not YAML
        {"envs/dev.yaml": "services:\n  api: {image: a}\n  api: {image: b}\n"},  # a duplicate key
        {"envs/dev.yaml": "extends: [_gone]\nservices: {api: {image: a}}\n"},  # a missing layer
        {"envs/dev.yaml": "extends: [../../etc/passwd]\n"},  # outside envs/
        {"envs/dev.yaml": "extends: [_a]\n", "envs/_a.yaml": "extends: [_b]\n", "envs/_b.yaml": "extends: [_a]\n"},
        {"envs/dev.yaml": "extends: {a: 1}\n"},
        {"envs/dev.yaml": "- a list\n"},
        {"envs/dev.yaml": b"services: \xff\n"},  # not UTF-8
    ],
    ids=["yaml", "duplicate", "missing-layer", "escape", "cycle", "extends-map", "not-a-map", "not-utf8"],
)
def test_a_broken_environment_offers_no_services(
    project: Project, files: dict[str, str | bytes], complete: Complete
) -> None:
    root = project({})
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert complete(root, ["logs", "dev"], "") == []
    assert complete(root, ["logs", "nope"], "") == []
    assert complete(root, ["logs", "../x"], "") == []


def test_the_console_script_completes_in_a_project() -> None:
    """The shell's side of it: ``_HCLFORGE_COMPLETE=bash_complete`` with COMP_WORDS, from inside a project."""
    exe = Path(sys.executable).parent / "hclforge"
    env = {**os.environ, "_HCLFORGE_COMPLETE": "bash_complete", "COMP_WORDS": "hclforge logs local ", "COMP_CWORD": "3"}
    result = subprocess.run([str(exe)], cwd=ROOT / "envs", env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == ["plain,api", "plain,web"]
