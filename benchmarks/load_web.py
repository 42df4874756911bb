"""Load on the web app: 20 makers at once upload a design and poll its page while it is planned.

Starts a real ``fabserver serve`` (waitress + Huey on SQLite, its default consumer
threads) on loopback with a fresh data directory, then runs N maker threads. Each
maker: opens the form, uploads the sample (with its CSRF token), follows the
redirect to the job page, polls ``status.json`` every 0.5 s until the job is
planned, then loads the job page and the preview. Prints requests per second and
p50/p95 latency per kind of request, and the web process's peak memory.

With ``--heavy N`` (default 2, FDM only), N heavy jobs (a 240 × 200 × 200 mm box at
0.1 mm layers, full infill: minutes of planning and gigabytes) are planning in
their planning processes while the makers come: the pages must not notice.

    .venv/bin/python benchmarks/load_web.py [--makers 20] [--heavy 2] [--workers 3]

Uses the installed FDM plugin on the lab's first printer when present, else the
test plugins of tests/web/support.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from servers import add_staff, choose_lab, start_server  # noqa: E402

HEAVY_OPTIONS = '{"layer_height": 0.1, "first_layer_height": 0.2, "fill_density": 100}'


def heavy_box_stl() -> bytes:
    import trimesh

    box = trimesh.creation.box(extents=(240, 200, 200))
    box.apply_translation(-box.bounds[0])
    return box.export(file_type="stl")


def start_heavy_jobs(base: str, count: int) -> list[str]:
    """Submit ``count`` heavy jobs (one maker each) and wait until they are all planning."""
    tokens = []
    for i in range(count):
        response = requests.post(
            base + "/api/v1/jobs",
            files={"file": ("box.stl", heavy_box_stl())},
            data={
                "machine": "printer-1",
                "material": "pla-1.75",
                "options": HEAVY_OPTIONS,
                "name": f"Heavy {i}",
                "email": f"heavy{i}@example.org",
                "consent": "1",
            },
            timeout=120,
        )
        response.raise_for_status()
        tokens.append(response.json()["token"])
    while True:
        states = [heavy_state(base, t) for t in tokens]
        if all(state == "planning" for state in states):
            return tokens
        if any(state not in ("queued", "planning") for state in states):
            raise SystemExit(f"heavy jobs ended before the load started: {states}")
        time.sleep(0.5)


def warm_up(base: str, tokens: list[str]) -> None:
    """One request per page first, as on a server that has been up for a while (the
    first render of each template compiles it)."""
    for path in ["/", "/api/v1/machines", *(f"/j/{t}" for t in tokens)]:
        requests.get(base + path, timeout=60)


def heavy_state(base: str, token: str) -> str:
    return requests.get(f"{base}/api/v1/jobs/{token}", timeout=60).json()["state"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def timed(self, kind: str, call, *args, **kwargs) -> requests.Response:
        start = time.perf_counter()
        response = call(*args, **kwargs)
        elapsed = time.perf_counter() - start
        with self.lock:
            self.latency[kind].append(elapsed)
            if response.status_code >= 400:
                self.errors[kind] += 1
        return response


def maker(base: str, lab, rec: Recorder, done: list, index: int) -> None:
    s = requests.Session()
    form = rec.timed("form", s.get, base + "/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    with lab.sample.open("rb") as f:
        response = rec.timed(
            "upload",
            s.post,
            base + "/",
            data={
                "csrf_token": token,
                "machine": lab.machine,
                "material": lab.material,
                "copies": "1",
                "name": f"Maker {index}",
                "email": f"maker{index}@example.org",
                "consent": "1",
                **lab.options,
            },
            files={"file": (lab.sample.name, f)},
            allow_redirects=False,
        )
    if response.status_code != 303:
        done.append(("upload-failed", 0.0))
        return
    job_url = base + response.headers["Location"]
    rec.timed("job page", s.get, job_url)
    t0 = time.perf_counter()
    while True:
        state = rec.timed("status.json", s.get, job_url + "/status.json").json()["state"]
        if state not in ("queued", "planning"):
            break
        time.sleep(0.5)
    waited = time.perf_counter() - t0
    page = rec.timed("job page", s.get, job_url)
    preview = re.search(r'src="(/j/[^"]+/preview\.svg[^"]*)"', page.text)
    if preview:
        rec.timed("preview.svg", s.get, base + preview.group(1).replace("&amp;", "&"))
    done.append((state, waited))


def run_makers(base: str, labs: list, count: int, rec: Recorder, done: list) -> float:
    """``count`` makers per lab, each in a thread of its own, all at once; the seconds
    until the last one is done."""
    threads = [
        threading.Thread(target=maker, args=(base, lab, rec, done, i))
        for i in range(count)
        for lab in labs
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--makers", type=int, default=20)
    parser.add_argument("--sample", type=Path, default=None)
    parser.add_argument("--heavy", type=int, default=2, help="heavy jobs planning meanwhile")
    parser.add_argument("--workers", type=int, default=3, help="FABSERVER_WORKERS")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fabserver-load-"))
    lab = choose_lab(tmp)
    lab.options = {k: v for k, v in lab.options.items() if not k.endswith("delay_s")}
    if args.sample:
        lab.sample = args.sample.resolve()
    elif lab.plugin == "fdm":
        lab.sample = ROOT / "samples" / "web-block.stl"
    heavy = args.heavy if lab.plugin == "fdm" else 0
    lab.env = {**lab.env, "FABSERVER_WORKERS": str(args.workers)}
    add_staff(tmp / "data", lab.env)
    server = start_server(tmp / "data", lab.env, tmp / "server.log")
    rec = Recorder()
    done: list = []
    heavy_tokens: list[str] = []
    try:
        rss_start = peak_rss_mb(server.process.pid)
        heavy_tokens = start_heavy_jobs(server.url, heavy)
        warm_up(server.url, heavy_tokens)
        cpu_start = cpu_seconds(server.process.pid)
        wall = run_makers(server.url, [lab], args.makers, rec, done)
        heavy_states = [heavy_state(server.url, t) for t in heavy_tokens]
        rss_peak = peak_rss_mb(server.process.pid)
        web_cpu = cpu_seconds(server.process.pid) - cpu_start
        load = os.getloadavg()[0]
    finally:
        server.stop()

    total = sum(len(v) for v in rec.latency.values())
    print(
        f"\n{args.makers} makers, plugin '{lab.plugin}' on '{lab.machine}', "
        f"sample {lab.sample.name}, {os.cpu_count()} CPU(s), {args.workers} planning "
        f"processes, {heavy} heavy job(s) planning meanwhile (states at the end: {heavy_states})"
    )
    print(f"web process peak memory: {rss_start:.0f} MB at start, {rss_peak:.0f} MB at the end")
    print(f"wall time {wall:.1f} s, {total} requests, {total / wall:.1f} requests/s")
    print(f"web process CPU {web_cpu:.1f} s during the load; machine load average {load:.1f}\n")
    print(f"{'request':<14}{'count':>7}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    everything: list[float] = []
    for kind in ("form", "upload", "job page", "status.json", "preview.svg"):
        values = rec.latency.get(kind, [])
        if not values:
            continue
        everything += values
        print(
            f"{kind:<14}{len(values):>7}{rec.errors[kind]:>8}"
            f"{pct(values, 50) * 1000:>10.0f}{pct(values, 95) * 1000:>10.0f}"
            f"{max(values) * 1000:>10.0f}"
        )
    print(
        f"{'all':<14}{len(everything):>7}{sum(rec.errors.values()):>8}"
        f"{pct(everything, 50) * 1000:>10.0f}{pct(everything, 95) * 1000:>10.0f}"
        f"{max(everything) * 1000:>10.0f}"
    )
    states = defaultdict(int)
    for state, _ in done:
        states[state] += 1
    waits = [w for _, w in done]
    print(
        f"\njobs: {dict(states)}; time from upload to planned: "
        f"median {statistics.median(waits):.1f} s, max {max(waits):.1f} s"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
