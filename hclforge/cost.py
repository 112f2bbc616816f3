"""Monthly cost estimate of an environment, and of the same tasks on EKS.

Prices come from a region-keyed YAML file (``pricing/aws-prices.yaml``) whose rows
name their source and date, and which users can override. Autoscaling gives a
range: min..max tasks. What AWS charges by traffic (GB through NAT gateways or
interface endpoints, API requests) is an explicit :class:`Usage`, printed with the
estimate. The NAT gateways and endpoints counted are the ones the network
template renders: both read the same model properties. A price the file leaves
null is shown as "no price" and left out of the total; an estimate never guesses one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hclforge.errors import ConfigError, FileTooLargeError, Problem, UnsafePathError
from hclforge.model import EnvConfig, Service
from hclforge.paths import MAX_FILE_BYTES, read_regular

PRICES_FILE = "pricing/aws-prices.yaml"

Pair = tuple[float, float]


def prices_path(root: Path) -> Path:
    """The price file: the project's own ``pricing/aws-prices.yaml``, else the one packaged with hclforge."""
    own = root / PRICES_FILE
    return own if own.is_file() else Path(str(resources.files("hclforge") / "data" / "aws-prices.yaml"))


@dataclass(frozen=True)
class Usage:
    """What AWS charges by traffic, assumed: printed with every estimate, set by ``cost``'s options.

    Attributes:
        egress_gb: GB a month through the NAT gateways or the interface endpoints.
        requests_per_month: requests a month to the HTTP API.
    """

    egress_gb: float = 20.0
    requests_per_month: int = 1_000_000

    @classmethod
    def given(cls, *, egress_gb: float | None = None, requests_per_month: int | None = None) -> Usage:
        """The defaults, with what the user gave in their place."""
        default = cls()
        return cls(
            default.egress_gb if egress_gb is None else egress_gb,
            default.requests_per_month if requests_per_month is None else requests_per_month,
        )


@dataclass(frozen=True)
class Line:
    """One row of the estimate.

    Attributes:
        tasks: min..max tasks of a service's row; None for any other item.
        monthly: min..max per month; None when the price file has no price for the item.
    """

    name: str
    detail: str
    tasks: tuple[int, int] | None
    monthly: Pair | None


@dataclass
class Estimate:
    """The whole estimate, in the price file's currency, per month."""

    env: str
    region: str
    date: str
    currency: str
    usage: Usage = Usage()
    lines: list[Line] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    eks_fargate: Pair = (0.0, 0.0)
    eks_control_plane: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> Pair:
        """The priced rows; :attr:`unpriced` names the others."""
        return _sum(line.monthly for line in self.lines)

    @property
    def unpriced(self) -> list[str]:
        return [line.name for line in self.lines if line.monthly is None]

    @property
    def tasks_total(self) -> Pair:
        """The services' tasks only: what the EKS comparison is about."""
        return _sum(line.monthly for line in self.lines if line.tasks is not None)

    @property
    def eks_total(self) -> Pair:
        """The same tasks on EKS: Fargate on demand (no Spot on EKS) plus the control plane."""
        return (self.eks_fargate[0] + self.eks_control_plane, self.eks_fargate[1] + self.eks_control_plane)


def _sum(pairs: Iterable[Pair | None]) -> Pair:
    priced = [pair for pair in pairs if pair is not None]
    return (sum(low for low, _ in priced), sum(high for _, high in priced))


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


