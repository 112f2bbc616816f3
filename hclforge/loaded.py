"""What :func:`hclforge.config.load_env` returns: a validated environment and its provenance.

A module of its own, light to import, because :mod:`hclforge.envcache` keeps these
(pickled) and a cache hit should import no more than the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hclforge.addons import Addon
    from hclforge.errors import Problem
    from hclforge.model import EnvConfig
    from hclforge.source import YamlPath

Origin = tuple[str, int]


@dataclass
class LoadedEnv:
    """A validated environment and where each of its values came from.

    Attributes:
        name: the environment name (its file name without ``.yaml``).
        config: the validated model, defaults filled in.
        sources: the YAML files it was built from, base layers first.
        origins: ``(file, line)`` of every YAML path that a file set.
        warnings: what the file may say but probably should not (a plain value under a
            name that looks secret); the CLI prints them to stderr, prefixed ``warning:``.
        inputs: SHA-256 of the bytes of each file in ``sources``, as they were parsed, and
            the digest of each addons folder (``addons/_shared/``, ``addons/<env>/``) as it was read.
        addons: the environment's addons, read and checked (:mod:`hclforge.addons`).
    """

    name: str
    config: EnvConfig
    sources: list[str]
    origins: dict[YamlPath, Origin]
    warnings: list[Problem] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    addons: list[Addon] = field(default_factory=list)
