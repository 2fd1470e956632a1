"""The gateway benchmark: SMS-Activate tools polling getStatus through smsdesk
(issue 14, item 3; docs/BENCHMARKS.md, "The SMS-Activate gateway").

    python -m bench --gateway                      # 200 clients, 30 s windows
    python -m bench --gateway --clients 50 --seconds 10
    python -m bench --gateway --help

One run, on a throwaway SQLite database under var/bench/ (never db.sqlite3),
the embedded setup (database cache and rate budget, no Redis), its own sandbox
provider and its own web server (gunicorn with config/gunicorn.conf.py, as
deployed), on free loopback ports:

1. setup: a team with one member and one SMS-Activate account at the sandbox;
   `--keys` personal API keys; one activation per client bought through the
   gateway itself (getNumber over HTTP);
2. the sync engine (the real dispatcher and cycles, as in bench/sync.py)
   follows those orders throughout;
3. window "no clients": `--seconds` of the engine alone, counting the
   sandbox's requests;
4. window "clients": the same length with `--clients` clients, each on its own
   keep-alive connection, each polling getStatus for its activation once a
   second (clients share keys evenly, within the per-key rate limit); every
   call's latency is measured at the client, and the sandbox's requests are
   counted again.

getStatus answers from smsdesk's database, so the upstream count of window 4
must equal that of window 3 (the engine's own polling), give or take the
engine's timing; the per-action split shows no getStatus reached the sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import sync as base

BASE_DIR = base.BASE_DIR
TARGET_P95_MS = 20.0


@dataclass
class Options:
    clients: int = 200
    keys: int = 40
    seconds: float = 30.0
    interval: float = 1.0  # each client's seconds between two getStatus calls
    warm_up: float = 5.0
    # As deployed: config/gunicorn.conf.py's own defaults (2 x cores + 1 sync workers).
    # Threads were the benchmark's default before; on SQLite they queue on the write
    # lock and the GIL (docs/BENCHMARKS.md, run 5: client p95 266 ms against 3.5 ms).
    web_workers: int = 0  # 0: the config's default
    web_threads: int = 1
    processes: int = 2  # client processes
    redis: str = ""  # REDIS_URL for the cache and the rate counters (a database of its own)
    database_url: str = ""  # PostgreSQL (recreated for the run); SQLite file when empty
    sandbox: str = "subprocess"  # or "inprocess" (the smoke test)
    server: str = "gunicorn"  # or "thread" (the smoke test: Django's test server)
    seed: int = 14
    output: str = "var/bench-gateway.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Options()
    parser.add_argument("--clients", type=int, default=defaults.clients)
    parser.add_argument("--keys", type=int, default=defaults.keys, help="API keys they share")
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="each window")
    parser.add_argument("--interval", type=float, default=defaults.interval)
    parser.add_argument(
        "--web-workers",
        type=int,
        default=defaults.web_workers,
        help="gunicorn workers; default: as deployed (2 x cores + 1, at most 8)",
    )
    parser.add_argument(
        "--web-threads", type=int, default=defaults.web_threads, help="threads per worker"
    )
    parser.add_argument(
        "--processes", type=int, default=defaults.processes, help="client processes"
    )
    parser.add_argument(
        "--redis",
        default="",
        help="REDIS_URL for cache and rate counters, e.g. redis://127.0.0.1:6379/13 "
        "(a database index of its own: the benchmark clears it)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL for the run, e.g. postgres://postgres@127.0.0.1:5432/bench_gateway "
        "(dropped and created afresh, dropped afterwards unless --keep-db); default: a "
        "throwaway SQLite file",
    )
    parser.add_argument("--output", default=defaults.output)
    parser.add_argument("--keep-db", action="store_true")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench --gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    values = {k: v for k, v in vars(args).items() if k != "keep_db"}
    options = Options(**values)
    db_dir = BASE_DIR / "var" / "bench"
    db_dir.mkdir(parents=True, exist_ok=True)
    db_path = db_dir / f"bench-gateway-{os.getpid()}.sqlite3"
    base._remove_db(db_path)
    os.environ.update(base.bench_environment(db_path))
    if options.redis:
        os.environ["REDIS_URL"] = options.redis
    if options.database_url:
        from bench.scale import recreate_database

        recreate_database(options.database_url)
        os.environ["DATABASE_URL"] = options.database_url
    os.chdir(BASE_DIR)
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.management import call_command

    where = options.database_url or db_path.relative_to(BASE_DIR)
    base._say(f"preparing {where}")
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    command = " ".join(["python -m bench --gateway", *(argv or [])]).strip()
    try:
        results = run(options, command=command)
    finally:
        if not args.keep_db:
            base._remove_db(db_path)
            if options.database_url:
                from django.db import connections

                from bench.scale import drop_database

                connections.close_all()
                drop_database(options.database_url)
    output = BASE_DIR / options.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str))
    print(format_table(results))
    print(f"\nResults written to {output}")
    return 0


# --- the web server ---------------------------------------------------------------------------


class WebServer:
    """smsdesk served over HTTP: gunicorn as deployed, or Django's test server thread."""

    def __init__(self, options: Options):
        self.options = options
        self.process: subprocess.Popen | None = None
        self.thread_server = None
        self.url = ""

    def __enter__(self) -> WebServer:
        if self.options.server == "thread":
            from django.test.testcases import LiveServerThread

            server = LiveServerThread("127.0.0.1", lambda handler: handler, port=0)
            server.daemon = True
            server.start()
            server.is_ready.wait()
            if server.error:
                raise server.error
            self.thread_server = server
            self.url = f"http://127.0.0.1:{server.port}"
            return self
        port = base._free_port()
        env = gunicorn_environment(self.options, port)
        self.access_log = BASE_DIR / "var" / "bench" / f"gateway-access-{os.getpid()}.log"
        self.access_log.unlink(missing_ok=True)
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, our config
            [gunicorn, "-c", "config/gunicorn.conf.py", "--access-logfile", str(self.access_log)],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        self._wait()
        return self

    def _wait(self) -> None:
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"gunicorn did not start: {error.strip()[-2000:]}")
            try:
                requests.get(f"{self.url}/api/handler_api.php", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 60 s.")

    def server_times(self, action: str) -> list[float]:
        """Milliseconds gunicorn spent on each request for `action` (its access log)."""
        path = getattr(self, "access_log", None)
        if path is None or not path.exists():
            return []
        times = []
        for line in path.read_text().splitlines():
            try:
                http = json.loads(line).get("http") or {}
            except ValueError:
                continue
            if f"action={action}" in (http.get("query") or ""):
                times.append(float(http["duration_ms"]))
        return sorted(times)

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) gunicorn has used so far: the master, its workers and
        the workers that already exited (the master's reaped children); None without
        gunicorn or /proc."""
        if self.process is None:
            return None
        try:
            total = _proc_cpu(self.process.pid, reaped=True)
            for pid in _children(self.process.pid):
                with contextlib.suppress(OSError):  # a worker exiting meanwhile
                    total += _proc_cpu(pid)
        except OSError:
            return None
        return total

    def __exit__(self, *exc) -> None:
        if getattr(self, "access_log", None) is not None:
            self.access_log.unlink(missing_ok=True)
        if self.thread_server is not None:
            self.thread_server.terminate()
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def gunicorn_environment(options: Options, port: int) -> dict[str, str]:
    """The environment gunicorn runs in: config/gunicorn.conf.py reads its settings there.
    Without `web_workers`, WEB_CONCURRENCY is left out, so the config's default applies
    (gunicorn itself refuses an empty value)."""
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_THREADS": str(options.web_threads),
        "LOG_FORMAT": "json",  # the access log's lines carry each request's duration
    }
    env.pop("WEB_CONCURRENCY", None)
    if options.web_workers:
        env["WEB_CONCURRENCY"] = str(options.web_workers)
    return env


def _proc_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: field n of proc(5) is [n - 3]."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _proc_cpu(pid: int, reaped: bool = False) -> float:
    """Seconds of CPU `pid` used (utime + stime), with `reaped` its waited-for children's."""
    fields = _proc_fields(pid)
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_proc_fields(int(entry.name))[1]) == parent:
                    found.append(int(entry.name))
    return found


