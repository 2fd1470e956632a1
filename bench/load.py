"""The load run: concurrent users on the board, history, order detail and reports pages
against gunicorn, on the 1 M-order database of `python -m bench --reports`.

    make load                                   # = python -m bench --load
    python -m bench --load --connections 50 --duration 30 --web-workers 5
    python -m bench --load --help

Needs `wrk` (Debian: apt-get install wrk) and the generated database (made here
with generate_data when missing, as `--reports` does). It starts gunicorn with
config/gunicorn.conf.py on a free port (`--web-workers` sets WEB_CONCURRENCY;
the config's default is 2 x cores + 1), logs `--users` generated owners (every
other team by size) in (one
session each, made with the test client's force_login), and runs wrk with a Lua
script that sends each request with the next user's session cookie and the next
of their pages, round robin:

- one run per page (board, history, order detail, reports) and one mixed run,
  each `--duration` seconds with `--connections` connections after a short
  warm-up; wrk's own latency histogram gives p50/p95/p99 and requests/s; before
  and after each run one request waits behind whatever wrk left queued, so no run
  inherits the previous one's backlog;
- any answer other than 200 counts as an error (a login redirect would show as
  302s);
- afterwards each page is rendered once in-process for the largest team with every
  SQL statement timed: the slowest ones are where an index would help.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import reports
from bench import sync as base

BASE_DIR = base.BASE_DIR
PAGES = ("board", "history", "detail", "reports")


@dataclass
class Options:
    users: int = 50
    connections: int = 50
    threads: int = 2
    duration: int = 30
    warm_up: int = 5
    web_workers: int = 0  # 0: the gunicorn config's default
    report_days: int = 90
    teams: int = 100
    orders: int = 1_000_000
    database_url: str = reports.DEFAULT_DATABASE_URL
    output: str = "var/bench-load.json"


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench --load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = Options()
    for name, value in asdict(d).items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), default=value, help=f"({value})")
    options = Options(**vars(parser.parse_args(argv)))
    if min(options.users, options.connections, options.threads, options.duration) < 1:
        parser.error("users, connections, threads and duration must be at least 1")
    return options


def main(argv: list[str]) -> int:
    options = parse(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk).")
    env = reports.environment(
        reports.Options(database_url=options.database_url, teams=options.teams)
    )
    os.environ.update(env)
    os.chdir(BASE_DIR)
    reports.ensure_database(options.database_url)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    generated = reports.generate(
        reports.Options(
            teams=options.teams, orders=options.orders, database_url=options.database_url
        )
    )
    backfilled = reports.backfill()  # the cost report's roll-up (reports.rollup)
    results = run(options, command=" ".join(["python -m bench --load", *argv]))
    results["generate"] = generated
    results["backfill"] = backfilled
    output = BASE_DIR / options.output
    base.write_results(results, output)
    print(format_table(results))
    print(f"\nResults written to {output}")
    return 0


# --- users, sessions and pages -----------------------------------------------------------------


def visitors(options: Options) -> list[dict[str, Any]]:
    """`users` owners of generated teams (every other team by size, largest first),
    each with a session cookie and their four pages."""
    from datetime import timedelta

    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from accounts.models import Membership, Team
    from accounts.roles import Role
    from orders.models import Order
    from reports.management.commands.generate_data import TEAM_PREFIX

    teams = list(
        Team.objects.filter(name__startswith=TEAM_PREFIX)
        .annotate(n=Count("orders"))
        .order_by("-n", "pk")
    )
    until = timezone.localdate()
    since = until - timedelta(days=options.report_days - 1)
    people = []
    owners = {
        m.team_id: m
        for m in Membership.objects.filter(team__in=teams, role=Role.OWNER).select_related("user")
    }
    for n in range(options.users):
        # Every other team by size, largest first: big and small teams alike.
        team = teams[(2 * n) % len(teams) if len(teams) > 1 else 0]
        member = owners[team.pk]
        client = Client()
        client.force_login(member.user)
        order = Order.objects.filter(team=team).order_by("-created").values_list("code", flat=True)
        codes = list(order[:50])
        code = codes[n % len(codes)]
        people.append(
            {
                "team": team.name,
                "orders": team.n,
                "cookie": f"sessionid={client.cookies['sessionid'].value}",
                "board": reverse("board", args=[team.code]),
                "history": reverse("order_history", args=[team.code]),
                "detail": reverse("order_detail", args=[code]),
                "reports": reverse("reports", args=[team.code])
                + f"?period=custom&since={since.isoformat()}&until={until.isoformat()}",
            }
        )
    return people


LUA = """
-- Generated by bench/load.py: each request takes the next (cookie, path) pair.
local pairs_ = %(pairs)s
local counter = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local pair = pairs_[(counter %% #pairs_) + 1]
  return wrk.format("GET", pair[2], {["Cookie"] = pair[1], ["Host"] = "127.0.0.1"})
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect_errors": %%d, ' ..
    '"read_errors": %%d, "write_errors": %%d, "status_errors": %%d, "timeouts": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def lua_script(people: list[dict], pages: tuple[str, ...]) -> str:
    pairs = [(p["cookie"], p[page]) for page in pages for p in people]
    body = ",\n  ".join(f"{{{_lua(cookie)}, {_lua(path)}}}" for cookie, path in pairs)
    return LUA % {"pairs": "{\n  " + body + "\n}"}


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_wrk(output: str) -> dict[str, Any]:
    """The figures the script's done() printed, in ms and requests/s."""
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line[len("WRK_JSON ") :])
            seconds = raw["duration_us"] / 1e6
            errors = sum(
                raw[k]
                for k in (
                    "connect_errors",
                    "read_errors",
                    "write_errors",
                    "status_errors",
                    "timeouts",
                )
            )
            return {
                "requests": raw["requests"],
                "seconds": round(seconds, 1),
                "requests_per_second": round(raw["requests"] / seconds, 1) if seconds else None,
                "p50_ms": round(raw["p50_us"] / 1000, 1),
                "p90_ms": round(raw["p90_us"] / 1000, 1),
                "p95_ms": round(raw["p95_us"] / 1000, 1),
                "p99_ms": round(raw["p99_us"] / 1000, 1),
                "max_ms": round(raw["max_us"] / 1000, 1),
                "non_200_or_errors": errors,
                "errors": {k: raw[k] for k in raw if k.endswith("errors") or k == "timeouts"},
                "kb_per_request": round(raw["bytes"] / raw["requests"] / 1024, 1)
                if raw["requests"]
                else None,
            }
    raise RuntimeError(f"wrk printed no figures:\n{output[-2000:]}")


# --- gunicorn and wrk -------------------------------------------------------------------------


class Gunicorn:
    def __init__(self, port: int, workers: int, log: Path) -> None:
        env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        if workers:
            env["WEB_CONCURRENCY"] = str(workers)
        self.port = port
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.DEVNULL,  # the access log: one line per request
                stderr=out,
                start_new_session=True,
            )

    def wait_ready(self, path: str, cookie: str) -> None:
        import requests

        deadline = time.time() + 180
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{self.port}{path}",
                    headers={"Cookie": cookie},
                    timeout=120,  # the first request of a fresh worker loads everything
                    allow_redirects=False,
                )
                if answer.status_code == 200:
                    return
                raise RuntimeError(f"{path} answered {answer.status_code}, not 200")
            except requests.ConnectionError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer within a minute")

    def drain(self, path: str, cookie: str) -> float:
        """Wait until requests wrk left queued are served (it closes its connections at
        the end, but gunicorn still answers what was sent): one request that queues
        behind them. Returns the seconds it took."""
        started = time.time()
        self.wait_ready(path, cookie)
        return round(time.time() - started, 1)

    def workers(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return len(children.read_text().split())
        except OSError:
            return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def wrk(script: Path, port: int, options: Options, seconds: int) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/",
    ]
    load = os.getloadavg()
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    figures = parse_wrk(done.stdout)
    figures["load_average_at_start"] = [round(v, 2) for v in load]
    figures["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    figures["command"] = " ".join(command)
    return figures


def run(options: Options, command: str) -> dict[str, Any]:
    started, load = time.time(), os.getloadavg()
    run_dir = BASE_DIR / "var" / "bench" / f"load-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    people = visitors(options)
    port = base._free_port()
    server = Gunicorn(port, options.web_workers, run_dir / "gunicorn.log")
    results: dict[str, Any] = {"scenarios": {}}
    try:
        for page in PAGES:
            server.wait_ready(people[0][page], people[0]["cookie"])
        workers = server.workers()
        scenarios = [(page, (page,)) for page in PAGES] + [("mixed", PAGES)]
        for name, pages in scenarios:
            script = run_dir / f"{name}.lua"
            script.write_text(lua_script(people, pages))
            base._say(f"wrk {name}: {options.connections} connections, {options.duration} s")
            wrk(script, port, options, options.warm_up)
            server.drain(people[0]["detail"], people[0]["cookie"])
            results["scenarios"][name] = wrk(script, port, options, options.duration)
            results["scenarios"][name]["drained_seconds"] = server.drain(
                people[0]["detail"], people[0]["cookie"]
            )
    finally:
        server.stop()
    results["statements"] = slowest_statements(people[0])
    results["meta"] = {
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 1),
        "cpu": base._cpu_model(),
        "nproc": os.cpu_count(),
        "gunicorn_workers": workers,
        "users": len(people),
        "largest_team": {"name": people[0]["team"], "orders": people[0]["orders"]},
        "load_average_at_start": [round(v, 2) for v in load],
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "options": asdict(options),
    }
    return results


