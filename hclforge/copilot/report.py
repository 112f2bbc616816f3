"""The import report: one row for every manifest field met, and the table it prints as.

A :class:`Tracker` follows one manifest in one environment. Each mapping step names
the field it handled (``tracker.mapped(("cpu",), …)``); a field whose parent was
named is handled with it. What no step named is reported as not supported when the
environment is done (:meth:`Tracker.finish`), so no field is ever dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hclforge.copilot.manifests import Manifest, View, leaves
from hclforge.errors import printable
from hclforge.source import YamlPath, dotted

MAPPED = "mapped"
CHANGED = "changed"
UNSUPPORTED = "not supported"
STATUSES = (MAPPED, CHANGED, UNSUPPORTED)


@dataclass(frozen=True, order=True)
class Row:
    """One field of one manifest and what became of it.

    Attributes:
        file: the manifest, relative to the application's folder.
        line: its line, 0 when the field was not written (a default).
        field: the dotted path as written (``environments.prod.count.spot``).
        status: ``mapped``, ``changed`` (mapped with a change) or ``not supported``.
        detail: where it went and what changed, or why it is not supported and the nearest way.
        envs: the environments the row holds for (all of them: empty).
    """

    file: str
    line: int
    field: str
    status: str
    detail: str
    envs: tuple[str, ...] = ()


@dataclass
class Tracker:
    """Rows of one manifest in one environment, and the fields they covered."""

    manifest: Manifest
    view: View
    env: str
    rows: list[Row] = field(default_factory=list)
    covered: set[YamlPath] = field(default_factory=set)

    def add(self, path: YamlPath, status: str, detail: str) -> None:
        """Report the field at ``path`` of the view (and every field under it)."""
        self.covered.add(path)
        source = self.view.source.get(path, path)
        self.rows.append(Row(self.manifest.file, self.manifest.line(source), dotted(source), status, detail))
        if source[:1] == ("environments",):
            return
        # An override merged into the field is a field the user wrote too: name it with the same outcome.
        for sub, origin in self.view.source.items():
            inside = len(sub) > len(path) and sub[: len(path)] == path
            root = origin[:1] == ("environments",) and self.view.source.get(sub[:-1], ())[:1] != ("environments",)
            if inside and root:
                self.rows.append(Row(self.manifest.file, self.manifest.line(origin), dotted(origin), status, detail))

    def mapped(self, path: YamlPath, detail: str) -> None:
        """The field maps as it is: ``detail`` names where it went."""
        self.add(path, MAPPED, detail)

    def changed(self, path: YamlPath, detail: str) -> None:
        """The field maps with a change: ``detail`` says what changed."""
        self.add(path, CHANGED, detail)

    def unsupported(self, path: YamlPath, detail: str) -> None:
        """The field has no equivalent: ``detail`` says why, and the nearest way to build it."""
        self.add(path, UNSUPPORTED, detail)

    def cover(self, path: YamlPath) -> None:
        """Count ``path`` as met without a row of its own (its parts have rows)."""
        self.covered.add(path)

    def replace(self, path: YamlPath, status: str, detail: str) -> None:
        """Report ``path`` again, dropping what was said of it before (a later step knew more)."""
        name = dotted(self.view.source.get(path, path))
        self.rows = [r for r in self.rows if r.field != name]
        self.add(path, status, detail)

    def is_covered(self, path: YamlPath) -> bool:
        return any(path[:n] in self.covered for n in range(len(path) + 1))

    def finish(self) -> list[Row]:
        """The rows, with one for every field no step handled."""
        for path in leaves(self.view.data):
            if path and not self.is_covered(path):
                self.unsupported(path, "hclforge has no equivalent of this field; it is not imported")
        return [Row(r.file, r.line, r.field, r.status, r.detail, (self.env,)) for r in self.rows]


def merge_rows(rows: list[Row], envs: list[str]) -> list[Row]:
    """One row per field and outcome, naming the environments only where it is not all of them."""
    grouped: dict[tuple[str, int, str, str, str], set[str]] = {}
    for row in rows:
        grouped.setdefault((row.file, row.line, row.field, row.status, row.detail), set()).update(row.envs)
    out = []
    for (file, line, name, status, detail), where in grouped.items():
        shown = () if where >= set(envs) or not where else tuple(e for e in envs if e in where)
        out.append(Row(file, line, name, status, detail, shown))
    return sorted(out, key=lambda r: (r.file, r.line, r.field, r.envs, r.status, r.detail))


def table(rows: list[Row]) -> list[str]:
    """The report as aligned text lines: STATUS, WHERE, FIELD, DETAIL."""
    head = ("STATUS", "WHERE", "FIELD", "DETAIL")
    body = [
        (
            r.status,
            f"{r.file}:{r.line}" if r.line else r.file,
            r.field + (f" [{', '.join(r.envs)}]" if r.envs else ""),
            r.detail,
        )
        for r in rows
    ]
    widths = [max(len(printable(cells[i])) for cells in [head, *body]) for i in range(3)]
    lines = []
    for cells in [head, *body]:
        text = "  ".join(printable(c).ljust(widths[i]) for i, c in enumerate(cells[:3]))
        lines.append(f"{text}  {printable(cells[3])}".rstrip())
    counts = {s: sum(1 for r in rows if r.status == s) for s in STATUSES}
    lines.append(
        f"{counts[MAPPED]} mapped, {counts[CHANGED]} mapped with a change, {counts[UNSUPPORTED]} not supported"
    )
    return lines
