"""``hclforge state split|join ENV``: move an environment's resources between one state and a state per root.

Where each resource goes, the documents written and the journal are
:mod:`hclforge.statemove`'s; this module reads and writes the states, always
through terraform (``state pull``, ``state push``), so the backend's lock,
credentials and endpoint are honoured and no state object is ever written by hand:

- a *source* (the one state when splitting, each root's when joining) is read and
  emptied in a scratch root holding only its backend block
  (``.hclforge/envs/<env>/state-move/<root>/``);
- a *target* is written in its own root (its workspace), after its init.

The order makes a ``kill -9`` at any point safe: the backups and the journal are
written before any state; every target is written and read back before any source
is emptied; a rerun reads the journal and finishes, or refuses what it cannot tell
apart from someone else's state. Then :mod:`~hclforge.cli.statesettle` applies the
roots as the move needs, and every root is planned.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from hclforge import statemove
from hclforge.cli import envlock
from hclforge.cli.binding import sha256_file
from hclforge.cli.ops import Workspace
from hclforge.cli.private import private_dir, write_private
from hclforge.cli.root import Root, env_root, split_root
from hclforge.cli.terraform import Terraform
from hclforge.cli.workcopy import OVERRIDE_FILE, local_backend_override
from hclforge.errors import StateMoveRefused
from hclforge.loaded import LoadedEnv
from hclforge.model import StateConfig
from hclforge.roots import RootLayout, split_layout
from hclforge.statemove import ONE, Journal, Source, Target, address_of, fingerprint, label, managed

# Makes the workspace of a target root: a split root (its layout), or the one root (None).
MakeTarget = Callable[[RootLayout | None], Workspace]


class Move:
    """One ``state split`` or ``state join`` of one environment.

    Args:
        command: ``split`` (the YAML says ``state.split: service``) or ``join`` (it does not).
        loaded: the environment as its YAML is now.
        make: makes the workspace of each target root.
        emulator_copy: the states moved are the ``--emulator`` copies' (``emulator.tfstate``).
        info: told each step.
        groups: ``join``: the group roots the split environment had (root -> services).

    Raises:
        StateMoveRefused: the YAML does not say the layout to move into, or ``groups`` is wrong.
    """

    def __init__(
        self,
        command: str,
        loaded: LoadedEnv,
        make: MakeTarget,
        *,
        emulator_copy: bool,
        info: Callable[[str], None],
        groups: dict[str, list[str]] | None = None,
    ) -> None:
        self.command, self.loaded, self.env, self.info = command, loaded, loaded.name, info
        self.emulator_copy = emulator_copy
        self.groups = statemove.checked_groups(loaded, command, groups or {})
        cfg = loaded.config
        statemove.check_layout(loaded, command)
        one_cfg = cfg if command == "join" else cfg.model_copy(update={"state": StateConfig()})
        split_state = StateConfig(split="service", groups=self.groups)
        self.split_cfg = cfg if command == "split" else cfg.model_copy(update={"state": split_state})
        self.layouts = split_layout(self.env, self.split_cfg)
        from hclforge.render import render_env

        one_files = render_env(replace(loaded, config=one_cfg)).files
        split_files = render_env(replace(loaded, config=self.split_cfg, addons=[])).files
        self.placed, self.dropped = statemove.owners(command, self.split_cfg, one_files, split_files, self.layouts)
        made = [(layout.path, make(layout)) for layout in self.layouts] if command == "split" else [(ONE, make(None))]
        self.targets = dict(made)
        self.host = next(iter(self.targets.values()))
        self.env_dir = self.host.settings.env_dir(self.env)
        settings = self.host.settings
        if command == "split":
            self.sources = {ONE: env_root(settings, self.env, cfg.backend, emulator_copy=emulator_copy)}
            self.blocks = {ONE: statemove.backend_block(one_files["main.tf"])}
        else:
            self.sources = {
                layout.path: split_root(settings, self.split_cfg, layout, emulator_copy=emulator_copy)
                for layout in self.layouts
            }
            self.blocks = {path: statemove.backend_block(split_files[f"{path}/main.tf"]) for path in self.sources}
        self._scratch: dict[str, Terraform] = {}

    @property
    def journal_file(self) -> Path:
        return statemove.journal_path(self.env_dir)

    # ------------------------------------------------------------ locks and the journal

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Every root's command lock and the environment's, so no plan or apply runs during the move.

        Raises:
            StateLocked: another hclforge command holds one of them (exit 1), named.
        """
        command = f"state {self.command}"
        with ExitStack() as stack:
            for ws in self.targets.values():
                stack.enter_context(ws.holding(command))
            for root in self.sources.values():
                stack.enter_context(envlock.holding(root.command_lock, self.env, command))
            yield

    def read_journal(self) -> Journal | None:
        """The journal of an interrupted move of this environment, checked (None: no move under way).

        Raises:
            StateMoveRefused: it does not add up, or it is of the other command or the other state copy.
        """
        path = self.journal_file
        if not path.is_file():
            return None
        journal = Journal.parse(path.read_text(encoding="utf-8"), path)
        if journal.env != self.env or journal.command != self.command or journal.emulator != self.emulator_copy:
            how = f"'hclforge state {journal.command} {journal.env}" + (" --emulator'" if journal.emulator else "'")
            raise StateMoveRefused(f"{path} is the journal of another move, unfinished: finish it with {how} first")
        roots = ({t.root for t in journal.targets}, {s.root for s in journal.sources}, journal.groups)
        if roots[0] != set(self.targets) or not roots[1] <= set(self.sources) or roots[2] != self.groups:
            raise StateMoveRefused(
                f"the roots of {self.env} changed since the move in {path} began (then: {', '.join(sorted(roots[0]))}; "
                f"groups {roots[2] or 'none'}): put envs/{self.env}.yaml and --group back as they were, and run again"
            )
        return journal

    def write_journal(self, journal: Journal) -> None:
        write_private(self.journal_file, journal.text())

    # ------------------------------------------------------------ reading and writing states

    def scratch(self, root: str) -> Terraform:
        """A runner in a root holding only the source's backend block (an override keeps it on local state)."""
        if root not in self._scratch:
            source = self.sources[root]
            base = private_dir(self.env_dir / "state-move" / (root.replace("/", "-") or "one"))
            work = private_dir(base / "root")
            write_private(work / "main.tf", self.blocks[root])
            if source.state_file is not None:
                write_private(work / OVERRIDE_FILE, local_backend_override(source.state_file))
            else:
                (work / OVERRIDE_FILE).unlink(missing_ok=True)
            host = self.host
            host.check_account()
            base_env = host.emulator().environ(self.loaded.config.aws.region) if host.on_emulator else None
            tf = host.make_runner(work, base / "tfdata", base_env)
            tf.cache_lock = None  # no provider to install: the shared plugin cache is not touched
            tf.init(reconfigure=True)
            self._scratch[root] = tf
        return self._scratch[root]

    def pull_source(self, root: str) -> dict[str, Any] | None:
        return _real(self.scratch(root).state_pull())

    def pull_target(self, root: str) -> dict[str, Any] | None:
        ws = self.targets[root]
        ws.check_account()
        ws.init()
        return _real(ws.state_doc())

    def push(self, root: str, doc: dict[str, Any], *, source: bool) -> None:
        """Write ``doc`` as ``root``'s state through terraform (the source's scratch root, or the target's own)."""
        where = self.env_dir / "state-move" if source else self.targets[root].root.files_dir
        path = private_dir(where) / f"push.{uuid.uuid4().hex}.tfstate"
        write_private(path, json.dumps(doc, indent=2) + "\n")
        try:
            (self.scratch(root) if source else self.targets[root].runner()).state_push(path)
        finally:
            path.unlink(missing_ok=True)

    def where(self, root: str, *, source: bool) -> str:
        """Where a state is, for messages: its S3 object or its file."""
        state: Root = self.sources[root] if source else self.targets[root].root
        if state.state_file is not None:
            return state.rel(state.state_file)
        return f"s3://{self.loaded.config.backend.bucket}/{state.state_key}"

    # ------------------------------------------------------------ the move

    def move(self, journal: Journal | None) -> Journal:
        """Write every target's state and empty every source, or finish doing so; the journal at stage ``settle``.

        Raises:
            StateMoveRefused: nothing to move, a target holds other resources, or a state
                changed since the interrupted move began (nothing is written then).
        """
        sources_now = {root: self.pull_source(root) for root in self.sources}
        targets_now = {root: self.pull_target(root) for root in self.targets}
        if journal is None:
            journal = self.begin(sources_now, targets_now)
        backups = self.read_backups(journal)
        journal.check_backups(backups)
        version = str(next(iter(backups.values())).get("terraform_version", ""))
        # Every state is checked before any is written: a refusal leaves them all as they are.
        to_write = [t for t in journal.targets if t.addresses and not self.target_written(t, targets_now[t.root])]
        whole = [s for s in journal.sources if self.source_whole(s, sources_now[s.root], backups[s.root])]
        for target in journal.targets:
            if target in to_write:
                prior = targets_now[target.root]
                lineage, serial = (prior["lineage"], int(prior["serial"]) + 1) if prior else (str(uuid.uuid4()), 1)
                resources = journal.resources(backups, target)
                self.push(target.root, statemove.target_doc(resources, lineage, serial, version), source=False)
            now = _real(self.targets[target.root].state_doc())  # read back, before any source is emptied
            if target.addresses and (now is None or not self.target_written(target, now)):
                raise StateMoveRefused(f"{label(self.env, target.root)}: its state does not read back as written")
            if now is not None and (target.lineage, target.serial) != (now["lineage"], now["serial"]):
                target.lineage, target.serial = str(now["lineage"]), int(now["serial"])
                self.write_journal(journal)
            where = self.where(target.root, source=False)
            self.info(f"{label(self.env, target.root)}: holds its {len(target.addresses)} resources ({where})")
        for source in whole:
            self.push(source.root, statemove.emptied_doc(backups[source.root]), source=True)
            if self.source_whole(source, self.pull_source(source.root), backups[source.root]):
                raise StateMoveRefused(f"{label(self.env, source.root)}: its state does not read back as emptied")
            self.info(f"{label(self.env, source.root)}: emptied ({self.where(source.root, source=True)})")
        journal.stage = "settle"
        self.write_journal(journal)
        return journal

    def begin(self, sources_now: dict[str, Any], targets_now: dict[str, Any]) -> Journal:
        """Decide the move, keep backups of the sources, and write the journal (before any state is written)."""
        held = {root: len(managed(doc)) for root, doc in sources_now.items() if managed(doc)}
        if not held:
            where = ", ".join(self.where(root, source=True) for root in self.sources)
            there = sum(len(managed(doc)) for doc in targets_now.values())
            done = f" ({there} resources are where the move would put them: moved already?)" if there else ""
            raise StateMoveRefused(f"nothing to move: {where} holds no resource{done}")
        foreign = {root: len(managed(doc)) for root, doc in targets_now.items() if managed(doc)}
        if foreign:
            listed = ", ".join(
                f"{label(self.env, r)} ({n} in {self.where(r, source=False)})" for r, n in foreign.items()
            )
            raise StateMoveRefused(
                f"already holding resources that are not the ones being moved: {listed}; nothing was moved "
                "(no journal of an interrupted move says they came from here)"
            )
        missing = statemove.unread(sources_now, self.placed) if self.command == "join" else []
        if missing:
            raise StateMoveRefused(
                f"{len(missing)} resources of {self.env}'s configuration are in none of the states read "
                f"({', '.join(self.sources)}), e.g. {', '.join(missing[:3])}: name each group root the environment "
                "had with --group ROOT=SVC,SVC (or apply what is new before joining); nothing was moved"
            )
        moved = statemove.partition(sources_now, self.placed, self.dropped, list(self.targets))
        sources = []
        for root in held:
            doc = sources_now[root]
            name = statemove.backup_name(doc["lineage"], int(doc["serial"]))
            sha = self.write_backup(name, doc)
            sources.append(Source(root, doc["lineage"], int(doc["serial"]), name, sha, held[root]))
            self.info(f"{label(self.env, root)}: {held[root]} resources, backed up to {self.rel(name)}")
        targets = [
            Target(root, sorted(address_of(r) for r in resources), fingerprint(resources))
            for root, resources in moved.items()
        ]
        present = {address_of(r) for doc in sources_now.values() for r in managed(doc)}
        dropped = sorted(self.dropped & present)
        journal = Journal(self.command, self.env, self.emulator_copy, "move", sources, targets, dropped, self.groups)
        self.write_journal(journal)
        return journal

    def rel(self, name: str) -> str:
        return self.host.root.rel(self.env_dir / name)

    def write_backup(self, name: str, doc: dict[str, Any]) -> str:
        """Keep a source state as it is before the move (private); its SHA-256. A backup is never overwritten."""
        path = self.env_dir / name
        text = json.dumps(doc, indent=2) + "\n"
        if path.is_file():
            if path.read_text(encoding="utf-8") != text:
                raise StateMoveRefused(f"{self.rel(name)} exists and holds another state of that lineage and serial")
        else:
            write_private(path, text)
        return sha256_file(path)

    def read_backups(self, journal: Journal) -> dict[str, dict[str, Any]]:
        backups = {}
        for source in journal.sources:
            path = self.env_dir / source.backup
            if not path.is_file() or sha256_file(path) != source.sha256:
                raise StateMoveRefused(
                    f"{self.rel(source.backup)}, the backup the journal names, is missing or changed"
                )
            backups[source.root] = json.loads(path.read_text(encoding="utf-8"))
        return backups

    def target_written(self, target: Target, now: dict[str, Any] | None) -> bool:
        """True: it holds what this move writes; False: it holds nothing (to write).

        Known by what it holds, not by its lineage (a backend may give a new state its own):
        exactly the resources, with their ids, the journal lists for it from the backups.

        Raises:
            StateMoveRefused: it holds other resources (someone else's, or changed since).
        """
        if not managed(now):
            return False
        assert now is not None
        same = fingerprint(managed(now)) == target.fingerprint
        if same and target.lineage in ("", now.get("lineage")):
            return True
        raise StateMoveRefused(
            f"{label(self.env, target.root)} ({self.where(target.root, source=False)}) holds other resources than "
            "the ones this move writes there: it changed since the move began; refusing to guess"
        )

    def source_whole(self, source: Source, now: dict[str, Any] | None, backup: dict[str, Any]) -> bool:
        """True: as backed up (to empty); False: emptied by this move.

        Raises:
            StateMoveRefused: it changed since the move began.
        """
        if now is not None and now.get("lineage") == source.lineage:
            if now.get("serial") == source.serial and fingerprint(managed(now)) == fingerprint(managed(backup)):
                return True
            if int(now.get("serial") or 0) > source.serial and not managed(now):
                return False
        raise StateMoveRefused(
            f"{label(self.env, source.root)} ({self.where(source.root, source=True)}) changed since the move "
            f"began; its state then is {self.rel(source.backup)}; refusing to guess"
        )


def _real(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """A state document, or None for none yet (terraform pulls a missing S3 state as one without a lineage)."""
    return doc if doc and doc.get("lineage") else None