# --- setup ---------------------------------------------------------------------------------------


def setup(options: Options, sandbox: base.Sandbox, url: str) -> tuple[base.Group, list]:
    """The team, its SMS-Activate account, the keys and one activation per client."""
    import requests

    from api.models import Scope
    from api.services import api_key_create

    membership = base.make_member("Bench gateway")
    group = base.Group(name="gateway", team=membership.team)
    account = base._account(group, "smsactivate", sandbox)
    group.accounts["smsactivate"] = account
    raws = [
        api_key_create(
            membership=membership, name=f"tool {n}", scope=Scope.ORDER, actor=membership.user
        )[1]
        for n in range(max(1, options.keys))
    ]
    clients, session = [], requests.Session()
    prices = json.loads(_get(session, url, {"api_key": raws[0], "action": "getPrices"}))
    pairs = [
        (code, cid)
        for cid, offers in sorted(prices.items())
        for code, offer in sorted(offers.items())
        if offer["count"] > 50
    ][:10]
    for n in range(options.clients):
        raw = raws[n % len(raws)]
        service, country = pairs[n % len(pairs)]
        params = {"api_key": raw, "action": "getNumber", "service": service, "country": country}
        answer = _get(session, url, params)
        if not answer.startswith("ACCESS_NUMBER:"):
            raise RuntimeError(f"getNumber answered {answer!r} for client {n}.")
        clients.append((raw, answer.split(":")[1]))
    account.rate_limit_requests = None  # back to the provider's published limit
    account.save(update_fields=["rate_limit_requests"])
    return group, clients


