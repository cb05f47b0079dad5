"""Run a command and sample the memory of its whole process tree.

Three readings, all peaks over the run:
* ``rss_sum``: resident set size summed over every process (shared pages, such as the
  node binary mapped by jsii's two node processes, are counted once per process);
* ``pss_sum``: proportional set size summed (shared pages split between their users: the
  tree's real footprint);
* ``rss_max``: the largest single process (what ``/usr/bin/time -v`` calls max RSS).
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measurement:
    wall: float
    rss_sum: int
    pss_sum: int
    rss_max: int
    stderr: str


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids.extend(int(k) for k in (task / "children").read_text().split())
        except OSError:
            pass
    return kids


def _field_kib(path: str, name: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree(root: int) -> list[int]:
    pids, index = [root], 0
    while index < len(pids):
        pids.extend(p for p in _children(pids[index]) if p not in pids)
        index += 1
    return pids


def run_measured(cmd: list[str], *, cwd: str, env: dict[str, str], memory: bool = True,
                 interval: float = 0.02, timeout: float = 600) -> Measurement:
    """Run ``cmd``; raise if it fails. With ``memory=False`` nothing samples /proc (reading
    smaps costs CPU that would otherwise be counted in the wall time)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    peaks = {"rss_sum": 0, "pss_sum": 0, "rss_max": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = tree(proc.pid)
            rss = [_field_kib(f"/proc/{p}/status", "VmRSS:") for p in pids]
            pss = sum(_field_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
            peaks["rss_sum"] = max(peaks["rss_sum"], sum(rss))
            peaks["rss_max"] = max(peaks["rss_max"], max(rss, default=0))
            peaks["pss_sum"] = max(peaks["pss_sum"], pss)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        done.set()
        if memory:
            sampler.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{stderr}")
    return Measurement(wall, stderr=stderr, **peaks)
