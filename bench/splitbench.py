"""Split environments (``state.split: service``) against one state, at 1, 40 and 200 services (issue 23).

On the emulator, with an S3 backend (a bucket in the emulator, as a team would run a
split environment), one project holds, for each size N, ``dN`` (one state) and ``xN``
(a root per service). Each is applied once; then:

- ``--service``: ``plan xN --service svc000`` (its root alone, refreshed) and
  ``set-image`` + ``deploy xN --service svc000``; beside them the one-state path,
  ``deploy dN --service svc000`` and the plan it makes (``-target``,
  ``-refresh=false``), run through hclforge's library: one state has no ``plan --service``.
- a full plan: ``hclforge plan xN -j 2`` against raw terraform planning the same
  roots in the same order, two at a time (bench/rawplan.py), and ``plan dN``.
- two ``deploy --service`` of different services started together.

A full plan of 201 roots costs 201 provider starts: at 200 the service roots are
grouped (``state.groups``: svc000 and svc001 alone, the others in roots of 20), and the
201-root figure is estimated from the 40-root run, and labelled so.

``HCLFORGE_BENCH_SPLIT_SIZES=1,3`` runs other sizes and ``HCLFORGE_BENCH_SPLIT_RUNS=1`` fewer
runs (a quick try; the targets read the figures of 1 and 200 services).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import Sample, measured, medians, together
from bench.synthetic import deploy_env, split_deploy_env, write_project

ROOT = Path(__file__).resolve().parent.parent
HCLFORGE = str(Path(sys.executable).parent / "hclforge")
RAWPLAN = str(Path(__file__).resolve().parent / "rawplan.py")
SIZES = tuple(int(n) for n in os.environ.get("HCLFORGE_BENCH_SPLIT_SIZES", "1,40,200").split(","))
# At 200 services, the service roots beyond svc000 and svc001 (the ones shipped) hold 20 services each.
GROUPED = {200: 20}
# The split --service figures carry a 1.1x target, on a machine whose load moves: five runs.
SERVICE_RUNS = 5
# One state's deploy at 1 and 40 services carries issue 5's 1.3x target; at 200 it costs 40 s: three runs there.
ONE_STATE_RUNS = {1: 5, 40: 5, 200: 3}
# A full plan of 41 roots costs some 200 CPU-seconds (13 roots at 200, grouped, about as much): one run each.
FULL_RUNS = {1: 3, 40: 1, 200: 1}
if os.environ.get("HCLFORGE_BENCH_SPLIT_RUNS"):  # a quick try: this many runs of everything
    SERVICE_RUNS = int(os.environ["HCLFORGE_BENCH_SPLIT_RUNS"])
    ONE_STATE_RUNS = dict.fromkeys(SIZES, SERVICE_RUNS)
    FULL_RUNS = dict.fromkeys(SIZES, SERVICE_RUNS)
JOBS = 2
BUCKET = "bench-split-state"
SHIPPED, OTHER = "svc000", "svc001"

# The plan `deploy dN --service S` makes in one state (-target, -refresh=false), without its apply.
TARGETED_PLAN = (
    "import sys; from pathlib import Path;"
    "from hclforge.cli.settings import load_settings; from hclforge.cli.ops import Workspace;"
    "from hclforge.cli import planapply; from hclforge.cli.deploy import service_targets;"
    "ws = Workspace(load_settings(Path(sys.argv[1])), sys.argv[2]);"
    "planapply.plan(ws, targets=service_targets(ws.loaded.config, [sys.argv[3]])); ws.discard_plan()"
)


def s3(env: dict[str, Any]) -> dict[str, Any]:
    return {**env, "backend": {"type": "s3", "bucket": BUCKET}}


def write_envs(project: Path, sizes: tuple[int, ...]) -> None:
    """``dN`` (one state) and ``xN`` (split) for each size, and ``u200``: 200 services, a root each, never applied."""
    write_project(project, list(sizes), prefix="d", make=lambda n: s3(deploy_env(n)))
    write_project(
        project, list(sizes), prefix="x", make=lambda n: s3(split_deploy_env(n, group_size=GROUPED.get(n, 0)))
    )
    write_project(project, [200], prefix="u", make=lambda n: s3(split_deploy_env(n)))
    shutil.copy(ROOT / "hclforge.toml", project / "hclforge.toml")


def raw_spec(project: Path, env: str, out_dir: Path) -> Path:
    """The roots of ``env`` as bench/rawplan.py plans them, with terraform's environment as hclforge gives it."""
    from hclforge.cli.emulator import environ
    from hclforge.cli.root import split_root
    from hclforge.cli.settings import load_settings
    from hclforge.cli.terraform import GO_GC_PERCENT
    from hclforge.config import load_env
    from hclforge.roots import split_layout

    settings = load_settings(project)
    cfg = load_env(project, env).config
    port = json.loads((project / ".hclforge/emulator.json").read_text())["port"]
    tf_env = {
        **environ(f"http://127.0.0.1:{port}", cfg.aws.region),
        "TF_CLI_CONFIG_FILE": str(settings.state_dir / "terraformrc"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "GOGC": GO_GC_PERCENT,
    }
    roots = []
    for layout in split_layout(env, cfg):
        root = split_root(settings, cfg, layout)
        roots.append(
            {
                "tree": str(root.tree_dir),
                "data_dir": str(root.data_dir),
                "var_file": str(root.var_file) if root.var_file else None,
                "out": str(out_dir / f"{env}-{layout.name}.tfplan"),
            }
        )
    spec = out_dir / f"{env}.json"
    spec.write_text(json.dumps({"env": tf_env, "jobs": JOBS, "roots": roots}), encoding="utf-8")
    return spec


def root_count(project: Path, env: str) -> int:
    from hclforge.config import load_env
    from hclforge.roots import split_layout

    return len(split_layout(env, load_env(project, env).config))


def render_checks(project: Path, envs: list[str]) -> dict[str, Any]:
    """The render check (is ``modules/ENV/`` what the YAML renders?), in-process, once rendered: median of 5.

    Every command does it once (``--service`` too). Before, a run of a split
    environment's roots did it once per root: for ``u200`` (200 services, 201 roots,
    never applied) that was 201 checks.
    """
    from hclforge.cli.ops import Workspace
    from hclforge.cli.settings import load_settings

    settings = load_settings(project)
    checks = {}
    for env in envs:
        times = []
        for _ in range(5):
            ws = Workspace(settings, env)
            ws.loaded  # noqa: B018 (loaded apart: the check alone is timed)
            start = time.perf_counter()
            ws.render()
            times.append(time.perf_counter() - start)
        checks[env] = round(statistics.median(times), 4)
    return checks


def bench_split(results: dict[str, Any]) -> None:
    """The figures of issue 23 point 6 (see the module's docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        specs_dir = Path(tmp) / "raw"
        specs_dir.mkdir()
        write_envs(project, SIZES)
        figures: dict[str, Any] = {
            "sizes": list(SIZES),
            "grouped": {str(k): v for k, v in GROUPED.items() if k in SIZES},
            "backend": "s3 (a bucket in the emulator)",
            "jobs": JOBS,
        }
        try:
            _run(project, specs_dir, figures)
        finally:
            measured([HCLFORGE, "emulator", "stop"], project, check=False)
    results["split"] = figures
    results.update(flat(figures))


def _run(project: Path, specs_dir: Path, figures: dict[str, Any]) -> None:
    hf = [HCLFORGE]
    measured([*hf, "render", *(f"x{n}" for n in SIZES), "u200"], project)
    measured([*hf, "bootstrap", f"x{SIZES[0]}"], project)  # one bucket, a key per root
    figures["roots"] = {str(n): root_count(project, f"x{n}") for n in SIZES}
    figures["render_check_s"] = render_checks(project, [*(f"x{n}" for n in SIZES), "u200"])
    figures["roots"]["u200"] = root_count(project, "u200")

    setup: dict[str, Any] = {}
    for n in SIZES:
        one = measured([*hf, "apply", f"d{n}", "--auto-approve", "--no-wait"], project)
        split = measured([*hf, "apply", f"x{n}", "--auto-approve", "--no-wait", "-j", str(JOBS)], project)
        setup[str(n)] = {"one": one.to_json(), "split": split.to_json()}
    figures["apply_from_nothing"] = setup

    # --service: interleaved over the sizes, in turn forwards and backwards, so the machine's
    # drift hits each alike.
    runs: dict[str, dict[str, list[Sample]]] = {
        str(n): {k: [] for k in ("split_plan", "split_deploy", "one_plan", "one_deploy")} for n in SIZES
    }
    for rep in range(SERVICE_RUNS):
        image = f"public.ecr.aws/nginx/nginx:1.{rep + 2}"
        for n in SIZES if rep % 2 == 0 else SIZES[::-1]:
            got = runs[str(n)]
            got["split_plan"].append(measured([*hf, "plan", f"x{n}", "--service", SHIPPED], project))
            measured([*hf, "set-image", f"x{n}", SHIPPED, image], project)
            got["split_deploy"].append(
                measured([*hf, "deploy", f"x{n}", "--service", SHIPPED, "--auto-approve"], project)
            )
            if rep >= ONE_STATE_RUNS.get(n, 3):
                continue
            got["one_plan"].append(
                measured([sys.executable, "-c", TARGETED_PLAN, str(project), f"d{n}", SHIPPED], project)
            )
            measured([*hf, "set-image", f"d{n}", SHIPPED, image], project)
            got["one_deploy"].append(
                measured([*hf, "deploy", f"d{n}", "--service", SHIPPED, "--auto-approve"], project)
            )
    figures["service"] = {n: {k: medians(v) for k, v in kinds.items()} for n, kinds in runs.items()}

    # A full plan, hclforge and raw terraform alternating which goes first.
    specs = {n: raw_spec(project, f"x{n}", specs_dir) for n in SIZES}
    full: dict[str, dict[str, list[Sample]]] = {str(n): {"hclforge": [], "raw": [], "one": []} for n in SIZES}
    for rep in range(max(FULL_RUNS.get(n, 3) for n in SIZES)):
        for n in SIZES:
            if rep >= FULL_RUNS.get(n, 3):
                continue
            got = full[str(n)]
            order = ["hclforge", "raw"] if rep % 2 == 0 else ["raw", "hclforge"]
            for who in order:
                argv = (
                    [*hf, "plan", f"x{n}", "-j", str(JOBS)]
                    if who == "hclforge"
                    else [sys.executable, RAWPLAN, str(specs[n])]
                )
                got[who].append(measured(argv, project))
            got["one"].append(measured([*hf, "plan", f"d{n}"], project))
    figures["full_plan"] = {n: {k: medians(v) for k, v in kinds.items()} for n, kinds in full.items()}
    if 40 in SIZES:
        # Each root plans alone (its own terraform, provider and state): the cost per root holds.
        per = figures["roots"]["40"]
        figures["estimate_201_roots"] = {
            who: {k: round(figures["full_plan"]["40"][who][k] * 201 / per, 1) for k in ("wall_s", "cpu_s")}
            for who in ("hclforge", "raw")
        }

    # Two deploys of different services started together: in their own roots, both go through.
    together_runs: dict[str, Any] = {}
    for n in SIZES:
        if n < 2:
            continue
        for service, image in (
            (SHIPPED, "public.ecr.aws/nginx/nginx:1.90"),
            (OTHER, "public.ecr.aws/nginx/nginx:1.91"),
        ):
            measured([*hf, "set-image", f"x{n}", service, image], project)
        both = together([[*hf, "deploy", f"x{n}", "--service", s, "--auto-approve"] for s in (SHIPPED, OTHER)], project)
        together_runs[str(n)] = {
            "exit_codes": [s.returncode for s in both],
            "wall_s": [round(s.wall, 2) for s in both],
            "cpu_s": [round(s.cpu, 2) for s in both],
            "ok": all(s.returncode == 0 for s in both),
        }
    figures["together"] = together_runs


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def flat(f: dict[str, Any]) -> dict[str, Any]:
    """The figures the targets read (bench/targets.py), from the nested ones."""
    lo, hi = str(min(f["sizes"])), str(max(f["sizes"]))
    out: dict[str, Any] = {}
    svc = f["service"]
    for kind in ("plan", "deploy"):
        a, b = svc[hi][f"split_{kind}"], svc[lo][f"split_{kind}"]
        out[f"split_{kind}_service_ratio_{hi}_to_{lo}"] = ratio(a["wall_s"], b["wall_s"])
        out[f"split_{kind}_service_cpu_ratio_{hi}_to_{lo}"] = ratio(a["cpu_s"], b["cpu_s"])
    for n, kinds in f["full_plan"].items():
        out[f"split_full_plan_ratio_to_raw_at_{n}"] = ratio(kinds["hclforge"]["wall_s"], kinds["raw"]["wall_s"])
        out[f"split_full_plan_cpu_ratio_to_raw_at_{n}"] = ratio(kinds["hclforge"]["cpu_s"], kinds["raw"]["cpu_s"])
    out["split_together_failed"] = sum(1 for t in f["together"].values() if not t["ok"])
    # The one-state deploy of one service (issue 5's figure), now on S3 and from these runs.
    if "1" in svc and "40" in svc:
        one, forty = svc["1"]["one_deploy"]["wall_s"], svc["40"]["one_deploy"]["wall_s"]
        out.update(
            deploy_one_service_at_1_s=one,
            deploy_one_service_at_40_s=forty,
            deploy_one_service_ratio_40_to_1=ratio(forty, one),
        )
    return out


def services(n: str) -> str:
    return "1 service" if n == "1" else f"{n} services"


def cell(m: dict[str, Any]) -> str:
    """``wall s (CPU CPU-s)`` of a median."""
    return f"{m['wall_s']:.1f} s ({m['cpu_s']:.1f} CPU-s)"


def split_markdown(f: dict[str, Any]) -> list[str]:
    """The split environments' section of results.md."""
    sizes = [str(n) for n in f["sizes"]]
    lo, hi = sizes[0], sizes[-1]
    grouped = "".join(
        f"; at {n}, {SHIPPED} and {OTHER} have a root each and the other services share roots of {g} "
        f"(`state.groups`): {f['roots'][n]} roots"
        for n, g in f["grouped"].items()
    )
    svc, full = f["service"], f["full_plan"]
    one_runs = ", ".join(f"{svc[n]['one_plan']['runs']} at {n}" for n in sizes)
    lines = [
        "## Split environments (`state.split: service`) against one state",
        "",
        f"On the emulator, backend {f['backend']}. Environments of N small services (a task definition, an "
        f"ECS service, roles, a Cloud Map service each), one state (`dN`) and a root per service (`xN`"
        f"{grouped}), each applied once. Medians of {svc[lo]['split_plan']['runs']} runs (in one state: {one_runs}; "
        "the full plans: as the table says); "
        "CPU-seconds are hclforge's, terraform's and the provider's together (the emulator's apart, in "
        "results.json); the peak RSS, in results.json, is the largest process's: the AWS provider's, "
        f"about {svc[lo]['split_plan']['rss_mb']:.0f} MB.",
        "",
        f"| one service, svc000 | {' | '.join(services(n) for n in sizes)} | {hi} against {lo} |",
        "| --- |" + " ---: |" * (len(sizes) + 1),
    ]
    rows = (
        ("split: `plan xN --service svc000` (its root, refreshed)", "split_plan"),
        ("split: `set-image`, then `deploy xN --service svc000`", "split_deploy"),
        ("one state: the plan `deploy --service` makes (`-target`, `-refresh=false`)", "one_plan"),
        ("one state: `set-image`, then `deploy dN --service svc000`", "one_deploy"),
    )
    for label, key in rows:
        a, b = svc[hi][key], svc[lo][key]
        growth = f"{a['wall_s'] / b['wall_s']:.2f}x ({a['cpu_s'] / b['cpu_s']:.2f}x CPU)"
        lines.append(f"| {label} | {' | '.join(cell(svc[n][key]) for n in sizes)} | {growth} |")
    lines += [
        "",
        f"A full plan of the environment on {os.cpu_count()} CPUs: `hclforge plan xN -j {f['jobs']}` against raw "
        f"terraform planning the same roots (shared, then the service roots {f['jobs']} at a time, each "
        "`terraform plan -var-file -out` in the data dir hclforge initialized, with hclforge's flags and "
        "environment: bench/rawplan.py); beside them `hclforge plan dN`, one state.",
        "",
        "| services | roots | runs | hclforge | raw terraform | hclforge / raw | one state |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in sizes:
        h, r, o = full[n]["hclforge"], full[n]["raw"], full[n]["one"]
        lines.append(
            f"| {n} | {f['roots'][n]} | {h['runs']} | {cell(h)} | {cell(r)} | "
            f"{h['wall_s'] / r['wall_s']:.3f}x ({h['cpu_s'] / r['cpu_s']:.3f}x CPU) | {cell(o)} |"
        )
    if "estimate_201_roots" in f:
        e = f["estimate_201_roots"]
        lines += [
            "",
            f"Estimated, not measured: a full plan of 200 services in 201 roots (no groups) on this machine, "
            f"from the 40-service run's cost per root: hclforge {e['hclforge']['wall_s'] / 60:.1f} min "
            f"({e['hclforge']['cpu_s']:.0f} CPU-s), raw terraform {e['raw']['wall_s'] / 60:.1f} min "
            f"({e['raw']['cpu_s']:.0f} CPU-s).",
        ]
    lines += ["", "| two `deploy xN --service` started together | exit codes | wall each |", "| --- | --- | --- |"]
    for n, t in f["together"].items():
        walls = ", ".join(f"{w:.1f} s" for w in t["wall_s"])
        lines.append(
            f"| {n} services: {SHIPPED} and {OTHER} | {t['exit_codes']} ({'pass' if t['ok'] else 'FAIL'}) | {walls} |"
        )
    lines += ["", "| apply from nothing | " + " | ".join(services(n) for n in sizes) + " |"]
    lines += ["| --- |" + " ---: |" * len(sizes)]
    setup = f["apply_from_nothing"]
    for label, key in (("one state", "one"), (f"split, -j {f['jobs']}", "split")):
        lines.append(f"| {label} | " + " | ".join(cell(setup[n][key]) for n in sizes) + " |")
    rc, roots = f["render_check_s"], f["roots"]
    each = ", ".join(f"{services(n)} ({roots[n]} roots) {rc['x' + n] * 1000:.0f} ms" for n in sizes)
    lines += [
        "",
        f"The render check every command makes (is `modules/ENV/` what the YAML renders?), in-process: {each}; "
        f"200 services in {roots['u200']} roots (no groups) {rc['u200'] * 1000:.0f} ms. A run of a split "
        f"environment's roots made it once per root: {roots['u200']} times, "
        f"{rc['u200'] * roots['u200']:.0f} s at 200 services in {roots['u200']} roots; now once per run.",
    ]
    return lines