class _Prices:
    """The price file's numbers for one region, each checked when it is read.

    An optional row that is missing, or null, is "no price" (None): a price file
    written before a row existed still gives an estimate, with the item unpriced.
    """

    def __init__(self, prices: dict[str, Any], region: str, display: str) -> None:
        self.display = display
        self.prices = prices
        regions = prices["regions"]
        if not isinstance(regions, dict):
            raise self._fail("regions", "must be a mapping of region names to prices")
        table = regions.get(region)
        if table is None:
            known = ", ".join(sorted(map(str, regions)))
            raise self._fail(f"regions.{region}", f"no prices for {region} (has: {known})")
        if not isinstance(table, dict):
            raise self._fail(f"regions.{region}", "must be a mapping of prices")
        self.region = region
        self.table: dict[str, Any] = table

    def _fail(self, where: str, message: str) -> ConfigError:
        return ConfigError([Problem(self.display, 0, where, message)])

    def number(self, row: Any, key: str, where: str, *, required: bool = False) -> float | None:
        """``row[key]`` as a number >= 0; None when the row or the value is missing or null.

        Raises:
            ConfigError: the row is not a mapping, the value is not a number >= 0,
                or it is missing while ``required``.
        """
        if row is not None and not isinstance(row, dict):
            raise self._fail(where, "must be a mapping of prices")
        value = row.get(key) if row is not None else None
        path = f"{where}.{key}" if where else key
        if value is None:
            if required:
                raise self._fail(path, "required in a price file")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self._fail(path, f"must be a number >= 0, not {value!r}")
        return float(value)

    def rate(self, item: str, key: str) -> float | None:
        """A price in the region's row ``item`` (``nat_gateway``, ``hour``), or None."""
        return self.number(self.table.get(item), key, f"regions.{self.region}.{item}")

    def need(self, item: str, key: str) -> float:
        """A price the estimate cannot do without (Fargate's)."""
        return self.number(self.table.get(item), key, f"regions.{self.region}.{item}", required=True) or 0.0

    def top(self, section: str, key: str) -> float:
        """A required number of a top-level section (``eks``, ``control_plane_hour``)."""
        return self.number(self.prices.get(section), key, section, required=True) or 0.0

    def note(self, item: str) -> str:
        """The row's own note, in parentheses, for a message about it."""
        row = self.table.get(item)
        return f" ({row['note']})" if isinstance(row, dict) and isinstance(row.get("note"), str) else ""


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


def _service_lines(cfg: EnvConfig, prices: _Prices, hours: float, est: Estimate) -> tuple[int, int]:
    """A row per service, and the same tasks on EKS; returns the tasks registered in Cloud Map (min, max)."""
    eks = [0.0, 0.0]
    registered = [0, 0]
    on_demand = (prices.need("fargate", "vcpu_hour"), prices.need("fargate", "gb_hour"))
    for name, svc in cfg.services.items():
        low = svc.autoscaling.min if svc.autoscaling else svc.desired_count
        high = svc.autoscaling.max if svc.autoscaling else svc.desired_count
        vcpu, gib = svc.cpu / 1024, svc.memory / 1024
        strategy = cfg.capacity_strategy(name)

        def monthly(count: int, svc: Service = svc, strategy: Strategy = strategy) -> float:
            arch = "_arm64" if svc.cpu_architecture == "ARM64" else ""
            total = 0.0
            for provider, tasks in split_tasks(count, strategy).items():
                item = ("fargate_spot" if provider == "FARGATE_SPOT" else "fargate") + arch
                vcpu_hour, gb_hour = prices.need(item, "vcpu_hour"), prices.need(item, "gb_hour")
                total += tasks * (svc.cpu / 1024 * vcpu_hour + svc.memory / 1024 * gb_hour) * hours
            return total

        arch = "ARM" if svc.cpu_architecture == "ARM64" else "x86"
        detail = f"{_strategy_text(strategy)}, {arch}, {vcpu:g} vCPU, {gib:g} GiB"
        est.lines.append(Line(f"service {name}", detail, (low, high), (monthly(low), monthly(high))))
        # EKS on Fargate has neither Spot nor Graviton: the same tasks, x86 on demand.
        task_month = (vcpu * on_demand[0] + gib * on_demand[1]) * hours
        eks[0] += task_month * low
        eks[1] += task_month * high
        if svc.port is not None:
            registered[0] += low
            registered[1] += high
    est.eks_fargate = (eks[0], eks[1])
    return (registered[0], registered[1])


def _flat(*prices: float | None, cost: float) -> Pair | None:
    """``cost`` for every month of the range, or None (no price) when a price it used is unknown."""
    return None if any(price is None for price in prices) else (cost, cost)


