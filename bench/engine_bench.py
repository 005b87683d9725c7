"""Benchmark the engine against a hand-written FastAPI + sqlite3 app and against PocketBase.

Not a test. Three servers take the same load, one at a time, each pinned to one core with
``taskset`` (the load generator gets the other core):

* ``engine``: ``pim-engine serve`` on ``bench/item.yaml``;
* ``baseline``: ``bench/baseline_app.py``, FastAPI + sqlite3 for the same entity, with the same
  durability (WAL, ``synchronous=NORMAL``);
* ``pocketbase`` (Go, SQLite, generated CRUD REST; built by ``bench/pocketbase.sh``), run with
  ``--dev=false`` and ``GOMAXPROCS=1``, with its defaults and again with its request log off
  (``logs.maxDays = 0``).

Load: a small raw-socket HTTP/1.1 client (keep-alive, N connections): 20 % creates, 60 % reads by
id, 20 % list pages of 20. A raw client keeps the load generator's own CPU cost low on a 2-core
machine, so the ratios reflect the servers. Rounds alternate between the servers to spread out noise
from other work on the machine. Reported: the median round, the median of per-round ratios (the
servers run back to back within a round), and each server's CPU time per request (user + system,
all threads), which contention on a shared machine does not inflate the way it inflates wall-clock
throughput; with the load averages. Also measured for the engine: cold start (process spawn to the
first 200 from ``/ready``, wall clock and CPU) and resident memory after at least 10k requests.

    .venv/bin/python -m bench.engine_bench [--requests 2000] [--rounds 7] [--concurrency 16] [--no-pocketbase]

With ``--backend postgresql`` the engine runs on PostgreSQL (``--database-url``) against
``bench/baseline_pg_app.py`` (FastAPI + asyncpg), both on one throwaway PostgreSQL server
(``tests/support/postgres.py``: Debian's binaries, commits acknowledged before the WAL reaches the
disk as with SQLite's ``synchronous=NORMAL``), each on a database of its own; PocketBase stays out.
The server is pinned to the servers' core: an app and the database work it causes share one core,
the load generator has the other. Also reported: the database's CPU time per request (postmaster
and backends), and the sum of both, which is what a request costs the system under test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.engine_load import CLIENT_CPU, drive, drive_wrk
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "bench" / "item.yaml"
SEED_ITEMS = 200
WARMUP = 500
SERVER_CPU = "1"
PB_USER, PB_PASSWORD = "bench@example.org", "bench-password-123"


#: Niceness of the servers and the load generator (``--nice``); 0 leaves them as any process.
NICE = 0


def pinned(cmd: list[str]) -> list[str]:
    """``cmd`` pinned to the server core when the machine has two or more, at the chosen niceness."""
    if NICE:
        cmd = ["nice", "-n", str(NICE), *cmd]
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", SERVER_CPU, *cmd]
    return cmd


def probe(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@dataclass
class Server:
    """One running server and how its API spells the three requests of the workload."""

    name: str
    proc: subprocess.Popen
    port: int
    cold_start: float
    create_path: str
    item_path: Callable[[str], str]
    list_path: Callable[[int, int], str]
    headers: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server process so far (all its threads)."""
        return cpu_seconds(self.proc.pid)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(name: str, proc: subprocess.Popen, port: int, path: str, t0: float) -> float:
    deadline = t0 + 60
    while not probe(port, path):
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        if time.perf_counter() > deadline:
            proc.kill()
            raise SystemExit(f"{name} not ready in 60 s")
        time.sleep(0.005)
    return time.perf_counter() - t0


def _rest(name: str, proc: subprocess.Popen, port: int, cold: float) -> Server:
    return Server(
        name,
        proc,
        port,
        cold,
        "/api/v1/items",
        lambda i: f"/api/v1/items/{i}",
        lambda skip, limit: f"/api/v1/items?skip={skip}&limit={limit}",
    )