def slowest_statements(person: dict) -> dict[str, Any]:
    """Each page once in-process (the largest team's owner) with every statement timed."""
    from django.contrib.sessions.models import Session
    from django.test import Client

    session = Session.objects.get(session_key=person["cookie"].split("=", 1)[1])
    client = Client()
    client.cookies["sessionid"] = session.session_key
    out = {}
    for page in PAGES:
        with reports.Statements() as seen:
            started = time.perf_counter()
            response = client.get(person[page])
            ms = (time.perf_counter() - started) * 1000
        out[page] = {
            "status": response.status_code,
            "ms": round(ms, 1),
            "queries": len(seen.seen),
            "sql_ms": round(sum(t for t, _ in seen.seen), 1),
            "slowest": [
                {"ms": round(t, 1), "sql": sql[:300]}
                for t, sql in sorted(seen.seen, reverse=True)[:3]
            ],
        }
    return out


def format_table(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"smsdesk load run - nproc {meta['nproc']}, gunicorn {meta['gunicorn_workers']} workers, "
        f"{meta['options']['connections']} connections, {meta['users']} users, "
        f"{meta['options']['duration']} s per scenario",
        "",
        f"{'scenario':<9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'errors':>6} {'KB/req':>6} {'load':>5}",
    ]
    for name, row in results["scenarios"].items():
        cells = [row[k] for k in ("requests_per_second", "p50_ms", "p95_ms", "p99_ms", "max_ms")]
        lines.append(
            f"{name:<9} "
            + " ".join(f"{base._fmt(v, 1):>{8 if i else 7}}" for i, v in enumerate(cells))
            + f" {row['non_200_or_errors']:>6} {base._fmt(row['kb_per_request'], 1):>6} "
            f"{row['load_average_at_start'][0]:>5}"
        )
    lines += ["", "in-process, largest team (ms, statements, slowest statement ms):"]
    for page, row in results["statements"].items():
        slowest = row["slowest"][0]["ms"] if row["slowest"] else 0
        lines.append(
            f"  {page:<8} {row['ms']:>7} ms, {row['queries']} statements ({row['sql_ms']} ms SQL), "
            f"slowest {slowest} ms"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
