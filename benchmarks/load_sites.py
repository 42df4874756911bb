"""Load on a network of three sites: 3 sites × 20 makers upload and poll, 4 worker processes.

Starts, on loopback, a throw-away PostgreSQL and Redis, ``fabserver serve`` (which sends
no machine file itself: ``FABSERVER_DISPATCH_SITES=none``) and four ``fabserver worker``
processes: one per site with ``--site`` (it plans, and sends its site's files to a folder
connector of that site) and one that only plans. The lab's own profiles are spread over
Saint-Omer (laser), Boulogne-sur-Mer (vinyl cutter) and Arras (a second laser); makers
upload the lab's samples with the real plugins.

Each maker opens the form, uploads, polls its job until planned, then loads the job page
and the preview (as ``load_web.py``); then each site's staff approve and dispatch their
site's jobs through the API with their own token. Printed: latency per kind of request
(p50/p95/max), and the counts that must be 0: jobs lost, planned twice, dispatched by
another site's worker, files in another site's folder.

    .venv/bin/python benchmarks/load_sites.py [--makers 20]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_web import Recorder, pct, run_makers  # noqa: E402
from servers import fabserver_command  # noqa: E402  (load_web put tests/e2e on the path)

from fabserver.profiles import DEFAULT_PROFILE_DIR  # noqa: E402
from fabserver.testing import free_port, postgres_server, redis_server  # noqa: E402


@dataclass
class SiteLab:
    """What a maker of one site sends (the shape ``load_web.maker`` reads)."""

    site: str
    machine: str
    material: str
    sample: Path
    options: dict[str, str] = field(default_factory=dict)


SITE_LABS = [
    SiteLab("saint-omer", "laser", "mdf-3", ROOT / "samples" / "laser-keyring.svg"),
    SiteLab("boulogne", "vinyl", "vinyl-adhesive", ROOT / "samples" / "vinyl-sticker.svg"),
    SiteLab("arras", "laser-arras", "mdf-3", ROOT / "samples" / "laser-keyring.svg"),
]
NAMES = {"saint-omer": "Saint-Omer", "boulogne": "Boulogne-sur-Mer", "arras": "Arras"}


def network_profiles(root: Path, outbox: Path) -> Path:
    """The lab's profiles on three sites; each site's machine sends to a folder of its own."""
    shutil.copytree(DEFAULT_PROFILE_DIR, root)
    for site, name in NAMES.items():
        if site != "saint-omer":
            (root / "sites" / f"{site}.toml").write_text(f'name = "{name}"\n')
    (root / "machines" / "laser-arras.toml").write_text(
        'inherits = "laser"\nname = "Laser (Arras)"\nsite = "arras"\n'
    )
    path = root / "machines" / "vinyl.toml"
    path.write_text(path.read_text().replace('site = "saint-omer"', 'site = "boulogne"'))
    for lab in SITE_LABS:
        path = root / "machines" / f"{lab.machine}.toml"
        folder = outbox / lab.site
        text = path.read_text().replace('connector = { type = "download" }\n', "")
        head, _, tables = text.partition("\n[")
        path.write_text(
            f'{head}\nconnector = {{ type = "folder", path = "{folder}", create = true }}\n'
            + (f"\n[{tables}" if tables else "")
        )
    return root


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*fabserver_command(), *args], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def staff_token(site: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [*fabserver_command(), "add-staff", f"staff-{site}", "--site", site, "--api-token"],
        env={**env, "FABSERVER_STAFF_PASSWORD": f"password-{site}"},
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return re.search(r"(fab_\S+)", out).group(1)


def dispatch_site(base: str, site: str, token: str, rec: Recorder) -> int:
    """The site's staff approve and dispatch every job waiting for review at their site."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    jobs = rec.timed("staff list", s.get, f"{base}/api/v1/staff/jobs?state=review").json()
    for job in jobs["jobs"]:
        for action in ("approve", "dispatch"):
            rec.timed(f"staff {action}", s.post, f"{base}/api/v1/staff/jobs/{job['id']}/{action}")
    return len(jobs["jobs"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--makers", type=int, default=20, help="makers per site")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fabserver-sites-"))
    outbox = tmp / "outbox"
    profiles = network_profiles(tmp / "profiles", outbox)
    processes: list[subprocess.Popen] = []
    with postgres_server() as database_url, redis_server(tmp) as redis_url:
        env = {
            **os.environ,
            "FABSERVER_DATA": str(tmp / "data"),
            "FABSERVER_DATABASE_URL": database_url,
            "FABSERVER_REDIS_URL": redis_url,
            "FABSERVER_PROFILES": str(profiles),
        }
        tokens = {lab.site: staff_token(lab.site, env) for lab in SITE_LABS}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        try:
            processes.append(
                start(
                    ["serve", "--port", str(port)],
                    {**env, "FABSERVER_DISPATCH_SITES": "none"},
                    tmp / "serve.log",
                )
            )
            workers = {
                lab.site: start(["worker", "--site", lab.site], env, tmp / f"{lab.site}.log")
                for lab in SITE_LABS
            }
            processes += [*workers.values(), start(["worker"], env, tmp / "planner.log")]

            def up() -> bool:
                try:
                    return requests.get(base + "/api/v1/sites", timeout=2).ok
                except requests.ConnectionError:
                    return False

            wait_for(up, 120, "the server")
            logs = [tmp / f"{lab.site}.log" for lab in SITE_LABS] + [tmp / "planner.log"]
            wait_for(
                lambda: all(p.exists() and "worker:" in p.read_text() for p in logs),
                120,
                "four workers",
            )
            rec = Recorder()
            done: list = []
            started = time.perf_counter()
            planned_s = run_makers(base, SITE_LABS, args.makers, rec, done)
            sent = {
                lab.site: dispatch_site(base, lab.site, tokens[lab.site], rec) for lab in SITE_LABS
            }
            counts = check(database_url, workers, outbox, args.makers * len(SITE_LABS))
            wall = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    report(args.makers, rec, done, planned_s, wall, sent, counts)
    shutil.rmtree(tmp, ignore_errors=True)


