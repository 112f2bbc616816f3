"""The performance targets (issues 5 and 23), by results.json key: label, unit, comparison, target.

The split environments' ratios (issue 23) compare CPU-seconds (hclforge, terraform and the
provider together): on this shared machine the wall time of one command moves by half
between runs minutes apart, with the other sessions' load; results.md shows both.
"""

from __future__ import annotations

TARGETS: dict[str, tuple[str, str, str, float]] = {
    "render_200_s": ("render, 200 services", "s", "<=", 1.0),
    "render_growth_20_to_200": ("growth from 20 to 200 services", "x", "<=", 11.0),
    "plan_overhead_ratio": ("plan overhead ratio against raw terraform", "x", "<=", 1.05),
    "deploy_one_service_ratio_40_to_1": ("one-service deploy, 40 services against 1", "x", "<=", 1.3),
    "reinits_on_unchanged_replan": ("re-inits on an unchanged re-plan", "", "<=", 0),
    "startup_help_s": ("start-up, hclforge --help", "s", "<=", 0.3),
    "peak_rss_200_mb": ("peak RSS, 200 services", "MB", "<=", 150.0),
    "make_test_s": ("make test", "s", "<=", 150.0),
    "venv_light_mb": ("fresh venv, pip install hclforge (no emulator)", "MB", "<=", 100.0),
    "split_plan_service_cpu_ratio_200_to_1": ("split: plan --service, 200 services against 1, CPU", "x", "<=", 1.1),
    "split_deploy_service_cpu_ratio_200_to_1": ("split: deploy --service, 200 against 1, CPU", "x", "<=", 1.1),
    "split_full_plan_cpu_ratio_to_raw_at_1": ("split: plan -j 2 against raw terraform, 1, CPU", "x", "<=", 1.15),
    "split_full_plan_cpu_ratio_to_raw_at_40": ("split: plan -j 2 against raw terraform, 40, CPU", "x", "<=", 1.15),
    "split_full_plan_cpu_ratio_to_raw_at_200": ("split: plan -j 2 against raw terraform, 200, CPU", "x", "<=", 1.15),
    "split_together_failed": ("split: two deploy --service at once, runs with a failure", "", "<=", 0),
}
