"""The terraform CLI configuration hclforge generates for a project.

Providers found in a local filesystem mirror are installed from it; all others
come from the registry. A shared ``plugin_cache_dir`` avoids re-downloading or
re-copying providers for every environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hclforge.cli.settings import Settings
from hclforge.errors import UsageError
from hclforge.hcl import quote

CLI_CONFIG_NAME = "terraformrc"


def detect_mirror(settings: Settings) -> Path | None:
    """The provider mirror to use, or None for registry downloads only.

    ``HCLFORGE_PROVIDER_MIRROR`` wins ("off" disables); else the first candidate
    from ``hclforge.toml`` that exists and holds at least one provider.
    """
    if settings.mirror_override is not None:
        if settings.mirror_override.lower() in ("off", "none", "0", "false"):
            return None
        return Path(settings.mirror_override).expanduser()
    for candidate in settings.mirror_candidates:
        path = Path(candidate).expanduser()
        if mirrored_providers(path):
            return path
    return None


def mirrored_providers(mirror: Path) -> list[str]:
    """``HOST/NAMESPACE/TYPE`` of every provider in a filesystem mirror."""
    if not mirror.is_dir():
        return []
    found = []
    for type_dir in sorted(mirror.glob("*/*/*")):
        if type_dir.is_dir() and any(p.is_dir() for p in type_dir.iterdir()):
            found.append(type_dir.relative_to(mirror).as_posix())
    return found


def cli_config_text(settings: Settings) -> str:
    """The text of the CLI configuration file (deterministic for a given machine)."""
    lines = ["# Written by hclforge; regenerated on every run.", ""]
    mirror = detect_mirror(settings)
    providers = mirrored_providers(mirror) if mirror else []
    if mirror is not None and providers:
        listed = ", ".join(quote(p) for p in providers)
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f"    path    = {quote(str(mirror))}",
            f"    include = [{listed}]",
            "  }",
            "",
            "  direct {",
            f"    exclude = [{listed}]",
            "  }",
            "}",
            "",
        ]
    lines.append(f"plugin_cache_dir = {quote(str(settings.plugin_cache_dir))}")
    return "\n".join(lines) + "\n"


def write_cli_config(settings: Settings) -> Path:
    """Write the CLI configuration under ``.hclforge/`` (only when its text changed).

    Raises:
        UsageError: ``HCLFORGE_PROVIDER_MIRROR`` names a directory that does not exist
            (terraform would fail on it with a less helpful message).
    """
    mirror = detect_mirror(settings)
    if mirror is not None and not mirror.is_dir():
        raise UsageError(f"HCLFORGE_PROVIDER_MIRROR={mirror} does not exist (set a mirror directory, or 'off')")
    settings.plugin_cache_dir.mkdir(parents=True, exist_ok=True)
    path = settings.state_dir / CLI_CONFIG_NAME
    text = cli_config_text(settings)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".terraformrc-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    return path
