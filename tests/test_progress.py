"""Live progress from terraform's -json event stream, on real terraform (built-in provider only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hclforge.cli.progress import EventStream, PlainView, RichView
from hclforge.cli.terraform import Terraform
from hclforge.cli.tfoutput import destroyed_count, without_targeting_warnings
from hclforge.errors import TerraformError

pytestmark = pytest.mark.terraform

CONFIG = """\
resource "terraform_data" "a" {
  input = 1
}

resource "terraform_data" "b" {
  input = terraform_data.a.output
}

resource "terraform_data" "c" {
  input = 3
}
"""


def _planned(tmp_path: Path, tf_env: dict[str, str], config: str = CONFIG) -> Terraform:
    (tmp_path / "main.tf").write_text(config)
    tf = Terraform(tmp_path, env={**tf_env, "TF_DATA_DIR": str(tmp_path / ".data")})
    tf.init()
    tf.plan(tmp_path / "p.tfplan")
    return tf


def test_plain_progress_counts_resources_done_out_of_planned(tmp_path: Path, tf_env: dict[str, str]) -> None:
    tf = _planned(tmp_path, tf_env)
    lines: list[str] = []
    with EventStream("Applying t", 3, PlainView(lines.append), lines.append, verbose=False) as stream:
        tf.sink = stream
        tf.apply_plan(tmp_path / "p.tfplan", events=True)
    assert lines[0] == "Applying t: 3 change(s)"
    done = [line for line in lines if line.startswith("[")]
    # a and c are created in parallel: the order of names varies, the count does not.
    assert sorted(d.split("] ")[1].split(" (")[0] for d in done) == [
        "created terraform_data.a",
        "created terraform_data.b",
        "created terraform_data.c",
    ]
    assert [d.split("]")[0] for d in done] == ["[1/3", "[2/3", "[3/3"]
    assert lines[-1].startswith("done: 3 change(s) in ")


def test_verbose_streams_terraform_messages(tmp_path: Path, tf_env: dict[str, str]) -> None:
    tf = _planned(tmp_path, tf_env)
    lines: list[str] = []
    with EventStream("Applying t", 3, PlainView(lines.append), lines.append, verbose=True) as stream:
        tf.sink = stream
        tf.apply_plan(tmp_path / "p.tfplan", events=True)
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in lines
    assert "terraform_data.a: Creating..." in lines


def test_errors_from_the_event_stream_are_shown_in_full(tmp_path: Path, tf_env: dict[str, str]) -> None:
    config = CONFIG + (
        'resource "terraform_data" "bad" {\n'
        "  input = 1\n\n"
        "  lifecycle {\n"
        "    postcondition {\n"
        "      condition     = self.output == 2\n"
        '      error_message = "The output must be two, and it is not."\n'
        "    }\n  }\n}\n"
    )
    (tmp_path / "main.tf").write_text(config)
    tf = Terraform(tmp_path, env={**tf_env, "TF_DATA_DIR": str(tmp_path / ".data")})
    tf.init()
    lines: list[str] = []
    stream = EventStream("Planning t", None, PlainView(lines.append), lines.append, verbose=False)
    with pytest.raises(TerraformError) as info, stream:
        tf.sink = stream
        tf.plan(tmp_path / "p.tfplan", events=True)
        tf.apply_plan(tmp_path / "p.tfplan", events=True)
    shown = "\n".join(lines)
    assert "Error: Resource postcondition failed" in shown
    assert "The output must be two, and it is not." in shown
    assert "Error: Resource postcondition failed" in str(info.value)
    assert '{"@level"' not in str(info.value)


def test_rich_view_renders_a_bar_with_counts(tmp_path: Path, tf_env: dict[str, str]) -> None:
    from rich.console import Console

    tf = _planned(tmp_path, tf_env)
    view = RichView()
    view.console = Console(record=True, force_terminal=True, width=120)
    view.progress.live.console = view.console
    with EventStream("Applying t", 3, view, lambda _l: None, verbose=False) as stream:
        tf.sink = stream
        tf.apply_plan(tmp_path / "p.tfplan", events=True)
    text = view.console.export_text()
    assert "Applying t" in text and "3/3" in text
    assert "created terraform_data.b" in text


# A data source of the built-in provider, read from a state file beside the config.
WITH_DATA_SOURCE = (
    CONFIG
    + """
data "terraform_remote_state" "other" {
  backend = "local"
  config  = { path = "${path.module}/other.tfstate" }
}

resource "terraform_data" "d" {
  input = data.terraform_remote_state.other.outputs
}
"""
)
OTHER_STATE = '{"version": 4, "serial": 1, "lineage": "x", "outputs": {"v": {"value": "1", "type": "string"}}}'


def test_destroy_counts_resources_not_data_source_reads(tmp_path: Path, tf_env: dict[str, str]) -> None:
    """terraform destroy reads every data source first (action "read"): that is no change, and not counted."""
    (tmp_path / "other.tfstate").write_text(OTHER_STATE)
    tf = _planned(tmp_path, tf_env, WITH_DATA_SOURCE)
    tf.apply_plan(tmp_path / "p.tfplan")
    lines: list[str] = []
    with EventStream("Destroying t", None, PlainView(lines.append), lines.append, verbose=False) as stream:
        tf.sink = stream
        result = tf.destroy(events=True)
    assert '"action":"read"' in result.stdout.replace(" ", "")  # terraform did read the data source
    done = [line for line in lines if line.startswith("[")]
    assert sorted(d.split("] ")[1].split(" (")[0] for d in done) == [
        "destroyed terraform_data.a",
        "destroyed terraform_data.b",
        "destroyed terraform_data.c",
        "destroyed terraform_data.d",
    ]
    assert [d.split("]")[0] for d in done] == ["[1", "[2", "[3", "[4"]
    assert lines[-1].startswith("done: 4 change(s) in ")
    assert destroyed_count(result.stdout) == 4
    tf.sink = None
    assert destroyed_count(tf.destroy().stdout) == 0  # the plain text says it too


def test_targeting_warnings_are_left_out_only_when_asked(tmp_path: Path, tf_env: dict[str, str]) -> None:
    """The warnings of a -target plan and of its apply, shown or (where hclforge chose to target) left out."""
    tf = _planned(tmp_path, tf_env)
    shown: dict[bool, list[str]] = {}
    for filtered, target in ((False, "terraform_data.c"), (True, "terraform_data.a")):
        lines: list[str] = []
        stream = EventStream("t", 1, PlainView(lines.append), lines.append, verbose=False)
        with stream:
            tf.sink = without_targeting_warnings(stream) if filtered else stream
            tf.plan(tmp_path / "t.tfplan", events=True, targets=[target])
            tf.apply_plan(tmp_path / "t.tfplan", events=True)
        shown[filtered] = lines
    assert any(line.startswith("Warning: Resource targeting is in effect") for line in shown[False])
    assert any(line.startswith("Warning: Applied changes may be incomplete") for line in shown[False])
    assert not any(line.startswith("Warning:") for line in shown[True])
    assert [line.split(" (")[0] for line in shown[True] if line.startswith("[")] == ["[1/1] created terraform_data.a"]
