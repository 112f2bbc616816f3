"""The performance targets (issue 5), by results.json key: label, unit, comparison, target."""

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
}
