"""The root of the ``hclforge`` command line: the :class:`App` context object, the ``cli`` group, output helpers.

Commands live in the ``cmd_*`` modules, one per group, and get the :class:`App`
through :data:`pass_app`. Heavy modules (boto3, moto, pydantic) are imported
inside functions, so ``hclforge --help`` starts fast.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hclforge import __version__
from hclforge.errors import HclforgeError, Problem, report_lines

if TYPE_CHECKING:
    from hclforge.cli.ops import Workspace
    from hclforge.cli.progress import EventStream
    from hclforge.cli.settings import Settings
    from hclforge.cli.summary import Summary
    from hclforge.roots import RootLayout


# The --emulator option of every command that can run against it.
EMULATOR_HELP = "Against the local AWS emulator, without credentials."


@dataclass
class App:
    """What every command gets: the project root and output preferences."""

    root: Path
    color: bool
    verbose: bool

    def settings(self) -> Settings:
        from hclforge.cli.settings import load_settings

        return load_settings(self.root)

    def workspace(
        self,
        env: str,
        *,
        emulator: bool = False,
        stream: bool = True,
        allow_replace: bool = False,
        layout: RootLayout | None = None,
    ) -> Workspace:
        """The workspace of ENV (one state), or of one root of a split ENV (``layout``)."""
        from hclforge.cli.ops import Workspace

        return Workspace(
            self.settings(),
            env,
            emulator=emulator,
            allow_replace=allow_replace,
            layout=layout,
            **self.workspace_options(stream=stream),
        )

    def workspace_options(self, *, stream: bool = True) -> dict[str, Any]:
        """How a workspace reports: terraform's lines (with -v), messages and progress."""
        sink = self.echo_terraform if (stream and self.verbose) else None
        return {"sink": sink, "info": self.info, "color": self.color, "events": self.events}

    def events(self, title: str, total: int | None, progress: bool) -> EventStream:
        """The display of a ``-json`` event stream: a rich bar on a terminal, plain lines otherwise.

        Without ``progress`` (plan), only diagnostics and ``-v`` messages are shown.
        """
        from hclforge.cli.progress import EventStream, PlainView, RichView

        view: PlainView | RichView | None = None
        if progress:
            view = RichView() if self.color and sys.stderr.isatty() else PlainView(self.echo_terraform)
        return EventStream(title, total, view, self.echo_terraform, self.verbose)

    def info(self, message: str) -> None:
        click.secho(message, fg="cyan" if self.color else None, err=True)

    def echo_terraform(self, line: str) -> None:
        click.echo(line, err=True)

    def styled(self, text: str, **style: Any) -> str:
        """``text`` in the given click style on a colour terminal, else as it is."""
        return click.style(text, **style) if self.color else text


pass_app = click.make_pass_decorator(App)


def interactive() -> bool:
    """Whether a person can answer a prompt: stdin and stdout are a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm(question: str) -> bool:
    """Ask a yes/no question; no by default."""
    return click.confirm(question, default=False)


def echo_lines(lines: list[str], *, err: bool = False) -> None:
    """Print each line (to stderr with ``err``)."""
    for line in lines:
        click.echo(line, err=err)


def warn(problem: Problem) -> None:
    """Print one :class:`~hclforge.errors.Problem` that does not stop the command."""
    click.echo(f"warning: {problem}", err=True)


def report(err: HclforgeError) -> None:
    """Print an error the one way every front end does (:func:`~hclforge.errors.report_lines`)."""
    echo_lines(report_lines(err), err=True)


def print_summary(app: App, summary: Summary, fmt: str) -> None:
    """Print a plan summary as a table (highlighted on a terminal), Markdown or JSON."""
    from hclforge.cli.summary import as_json, as_markdown, as_table

    if fmt == "json":
        click.echo(as_json(summary))
    elif fmt == "markdown":
        click.echo(as_markdown(summary), nl=False)
    else:
        for text, style in as_table(summary):
            if style == "warn":
                text = app.styled(text, fg="yellow", bold=True)
            elif style == "bold":
                text = app.styled(text, bold=True)
            click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog="Example: hclforge plan local")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project root holding envs/ (default: the nearest directory upwards with hclforge.toml or envs/).",
)
@click.option("--no-color", is_flag=True, help="No colours (also NO_COLOR).")
@click.option("-v", "--verbose", is_flag=True, help="Stream terraform's own output.")
@click.version_option(version=__version__, prog_name="hclforge")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, no_color: bool, verbose: bool) -> None:
    """Render envs/<env>.yaml into Terraform modules and run terraform on them."""
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    from hclforge.cli.settings import find_root

    ctx.obj = App(root=(root or find_root(Path.cwd())).resolve(), color=color, verbose=verbose)