def _get(session, url: str, params: dict) -> str:
    for _attempt in range(20):
        response = session.get(f"{url}/api/handler_api.php", params=params, timeout=30)
        if response.status_code != 429:
            return response.text
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response.text


# --- the windows ---------------------------------------------------------------------------------


def upstream_counts(sandbox: base.Sandbox) -> dict[str, int]:
    """The sandbox's requests so far, per SMS-Activate action (all keys)."""
    snapshot = sandbox.control("GET", "/stats")["requests"].get("smsactivate", {})
    counts: dict[str, int] = {}
    for per_endpoint in snapshot.values():
        for endpoint, entry in per_endpoint.items():
            counts[endpoint] = counts.get(endpoint, 0) + entry["requests"]
    return counts


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    keys = set(before) | set(after)
    return {
        k: after.get(k, 0) - before.get(k, 0)
        for k in sorted(keys)
        if after.get(k, 0) - before.get(k, 0)
    }


def window(
    sandbox: base.Sandbox,
    seconds: float,
    clients=None,
    url="",
    interval=1.0,
    processes=2,
    server_cpu=None,
) -> dict:
    """Count the sandbox's requests over `seconds`, with `clients` polling meanwhile;
    with `server_cpu` (a function: the web server's CPU seconds so far), its CPU time
    over the window too."""
    polling = Polling(url, clients, seconds, interval, processes) if clients else None
    before = upstream_counts(sandbox)
    cpu_before = server_cpu() if server_cpu else None
    started = time.monotonic()
    if polling:
        polling.start()
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    per_action = _delta(before, upstream_counts(sandbox))
    elapsed = time.monotonic() - started
    finished = polling.finish() if polling else None
    cpu_after = server_cpu() if server_cpu else None
    return {
        "seconds": round(elapsed, 2),
        "upstream_requests": sum(per_action.values()),
        "upstream_per_action": per_action,
        "clients": finished,
        "server_cpu_seconds": (
            round(cpu_after - cpu_before, 2) if None not in (cpu_before, cpu_after) else None
        ),
    }


