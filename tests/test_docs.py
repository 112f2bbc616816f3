"""The README is a user's page: short, opening with the repository's two commands, naming only files that exist.

The docs under ``docs/`` link only to files and headings that exist. Both read the Markdown as
text: inline code spans and links outside fenced blocks (a fenced block shows a command or a
file's content, not a reference).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from hclforge.cli.main import cli
from hclforge.config import load_env
from hclforge.schema import SCHEMA_PATH
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 350

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MARKDOWN_NAME = re.compile(r"(?<![\w/.#-])([\w.-]+/)*[\w.-]+\.md\b")
# A span ending in one of these names a file, wherever it sits.
FILE_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".toml", ".json", ".lock", ".cjs", ".tf", ".j2", ".hcl", ".txt", ".sh"}
# Made when hclforge runs or a wheel is built, never committed: the README may name them.
RUN_TIME = (".hclforge/", "dist/", ".venv/")
# <env>, {env}, *, $VAR, [case], or a command line's metavariable (envs/ENV.yaml).
PLACEHOLDER = re.compile(r"[<{*$\[]|\b(?:ENV|NAME|DIR|FILE|SERVICE)\b")


def _prose(text: str) -> str:
    """The text outside fenced code blocks, with their lines kept blank (line numbers stay)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _tracked_names() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {Path(line).name for line in listed.splitlines()}


def _repo_path(span: str) -> str | None:
    """The repository path a code span names, or None when it names none.

    ``tests/test_x.py::test_y`` and ``tests/test_x.py[case]`` name the file; a span with a
    placeholder (``modules/<env>/``, ``tests/plans/*.yaml``) names its fixed leading directory.
    """
    span = re.sub(r":\d+$", "", span.strip().split("::")[0])  # envs/dev.yaml:12 names envs/dev.yaml
    if not span or any(c.isspace() for c in span) or "://" in span or span.startswith(("/", "~", "-", "[")):
        return None
    if span.startswith(RUN_TIME):
        return None
    top = span.split("/")[0]
    if not (("/" in span and (ROOT / top).exists()) or Path(span.split("[")[0]).suffix in FILE_SUFFIXES):
        return None
    cut = PLACEHOLDER.search(span)
    if cut:
        fixed = span[: cut.start()]
        return fixed[: fixed.rfind("/") + 1] or None
    return span


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", _prose(path.read_text()), flags=re.M)}


def _dangling_links(path: Path) -> list[str]:
    """Each relative link of ``path`` whose file, or heading, does not exist."""
    problems = []
    for lineno, line in enumerate(_prose(path.read_text()).splitlines(), 1):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{path.relative_to(ROOT)}:{lineno}: link to {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                problems.append(f"{path.relative_to(ROOT)}:{lineno}: link to {target}: no such heading")
    return problems


def _missing_paths(path: Path) -> list[str]:
    """Each repository path named in a code span, or a Markdown file named anywhere, that does not exist."""
    tracked = _tracked_names()
    problems = []
    for lineno, line in enumerate(_prose(path.read_text()).splitlines(), 1):
        named = [p for p in (_repo_path(s) for _, s in CODE_SPAN.findall(line)) if p]
        named += [m.group(0) for m in MARKDOWN_NAME.finditer(CODE_SPAN.sub("", LINK.sub("", line)))]
        for name in named:
            exists = (ROOT / name).exists() if "/" in name else (ROOT / name).exists() or name in tracked
            if not exists:
                problems.append(f"{path.relative_to(ROOT)}:{lineno}: names {name}, which is not in the repository")
    return problems


def test_the_readme_is_readable_in_ten_minutes() -> None:
    lines = README.read_text().count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; at most {MAX_README_LINES}: move detail to docs/"


def test_the_readme_names_only_files_that_exist() -> None:
    assert _missing_paths(README) == []
    assert _dangling_links(README) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_link_only_to_what_exists(path: Path) -> None:
    assert _dangling_links(path) == []


def test_every_doc_is_in_the_index() -> None:
    index = (ROOT / "docs/README.md").read_text()
    assert [p.name for p in DOCS if p.name != "README.md" and f"]({p.name})" not in index] == []


def test_the_readme_opens_with_the_repositorys_two_commands() -> None:
    """The first code block's first two commands: what a fresh clone runs, and what .ci/run calls."""
    first = re.search(r"^```sh\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    assert first, "README.md has no ```sh block"
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines() if line.split("#")[0].strip()]
    assert commands[:2] == ["make plan", "make test"]
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_the_readme_keeps_the_emulator_table_and_the_contract_record() -> None:
    text = README.read_text()
    section = re.search(r"^## What the emulator cannot show\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert section, "README.md lost the section 'What the emulator cannot show'"
    header = next(line for line in section.group(1).splitlines() if line.startswith("|"))
    assert [c.strip() for c in header.strip("|").split("|")][:2] == ["AWS behaviour", "source"]
    assert "](docs/contract-changes.md)" in text


def test_the_cli_reference_names_every_command() -> None:
    section = re.search(r"^## CLI reference\n(.*?)(?=^## )", README.read_text(), flags=re.M | re.S)
    assert section, "README.md has no '## CLI reference'"
    missing = [name for name in cli.commands if not re.search(rf"^hclforge {name}\b", section.group(1), flags=re.M)]
    assert missing == []


def _example(path: Path) -> str:
    """The annotated environment file of ``path``: its ```yaml block that starts with extends."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", path.read_text(), flags=re.M | re.S)
    example = next((b for b in blocks if b.lstrip().startswith("extends:")), None)
    assert example, f"{path.name} has no ```yaml block that starts with extends:"
    return example


@pytest.mark.parametrize("path", [README, ROOT / "docs/environment-file.md"], ids=lambda p: p.name)
def test_the_documented_environment_file_uses_real_keys(path: Path) -> None:
    """The annotated example validates against the committed JSON Schema: no invented or misspelt key."""
    example = yaml.safe_load(_example(path))
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / SCHEMA_PATH).read_text()))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)] == []
    assert {"aws", "network", "services", "backend", "api"} <= set(example)


def test_the_readmes_example_is_a_valid_environment(tmp_path: Path) -> None:
    """Over an empty _base layer, the README's example passes every domain rule, as a user would copy it.

    (The complete reference in docs/ lists alternatives side by side, so only its keys are checked.)
    """
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs/_base.yaml").write_text("{}\n")
    (tmp_path / "envs/dev.yaml").write_text(_example(README))
    cfg = load_env(tmp_path, "dev").config
    assert cfg.environment == "dev" and set(cfg.services) == {"api", "billing"}
