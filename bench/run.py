"""hclforge benchmarks: every figure in one run, side by side with raw terraform.

Writes ``bench/results.json`` and ``bench/results.md`` and prints each figure with
its target. Nothing here asserts: ``bench/check.py`` compares the figures with the
targets and prints what falls short. Run it with ``make bench``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.splitbench import bench_split, split_markdown  # noqa: E402
from bench.synthetic import write_project  # noqa: E402
from bench.targets import TARGETS  # noqa: E402
from hclforge.cli.terraform import GO_GC_PERCENT  # noqa: E402

HCLFORGE = str(Path(sys.executable).parent / "hclforge")
RUNS = 5
# The plan overhead is a few percent of a plan whose own time varies by about as much: more runs.
PLAN_RUNS = 9


def median_time(fn: Any, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    tf = json.loads(run(["terraform", "version", "-json"], ROOT).stdout)["terraform_version"]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "terraform": tf,
    }


def bench_render(results: dict[str, Any]) -> None:
    from hclforge import render

    examples = {env: median_time(lambda env=env: render.render(ROOT, env), 7) for env in ("local", "dev", "prod")}
    results["render_examples_s"] = examples
    with tempfile.TemporaryDirectory() as tmp:
        sizes = [1, 10, 20, 50, 200]
        names = write_project(Path(tmp), sizes)
        synthetic = {
            n: median_time(lambda name=name: render.render(Path(tmp), name), 7)
            for n, name in zip(sizes, names, strict=True)
        }
    results["render_synthetic_s"] = {str(k): v for k, v in synthetic.items()}
    results["render_200_s"] = synthetic[200]
    results["render_growth_20_to_200"] = synthetic[200] / synthetic[20]
    # Peak RSS of a fresh process that renders 200 services (imports included).
    code = (
        "import resource, sys, tempfile; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from bench.synthetic import write_project; from hclforge import render;"
        "t = Path(tempfile.mkdtemp()); n = write_project(t, [200])[0]; render.render(t, n);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    rss_kib = int(run([sys.executable, "-c", code, str(ROOT)], ROOT).stdout.strip())
    results["peak_rss_200_mb"] = rss_kib / 1024


def bench_startup(results: dict[str, Any]) -> None:
    results["startup_help_s"] = median_time(lambda: run([HCLFORGE, "--help"], ROOT), 7)
    results["startup_envs_s"] = median_time(lambda: run([HCLFORGE, "envs"], ROOT), 7)


def bench_plan(results: dict[str, Any]) -> None:
    """hclforge plan local against raw terraform plan -out, same initialized tree and state."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("envs", "addons", "modules"):
            shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns(".terraform"))
        shutil.copy(ROOT / "hclforge.toml", root / "hclforge.toml")
        try:
            run([HCLFORGE, "plan", "local"], root)
            run([HCLFORGE, "apply", "local", "--auto-approve"], root)  # a re-plan of a live stack
            port = json.loads((root / ".hclforge/emulator.json").read_text())["port"]
            env = {
                **{k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")},
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "ap-northeast-1",
                "TF_CLI_CONFIG_FILE": str(root / ".hclforge/terraformrc"),
                "TF_DATA_DIR": str(root / ".hclforge/envs/local/tfdata"),
                "TF_IN_AUTOMATION": "1",
            }
            # terraform as hclforge runs it: Go's collector tuned (cli/terraform.py GO_GC_PERCENT).
            tuned = {**env, "GOGC": GO_GC_PERCENT}
            raw_default, raw_tuned, wrapped, inits = [], [], [], 0
            raw_cmd = ["terraform", "plan", "-input=false", "-no-color", f"-out={tmp}/raw.tfplan"]
            for _ in range(PLAN_RUNS):  # interleaved, so drift in the machine's load hits all alike
                start = time.perf_counter()
                run(raw_cmd, root / "modules/local", env)
                raw_default.append(time.perf_counter() - start)
                start = time.perf_counter()
                run(raw_cmd, root / "modules/local", tuned)
                raw_tuned.append(time.perf_counter() - start)
                start = time.perf_counter()
                out = run([HCLFORGE, "plan", "local"], root)
                wrapped.append(time.perf_counter() - start)
                inits += out.stderr.count("terraform init")
            results["plan_raw_s"] = statistics.median(raw_default)
            results["plan_raw_tuned_s"] = statistics.median(raw_tuned)
            results["plan_hclforge_s"] = statistics.median(wrapped)
            # The wrapper's own cost: against terraform run with the same environment.
            results["plan_overhead_ratio"] = results["plan_hclforge_s"] / results["plan_raw_tuned_s"]
            # What a user sees: against terraform as it runs by default.
            results["plan_ratio_to_default_terraform"] = results["plan_hclforge_s"] / results["plan_raw_s"]
            results["reinits_on_unchanged_replan"] = inits
            forced = median_time(lambda: run([HCLFORGE, "init", "local", "--force"], root), 3)
            skipped = median_time(lambda: run([HCLFORGE, "init", "local"], root), 3)
            results["init_forced_s"] = forced
            results["init_skipped_s"] = skipped
            results["init_time_saved_s"] = forced - skipped
            saved = str(root / ".hclforge/envs/local/plan.tfplan")
            show = ["terraform", "show", "-json", saved]
            results["show_json_s"] = median_time(lambda: run(show, root / "modules/local", tuned), 3)
            run([HCLFORGE, "destroy", "local", "--auto-approve"], root)
        finally:
            subprocess.run([HCLFORGE, "emulator", "stop"], cwd=root, capture_output=True)


def tree_mb(path: Path) -> float:
    """Apparent size of the files under ``path`` in MB (10^6 bytes), each inode once (uv hard-links from its cache)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total / 1e6


def bench_install(results: dict[str, Any]) -> None:
    """The size of a fresh virtualenv holding hclforge, without and with the emulator extra.

    The wheel is built from the work tree and installed with its dependencies at the
    pins of requirements.lock (uv, byte-compiled as pip would), once as
    ``hclforge`` and once as ``hclforge[emulator]``.
    """
    uv = str(Path(sys.executable).parent / "uv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp) / "dist"
        build = [uv, "build", "--wheel", "--no-build-isolation", "-q", "--python", sys.executable, "-o", str(dist)]
        run([*build, str(ROOT)], Path(tmp), env)
        (wheel,) = dist.glob("hclforge-*.whl")
        for key, requirement in (
            ("venv_light_mb", str(wheel)),
            ("venv_emulator_mb", f"hclforge[emulator] @ {wheel.as_uri()}"),
        ):
            venv = Path(tmp) / key
            run([uv, "venv", "-q", "--python", sys.executable, str(venv)], Path(tmp), env)
            install = [uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(venv / "bin/python")]
            run([*install, "-c", str(ROOT / "requirements.lock"), requirement], Path(tmp), env)
            results[key] = tree_mb(venv)


def bench_tests(results: dict[str, Any]) -> None:
    start = time.perf_counter()
    out = subprocess.run(
        ["make", "-s", "test", "PYTEST_ARGS=--durations=10 -q"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    results["make_test_s"] = time.perf_counter() - start
    results["make_test_passed"] = out.returncode == 0
    slow = re.findall(r"^(\d+\.\d+)s (call|setup|teardown)\s+(\S+)", out.stdout, flags=re.M)
    results["slowest_tests"] = [{"seconds": float(s), "phase": p, "test": t} for s, p, t in slow[:10]]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Measured {m['date']} on {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}, terraform {m['terraform']}. Medians.",
        "",
        "| measure | figure | target | met |",
        "| --- | ---: | ---: | :---: |",
    ]
    for key, (label, unit, op, target) in TARGETS.items():
        value = results.get(key)
        met = value is not None and (value <= target if op == "<=" else value >= target)
        shown = f"{value:.3f} {unit}" if isinstance(value, float) else f"{value} {unit}"
        lines.append(f"| {label} | {shown.strip()} | {op} {target} {unit} | {'yes' if met else 'NO'} |")
    lines += ["", "| render | median |", "| --- | ---: |"]
    for env, value in results["render_examples_s"].items():
        lines.append(f"| example `{env}` | {value * 1000:.1f} ms |")
    previous = None
    for n, value in results["render_synthetic_s"].items():
        growth = f" ({value / previous:.1f}x)" if previous else ""
        lines.append(f"| {n} services | {value * 1000:.1f} ms{growth} |")
        previous = value
    lines += [
        "",
        f"Re-plan of the applied `local` stack on the emulator: raw `terraform plan -out` "
        f"{results['plan_raw_s']:.2f} s as terraform runs by default, {results['plan_raw_tuned_s']:.2f} s "
        f"with hclforge's GOGC={GO_GC_PERCENT}; `hclforge plan local` {results['plan_hclforge_s']:.2f} s "
        f"({results['plan_overhead_ratio']:.3f}x the same terraform, "
        f"{results['plan_ratio_to_default_terraform']:.3f}x default terraform). "
        f"A `show -json` of the plan, which hclforge now runs only for `--json-out`, costs "
        f"{results['show_json_s']:.2f} s. A forced init costs "
        f"{results['init_forced_s']:.2f} s; a skipped one {results['init_skipped_s']:.2f} s.",
        "",
        f"Shipping one image in one state (`set-image`, then `deploy ENV --service svc000`, on the emulator, "
        f"S3 backend): {results['deploy_one_service_at_1_s']:.2f} s in an environment of 1 service, "
        f"{results['deploy_one_service_at_40_s']:.2f} s in one of 40 "
        f"({results['deploy_one_service_ratio_40_to_1']:.2f}x); split environments below.",
        "",
        f"A fresh virtualenv (`pip install hclforge`, byte-compiled): {results['venv_light_mb']:.0f} MB; "
        f"with the emulator (`hclforge[emulator]`: moto and its server) {results['venv_emulator_mb']:.0f} MB.",
        "",
        "Slowest tests:",
        "",
    ]
    lines += [f"- {t['seconds']:.1f} s {t['test']} ({t['phase']})" for t in results["slowest_tests"]]
    lines += ["", *split_markdown(results["split"])]
    carried = results.get("carried_over") or {}
    if carried:
        kept = ", ".join(f"`{step}` (measured {date})" for step, date in sorted(carried.items()))
        lines += ["", f"Not run again in this round, figures kept from before: {kept}."]
    seconds = results["step_seconds"]
    took = ", ".join(
        f"{s.__name__.removeprefix('bench_')} {seconds[s.__name__] / 60:.1f} min"
        for s in STEPS
        if s.__name__ in seconds
    )
    lines += ["", f"Time per step: {took}."]
    return "\n".join(lines) + "\n"


STEPS = (bench_render, bench_startup, bench_install, bench_plan, bench_split, bench_tests)


def step_named(name: str) -> Any:
    step = {s.__name__: s for s in STEPS}.get(name) or {s.__name__.removeprefix("bench_"): s for s in STEPS}.get(name)
    if step is None:
        sys.exit(f"no step {name!r}; steps: {', '.join(s.__name__ for s in STEPS)}")
    return step


def main(argv: list[str]) -> int:
    """Run every step and write the results.

    ``--only STEP`` runs one and prints its figures, writing nothing. ``--skip STEP,...``
    runs the others and keeps the skipped steps' figures from the last results.json,
    saying so in results.md (for a round that must not run ``make test`` again).
    """
    if argv[:1] == ["--only"] and len(argv) == 2:
        figures: dict[str, Any] = {}
        step_named(argv[1])(figures)
        print(json.dumps(figures, indent=2, sort_keys=True))
        return 0
    skipped = [step_named(name) for name in argv[1].split(",")] if argv[:1] == ["--skip"] and len(argv) == 2 else []
    results: dict[str, Any] = {}
    if skipped:
        results = json.loads((ROOT / "bench/results.json").read_text())
        kept_from = results.get("carried_over", {})
        results["carried_over"] = {
            step.__name__: kept_from.get(step.__name__) or results["machine"]["date"] for step in skipped
        }
    results["machine"] = machine()
    seconds = results.setdefault("step_seconds", {})
    for step in STEPS:
        if step in skipped:
            continue
        print(f"== {step.__name__}", flush=True)
        start = time.perf_counter()
        step(results)
        seconds[step.__name__] = round(time.perf_counter() - start, 1)
    (ROOT / "bench/results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    text = markdown(results)
    (ROOT / "bench/results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
