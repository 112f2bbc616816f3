"""Moving an environment between one state and a state per root (``hclforge state split|join``), as data.

A move takes every resource of the *source* states (an environment's one state, or
each root's state of a split one) and writes it into the *target* state whose
configuration declares it, at the same address, so no resource is destroyed or
replaced and every id stays. This module decides where each resource goes
(:func:`owners`, :func:`partition`), builds the documents to write
(:func:`target_doc`, :func:`emptied_doc`), and keeps the journal that lets an
interrupted move finish (:class:`Journal`). It runs no terraform and reads no AWS:
:mod:`hclforge.cli.statemove` does, through terraform itself.

Two kinds of resources do not keep their address (:data:`hclforge.roots.ONE_ROOT_ONLY`):

- the one root's pin of the execution role's inline policies
  (``aws_iam_role_policies_exclusive``) is dropped from state when splitting: it
  manages no AWS object of its own (the provider's delete is a no-op);
- the execution role's secrets policies: the one root's combined policy goes to
  shared's state, whose configuration no longer has it, so shared's apply deletes
  it once the service roots created their own; when joining, the service roots'
  policies are dropped from state, and the one root's pin removes them once the
  combined policy exists again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hclforge.errors import StateMoveRefused
from hclforge.loaded import LoadedEnv
from hclforge.model import EnvConfig
from hclforge.roots import ONE_ROOT_ONLY, SHARED, RootLayout, split_only_addresses

JOURNAL_FILE = "state-move.json"
JOURNAL_FORMAT = 1
COMMANDS = ("split", "join")
STAGES = ("move", "settle")
ONE = ""  # the one root of an environment, as a root's name
COMBINED_POLICY, EXECUTION_PIN = ONE_ROOT_ONLY
_TERRAFORM_BLOCK = re.compile(r"^terraform \{\n.*?^\}\n", re.MULTILINE | re.DOTALL)
_PROVIDERS_BLOCK = re.compile(r"^  required_providers \{\n.*?^  \}\n\n?", re.MULTILINE | re.DOTALL)
_RESOURCE_RE = re.compile(r'^resource "([^"]+)" "([^"]+)" \{', re.MULTILINE)
_LINEAGE_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ROOT_RE = re.compile(r"(|shared|services/[a-z][a-z0-9-]{0,31})")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_ADDRESS_RE = re.compile(r"[A-Za-z0-9_.\-]{1,300}")


def journal_path(env_dir: Path) -> Path:
    """The journal of a move of one environment: ``.hclforge/envs/<env>/state-move.json``."""
    return env_dir / JOURNAL_FILE


def backup_name(lineage: str, serial: int) -> str:
    """A source state's backup, named with its lineage and serial."""
    return f"state-backup-{lineage}-{serial}.tfstate"


def label(env: str, root: str) -> str:
    """A root as messages name it: ``dev`` for the one root, else ``dev/shared``, ``dev/services/api``."""
    return f"{env}/{root}" if root else env


def refuse_pending(env_dir: Path, env: str, command: str) -> None:
    """Refuse ``command`` on ``env`` while a move of it is unfinished; a plan (it changes nothing) may run.

    Raises:
        StateMoveRefused: a move's journal is there (exit 2), with the command that finishes it.
    """
    message = None if command in ("plan", "state split", "state join") else pending_message(env_dir, env)
    if message is not None:
        raise StateMoveRefused(message)


