"""Addons: hand-written Terraform that an environment's tree carries beside what hclforge renders.

The one documented way for Terraform that the YAML does not describe (a queue, a
table, a bucket) into a generated tree (docs/addons.md):

- ``addons/_shared/*.tf`` go into every environment, ``addons/<env>/*.tf`` into one;
- each is copied into the root of ``modules/<env>/`` as ``addon_<name>.tf``, headed
  with the generated mark and the file it came from, so ``render --check``, the
  render stamp and the tree's allow-list (:func:`hclforge.tree.check_contents`)
  treat it like any rendered file, and it survives every render;
- at the root, an addon reads the modules' outputs (``module.ecs.cluster_arn``,
  ``module.iam.task_role_names["api"]``...);
- the YAML grants a service's task role an addon's resource with a reference,
  ``addon:<type>.<name>.<attribute>``, in ``permissions.statements[].resources``,
  rendered as a real HCL reference passed into the IAM module (:func:`check_refs`).

Addons are read and checked when an environment is loaded (:func:`load_addons`),
so their bytes are inputs of the load like the YAML's: the environment cache and
the render stamp are keyed on them. Other folders under ``addons/`` (``_copilot/``,
where ``import copilot`` reports Copilot's CloudFormation addons) are never read.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hclforge.errors import FileTooLargeError, Problem, UnsafePathError
from hclforge.paths import MAX_FILE_BYTES, confined_path, read_regular
from hclforge.tree import GENERATED_MARK

ADDONS_DIR = "addons"
SHARED = "_shared"
COPY_PREFIX = "addon_"
# An addon's file name becomes part of a file name in the tree: plain, and never an override file.
FILE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.tf")
NOTE_SUFFIX = ".md"
REF_PREFIX = "addon:"
# addon:<resource type>.<resource name>.<attribute>[suffix], e.g. addon:aws_s3_bucket.data.arn/*
REF_RE = re.compile(
    r"addon:(?P<type>[a-z][a-z0-9_]{0,63})\.(?P<name>[A-Za-z_][A-Za-z0-9_-]{0,63})"
    r"\.(?P<attr>[a-z][a-z0-9_]{0,63})(?P<suffix>[/:][A-Za-z0-9*?/_.:-]{0,200})?"
)
REF_SHAPE = "addon:<resource type>.<name>.<attribute>, e.g. addon:aws_sqs_queue.jobs.arn (a suffix may follow: /*)"
# Blocks an addon may not declare, and why: the root's own settings stay the rendered ones.
REFUSED_BLOCKS = {
    "terraform": "the root's terraform block (versions, backend) is rendered from the YAML",
    "provider": "the AWS provider is configured by the YAML (region, account, default tags)",
}
_LOCAL_SOURCE_RE = re.compile(r"\.\.?(/|$)")


@dataclass(frozen=True)
class Addon:
    """One addon file, read and checked.

    Attributes:
        source: where it lives, relative to the project root (``addons/local/queue.tf``).
        copy: its name in the tree (``addon_queue.tf``).
        text: its content, line endings normalised.
        resources: the ``(type, name)`` of each ``resource`` block it declares.
    """

    source: str
    copy: str
    text: str
    resources: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Block:
    """A top-level block of an addon: ``resource "aws_sqs_queue" "jobs" {`` on ``line``."""

    kind: str
    labels: tuple[str, ...]
    line: int
    strings: dict[str, str] = field(default_factory=dict)  # its plain ``name = "text"`` attributes


@dataclass
class Addons:
    """An environment's addons, the problems found in them, and the digests of their folders."""

    files: list[Addon] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)


def folders(env: str) -> tuple[str, str]:
    """The two folders an environment's addons come from, shared first."""
    return f"{ADDONS_DIR}/{SHARED}", f"{ADDONS_DIR}/{env}"


def copy_text(addon: Addon) -> str:
    """The addon as it is written into the tree: the generated mark and its source, then its text."""
    return f"# {GENERATED_MARK}: copied by hclforge from {addon.source}; edit that file\n\n{addon.text}"


# ------------------------------------------------------------------ reading


