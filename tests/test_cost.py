"""Cost estimates: arithmetic from the price file, ranges from autoscaling, the EKS comparison."""

from __future__ import annotations

import pytest
import yaml

from cli.main import main
from hclforge.config import load_env
from hclforge.cost import PRICES_FILE, estimate, load_prices
from tests.conftest import MINIMAL_ENV, ROOT


def _prices() -> dict:
    return load_prices(ROOT / PRICES_FILE, PRICES_FILE)


def test_prod_estimate_arithmetic() -> None:
    est = estimate("prod", load_env(ROOT, "prod").config, _prices(), PRICES_FILE)
    lines = {line.name: line for line in est.lines}
    api_task = (1 * 0.05056 + 2 * 0.00553) * 730
    worker_task = (0.5 * 0.015168 + 1 * 0.001659) * 730
    assert lines["service api"].tasks == (2, 6)
    assert lines["service api"].monthly == pytest.approx((api_task * 2, api_task * 6))
    assert lines["service worker"].monthly == pytest.approx((worker_task * 2, worker_task * 2))
    assert lines["Cloud Map instances"].monthly == pytest.approx((0.2, 0.6))  # only api registers
    assert est.eks_control_plane == pytest.approx(73.0)
    worker_on_demand = (0.5 * 0.05056 + 1 * 0.00553) * 730 * 2
    assert est.eks_fargate == pytest.approx((api_task * 2 + worker_on_demand, api_task * 6 + worker_on_demand))
    assert any("scheduled task" in note for note in est.notes)


def test_cli_prints_monthly_figure_and_eks_comparison(capsys) -> None:
    assert main(["--root", str(ROOT), "cost", "prod"]) == 0
    out = capsys.readouterr().out
    assert "Monthly estimate for prod (ap-northeast-1, prices of 2026-11-01, USD)" in out
    assert "total on ECS" in out and "104.16 .. 284.49" in out
    assert "The same tasks on EKS:" in out and "73.00 control plane" in out and "ECS saves" in out


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