class Polling:
    """Each client polls getStatus for its activation every `interval` s until the
    window ends, on its own keep-alive connection; latencies measured at the client.

    The clients run in `processes` child processes (threads within each), so their own
    Python work does not queue behind the engine's threads in this process."""

    def __init__(self, url: str, clients: list, seconds: float, interval: float, processes=2):
        self.url, self.clients, self.seconds, self.interval = url, clients, seconds, interval
        self.processes = max(1, min(processes, len(clients)))
        self.children: list = []

    def start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.results = context.Queue()
        deadline = time.time() + self.seconds
        for p in range(self.processes):
            chunk = list(enumerate(self.clients))[p :: self.processes]
            child = context.Process(
                target=_poll_chunk,
                args=(self.url, chunk, len(self.clients), deadline, self.interval, self.results),
                daemon=True,
            )
            child.start()
            self.children.append(child)

    def finish(self) -> dict[str, Any]:
        every: list[float] = []
        totals: dict[str, int] = {}
        for _ in self.children:
            latencies, answers = self.results.get(timeout=self.seconds + 60)
            every += latencies
            for kind, count in answers.items():
                totals[kind] = totals.get(kind, 0) + count
        for child in self.children:
            child.join(10)
        every.sort()
        return {
            "calls": len(every),
            "calls_per_second": round(len(every) / self.seconds, 1),
            "answers": totals,
            "latency_ms": {
                "p50": _pct(every, 50),
                "p95": _pct(every, 95),
                "p99": _pct(every, 99),
                "max": round(every[-1], 2) if every else None,
            },
        }


def _poll_chunk(url: str, chunk: list, total: int, deadline: float, interval: float, out):
    """A child process: one thread per client of `chunk`; puts (latencies, answers)."""
    latencies: list[float] = []
    answers: dict[str, int] = {}
    lock = threading.Lock()

    def client(n: int, raw: str, activation: str) -> None:
        # http.client, not requests: the clients share two cores with the server, so
        # they should spend as little of them as a compiled tool would.
        from http.client import HTTPConnection
        from urllib.parse import urlencode, urlsplit

        where = urlsplit(url)
        connection = HTTPConnection(where.hostname, where.port, timeout=10)
        query = urlencode({"api_key": raw, "action": "getStatus", "id": activation})
        path = f"/api/handler_api.php?{query}"
        # Spread the clients over the first interval, as independent tools would be.
        next_call = time.time() + interval * n / total
        while next_call < deadline:
            time.sleep(max(0.0, next_call - time.time()))
            began = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read().decode()
                kind = f"{response.status} {body.split(':')[0]}"
            except Exception as exc:  # counted, not fatal: the figures show it
                connection.close()
                kind = f"error {type(exc).__name__}"
            took = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(took)
                answers[kind] = answers.get(kind, 0) + 1
            next_call += interval
            if next_call < time.time():  # a slow answer: the missed polls are not made up
                next_call = time.time()

    threads = [
        threading.Thread(target=client, args=(n, raw, act), daemon=True) for n, (raw, act) in chunk
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.time()) + 30)
    out.put((latencies, answers))


def _pct(ordered: list[float], p: float) -> float | None:
    if not ordered:
        return None
    index = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return round(ordered[index], 2)


# --- the run -------------------------------------------------------------------------------------


def run(options: Options, command: str = "python -m bench --gateway") -> dict[str, Any]:
    """The whole benchmark; needs a configured Django with a migrated database."""
    from django.test.utils import override_settings

    started, load = time.time(), os.getloadavg()
    sandbox_options = base.Options(time_scale=1, seed=options.seed, sandbox=options.sandbox)
    with (
        override_settings(SYNC_AUTOSTART=False),
        base.sandbox_running(sandbox_options) as sandbox,
        WebServer(options) as web,
    ):
        sandbox.control("POST", "/config", {"rate_limits_enabled": False})
        base._say(f"buying {options.clients} activations through the gateway")
        group, clients = setup(options, sandbox, web.url)
        base._reset_budgets(sandbox)  # forget the setup's requests (provider and key budgets)
        stop = threading.Event()
        base.start_pollers(group, stop)
        try:
            time.sleep(options.warm_up)
            base._say(f"window without clients: {options.seconds:g} s")
            quiet = window(sandbox, options.seconds)
            base._say(f"window with {options.clients} clients polling getStatus")
            busy = window(
                sandbox,
                options.seconds,
                clients,
                web.url,
                options.interval,
                options.processes,
                server_cpu=web.cpu_seconds,
            )
        finally:
            base.stop_pollers(group, stop)
        served = web.server_times("getStatus")
        cost = cpu_per_call(clients)
    if busy["clients"]:
        busy["clients"]["server_ms"] = {
            "requests": len(served),
            "p50": _pct(served, 50),
            "p95": _pct(served, 95),
            "p99": _pct(served, 99),
        }
        # Every getStatus of the run is one of the window's (the setup buys and reads
        # prices only), so this is what one served call cost gunicorn, queueing aside:
        # Django, gunicorn's own HTTP and logging, and the system calls of every round trip.
        cpu = busy["server_cpu_seconds"]
        busy["clients"]["server_cpu_ms_per_call"] = (
            round(cpu * 1000 / len(served), 2) if cpu is not None and served else None
        )
    results = {
        "cpu_per_call": cost,
        "meta": {
            **base.machine(command, base.Options(), started, load),
            "options": asdict(options),
        },
        "without_clients": quiet,
        "with_clients": busy,
    }
    results["targets"] = targets(results)
    return results