def start_engine(db: Path | str) -> Server:
    """The engine over an SQLite file (a path) or a PostgreSQL database (a URL)."""
    port = free_port()
    where = ["--database-url", db] if isinstance(db, str) else ["--db", str(db)]
    cmd = [sys.executable, "-m", "pim_engine.serve", "--model", str(MODEL), *where]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(pinned(cmd), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return _rest("engine", proc, port, _wait("engine", proc, port, "/ready", t0))


def start_baseline(db: Path | str) -> Server:
    """FastAPI + sqlite3 over a file (a path), or FastAPI + asyncpg over a PostgreSQL database (a URL)."""
    port = free_port()
    app = "bench.baseline_pg_app:app" if isinstance(db, str) else "bench.baseline_app:app"
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", "--http", "auto", "--loop", "auto"]
    env = {**os.environ, "BASELINE_PG_URL" if isinstance(db, str) else "BASELINE_DB": str(db)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(pinned(cmd), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return _rest("baseline", proc, port, _wait("baseline", proc, port, "/ready", t0))


def _pb_call(port: int, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = token
    conn.request(method, path, json.dumps(body).encode() if body is not None else None, headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        raise SystemExit(f"pocketbase {method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data else {}


def start_pocketbase(binary: Path, data_dir: Path, *, request_log: bool) -> Server:
    """PocketBase with a collection like bench/item.yaml's ``Item``, open to anonymous CRUD.

    Each instance needs a parent directory of its own: PocketBase keeps its automatic migrations
    beside the data directory (``pb_data/../pb_migrations``) and replays them at start-up.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(binary), "superuser", "upsert", PB_USER, PB_PASSWORD, "--dir", str(data_dir)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    cmd = [str(binary), "serve", "--http", f"127.0.0.1:{port}", "--dir", str(data_dir), "--dev=false"]
    env = {**os.environ, "GOMAXPROCS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(pinned(cmd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cold = _wait("pocketbase", proc, port, "/api/health", t0)
    auth = {"identity": PB_USER, "password": PB_PASSWORD}
    token = _pb_call(port, "POST", "/api/collections/_superusers/auth-with-password", auth)["token"]
    collection = {
        "name": "benchitems",
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "createRule": "",
        "fields": [
            {"name": "name", "type": "text", "required": True, "max": 100},
            {"name": "quantity", "type": "number", "onlyInt": True},
            {"name": "price", "type": "text", "required": True},
            {"name": "active", "type": "bool"},
        ],
    }
    _pb_call(port, "POST", "/api/collections", collection, token)
    if not request_log:
        _pb_call(port, "PATCH", "/api/settings", {"logs": {"maxDays": 0}}, token)
    name = "pocketbase" if request_log else "pocketbase-nolog"
    return Server(
        name,
        proc,
        port,
        cold,
        "/api/collections/benchitems/records",
        lambda i: f"/api/collections/benchitems/records/{i}",
        lambda skip, limit: f"/api/collections/benchitems/records?page={skip // limit + 1}&perPage={limit}",
    )


# --- load ----------------------------------------------------------------------------------------


def _request(method: str, path: str, body: dict | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload


def item_body(rng: random.Random) -> dict:
    return {
        "name": f"item-{rng.randrange(10**6)}",
        "quantity": rng.randrange(1, 1000),
        "price": f"{rng.randrange(10**5)}.{rng.randrange(100):02d}",
        "active": rng.random() < 0.5,
    }


def workload(server: Server, n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.2:
            out.append(_request("POST", server.create_path, item_body(rng)))
        elif roll < 0.8:
            out.append(_request("GET", server.item_path(server.ids[rng.randrange(len(server.ids))])))
        else:
            out.append(_request("GET", server.list_path(rng.randrange(0, SEED_ITEMS - 20) // 20 * 20, 20)))
    return out


def seed(server: Server) -> None:
    """Create the seed items one by one and remember their ids (PocketBase's are strings)."""
    rng = random.Random(0)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for _ in range(SEED_ITEMS):
        conn.request("POST", server.create_path, json.dumps(item_body(rng)), {"content-type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 201 and response.status != 200:
            raise SystemExit(f"{server.name}: seeding failed with {response.status}: {data[:200]!r}")
        server.ids.append(str(json.loads(data)["id"]))
    conn.close()


# --- main ----------------------------------------------------------------------------------------


def cold_starts(new_db: Callable[[str], Path | str], times: int) -> dict:
    """Spawn to the first 200 from /ready (wall clock), and the CPU the process used to get there."""
    out: dict[str, list[float]] = {k: [] for k in ("engine_fresh_db", "engine_existing_db", "baseline")}
    cpu: dict[str, list[float]] = {k: [] for k in out}
    for i in range(times):
        db = new_db(f"cold{i}")
        for key, start in (
            ("engine_fresh_db", lambda db=db: start_engine(db)),
            ("engine_existing_db", lambda db=db: start_engine(db)),
            ("baseline", lambda i=i: start_baseline(new_db(f"coldbase{i}"))),
        ):
            server = start()
            out[key].append(server.cold_start)
            cpu[key].append(server.cpu_seconds())
            server.stop()
    return {"wall": out, "cpu": cpu}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per server per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--no-pocketbase", action="store_true", help="leave PocketBase out")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run servers and load generator at this niceness (negative needs root): on a machine"
        " shared with other work, gives each server its core instead of a scheduler's share of it",
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (C; the default when installed) or the built-in Python client",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a wrk round")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    global NICE
    NICE = args.nice
    if NICE:
        os.nice(NICE)
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {CLIENT_CPU})
    load_before = loadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    with tempfile.TemporaryDirectory() as tmp_name, contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        new_db: Callable[[str], Path | str] = lambda name: tmp / f"{name}.db"  # noqa: E731
        db_cpu: Callable[[], float] = lambda: 0.0  # noqa: E731
        if args.backend == "postgresql":
            from tests.support.postgres import PostgresServer

            pg = stack.enter_context(
                PostgresServer(settings={"fsync": "on", "full_page_writes": "on"}, cpus=SERVER_CPU)
            )
            new_db = lambda name: pg.url(pg.create_database(name))  # noqa: E731
            db_cpu = pg.cpu_seconds
        cold = cold_starts(new_db, args.cold_starts)
        servers = {"engine": start_engine(new_db("engine")), "baseline": start_baseline(new_db("baseline"))}
        if not args.no_pocketbase and args.backend == "sqlite":
            binary = Path(
                subprocess.run([str(ROOT / "bench" / "pocketbase.sh")], check=True, capture_output=True, text=True)
                .stdout.strip()
                .splitlines()[-1]
            )
            servers["pocketbase"] = start_pocketbase(binary, tmp / "pb" / "pb_data", request_log=True)
            servers["pocketbase-nolog"] = start_pocketbase(binary, tmp / "pb-nolog" / "pb_data", request_log=False)
        served = dict.fromkeys(servers, 0)
        try:
            for name, server in servers.items():
                seed(server)
                asyncio.run(drive(server.port, workload(server, WARMUP, 1), args.concurrency))
                served[name] += SEED_ITEMS + WARMUP
            rounds: dict[str, list[dict]] = {name: [] for name in servers}
            for r in range(args.rounds):
                for name, server in servers.items():
                    cpu_before, db_before = server.cpu_seconds(), db_cpu()
                    requests = workload(server, args.requests, 100 + r)
                    if client == "wrk":
                        result = drive_wrk(name, server.port, requests, args.concurrency, args.seconds, tmp)
                    else:
                        result = asyncio.run(drive(server.port, requests, args.concurrency))
                    result["cpu_us_per_request"] = (server.cpu_seconds() - cpu_before) / result["requests"] * 1e6
                    result["db_cpu_us_per_request"] = (db_cpu() - db_before) / result["requests"] * 1e6
                    served[name] += result["requests"]
                    rounds[name].append(result)
            extra = max(0, 10_000 - served["engine"])
            if extra:
                asyncio.run(drive(servers["engine"].port, workload(servers["engine"], extra, 7), args.concurrency))
                served["engine"] += extra
            rss = {name: s.rss_mb() for name, s in servers.items()}
        finally:
            exits = {name: s.stop() for name, s in servers.items()}

    def median_round(results: list[dict]) -> dict:
        return sorted(results, key=lambda x: x["rps"])[len(results) // 2]

    medians = {name: median_round(rs) for name, rs in rounds.items()}
    cpu_per_request = {name: statistics.median(r["cpu_us_per_request"] for r in rs) for name, rs in rounds.items()}
    db_cpu_per_request = {n: statistics.median(r["db_cpu_us_per_request"] for r in rs) for n, rs in rounds.items()}
    total_cpu = {
        n: statistics.median(r["cpu_us_per_request"] + r["db_cpu_us_per_request"] for r in rs)
        for n, rs in rounds.items()
    }
    engine = medians["engine"]
    report = {
        "started": started,
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_avg_1_5_15": {"before": load_before, "after": loadavg()},
        "pinning": f"servers on cpu {SERVER_CPU}, load generator on cpu {CLIENT_CPU}",
        "client": client,
        "args": vars(args),
        "rounds": rounds,
        "median": medians,
        "ratios": {name: engine["rps"] / m["rps"] for name, m in medians.items() if name != "engine"},
        # each round runs the servers back to back: a per-round ratio compares neighbours in time
        "paired_ratios": {
            name: statistics.median(e["rps"] / x["rps"] for e, x in zip(rounds["engine"], rs, strict=True))
            for name, rs in rounds.items()
            if name != "engine"
        },
        "cpu_us_per_request": cpu_per_request,
        "cpu_ratios": {n: cpu_per_request[n] / cpu_per_request["engine"] for n in medians if n != "engine"},
        "db_cpu_us_per_request": db_cpu_per_request,
        "app_plus_db_cpu_us_per_request": total_cpu,
        "cold_start_s": {k: statistics.median(v) for k, v in cold["wall"].items()},
        "cold_start_cpu_s": {k: statistics.median(v) for k, v in cold["cpu"].items()},
        "cold_start_all_s": cold,
        "rss_mb": rss,
        "requests_served": served,
        "engine_exit_code": exits["engine"],
    }
    print(json.dumps(report, indent=2))
    print()
    print(
        f"load average (1/5/15 min): {load_before} before, {report['load_avg_1_5_15']['after']} after; client {client}"
    )
    print(
        f"{'server':18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failures':>8} {'engine/x':>9}"
        f" {'CPU us/req':>11} {'x/engine CPU':>13} {'DB CPU us/req':>14} {'app+DB x/engine':>16}"
    )
    for name, res in medians.items():
        ratio = engine["rps"] / res["rps"]
        cpu = cpu_per_request[name]
        ratio = report["paired_ratios"].get(name, 1.0)
        print(
            f"{name:18} {res['rps']:8.0f} {res['p50_ms']:8.2f} {res['p99_ms']:8.2f} {res['failures']:8} {ratio:8.2f}x"
            f" {cpu:11.0f} {cpu / cpu_per_request['engine']:12.2f}x {db_cpu_per_request[name]:14.0f}"
            f" {total_cpu[name] / total_cpu['engine']:15.2f}x"
        )
    cs, cc = report["cold_start_s"], report["cold_start_cpu_s"]
    print(
        f"engine cold start to /ready: {cs['engine_fresh_db']:.3f} s fresh db, "
        f"{cs['engine_existing_db']:.3f} s existing db (target <= 1.0 s); baseline {cs['baseline']:.3f} s; "
        f"CPU to ready {cc['engine_fresh_db']:.3f} / {cc['engine_existing_db']:.3f} s (baseline {cc['baseline']:.3f} s)"
    )
    print(
        f"engine RSS after {served['engine']} requests: {rss['engine']:.1f} MB (target <= 60 MB); "
        f"baseline {rss['baseline']:.1f} MB"
    )


if __name__ == "__main__":
    main()