def _entries(root: Path, folder: str) -> list[tuple[str, bytes | str]] | None:
    """Each entry of ``folder`` but notes: its content, or why it is no addon. None: no such folder.

    Raises:
        UnsafePathError: ``addons`` or the folder is a link or not a directory.
    """
    path = confined_path(root, folder, kind="dir")
    if not path.is_dir():
        return None
    out: list[tuple[str, bytes | str]] = []
    with os.scandir(path) as found:
        for entry in sorted(found, key=lambda e: e.name):
            name = entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                out.append((name, "is a symbolic link: addons are read as they are, never through a link"))
            elif stat.S_ISREG(mode) and name.endswith(NOTE_SUFFIX):
                continue  # a note beside the addons: never copied
            elif not stat.S_ISREG(mode):
                out.append((name, f"is not a file: only .tf files (and .md notes) belong in {folder}/"))
            elif not name.endswith(".tf"):
                out.append((name, "is not a .tf file: addons are Terraform in its native syntax (and .md notes)"))
            else:
                try:
                    out.append((name, read_regular(Path(entry.path), MAX_FILE_BYTES)))
                except FileTooLargeError as err:
                    out.append((name, f"is too large ({err})"))
                except (OSError, UnsafePathError) as err:
                    out.append((name, f"cannot be read ({getattr(err, 'strerror', None) or err})"))
    return out


def _digest(entries: list[tuple[str, bytes | str]] | None) -> str:
    if entries is None:
        return "-"
    digest = hashlib.sha256()
    for name, content in entries:
        data = content if isinstance(content, bytes) else b"refused:" + content.encode()
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def folder_digest(root: Path, folder: str) -> str:
    """The digest of an addons folder now, as :func:`load_addons` records it in a load's inputs.

    Raises:
        UnsafePathError: the folder is a link or not a directory.
    """
    return _digest(_entries(root, folder))


def load_addons(root: Path, env: str) -> Addons:
    """Read and check the addons of ``env`` (``addons/_shared/`` then ``addons/<env>/``).

    Every problem is collected, each with its file and line: a link, a file that is
    not ``.tf``, too large or not UTF-8, a name that is not plain or is an override
    file, two files copied to one name, a ``terraform`` or ``provider`` block, a
    ``module`` from a local path (it would read files no check covers), a resource
    declared twice, or text the block scanner cannot follow.
    """
    result = Addons()
    copies: dict[str, str] = {}
    declared: dict[tuple[str, str], str] = {}
    for folder in folders(env):
        try:
            entries = _entries(root, folder)
        except UnsafePathError as err:
            result.problems.append(Problem(folder, 0, "", str(err)))
            result.inputs[f"{folder}/"] = "unsafe"
            continue
        result.inputs[f"{folder}/"] = _digest(entries)
        for name, content in entries or []:
            source = f"{folder}/{name}"
            if isinstance(content, str):
                result.problems.append(Problem(source, 0, "", content))
                continue
            addon = _check_file(source, name, content, copies, declared, result.problems)
            if addon is not None:
                result.files.append(addon)
    return result


def _check_file(
    source: str,
    name: str,
    data: bytes,
    copies: dict[str, str],
    declared: dict[tuple[str, str], str],
    problems: list[Problem],
) -> Addon | None:
    """One addon file: its checks, its blocks, and the :class:`Addon` when it passes."""
    stem = name.removesuffix(".tf")
    if not FILE_NAME_RE.fullmatch(name):
        problems.append(Problem(source, 0, "", "is not a plain addon name (allowed: ^[a-z0-9][a-z0-9_-]{0,63}\\.tf$)"))
        return None
    if stem == "override" or stem.endswith("_override"):
        problems.append(
            Problem(source, 0, "", "is named like a terraform override file, which would change rendered blocks")
        )
        return None
    copy = f"{COPY_PREFIX}{stem}.tf"
    if copy in copies:
        problems.append(Problem(source, 0, "", f"has the name of {copies[copy]}: both would be copied to {copy}"))
        return None
    copies[copy] = source
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        problems.append(Problem(source, 0, "", f"is not UTF-8 text ({err.reason} at byte {err.start})"))
        return None
    text = text.replace("\r\n", "\n").rstrip("\n") + "\n"
    try:
        blocks = top_level_blocks(text)
    except HclScanError as err:
        problems.append(Problem(source, err.line, "", str(err)))
        return None
    found = len(problems)
    resources = []
    for block in blocks:
        message = _refusal(block)
        if message:
            problems.append(Problem(source, block.line, "", message))
        elif block.kind == "resource" and len(block.labels) == 2:
            pair = (block.labels[0], block.labels[1])
            if pair in declared:
                message = f"resource {pair[0]}.{pair[1]} is also declared in {declared[pair]}"
                problems.append(Problem(source, block.line, "", message))
            declared[pair] = f"{source}:{block.line}"
            resources.append(pair)
    if len(problems) > found:
        return None
    return Addon(source, copy, text, tuple(resources))


