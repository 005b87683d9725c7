"""What the console's relay costs: the engine's own mixed load, direct and through the relay.

Not a test. One engine (``pim-engine serve``, bench/item.yaml) and the console's relay in front of it
(bench/console_relay_app.py: ``pim_console.proxy.Proxy`` under the same uvicorn settings as the
engine's benchmark). The same load as bench/engine_bench.py (its raw-socket client, 20 % creates,
60 % reads, 20 % list pages) goes to the engine directly and through the relay, rounds alternating;
the median round of each is reported with the ratio. On 2 cores the relay, the engine and the load
generator share the CPU, as they would not in a cluster: read the ratio as an upper bound.

    .venv/bin/python bench/console_bench.py [--requests 3000] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_bench import ROOT, Server, drive, free_port, probe, seed, start, workload


def start_relay(target_port: int) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench.console_relay_app:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", "--http", "h11", "--loop", "asyncio"]
    env = {**os.environ, "RELAY_TARGET": f"http://127.0.0.1:{target_port}"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not probe(port):  # /ready, relayed to the engine
        if proc.poll() is not None or time.perf_counter() - t0 > 30:
            proc.kill()
            raise SystemExit(f"the relay did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.01)
    return Server("relay", proc, port, time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per target per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        engine = start("engine", Path(tmp) / "engine.db")
        relay = start_relay(engine.port)
        try:
            seed(engine.port)
            targets = {"direct": engine.port, "relayed": relay.port}
            for port in targets.values():
                asyncio.run(drive(port, workload(500, 1), args.concurrency))
            rounds: dict[str, list[dict]] = {name: [] for name in targets}
            for r in range(args.rounds):
                for name, port in targets.items():
                    rounds[name].append(asyncio.run(drive(port, workload(args.requests, 100 + r), args.concurrency)))
            rss = {"engine": engine.rss_mb(), "relay": relay.rss_mb()}
        finally:
            relay.stop()
            engine.stop()
    median = {name: sorted(rs, key=lambda x: x["rps"])[len(rs) // 2] for name, rs in rounds.items()}
    result = {
        "median_round": median,
        "relayed_over_direct_rps": round(median["relayed"]["rps"] / median["direct"]["rps"], 3),
        "added_p50_ms": round(median["relayed"]["p50_ms"] - median["direct"]["p50_ms"], 2),
        "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "failures": {name: sum(r["failures"] for r in rs) for name, rs in rounds.items()},
        "load_average_before": load_before,
        "settings": vars(args),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