def check(database_url: str, workers: dict, outbox: Path, makers: int) -> dict[str, int]:
    """Wait for every job to be sent, then count what must never happen."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from fabserver.store.models import AuditEvent, Job

    engine = create_engine(database_url)

    def states() -> Counter:
        with Session(engine) as s:
            rows = s.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        return Counter({state: count for state, count in rows})

    try:
        wait_for(lambda: states().get("dispatched", 0) >= makers, 300, "every job sent")
    except RuntimeError as exc:
        print(f"!! {exc}: {dict(states())}")
    with Session(engine) as s:
        jobs = {j.id: j.site for j in s.scalars(select(Job))}
        events = s.scalars(select(AuditEvent)).all()
    planning = Counter(e.job_id for e in events if e.to_state == "planning")
    sends = [e for e in events if e.action == "dispatch-attempt" and (e.data or {}).get("ok")]
    pids = {site: str(p.pid) for site, p in workers.items()}
    wrong_site = sum(1 for e in sends if e.data["worker"].split(":")[1] != pids[jobs[e.job_id]])
    wrong_folder = 0
    for site in pids:
        folder = outbox / site
        for name in os.listdir(folder) if folder.exists() else []:
            job_id = int(re.match(r"J0*(\d+)-", name).group(1))
            wrong_folder += jobs.get(job_id) != site
    engine.dispose()
    sent_jobs = {e.job_id for e in sends}
    return {
        "jobs": len(jobs),
        "lost": makers - sum(1 for j in jobs if j in sent_jobs),
        "planned twice": sum(1 for n in planning.values() if n > 1),
        "dispatched by the wrong site": wrong_site,
        "files in another site's folder": wrong_folder,
        "sent twice": sum(1 for n in Counter(e.job_id for e in sends).values() if n > 1),
    }


def report(makers, rec, done, planned_s, wall, sent, counts) -> None:
    total = sum(len(v) for v in rec.latency.values())
    print(f"\n3 sites × {makers} makers, 4 workers + serve, {os.cpu_count()} CPU(s)")
    print(f"uploads planned in {planned_s:.1f} s; all sent after {wall:.1f} s; {total} requests")
    print(f"{'request':<16}{'count':>7}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    pages: list[float] = []
    for kind, values in rec.latency.items():
        if kind in ("form", "job page", "status.json", "preview.svg"):
            pages += values
        print(
            f"{kind:<16}{len(values):>7}{rec.errors[kind]:>8}"
            f"{pct(values, 50) * 1000:>10.0f}{pct(values, 95) * 1000:>10.0f}"
            f"{max(values) * 1000:>10.0f}"
        )
    print(
        f"{'pages (GET)':<16}{len(pages):>7}{'':>8}{pct(pages, 50) * 1000:>10.0f}"
        f"{pct(pages, 95) * 1000:>10.0f}{max(pages) * 1000:>10.0f}"
    )
    waits = [w for _, w in done]
    print(
        f"\nplanned: {dict(Counter(s for s, _ in done))}; upload to planned: median "
        f"{statistics.median(waits):.1f} s, max {max(waits):.1f} s; sent per site: {sent}"
    )
    for key, value in counts.items():
        print(f"{key:<32}{value:>6}")


if __name__ == "__main__":
    main()
