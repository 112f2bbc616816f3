"""Project settings: ``hclforge.toml`` at the root, overridden by environment variables.

Nothing machine-specific is written in Python: mirror locations are data in
``hclforge.toml``, and every setting can be overridden per user or CI job.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hclforge.errors import ConfigError, Problem

SETTINGS_FILE = "hclforge.toml"
STATE_DIR = ".hclforge"


@dataclass(frozen=True)
class Settings:
    """Where things live for one project root.

    Attributes:
        root: the project root (holds envs/, modules/, hclforge.toml).
        mirror_candidates: provider mirror directories to probe, in order.
        mirror_override: HCLFORGE_PROVIDER_MIRROR, if set ("off" disables mirrors).
        plugin_cache_dir: the shared terraform plugin cache.
        emulator_port: fixed emulator port, or 0 for a free one.
        terraform_bin: the terraform binary (HCLFORGE_TERRAFORM, default "terraform").
    """

    root: Path
    mirror_candidates: tuple[str, ...] = ()
    mirror_override: str | None = None
    plugin_cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache/hclforge/plugin-cache")
    emulator_port: int = 0
    terraform_bin: str = "terraform"

    @property
    def state_dir(self) -> Path:
        """``.hclforge/`` under the root: CLI config, local state, saved plans, emulator files."""
        return self.root / STATE_DIR

    def env_dir(self, env: str) -> Path:
        """Per-environment working files: terraform data dir, saved plan, init stamp."""
        return self.state_dir / "envs" / env


def find_root(start: Path) -> Path:
    """The project root: the nearest directory, from ``start`` upwards, holding hclforge.toml or envs/.

    As git and ruff find theirs; ``start`` itself when none is found.
    """
    for directory in (start, *start.parents):
        if (directory / SETTINGS_FILE).is_file() or (directory / "envs").is_dir():
            return directory
    return start


def load_settings(root: Path) -> Settings:
    """Read ``root/hclforge.toml`` (optional) and apply environment overrides.

    Raises:
        ConfigError: the settings file is not valid TOML or has wrong types.
    """
    path = root / SETTINGS_FILE
    data: dict[str, object] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError([Problem(SETTINGS_FILE, 0, "", f"invalid TOML: {err}")]) from None
    tf = data.get("terraform", {})
    emu = data.get("emulator", {})
    if not isinstance(tf, dict) or not isinstance(emu, dict):
        raise ConfigError([Problem(SETTINGS_FILE, 0, "", "[terraform] and [emulator] must be tables")])
    candidates = tf.get("provider_mirror_candidates", [])
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        raise ConfigError(
            [Problem(SETTINGS_FILE, 0, "terraform.provider_mirror_candidates", "must be a list of paths")]
        )
    cache = os.environ.get("TF_PLUGIN_CACHE_DIR") or str(tf.get("plugin_cache_dir", "~/.cache/hclforge/plugin-cache"))
    port_text = os.environ.get("HCLFORGE_EMULATOR_PORT") or str(emu.get("port", 0))
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError([Problem(SETTINGS_FILE, 0, "emulator.port", f"'{port_text}' is not a port (0-65535)")])
    return Settings(
        root=root.resolve(),
        mirror_candidates=tuple(candidates),
        mirror_override=os.environ.get("HCLFORGE_PROVIDER_MIRROR") or None,
        plugin_cache_dir=Path(cache).expanduser(),
        emulator_port=int(port_text),
        terraform_bin=os.environ.get("HCLFORGE_TERRAFORM", "terraform"),
    )