def pending_message(env_dir: Path, env: str) -> str | None:
    """Why no plan or apply may run on ``env``: an unfinished move (None when there is none)."""
    path = journal_path(env_dir)
    if not path.exists():
        return None
    try:
        command = json.loads(path.read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        command = None
    command = command if command in COMMANDS else "split|join"
    return (
        f"a 'state {command}' of {env} did not finish ({path}): its states are being moved, so no plan or "
        f"apply may run; run 'hclforge state {command} {env}' to finish it"
    )


# ------------------------------------------------------------------ where each resource goes


def declared(files: Mapping[str, str], root: str) -> set[str]:
    """The managed resources a rendered root declares, by address (``module.ecs.aws_ecs_service.api``).

    Args:
        files: a rendered tree, paths relative to ``modules/<env>/``.
        root: the root's path in it (``""`` for the one root, ``shared``, ``services/api``).
    """
    prefix = f"{root}/" if root else ""
    found = set()
    for path, text in files.items():
        if not path.startswith(prefix) or not path.endswith(".tf"):
            continue
        parts = path[len(prefix) :].split("/")
        if len(parts) > 2:
            continue
        module = f"module.{parts[0]}." if len(parts) == 2 else ""
        found |= {f"{module}{rtype}.{name}" for rtype, name in _RESOURCE_RE.findall(text)}
    return found


def backend_block(main_tf: str) -> str:
    """The rendered ``terraform {}`` block of a root without its providers: all a scratch root needs."""
    match = _TERRAFORM_BLOCK.search(main_tf)
    if match is None:
        raise ValueError("a rendered main.tf without a terraform block")
    return _PROVIDERS_BLOCK.sub("", match.group(0))


def address_of(resource: Mapping[str, Any]) -> str:
    """The address of a state document's resource entry (its instances share it)."""
    module = f"{resource['module']}." if resource.get("module") else ""
    data = "data." if resource.get("mode") == "data" else ""
    return f"{module}{data}{resource['type']}.{resource['name']}"


def managed(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A state document's managed resources (data sources are read again by the next plan, so never moved)."""
    return [r for r in (doc or {}).get("resources") or [] if r.get("mode") == "managed"]


def fingerprint(resources: Iterable[Mapping[str, Any]]) -> str:
    """What identifies a set of resources however terraform writes them: address, index and id of each instance."""
    items = sorted(
        (address_of(r), json.dumps(i.get("index_key")), str((i.get("attributes") or {}).get("id")))
        for r in resources
        for i in r.get("instances") or []
    )
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def owners(
    command: str, cfg: EnvConfig, one_files: Mapping[str, str], split_files: Mapping[str, str], roots: list[RootLayout]
) -> tuple[dict[str, str], set[str]]:
    """Where each resource goes, and what is dropped from state.

    Args:
        command: ``split`` (into ``roots``) or ``join`` (into the one root).
        cfg: the environment, split (``roots``' configuration).
        one_files: the environment rendered as one root.
        split_files: the environment rendered split.
        roots: the split roots, shared first.

    Returns:
        ``{address: target root}`` and the addresses no target keeps (see the module's docstring).
    """
    if command == "split":
        placed = {address: layout.path for layout in roots for address in declared(split_files, layout.path)}
        placed[COMBINED_POLICY] = SHARED  # shared's apply deletes it, once the service roots' own exist
        return placed, {EXECUTION_PIN}
    placed = dict.fromkeys(declared(one_files, ONE), ONE)
    return placed, {a for layout in roots if not layout.shared for a in split_only_addresses(cfg, layout)}


def partition(
    sources: Mapping[str, Mapping[str, Any] | None], placed: Mapping[str, str], dropped: set[str], targets: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The managed resources of the sources, by target root.

    Raises:
        StateMoveRefused: a resource is in two source states, or in no target's configuration.
    """
    moved: dict[str, list[dict[str, Any]]] = {root: [] for root in targets}
    seen: dict[str, str] = {}
    homeless = []
    for root, doc in sources.items():
        for resource in managed(doc):
            address = address_of(resource)
            if address in seen:
                raise StateMoveRefused(f"{address} is in two states, {seen[address] or 'the one'} and {root}")
            seen[address] = root
            if address in dropped:
                continue
            if address in placed:
                moved[placed[address]].append(resource)
            else:
                homeless.append(address)
    if homeless:
        listed = "\n".join(f"  {a}" for a in sorted(homeless))
        raise StateMoveRefused(
            f"these resources are in the state but in no root of the new layout's configuration:\n{listed}\n"
            "nothing was moved: they are resources the configuration no longer has (the current layout's plan "
            "deletes them); apply the environment as it is, then move it"
        )
    return moved


def unread(sources: Mapping[str, Mapping[str, Any] | None], placed: Mapping[str, str]) -> list[str]:
    """``join``: the one root's resources in none of the states read (but those the move makes, ONE_ROOT_ONLY).

    A service whose root was a group not named (``--group``) is read from a root of its
    own, which has no state: its resources would be missing from the one state, and the
    one root's plan would create them again.
    """
    present = {address_of(r) for doc in sources.values() for r in managed(doc)}
    return sorted(set(placed) - present - set(ONE_ROOT_ONLY))


def target_doc(resources: list[dict[str, Any]], lineage: str, serial: int, terraform_version: str) -> dict[str, Any]:
    """A target's state document: its resources, as they are in the sources, and no outputs yet."""
    return {
        "version": 4,
        "terraform_version": terraform_version,
        "serial": serial,
        "lineage": lineage,
        "outputs": {},
        "resources": resources,
        "check_results": None,
    }


def emptied_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A source's state once its resources are moved: same lineage, the next serial, nothing in it.

    (Written to S3, terraform may number it one more; a source is emptied when its lineage is
    the same, its serial higher and it holds no resource.)
    """
    return {**doc, "serial": int(doc["serial"]) + 1, "outputs": {}, "resources": [], "check_results": None}


def check_layout(loaded: LoadedEnv, command: str) -> None:
    """The YAML says the layout to move into: split for ``split``, one state for ``join``.

    Raises:
        StateMoveRefused: it does not (exit 2), with what to change.
    """
    split = loaded.config.split
    file = loaded.sources[-1] if loaded.sources else f"envs/{loaded.name}.yaml"
    if command == "split" and not split:
        raise StateMoveRefused(
            f"{file} does not say where to move {loaded.name}'s resources: add 'state: {{split: service}}' "
            f"(and any groups), then run 'hclforge state split {loaded.name}'"
        )
    if command == "join" and split:
        raise StateMoveRefused(
            f"{file} still says state.split: service: remove 'state' (or set split: none), then run "
            f"'hclforge state join {loaded.name}' (with --group ROOT=SVC,SVC for each group root it had)"
        )


def checked_groups(loaded: LoadedEnv, command: str, groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """``join --group``: the group roots a split environment had, checked as ``state.groups`` would be.

    Raises:
        StateMoveRefused: a group with a wrong name or services, or groups given to ``split``.
    """
    if groups and command != "join":
        raise StateMoveRefused(f"--group is for 'state join'; a split takes its groups from envs/{loaded.name}.yaml")
    services = loaded.config.services
    seen: set[str] = set()
    for name, members in groups.items():
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", name) or name == "shared":
            raise StateMoveRefused(f"--group {name}: not a root name (lowercase letters, digits, '-'; not shared)")
        if name in services:
            raise StateMoveRefused(f"--group {name}: a group cannot take the name of a service")
        unknown = [m for m in members if m not in services]
        if not members or unknown or seen & set(members) or len(set(members)) != len(members):
            raise StateMoveRefused(
                f"--group {name}={','.join(members)}: each service once, in one group, and known "
                f"(services: {', '.join(services)})"
            )
        seen |= set(members)
    return {name: list(members) for name, members in groups.items()}


# ------------------------------------------------------------------ the journal


@dataclass
class Source:
    """A state resources are moved out of, as it was when the move began (its backup holds it)."""

    root: str
    lineage: str
    serial: int
    backup: str
    sha256: str
    count: int


@dataclass
class Target:
    """A state resources are moved into: what it is to hold, and the lineage and serial it had once written.

    A backend may give a state it creates a lineage of its own (S3 does), so a target is
    known by what it holds: exactly the resources, with the ids, that the backups hold
    for it (:attr:`fingerprint`). ``lineage`` and ``serial`` are filled once it is read back.
    """

    root: str
    addresses: list[str]
    fingerprint: str
    lineage: str = ""
    serial: int = 0


@dataclass
class Journal:
    """A move's plan and progress, written before any state is, so that a rerun finishes it.

    Attributes:
        command: ``split`` or ``join``.
        env: the environment.
        emulator: the move is of the ``--emulator`` copies' states.
        stage: ``move`` (states being written), ``settle`` (moved; the roots' applies remain).
        sources, targets: the states.
        dropped: the addresses no target keeps.
        groups: ``join``: the split roots that were read (root -> services).
    """

    command: str
    env: str
    emulator: bool
    stage: str
    sources: list[Source]
    targets: list[Target]
    dropped: list[str]
    groups: dict[str, list[str]] = field(default_factory=dict)

    def text(self) -> str:
        """The journal file's text: the fields, and the SHA-256 of them."""
        body = {"format": JOURNAL_FORMAT, **asdict(self)}
        return json.dumps({**body, "sha256": _digest(body)}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def parse(cls, text: str, path: Path) -> Journal:
        """A journal read back, checked; never a guess.

        Raises:
            StateMoveRefused: it is not a journal this hclforge wrote, or it was changed since.
        """
        try:
            data = json.loads(text)
            body = {k: v for k, v in data.items() if k != "sha256"}
            if body.pop("format", None) != JOURNAL_FORMAT or data.get("sha256") != _digest(
                {"format": JOURNAL_FORMAT, **body}
            ):
                raise ValueError("its checksum does not match its content")
            journal = cls(
                **{
                    **body,
                    "sources": [Source(**s) for s in body["sources"]],
                    "targets": [Target(**t) for t in body["targets"]],
                }
            )
            problem = journal.problem()
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            problem = str(err) or type(err).__name__
        if problem:
            raise StateMoveRefused(
                f"{path} is not a journal hclforge wrote, or was changed since ({problem}); refusing to guess "
                "what was moved. The states as they were before the move are the state-backup-*.tfstate files "
                f"beside it. If no root's state was written yet, remove {path.name} and run the command again"
            )
        return journal

    def problem(self) -> str:
        """What is wrong with the fields ("" when nothing is)."""
        roots = [s.root for s in self.sources] + [t.root for t in self.targets]
        checks = [
            (self.command in COMMANDS and self.stage in STAGES, "unknown command or stage"),
            (isinstance(self.emulator, bool) and isinstance(self.env, str), "bad env or emulator"),
            (len(set(roots)) == len(roots) and all(_ROOT_RE.fullmatch(r) for r in roots), "bad root names"),
            (bool(self.sources) and bool(self.targets), "no sources or targets"),
        ]
        lists = [t.addresses for t in self.targets] + [self.dropped]
        checks.append((all(isinstance(a, list) and all(isinstance(x, str) for x in a) for a in lists), "bad lists"))
        groups = self.groups
        checks.append((isinstance(groups, dict) and all(isinstance(m, list) for m in groups.values()), "bad groups"))
        counts = [s.serial for s in self.sources] + [s.count for s in self.sources] + [t.serial for t in self.targets]
        checks.append((all(type(n) is int and n >= 0 for n in counts), "bad serial or count"))
        for source in self.sources:
            checks.append((_LINEAGE_RE.fullmatch(source.lineage) is not None, f"bad lineage {source.lineage!r}"))
            checks.append((source.backup == backup_name(source.lineage, source.serial), "bad backup name"))
            checks.append((_SHA_RE.fullmatch(source.sha256) is not None, "bad backup checksum"))
        for target in self.targets:
            lineage_ok = target.lineage == "" or _LINEAGE_RE.fullmatch(target.lineage) is not None
            checks.append((lineage_ok, f"bad lineage {target.lineage!r}"))
            checks.append((_SHA_RE.fullmatch(target.fingerprint) is not None, "bad fingerprint"))
            checks.append((all(_ADDRESS_RE.fullmatch(a) for a in target.addresses), "bad address"))
        checks.append((all(_ADDRESS_RE.fullmatch(a) for a in self.dropped), "bad address"))
        return next((why for ok, why in checks if not ok), "")

    def check_backups(self, backups: Mapping[str, Mapping[str, Any]]) -> None:
        """The journal's targets and dropped addresses are exactly the backed-up resources, each once.

        Raises:
            StateMoveRefused: they are not (a journal edited with a new checksum).
        """
        resources = {address_of(r): r for doc in backups.values() for r in managed(doc)}
        listed = [a for t in self.targets for a in t.addresses] + self.dropped
        ok = sorted(listed) == sorted(resources) and all(
            t.fingerprint == fingerprint(resources[a] for a in t.addresses) for t in self.targets
        )
        if not ok:
            raise StateMoveRefused(
                f"the journal of {self.env}'s move does not match its backups: it lists other resources than "
                "the states it moves held; refusing to guess"
            )

    def resources(self, backups: Mapping[str, Mapping[str, Any]], target: Target) -> list[dict[str, Any]]:
        """A target's resources, as its sources' backups hold them (:meth:`check_backups` first)."""
        found = {address_of(r): r for doc in backups.values() for r in managed(doc)}
        return [dict(found[address]) for address in target.addresses]


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
