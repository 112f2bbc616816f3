"""Monthly cost estimate of an environment's Fargate tasks, and the same tasks on EKS.

Prices come from a dated, region-keyed YAML file (``pricing/aws-prices.yaml``),
which users can override. Autoscaling gives a range: min..max tasks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hclforge.errors import ConfigError, FileTooLargeError, Problem, UnsafePathError
from hclforge.model import EnvConfig, Service
from hclforge.paths import MAX_FILE_BYTES, read_regular

PRICES_FILE = "pricing/aws-prices.yaml"


def prices_path(root: Path) -> Path:
    """The price file: the project's own ``pricing/aws-prices.yaml``, else the one packaged with hclforge."""
    own = root / PRICES_FILE
    return own if own.is_file() else Path(str(resources.files("hclforge") / "data" / "aws-prices.yaml"))


@dataclass(frozen=True)
class Line:
    """One row of the estimate: a service's tasks, or a fixed monthly item."""

    name: str
    detail: str
    tasks: tuple[int, int]
    monthly: tuple[float, float]


@dataclass
class Estimate:
    """The whole estimate, in the price file's currency, per month."""

    env: str
    region: str
    date: str
    currency: str
    lines: list[Line] = field(default_factory=list)
    eks_fargate: tuple[float, float] = (0.0, 0.0)
    eks_control_plane: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> tuple[float, float]:
        return (sum(line.monthly[0] for line in self.lines), sum(line.monthly[1] for line in self.lines))

    @property
    def tasks_total(self) -> tuple[float, float]:
        """The services' tasks only: what the EKS comparison is about."""
        rows = [line for line in self.lines if line.tasks != (0, 0) or line.name.startswith("service ")]
        return (sum(r.monthly[0] for r in rows), sum(r.monthly[1] for r in rows))

    @property
    def eks_total(self) -> tuple[float, float]:
        """The same tasks on EKS: Fargate on demand (no Spot on EKS) plus the control plane."""
        return (self.eks_fargate[0] + self.eks_control_plane, self.eks_fargate[1] + self.eks_control_plane)


def load_prices(path: Path, display: str) -> dict[str, Any]:
    """Read a price file: a regular file of at most :data:`~hclforge.paths.MAX_FILE_BYTES`.

    The file is opened without blocking and checked on the open descriptor, so a
    FIFO, a device such as ``/dev/zero`` or a file larger than the limit is refused
    before anything is read (a symlink given by the user is followed to its target).

    Raises:
        ConfigError: the file is missing, not a regular file, too large, not YAML,
            or not the expected shape.
    """

    def fail(message: str) -> ConfigError:
        return ConfigError([Problem(display, 0, "", message)])

    try:
        raw = read_regular(Path(os.path.realpath(path)), MAX_FILE_BYTES)
    except FileNotFoundError:
        raise fail("price file not found") from None
    except UnsafePathError:
        raise fail(f"not a regular file; a price file is a regular file of at most {MAX_FILE_BYTES} bytes") from None
    except FileTooLargeError as err:
        raise fail(str(err)) from None
    except OSError as err:
        raise fail(f"cannot read price file ({err.strerror or err})") from None
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise fail(f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})") from None
    except yaml.YAMLError as err:
        raise fail(f"invalid YAML: {err}") from None
    except RecursionError:
        raise fail("invalid YAML: nested too deeply") from None
    for key in ("date", "currency", "hours_per_month", "regions", "fixed_monthly", "eks"):
        if not isinstance(data, dict) or key not in data:
            raise ConfigError([Problem(display, 0, key, "required in a price file")])
    return dict(data)


Strategy = list[tuple[str, int, int]]


def split_tasks(count: int, strategy: Strategy) -> dict[str, float]:
    """How ECS places ``count`` tasks over a capacity provider strategy: bases first, then by weight."""
    placed = {provider: 0.0 for provider, _, _ in strategy}
    left = count
    for provider, base, _ in strategy:
        take = min(base, left)
        placed[provider] += take
        left -= take
    weights = sum(weight for _, _, weight in strategy)
    if left and weights:
        for provider, _, weight in strategy:
            placed[provider] += left * weight / weights
    return placed


def _strategy_text(strategy: Strategy) -> str:
    """``FARGATE`` for one provider, ``FARGATE b1 w1 / SPOT w3`` (base, weight) for a mix."""
    if len(strategy) == 1 and strategy[0][1] == 0:
        return strategy[0][0]
    return " / ".join(f"{p.replace('FARGATE_', '')}{f' b{b}' if b else ''} w{w}" for p, b, w in strategy)


