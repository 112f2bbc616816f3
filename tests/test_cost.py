"""Cost estimates: arithmetic from the price file, ranges from autoscaling, the EKS comparison."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from hclforge.cli.main import main
from hclforge.config import load_env
from hclforge.cost import PRICES_FILE, estimate, load_prices, split_tasks
from hclforge.paths import MAX_FILE_BYTES
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
    assert "total on ECS" in out and "105.85 .. 250.19" in out
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