def cpu_per_call(clients: list, calls: int = 500) -> dict[str, float]:
    """What one getStatus costs the server in CPU, apart from any queueing: `calls`
    requests through Django's WSGI handler in this process, as gunicorn calls it (the
    request signals, so the connection checks, then middleware, view and queries), CPU
    time and wall time per call, and the SQL statements of one call (Django's connection
    health check, when it runs, is one more round trip that no statement count shows).
    Robust to other work on the machine, unlike the latencies."""
    from urllib.parse import urlencode

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import override_settings

    raw, activation = clients[0]
    query = urlencode({"api_key": raw, "action": "getStatus", "id": activation})
    handler = WSGIHandler()

    def call() -> None:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/handler_api.php",
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "http",
        }
        response = handler(environ, lambda status, headers: None)
        b"".join(response)
        response.close()  # request_finished, as gunicorn does

    def counted(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    statements: list[str] = []
    with override_settings(API_KEY_RATE_LIMIT=10**9):
        call()  # warm
        with connection.execute_wrapper(counted):
            call()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            call()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "calls": calls,
        "cpu_ms": round(cpu * 1000 / calls, 2),
        "wall_ms": round(wall * 1000 / calls, 2),
        "statements": len(statements),
    }


def targets(results: dict) -> list[dict[str, Any]]:
    busy, quiet = results["with_clients"], results["without_clients"]
    clients = results["meta"]["options"]["clients"]
    p95 = busy["clients"]["latency_ms"]["p95"]
    extra = busy["upstream_requests"] - quiet["upstream_requests"]
    status_upstream = busy["upstream_per_action"].get("getStatus", 0)
    return [
        {
            "target": f"getStatus p95 ≤ {TARGET_P95_MS:g} ms at {clients} clients",
            "value": p95,
            "met": p95 is not None and p95 <= TARGET_P95_MS,
        },
        {
            "target": "no getStatus reaches the provider",
            "value": status_upstream,
            "met": status_upstream == 0,
        },
        {
            "target": "upstream requests with clients − without (engine only)",
            "value": extra,
            # The engine's own polling varies by a cycle or two between equal windows.
            "met": abs(extra) <= max(3, quiet["upstream_requests"] // 10),
        },
    ]


def format_table(results: dict) -> str:
    busy, quiet = results["with_clients"], results["without_clients"]
    lat = busy["clients"]["latency_ms"]
    lines = [
        "| window | seconds | client calls | calls/s | p50 ms | p95 ms | p99 ms | max ms "
        "| upstream requests | upstream per action |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| no clients | {quiet['seconds']} | 0 | 0 | — | — | — | — "
        f"| {quiet['upstream_requests']} | {quiet['upstream_per_action']} |",
        f"| {results['meta']['options']['clients']} clients | {busy['seconds']} "
        f"| {busy['clients']['calls']} | {busy['clients']['calls_per_second']} "
        f"| {lat['p50']} | {lat['p95']} | {lat['p99']} | {lat['max']} "
        f"| {busy['upstream_requests']} | {busy['upstream_per_action']} |",
        "",
        f"answers: {busy['clients']['answers']}",
        f"server time (gunicorn's own, ms): {busy['clients'].get('server_ms')}",
        f"gunicorn CPU per served call (ms, /proc): "
        f"{busy['clients'].get('server_cpu_ms_per_call')}",
        f"one getStatus in process (CPU and wall ms per call): {results.get('cpu_per_call')}",
        "",
    ]
    for target in results["targets"]:
        mark = "met" if target["met"] else "NOT MET"
        lines.append(f"- {target['target']}: {target['value']} ({mark})")
    return "\n".join(lines)