def estimate(env: str, cfg: EnvConfig, prices: dict[str, Any], display: str) -> Estimate:
    """Estimate the monthly cost of ``cfg``'s services and fixed items.

    Raises:
        ConfigError: the price file has no prices for the environment's region.
    """
    region = cfg.aws.region
    table = prices["regions"].get(region)
    if table is None:
        known = ", ".join(sorted(prices["regions"]))
        raise ConfigError([Problem(display, 0, f"regions.{region}", f"no prices for {region} (has: {known})")])
    hours = float(prices["hours_per_month"])
    fixed = prices["fixed_monthly"]
    est = Estimate(env, region, str(prices["date"]), str(prices["currency"]), notes=list(prices.get("notes", [])))
    eks = [0.0, 0.0]
    registered = [0, 0]
    for name, svc in cfg.services.items():
        low = svc.autoscaling.min if svc.autoscaling else svc.desired_count
        high = svc.autoscaling.max if svc.autoscaling else svc.desired_count
        vcpu, gib = svc.cpu / 1024, svc.memory / 1024
        strategy = cfg.capacity_strategy(name)

        def monthly(count: int, svc: Service = svc, strategy: Strategy = strategy) -> float:
            arch = "_arm64" if svc.cpu_architecture == "ARM64" else ""
            total = 0.0
            for provider, tasks in split_tasks(count, strategy).items():
                rate = table[("fargate_spot" if provider == "FARGATE_SPOT" else "fargate") + arch]
                total += tasks * (svc.cpu / 1024 * rate["vcpu_hour"] + svc.memory / 1024 * rate["gb_hour"]) * hours
            return total

        arch = "ARM" if svc.cpu_architecture == "ARM64" else "x86"
        detail = f"{_strategy_text(strategy)}, {arch}, {vcpu:g} vCPU, {gib:g} GiB"
        est.lines.append(Line(f"service {name}", detail, (low, high), (monthly(low), monthly(high))))
        # EKS on Fargate has neither Spot nor Graviton: the same tasks, x86 on demand.
        on_demand = (vcpu * table["fargate"]["vcpu_hour"] + gib * table["fargate"]["gb_hour"]) * hours
        eks[0] += on_demand * low
        eks[1] += on_demand * high
        if svc.port is not None:
            registered[0] += low
            registered[1] += high
    per_instance = float(fixed["cloudmap_instance"])
    instances = (per_instance * registered[0], per_instance * registered[1])
    est.lines.append(Line("Cloud Map instances", f"{per_instance:g} per registered task", (0, 0), instances))
    namespace = float(fixed["cloudmap_namespace"])
    est.lines.append(Line("Cloud Map namespace", "Route 53 private hosted zone", (0, 0), (namespace, namespace)))
    vpc_link = float(fixed["vpc_link"])
    est.lines.append(Line("VPC link", "HTTP API", (0, 0), (vpc_link, vpc_link)))
    if cfg.scheduled_tasks:
        est.notes.append(f"{len(cfg.scheduled_tasks)} scheduled task(s) not included: their run time is unknown.")
    est.eks_fargate = (eks[0], eks[1])
    est.eks_control_plane = float(prices["eks"]["control_plane_hour"]) * hours
    return est


def _money(pair: tuple[float, float]) -> str:
    low, high = pair
    return f"{low:,.2f}" if abs(high - low) < 0.005 else f"{low:,.2f} .. {high:,.2f}"


def _tasks(line: Line) -> str:
    if line.tasks == (0, 0) and not line.name.startswith("service "):
        return ""
    low, high = line.tasks
    return str(low) if low == high else f"{low}..{high}"


def estimate_lines(est: Estimate) -> list[str]:
    """``cost ENV``'s report: a table of the monthly items, then what ECS saves against EKS."""
    saving = (est.eks_total[0] - est.tasks_total[0], est.eks_total[1] - est.tasks_total[1])
    return [
        f"Monthly estimate for {est.env} ({est.region}, prices of {est.date}, {est.currency})",
        f"{'item':<24} {'detail':<34} {'tasks':>7} {'per month':>22}",
        *(f"{line.name:<24} {line.detail:<34} {_tasks(line):>7} {_money(line.monthly):>22}" for line in est.lines),
        f"{'total on ECS':<24} {'':<34} {'':>7} {_money(est.total):>22}",
        "",
        f"The same tasks on EKS: {_money(est.eks_fargate)} Fargate on demand + "
        f"{est.eks_control_plane:,.2f} control plane = {_money(est.eks_total)} {est.currency}/month",
        f"against {_money(est.tasks_total)} on ECS: ECS saves {_money(saving)} {est.currency}/month.",
        *(f"note: {note}" for note in est.notes),
    ]