def _network_lines(cfg: EnvConfig, prices: _Prices, hours: float, usage: Usage) -> list[Line]:
    """The NAT gateways, or the interface endpoints, that the network module renders."""
    lines = []
    gb = usage.egress_gb
    nat = cfg.nat_gateway_count
    if nat:
        hour, per_gb = prices.rate("nat_gateway", "hour"), prices.rate("nat_gateway", "gb")
        ipv4 = prices.rate("public_ipv4", "hour")  # each NAT gateway holds an Elastic IP
        cost = nat * hours * ((hour or 0.0) + (ipv4 or 0.0)) + gb * (per_gb or 0.0)
        detail = f"{nat} {'per AZ' if nat > 1 else 'shared'}, with its IPv4; {gb:g} GB processed"
        lines.append(Line("NAT gateway", detail, None, _flat(hour, per_gb, ipv4, cost=cost)))
    endpoints = cfg.interface_endpoints
    if endpoints and cfg.network.create is not None:
        azs = cfg.network.create.private_subnets
        az_hour, per_gb = prices.rate("interface_endpoint", "az_hour"), prices.rate("interface_endpoint", "gb")
        cost = len(endpoints) * azs * hours * (az_hour or 0.0) + gb * (per_gb or 0.0)
        detail = f"{len(endpoints)} x {azs} AZs, {gb:g} GB processed; S3 gateway free"
        lines.append(Line("interface endpoints", detail, None, _flat(az_hour, per_gb, cost=cost)))
    return lines


def _container_insights(cfg: EnvConfig, prices: _Prices) -> list[Line]:
    """Container Insights' metrics, billed as custom metrics, when the cluster turns it on."""
    if not cfg.cluster.container_insights:
        return []
    counts = prices.prices.get("container_insights")
    per_cluster = prices.number(counts, "metrics_per_cluster", "container_insights")
    per_service = prices.number(counts, "metrics_per_service", "container_insights")
    if per_cluster is None or per_service is None:
        return [Line("Container Insights", "no metric counts in the price file", None, None)]
    metrics = per_cluster + per_service * len(cfg.services)
    month = prices.rate("cloudwatch_metric", "month")
    monthly = _flat(month, cost=metrics * (month or 0.0))
    return [Line("Container Insights", f"{metrics:g} metrics, billed as custom metrics", None, monthly)]


def _api_requests(prices: _Prices, usage: Usage) -> Line:
    """The HTTP API's requests over its volume tiers: a price for the first ``tier_millions``, another above."""
    per, tier, over = (prices.rate("http_api", key) for key in ("per_million", "tier_millions", "over_per_million"))
    millions = usage.requests_per_month / 1_000_000
    beyond = max(0.0, millions - tier) if tier is not None else 0.0
    cost = (millions - beyond) * (per or 0.0) + beyond * (over or 0.0)
    monthly = _flat(per, tier, over if beyond else 0.0, cost=cost)
    return Line("API Gateway requests", f"HTTP API, {usage.requests_per_month:,} a month", None, monthly)


def _fixed_lines(prices: _Prices, registered: tuple[int, int]) -> list[Line]:
    per_instance = prices.top("fixed_monthly", "cloudmap_instance")
    namespace = prices.top("fixed_monthly", "cloudmap_namespace")
    vpc_link = prices.top("fixed_monthly", "vpc_link")
    instances = (per_instance * registered[0], per_instance * registered[1])
    return [
        Line("Cloud Map instances", f"{per_instance:g} per registered task", None, instances),
        Line("Cloud Map namespace", "Route 53 private hosted zone", None, (namespace, namespace)),
        Line("VPC link", "HTTP API", None, (vpc_link, vpc_link)),
    ]


def _assumptions(cfg: EnvConfig, usage: Usage) -> list[str]:
    """The usage the estimate assumes, with the option that changes each."""
    path = "the NAT gateways" if cfg.nat_gateway_count else "the interface endpoints" if cfg.interface_endpoints else ""
    egress = [f"{usage.egress_gb:g} GB a month through {path} (--egress-gb)"] if path else []
    return [*egress, f"{usage.requests_per_month:,} API requests a month (--requests-per-month)"]


