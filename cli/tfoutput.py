"""Reading what terraform prints: ``-json`` events, diagnostics, and its state-lock error said plainly."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any


def parse_events(stdout: str) -> list[dict[str, Any]]:
    """The events of a ``-json`` stream (lines that are not JSON objects are skipped)."""
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def diagnostic_text(event: dict[str, Any]) -> str:
    """A ``-json`` diagnostic event as terraform prints it: severity, summary, where, detail."""
    diag = event.get("diagnostic", {})
    where = diag.get("range") or {}
    loc = f" ({where.get('filename')}:{where.get('start', {}).get('line')})" if where.get("filename") else ""
    head = f"{str(diag.get('severity', 'error')).capitalize()}: {diag.get('summary', '')}{loc}"
    detail = diag.get("detail") or ""
    return head + (f"\n{detail}" if detail else "")


# The warnings terraform gives for every -target plan and for the apply of one: hclforge says
# in one line why it targeted instead (deploy --service), so they are left out of what is shown.
TARGETING_WARNINGS = frozenset({"Resource targeting is in effect", "Applied changes may be incomplete"})


def without_targeting_warnings(sink: Callable[[str], None]) -> Callable[[str], None]:
    """``sink``, without the ``-json`` diagnostics of :data:`TARGETING_WARNINGS` (every other line passes)."""

    def forward(line: str) -> None:
        if '"diagnostic"' in line:
            try:
                diag = json.loads(line).get("diagnostic", {})
            except (ValueError, AttributeError):
                diag = {}
            if diag.get("severity") == "warning" and diag.get("summary") in TARGETING_WARNINGS:
                return
        sink(line)

    return forward


def destroyed_count(stdout: str) -> int | None:
    """How many resources a ``terraform destroy`` destroyed, as terraform counts them (data sources are not).

    From the ``-json`` stream's last ``change_summary`` of the destroy, else from the
    plain ``Destroy complete! Resources: N destroyed.``; None when neither is there.
    """
    for event in reversed(parse_events(stdout)):
        changes = event.get("changes") if event.get("type") == "change_summary" else None
        if isinstance(changes, dict) and changes.get("operation") == "destroy":
            return int(changes.get("remove", 0))
    found = re.search(r"^Destroy complete! Resources: (\d+) destroyed", stdout, flags=re.M)
    return int(found.group(1)) if found else None


def error_text(stdout: str) -> str:
    """Every error diagnostic of a ``-json`` event stream ('' when there is none)."""
    return "\n".join(
        diagnostic_text(event)
        for event in parse_events(stdout)
        if event.get("type") == "diagnostic" and event.get("diagnostic", {}).get("severity") == "error"
    )


def lock_message(detail: str) -> str:
    """Terraform's state-lock error, said plainly: who holds the lock, doing what, since when."""
    info = dict(re.findall(r"^\s*(ID|Path|Operation|Who|Created):\s*(.*?)\s*$", detail, flags=re.M))
    created = info.get("Created", "")
    since = re.sub(r"(\d{2}:\d{2}:\d{2})\.\d+ \+0000 UTC", r"\1 UTC", created) or "an unknown time"
    operation = info.get("Operation", "").removeprefix("OperationType").lower() or "an operation"
    return (
        f"the state is locked by {info.get('Who', 'someone')} ({operation}), since {since}: another terraform "
        f"is working on this environment; try again when it is done. Lock ID {info.get('ID', '?')} on "
        f"{info.get('Path', 'the state')}; only if that run crashed: terraform force-unlock {info.get('ID', 'ID')}"
    )


def lock_failure(command: str, detail: str) -> str:
    """Terraform could not take the state lock, and no one holds it: why, said plainly.

    terraform reads the state as it locks it, so a damaged state file fails here too;
    that is not another run at work, and a force-unlock would not help.
    """
    found = re.search(r"Error message:\s*(.*?)(?:\n\s*\nTerraform acquires a state lock|\Z)", detail, flags=re.S)
    text = re.sub(r"^\d+ problems:\s*", "", found.group(1) if found else detail)
    items = [" ".join(item.split()).rstrip(".") for item in re.split(r"^\s*- ", text, flags=re.M)]
    reason = "; ".join(item for item in items if item)
    if "Unsupported state file format" in reason:
        return (
            f"terraform {command} could not read the state: {reason}. The state file is damaged, and nothing "
            "was written to it; put its last good copy in its place (beside a local state, "
            "terraform.tfstate.backup holds the state as it was before its last write; an S3 state has the "
            "bucket's earlier versions)"
        )
    return f"terraform {command} could not lock the state, and no one holds the lock: {reason}"
