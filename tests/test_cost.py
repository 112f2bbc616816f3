"""Cost estimates: arithmetic from the price file, ranges from autoscaling, the EKS comparison."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from hclforge.cli.main import main
from hclforge.config import load_env
from hclforge.cost import PRICES_FILE, Line, Usage, estimate, load_prices, split_tasks
from hclforge.paths import MAX_FILE_BYTES
from hclforge.render import render_env
from tests.conftest import MINIMAL_ENV, ROOT


def _prices() -> dict:
    return load_prices(ROOT / PRICES_FILE, PRICES_FILE)


def test_prod_estimate_arithmetic() -> None:
    est = estimate("prod", load_env(ROOT, "prod").config, _prices(), PRICES_FILE)
    lines = {line.name: line for line in est.lines}
    # api runs on Graviton (the ARM rows); EKS on Fargate has no ARM, so its comparison is x86.
    api_task = (1 * 0.040448 + 2 * 0.004424) * 730
    api_x86 = (1 * 0.05056 + 2 * 0.00553) * 730
    # worker: 2 tasks, base 1 on FARGATE, the other split 1:3 -> 1.25 on demand, 0.75 on Spot.
    worker_on_demand_task = (0.5 * 0.05056 + 1 * 0.00553) * 730
    worker_spot_task = (0.5 * 0.015168 + 1 * 0.001659) * 730
    worker = 1.25 * worker_on_demand_task + 0.75 * worker_spot_task
    assert lines["service api"].tasks == (2, 6)
    assert lines["service api"].detail == "FARGATE, ARM, 1 vCPU, 2 GiB"
    assert lines["service api"].monthly == pytest.approx((api_task * 2, api_task * 6))
    assert lines["service worker"].detail == "FARGATE b1 w1 / SPOT w3, x86, 0.5 vCPU, 1 GiB"
    assert lines["service worker"].monthly == pytest.approx((worker, worker))
    assert lines["Cloud Map instances"].monthly == pytest.approx((0.2, 0.6))  # only api registers
    assert est.eks_control_plane == pytest.approx(73.0)
    worker_eks = worker_on_demand_task * 2
    assert est.eks_fargate == pytest.approx((api_x86 * 2 + worker_eks, api_x86 * 6 + worker_eks))
    assert any("scheduled task" in note for note in est.notes)


@pytest.mark.parametrize(
    ("count", "strategy", "expected"),
    [
        (2, [("FARGATE", 1, 1), ("FARGATE_SPOT", 0, 3)], {"FARGATE": 1.25, "FARGATE_SPOT": 0.75}),
        (1, [("FARGATE", 1, 1), ("FARGATE_SPOT", 0, 3)], {"FARGATE": 1, "FARGATE_SPOT": 0}),
        (0, [("FARGATE", 1, 1), ("FARGATE_SPOT", 0, 3)], {"FARGATE": 0, "FARGATE_SPOT": 0}),
        (4, [("FARGATE_SPOT", 0, 1)], {"FARGATE_SPOT": 4}),
    ],
)
def test_tasks_split_over_a_capacity_strategy(count: int, strategy, expected) -> None:
    assert split_tasks(count, strategy) == pytest.approx(expected)


def test_cli_prints_monthly_figure_and_eks_comparison(capsys) -> None:
    assert main(["--root", str(ROOT), "cost", "prod"]) == 0
    out = capsys.readouterr().out
    assert "Monthly estimate for prod (ap-northeast-1, prices of 2026-11-01, USD)" in out
    # Tasks and Cloud Map as before (105.85 .. 250.19), plus Container Insights (12 + 25 x 2 metrics
    # at 0.30) and 1,000,000 HTTP API requests at 1.29 a million; prod's VPC exists, so no NAT.
    assert "Container Insights       62 metrics, billed as custom metrics" in out
    total = next(row for row in out.splitlines() if row.startswith("total on ECS"))
    assert total.endswith(f" {105.85 + 18.60 + 1.29:,.2f} .. {250.19 + 18.60 + 1.29:,.2f}")
    # The EKS comparison is the tasks and the control plane, as before.
    assert "The same tasks on EKS: 134.95 .. 314.88 Fargate on demand + 73.00 control plane" in out
    assert "against 105.15 .. 249.09 for the tasks on ECS: ECS saves 102.80 .. 138.79 USD/month." in out
    assert "note: The VPC exists already: its NAT gateways or endpoints are not hclforge's and not estimated." in out


def test_prices_can_be_overridden(project, capsys) -> None:
    prices = _prices()
    prices["regions"]["eu-west-1"]["fargate"] = {"vcpu_hour": 1.0, "gb_hour": 0.0}
    root = project({"envs/dev.yaml": MINIMAL_ENV, "my-prices.yaml": yaml.safe_dump(prices)})
    assert main(["--root", str(root), "cost", "dev", "--prices", str(root / "my-prices.yaml")]) == 0
    assert "182.50" in capsys.readouterr().out  # 0.25 vCPU x 1.00 x 730 h


def test_region_without_prices_is_a_config_error(project, capsys) -> None:
    env = {**MINIMAL_ENV, "aws": {"region": "sa-east-1"}}
    root = project({"envs/dev.yaml": env})
    assert main(["--root", str(root), "cost", "dev"]) == 2
    assert "no prices for sa-east-1" in capsys.readouterr().err


# ------------------------------------------------------------ the price file is read bounded (issue 20.8)


def _cost_in_a_child(root: Path, prices: str) -> subprocess.CompletedProcess[str]:
    """``hclforge cost`` in a child held to 1 GiB of address space and 60 s: an unbounded read dies there."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))

    code = "import sys; from hclforge.cli.main import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "--root", str(root), "cost", "dev", "--prices", prices]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, preexec_fn=limit)