# The price file's row behind each item that can lack a price, for its note.
_ROWS = {
    "NAT gateway": "nat_gateway",
    "interface endpoints": "interface_endpoint",
    "Container Insights": "cloudwatch_metric",
    "API Gateway requests": "http_api",
}


def estimate(env: str, cfg: EnvConfig, prices: dict[str, Any], display: str, usage: Usage | None = None) -> Estimate:
    """Estimate the monthly cost of ``cfg``: its tasks, network egress, monitoring, API and fixed items.

    Args:
        env: the environment's name.
        cfg: its validated config.
        prices: the price file, from :func:`load_prices`.
        display: how the price file is named in messages.
        usage: the traffic assumed where AWS charges by it (default: :class:`Usage`).

    Raises:
        ConfigError: the price file has no prices for the environment's region,
            lacks a required price (Fargate's, the fixed items', EKS's), or holds
            a price that is not a number >= 0.
    """
    usage = usage or Usage()
    rates = _Prices(prices, cfg.aws.region, display)
    hours = rates.number(prices, "hours_per_month", "", required=True) or 0.0
    notes = [str(note) for note in prices.get("notes") or []]
    est = Estimate(env, cfg.aws.region, str(prices["date"]), str(prices["currency"]), usage, notes=notes)
    registered = _service_lines(cfg, rates, hours, est)
    est.lines += _network_lines(cfg, rates, hours, usage)
    est.lines += _container_insights(cfg, rates)
    est.lines.append(_api_requests(rates, usage))
    est.lines += _fixed_lines(rates, registered)
    est.eks_control_plane = rates.top("eks", "control_plane_hour") * hours
    est.assumptions = _assumptions(cfg, usage)
    if cfg.network.create is None:
        est.notes.append("The VPC exists already: its NAT gateways or endpoints are not hclforge's and not estimated.")
    for name in est.unpriced:
        est.notes.append(f"No price for {name} in {est.region}{rates.note(_ROWS[name])}: not in the total.")
    if cfg.scheduled_tasks:
        est.notes.append(f"{len(cfg.scheduled_tasks)} scheduled task(s) not included: their run time is unknown.")
    return est


def _money(pair: Pair | None) -> str:
    if pair is None:
        return "no price"
    low, high = pair
    return f"{low:,.2f}" if abs(high - low) < 0.005 else f"{low:,.2f} .. {high:,.2f}"


def _tasks(line: Line) -> str:
    if line.tasks is None:
        return ""
    low, high = line.tasks
    return str(low) if low == high else f"{low}..{high}"


def estimate_lines(est: Estimate) -> list[str]:
    """``cost ENV``'s report: the assumed usage, a table of the monthly items, then ECS against EKS."""
    saving = (est.eks_total[0] - est.tasks_total[0], est.eks_total[1] - est.tasks_total[1])
    name_width = max(24, *(len(line.name) for line in est.lines))
    detail_width = max(34, *(len(line.detail) for line in est.lines))

    def row(name: str, detail: str, tasks: str, money: str) -> str:
        return f"{name:<{name_width}} {detail:<{detail_width}} {tasks:>7} {money:>22}".rstrip()

    total_name = "total on ECS" if not est.unpriced else "total on ECS, priced"
    return [
        f"Monthly estimate for {est.env} ({est.region}, prices of {est.date}, {est.currency})",
        *(f"assumed: {text}" for text in est.assumptions),
        row("item", "detail", "tasks", "per month"),
        *(row(line.name, line.detail, _tasks(line), _money(line.monthly)) for line in est.lines),
        row(total_name, "", "", _money(est.total)),
        "",
        f"The same tasks on EKS: {_money(est.eks_fargate)} Fargate on demand + "
        f"{est.eks_control_plane:,.2f} control plane = {_money(est.eks_total)} {est.currency}/month",
        f"against {_money(est.tasks_total)} for the tasks on ECS: ECS saves {_money(saving)} {est.currency}/month.",
        "(Both would run behind the same network and API: the comparison is the tasks and the control plane.)",
        *(f"note: {note}" for note in est.notes),
    ]
