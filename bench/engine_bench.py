"""Benchmark the engine against a hand-written FastAPI + sqlite3 app (``bench/baseline_app.py``).

Not a test. Both serve the same single entity (``bench/item.yaml``) under the same uvicorn settings
(h11, asyncio loop, one worker, no access log) on loopback, and take the same mixed load from a small
raw-socket HTTP/1.1 client (keep-alive, N connections): 20 % creates, 60 % reads by id, 20 % list
pages of 20. A raw client keeps the load generator's own CPU cost low on a 2-core machine, so the
ratio reflects the servers. Rounds alternate between the apps to spread out noise from other work on
the machine; the median round is reported. Also measured for the engine: cold start (process spawn
to the first 200 from ``/ready``) and resident memory after >= 10k requests.

    .venv/bin/python bench/engine_bench.py [--requests 4000] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "bench" / "item.yaml"
SEED_ITEMS = 200
WARMUP = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    cold_start: float

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=30)


def start(name: str, db: Path) -> Server:
    port = free_port()
    if name == "engine":
        cmd = [
            sys.executable,
            "-m",
            "pim_engine.serve",
            "--model",
            str(MODEL),
            "--db",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        env = dict(os.environ)
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.baseline_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--http",
            "h11",
            "--loop",
            "asyncio",
        ]
        env = {**os.environ, "BASELINE_DB": str(db)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = t0 + 30
    while not probe(port):
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        if time.perf_counter() > deadline:
            proc.kill()
            raise SystemExit(f"{name} not ready in 30 s")
        time.sleep(0.005)
    return Server(name, proc, port, time.perf_counter() - t0)


# --- load ----------------------------------------------------------------------------------------

Request = tuple[bytes, bool]  # raw request bytes, expects a 2xx


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
        "quantity": rng.randrange(1000),
        "price": f"{rng.randrange(10**5)}.{rng.randrange(100):02d}",
    }


def workload(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.2:
            out.append(_request("POST", "/api/v1/items", item_body(rng)))
        elif roll < 0.8:
            out.append(_request("GET", f"/api/v1/items/{rng.randrange(1, SEED_ITEMS + 1)}"))
        else:
            out.append(_request("GET", f"/api/v1/items?skip={rng.randrange(0, SEED_ITEMS)}&limit=20"))
    return out


async def _connection(port: int, requests: list[bytes], latencies: list[float], failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            t0 = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not 200 <= status < 300:
                failures.append(status)
    finally:
        writer.close()


async def drive(port: int, requests: list[bytes], concurrency: int) -> dict:
    latencies: list[float] = []
    failures: list[int] = []
    slices = [requests[i::concurrency] for i in range(concurrency)]
    t0 = time.perf_counter()
    await asyncio.gather(*(_connection(port, s, latencies, failures) for s in slices))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "requests": len(requests),
        "rps": len(requests) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failures": len(failures),
    }


def seed(port: int) -> None:
    rng = random.Random(0)
    asyncio.run(drive(port, [_request("POST", "/api/v1/items", item_body(rng)) for _ in range(SEED_ITEMS)], 4))


# --- main ----------------------------------------------------------------------------------------


def cold_starts(tmp: Path, times: int) -> dict:
    fresh, existing, baseline = [], [], []
    for i in range(times):
        db = tmp / f"cold-{i}.db"
        server = start("engine", db)
        fresh.append(server.cold_start)
        server.stop()
        server = start("engine", db)
        existing.append(server.cold_start)
        server.stop()
        server = start("baseline", tmp / f"cold-base-{i}.db")
        baseline.append(server.cold_start)
        server.stop()
    return {"engine_fresh_db": fresh, "engine_existing_db": existing, "baseline": baseline}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per app per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--cold-starts", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cold = cold_starts(tmp, args.cold_starts)
        servers = {name: start(name, tmp / f"{name}.db") for name in ("engine", "baseline")}
        served = dict.fromkeys(servers, 0)
        try:
            for name, server in servers.items():
                seed(server.port)
                asyncio.run(drive(server.port, workload(WARMUP, 1), args.concurrency))
                served[name] += SEED_ITEMS + WARMUP
            rounds: dict[str, list[dict]] = {name: [] for name in servers}
            for r in range(args.rounds):
                for name, server in servers.items():
                    result = asyncio.run(drive(server.port, workload(args.requests, 100 + r), args.concurrency))
                    served[name] += args.requests
                    rounds[name].append(result)
            extra = max(0, 10_000 - served["engine"])
            if extra:
                asyncio.run(drive(servers["engine"].port, workload(extra, 7), args.concurrency))
                served["engine"] += extra
            rss = {name: s.rss_mb() for name, s in servers.items()}
        finally:
            exits = {name: s.stop() for name, s in servers.items()}

    def median_round(results: list[dict]) -> dict:
        return sorted(results, key=lambda x: x["rps"])[len(results) // 2]

    engine, baseline = median_round(rounds["engine"]), median_round(rounds["baseline"])
    report = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load avg {load_before:.2f} before / {os.getloadavg()[0]:.2f} after",
        "args": vars(args),
        "rounds": rounds,
        "engine": engine,
        "baseline": baseline,
        "throughput_ratio": engine["rps"] / baseline["rps"],
        "cold_start_s": {k: statistics.median(v) for k, v in cold.items()},
        "cold_start_all_s": cold,
        "rss_mb": rss,
        "requests_served": served,
        "engine_exit_code": exits["engine"],
    }
    print(json.dumps(report, indent=2))
    print()
    print(f"{'app':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failures':>8}")
    for name, res in (("engine", engine), ("baseline", baseline)):
        print(f"{name:10} {res['rps']:8.0f} {res['p50_ms']:8.2f} {res['p99_ms']:8.2f} {res['failures']:8}")
    print(f"throughput ratio engine/baseline: {report['throughput_ratio']:.2f}x (target >= 1.0x, stretch 1.2x)")
    cs = report["cold_start_s"]
    print(
        f"engine cold start to /ready: {cs['engine_fresh_db']:.3f} s fresh db, "
        f"{cs['engine_existing_db']:.3f} s existing db (target < 0.5 s); baseline {cs['baseline']:.3f} s"
    )
    print(
        f"engine RSS after {served['engine']} requests: {rss['engine']:.1f} MB (target <= 60 MB); "
        f"baseline {rss['baseline']:.1f} MB"
    )


if __name__ == "__main__":
    main()