def test_prices_from_a_device_are_refused_unread(project) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    done = _cost_in_a_child(root, "/dev/zero")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "/dev/zero: not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_prices_from_a_fifo_are_refused_without_blocking(project, capsys) -> None:
    root = project({"envs/dev.yaml": MINIMAL_ENV})
    os.mkfifo(root / "prices.yaml")
    result: list[int] = []
    argv = ["--root", str(root), "cost", "dev", "--prices", str(root / "prices.yaml")]
    worker = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "blocked on a FIFO"
    assert result == [2]
    assert f"{root / 'prices.yaml'}: not a regular file" in capsys.readouterr().err


def test_prices_over_1_mib_are_refused(project, capsys) -> None:
    text = (ROOT / PRICES_FILE).read_text(encoding="utf-8")
    padded = text + "#" * (MAX_FILE_BYTES - len(text.encode()) - 1) + "\n"
    root = project({"envs/dev.yaml": MINIMAL_ENV, "ok.yaml": padded, "big.yaml": padded + "\n"})
    assert len((root / "ok.yaml").read_bytes()) == MAX_FILE_BYTES
    assert main(["--root", str(root), "cost", "dev", "--prices", str(root / "ok.yaml")]) == 0
    capsys.readouterr()
    assert main(["--root", str(root), "cost", "dev", "--prices", str(root / "big.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{root / 'big.yaml'}: file is 1048577 bytes; at most 1048576 are allowed" in err


# ------------------------------------------------------------ what a small environment costs most (issue 21.7)

TOKYO = {**MINIMAL_ENV, "aws": {"region": "ap-northeast-1"}}
NAT = {"cidr": "10.20.0.0/16", "private_subnets": 2, "egress": "nat"}


def _lines(root: Path, env: str = "dev", **usage) -> dict[str, Line]:
    est = estimate(env, load_env(root, env).config, _prices(), PRICES_FILE, Usage.given(**usage))
    return {line.name: line for line in est.lines}


def test_nat_egress_lists_the_nat_gateway(project, capsys) -> None:
    root = project({"envs/dev.yaml": {**TOKYO, "network": {"create": NAT}}})
    assert main(["--root", str(root), "cost", "dev"]) == 0
    out = capsys.readouterr().out
    # One shared NAT gateway and its Elastic IP for 730 h, and 20 GB processed (the printed default).
    nat = 730 * (0.062 + 0.005) + 20 * 0.062
    assert "assumed: 20 GB a month through the NAT gateways (--egress-gb)" in out
    assert "NAT gateway              1 shared, with its IPv4; 20 GB processed" in out
    assert f"{nat:,.2f}" in out and nat == pytest.approx(50.15)


def test_nat_per_az_and_the_gb_assumed(project) -> None:
    per_az = {**NAT, "private_subnets": 3, "nat_gateways": "per_az"}
    root = project({"envs/dev.yaml": {**TOKYO, "network": {"create": per_az}}})
    line = _lines(root, egress_gb=100)["NAT gateway"]
    assert line.detail == "3 per AZ, with its IPv4; 100 GB processed"
    assert line.monthly == pytest.approx((3 * 730 * 0.067 + 100 * 0.062,) * 2)


# With egress: endpoints, images come from private ECR of the region (rules._egress_images).
ECR_TOKYO = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/api:1"


@pytest.mark.parametrize(("exec_", "endpoints"), [(False, 6), (True, 7)])
def test_interface_endpoints_are_priced_per_az(project, exec_: bool, endpoints: int) -> None:
    create = {**NAT, "egress": "endpoints"}
    api = {**MINIMAL_ENV["services"]["api"], "exec": exec_, "image": ECR_TOKYO}
    root = project({"envs/dev.yaml": {**TOKYO, "network": {"create": create}, "services": {"api": api}}})
    lines = _lines(root)
    assert "NAT gateway" not in lines
    line = lines["interface endpoints"]
    assert line.detail == f"{endpoints} x 2 AZs, 20 GB processed; S3 gateway free"
    assert line.monthly == pytest.approx((endpoints * 2 * 730 * 0.014 + 20 * 0.01,) * 2)


@pytest.mark.parametrize(
    "network",
    [
        {"create": NAT},
        {"create": {"cidr": "10.20.0.0/16"}},  # egress defaults to nat off the emulator
        {"create": {**NAT, "private_subnets": 3, "nat_gateways": "per_az"}},
        {"create": {**NAT, "egress": "endpoints", "private_subnets": 3}},
        MINIMAL_ENV["network"],
    ],
    ids=["nat", "nat-by-default", "nat-per-az", "endpoints", "existing-vpc"],
)
def test_cost_counts_what_the_network_module_renders(project, network: dict) -> None:
    api = {**MINIMAL_ENV["services"]["api"], "image": ECR_TOKYO}
    root = project({"envs/dev.yaml": {**TOKYO, "network": network, "services": {"api": api}}})
    loaded = load_env(root, "dev")
    text = "\n".join(render_env(loaded).files.values())
    nats = text.count('resource "aws_nat_gateway"')
    interfaces = len(re.findall(r'vpc_endpoint_type\s*=\s*"Interface"', text))
    subnets = text.count('resource "aws_subnet" "private_')
    lines = _lines(root)
    if nats:
        assert lines["NAT gateway"].detail.startswith(f"{nats} ")
    else:
        assert "NAT gateway" not in lines
    if interfaces:
        assert lines["interface endpoints"].detail.startswith(f"{interfaces} x {subnets} AZs,")
    else:
        assert "interface endpoints" not in lines


def test_container_insights_only_when_the_cluster_has_it(project) -> None:
    root = project(
        {
            "envs/on.yaml": TOKYO,
            "envs/off.yaml": {**TOKYO, "cluster": {"container_insights": False}},
        }
    )
    line = _lines(root, "on")["Container Insights"]
    assert line.detail == "37 metrics, billed as custom metrics"  # 12 for the cluster + 25 for its one service
    assert line.monthly == pytest.approx((37 * 0.30, 37 * 0.30))
    assert "Container Insights" not in _lines(root, "off")


def test_api_requests_over_the_tiers(project) -> None:
    root = project({"envs/dev.yaml": {**MINIMAL_ENV, "aws": {"region": "us-east-1"}}})
    assert _lines(root)["API Gateway requests"].monthly == pytest.approx((1.0, 1.0))
    line = _lines(root, requests_per_month=400_000_000)["API Gateway requests"]
    assert line.detail == "HTTP API, 400,000,000 a month"
    assert line.monthly == pytest.approx((300 * 1.00 + 100 * 0.90,) * 2)


def test_usage_options_are_printed_and_used(project, capsys) -> None:
    root = project({"envs/dev.yaml": {**TOKYO, "network": {"create": NAT}}})
    argv = ["--root", str(root), "cost", "dev", "--egress-gb", "100", "--requests-per-month", "5000000"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "assumed: 100 GB a month through the NAT gateways (--egress-gb)" in out
    assert "assumed: 5,000,000 API requests a month (--requests-per-month)" in out
    assert f"{730 * 0.067 + 100 * 0.062:,.2f}" in out and f"{5 * 1.29:,.2f}" in out
    assert main(["--root", str(root), "cost", "dev", "--egress-gb", "-1"]) == 2
    assert "'--egress-gb': -1.0 is not in the range" in capsys.readouterr().err


def test_a_price_not_known_is_shown_and_left_out_of_the_total(project, capsys) -> None:
    root = project({"envs/dev.yaml": {**MINIMAL_ENV, "aws": {"region": "eu-central-1"}, "network": {"create": NAT}}})
    assert main(["--root", str(root), "cost", "dev"]) == 0
    out = capsys.readouterr().out
    nat_row = next(row for row in out.splitlines() if row.startswith("NAT gateway"))
    assert nat_row.endswith(" no price")
    assert "note: No price for NAT gateway in eu-central-1 (not confirmed through the sources searched" in out
    est = estimate("dev", load_env(root, "dev").config, _prices(), PRICES_FILE)
    priced = sum(line.monthly[0] for line in est.lines if line.monthly is not None)
    assert est.unpriced == ["NAT gateway", "Container Insights", "API Gateway requests"]
    total = next(row for row in out.splitlines() if row.startswith("total on ECS, priced "))
    assert total.endswith(f" {priced:,.2f}")


def test_a_price_file_without_the_new_rows_still_estimates(project, capsys) -> None:
    prices = _prices()
    for row in ("nat_gateway", "public_ipv4", "interface_endpoint", "http_api", "cloudwatch_metric"):
        del prices["regions"]["ap-northeast-1"][row]
    del prices["container_insights"]
    root = project({"envs/dev.yaml": {**TOKYO, "network": {"create": NAT}}, "old.yaml": yaml.safe_dump(prices)})
    assert main(["--root", str(root), "cost", "dev", "--prices", str(root / "old.yaml")]) == 0
    out = capsys.readouterr().out
    assert "note: No price for NAT gateway in ap-northeast-1: not in the total." in out
    assert "Container Insights       no metric counts in the price file" in out


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("regions", "ap-northeast-1", "nat_gateway", "hour"), "cheap", "must be a number >= 0, not 'cheap'"),
        (("regions", "ap-northeast-1", "nat_gateway"), [0.062], "must be a mapping of prices"),
        (("regions", "ap-northeast-1", "fargate", "vcpu_hour"), None, "required in a price file"),
        (("hours_per_month",), -1, "must be a number >= 0, not -1"),
        (("eks", "control_plane_hour"), True, "must be a number >= 0, not True"),
    ],
)
def test_a_malformed_price_is_a_config_error(project, capsys, where: tuple, value, message: str) -> None:
    prices = _prices()
    parent = prices
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    root = project({"envs/dev.yaml": {**TOKYO, "network": {"create": NAT}}, "bad.yaml": yaml.safe_dump(prices)})
    assert main(["--root", str(root), "cost", "dev", "--prices", str(root / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{root / 'bad.yaml'}: {'.'.join(where)}: {message}" in err
    assert "Traceback" not in err