def _refusal(block: Block) -> str:
    """Why an addon may not hold ``block`` ('' when it may)."""
    if block.kind in REFUSED_BLOCKS:
        return f"a {block.kind} block is not allowed in an addon: {REFUSED_BLOCKS[block.kind]}"
    if block.kind == "module" and _LOCAL_SOURCE_RE.match(block.strings.get("source", "")):
        name = block.labels[0] if block.labels else ""
        return f"module {name} comes from a local path: an addon's modules come from a registry or a remote source"
    return ""


# ------------------------------------------------------------------ references from the YAML

Finding = tuple[tuple[str | int, ...], str]


def check_refs(
    services: dict[str, list[list[str]]], addons: list[Addon]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each ``addon:`` reference in the services' statements that is malformed or names no addon resource.

    Args:
        services: per service, the ``resources`` of each of its statements, in order.
        addons: the environment's addons.

    Yields:
        ``(yaml_path, message)``, as the domain rules do.
    """
    known = {pair: addon.source for addon in addons for pair in addon.resources}
    for service, statements in services.items():
        for i, resources in enumerate(statements):
            for j, resource in enumerate(resources):
                if not resource.startswith(REF_PREFIX):
                    continue
                path = ("services", service, "permissions", "statements", i, "resources", j)
                match = REF_RE.fullmatch(resource)
                if match is None:
                    yield path, f"'{resource[:80]}' is not an addon reference (allowed: {REF_SHAPE})"
                    continue
                pair = (match["type"], match["name"])
                if pair not in known:
                    have = ", ".join(f"{t}.{n}" for t, n in sorted(known)) or "none"
                    yield (
                        path,
                        (
                            f"no addon declares resource {pair[0]}.{pair[1]} (in {ADDONS_DIR}/{SHARED}/ or "
                            f"{ADDONS_DIR}/<env>/; declared: {have})"
                        ),
                    )


def ref_key(resource: str) -> str | None:
    """``type.name.attribute`` of a valid reference (the key it is passed into the IAM module by); else None."""
    match = REF_RE.fullmatch(resource)
    return f"{match['type']}.{match['name']}.{match['attr']}" if match else None


def ref_suffix(resource: str) -> str:
    """What follows the attribute in a valid reference (``/*``), or ``""``."""
    match = REF_RE.fullmatch(resource)
    return (match["suffix"] or "") if match else ""


# ------------------------------------------------------------------ the block scanner


class HclScanError(ValueError):
    """The scanner cannot follow an addon's text (an unclosed string, block or comment)."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(message)


_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_HEREDOC_RE = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\n")
_PAIRS = {"{": "}", "[": "]", "(": ")"}


class _Scanner:
    """Just enough of HCL's lexical rules to find the top-level blocks: comments, strings
    (with nested ``${ }`` and ``%{ }`` templates), heredocs and brackets."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1

    def tokens(self) -> Iterator[tuple[str, str, int]]:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
                yield "nl", c, self.line - 1
            elif c in " \t\r":
                self.i += 1
            elif c == "#" or s.startswith("//", self.i):
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end < 0:
                    raise HclScanError(self.line, "a /* comment is not closed")
                self.line += s.count("\n", self.i, end)
                self.i = end + 2
            elif c == '"':
                line = self.line
                yield "string", self._string(), line
            elif (m := _HEREDOC_RE.match(s, self.i)) is not None:
                self._heredoc(m)
                yield "other", "<<", self.line
            elif (m := _IDENT_RE.match(s, self.i)) is not None:
                self.i = m.end()
                yield "ident", m.group(), self.line
            elif c in "{}[]()":
                self.i += 1
                yield c, c, self.line
            elif c == "=" and not s.startswith(("==", "=>"), self.i):
                self.i += 1
                yield "=", c, self.line
            else:
                self.i += 1
                yield "other", c, self.line

    def _string(self) -> str:
        """Skip a quoted string from its opening quote; its text as written (escapes kept)."""
        s, start = self.s, self.i + 1
        self.i += 1
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self.i += 2
            elif c == '"':
                self.i += 1
                return s[start : self.i - 1]
            elif c == "\n":
                raise HclScanError(self.line, "a string is not closed on its line")
            elif c in "$%" and s.startswith(c + c + "{", self.i):
                self.i += 3  # $${ and %%{ are literal text
            elif c in "$%" and s.startswith(c + "{", self.i):
                self.i += 2
                self._template()
            else:
                self.i += 1
        raise HclScanError(self.line, "a string is not closed")

    def _template(self) -> None:
        """Skip a ``${ ... }`` or ``%{ ... }`` sequence after its opening, nested strings and braces included."""
        depth = 1
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self._string()
                continue
            if c == "\n":
                self.line += 1
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return
            self.i += 1
        raise HclScanError(self.line, "a ${ } template sequence is not closed")

    def _heredoc(self, m: re.Match[str]) -> None:
        marker, start_line = m.group(2), self.line
        self.i = m.end()
        self.line += 1
        while self.i < len(self.s):
            end = self.s.find("\n", self.i)
            row = self.s[self.i : len(self.s) if end < 0 else end]
            self.i = len(self.s) if end < 0 else end + 1
            self.line += 1
            if row.strip() == marker:
                return
        raise HclScanError(start_line, f"the heredoc <<{marker} is not closed")


def top_level_blocks(text: str) -> list[Block]:
    """The top-level blocks of an HCL file, with their labels and lines.

    Raises:
        HclScanError: the text is not a sequence of blocks the scanner can follow.
    """
    blocks: list[Block] = []
    stack: list[tuple[str, int]] = []
    head: list[tuple[str, str, int]] = []
    current: Block | None = None
    inner: list[tuple[str, str, int]] = []
    for kind, value, line in _Scanner(text).tokens():
        if kind in _PAIRS:
            if not stack and kind == "{":
                current = _block_head(head, line)
                blocks.append(current)
                head = []
            elif not stack:
                raise HclScanError(line, f"'{value}' outside a block: an addon holds blocks only")
            stack.append((kind, line))
            inner = []
        elif kind in ("}", "]", ")"):
            if not stack or _PAIRS[stack[-1][0]] != kind:
                raise HclScanError(line, f"'{value}' closes nothing")
            stack.pop()
            if not stack and current is not None:
                _attribute(current, inner)  # a one-line block: resource "t" "n" { name = "x" }
            inner = []
        elif not stack:
            if kind != "nl":
                head.append((kind, value, line))
        elif len(stack) == 1 and current is not None:
            if kind == "nl":
                _attribute(current, inner)
                inner = []
            else:
                inner.append((kind, value, line))
    if stack:
        raise HclScanError(stack[-1][1], f"the '{stack[-1][0]}' opened here is not closed")
    if head:
        raise HclScanError(head[0][2], f"'{head[0][1]}' outside a block: an addon holds blocks only")
    return blocks


def _attribute(block: Block, tokens: list[tuple[str, str, int]]) -> None:
    """Record ``name = "text"`` when ``tokens`` (one line of a block's body) are exactly that."""
    if [k for k, _, _ in tokens] == ["ident", "=", "string"]:
        block.strings[tokens[0][1]] = tokens[2][1]


def _block_head(head: list[tuple[str, str, int]], line: int) -> Block:
    if not head or head[0][0] != "ident" or any(k not in ("ident", "string") for k, _, _ in head[1:]):
        shown = " ".join(v for _, v, _ in head)[:60] or "{"
        raise HclScanError(head[0][2] if head else line, f"'{shown}' is not a block header (type \"label\" ... {{)")
    return Block(head[0][1], tuple(v for _, v, _ in head[1:]), head[0][2])
