"""One command measured: wall time, CPU-seconds and peak RSS of it and everything it waited for.

The CPU and memory come from ``wait4`` on the command's own process: its user and
system time include every descendant it reaped (terraform, its provider), and the
peak RSS is that of the largest of them (for a plan, the AWS provider). The local
emulator is a daemon no command waits for: its CPU is read from ``/proc`` around
the command, and reported apart.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    """One run of one command."""

    argv: list[str]
    returncode: int
    wall: float
    cpu: float
    rss_mb: float
    emulator_cpu: float
    stdout: str
    stderr: str

    def to_json(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall, 3),
            "cpu_s": round(self.cpu, 3),
            "rss_mb": round(self.rss_mb, 1),
            "emulator_cpu_s": round(self.emulator_cpu, 3),
        }


def process_cpu(pid: int | None) -> float:
    """CPU-seconds (user + system) a live process has used so far; 0 when it cannot be read."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def emulator_pid(project: Path) -> int | None:
    """The pid of the project's running emulator (None: none running)."""
    try:
        return int(json.loads((project / ".hclforge/emulator.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


class Running:
    """A command started now; :meth:`wait` gives its :class:`Sample`."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None, emulator: int | None) -> None:
        self.argv = argv
        self.emulator = emulator
        # Files, not pipes: nobody reads while it runs, and wait() reads them once it ended.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (closed in wait())
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.emu_start = process_cpu(emulator)
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._out, stderr=self._err)

    def wait(self) -> Sample:
        _pid, status, usage = os.wait4(self.proc.pid, 0)
        wall = time.perf_counter() - self.start
        self.proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        emu = process_cpu(self.emulator) - self.emu_start
        out = []
        for f in (self._out, self._err):
            f.seek(0)
            out.append(f.read().decode(errors="replace"))
            f.close()
        return Sample(
            self.argv,
            self.proc.returncode,
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,
            emu,
            out[0],
            out[1],
        )


def measured(argv: list[str], cwd: Path, env: dict[str, str] | None = None, *, check: bool = True) -> Sample:
    """Run ``argv`` in ``cwd`` and measure it; exit the bench with its output when it fails and ``check``."""
    sample = Running(argv, cwd, env, emulator_pid(cwd)).wait()
    if check and sample.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited {sample.returncode}:\n{sample.stdout[-3000:]}{sample.stderr[-3000:]}"
        )
    return sample


def together(commands: list[list[str]], cwd: Path) -> list[Sample]:
    """Start every command at once; each one's sample (its wall time from the common start)."""
    emulator = emulator_pid(cwd)
    running = [Running(argv, cwd, None, emulator) for argv in commands]
    samples: list[Sample | None] = [None] * len(running)

    def wait(i: int) -> None:
        samples[i] = running[i].wait()

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(running))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for s in samples if s is not None]


def medians(samples: list[Sample]) -> dict[str, Any]:
    """Median wall, CPU, peak RSS and emulator CPU of repeated runs, with how many there were."""
    return {
        "wall_s": round(statistics.median(s.wall for s in samples), 3),
        "cpu_s": round(statistics.median(s.cpu for s in samples), 3),
        "rss_mb": round(statistics.median(s.rss_mb for s in samples), 1),
        "emulator_cpu_s": round(statistics.median(s.emulator_cpu for s in samples), 3),
        "runs": len(samples),
        "wall_each_s": [round(s.wall, 2) for s in samples],
        "cpu_each_s": [round(s.cpu, 2) for s in samples],
    }
