"""What the console's relay costs: the engine's own mixed load, direct and through the relay.

Not a test. One engine (``pim-engine serve``, bench/item.yaml) and the console's relay in front of it
(bench/console_relay_app.py: ``pim_console.proxy.Proxy`` under uvicorn, its defaults). The same load
as bench/engine_bench.py (its raw-socket client: 20 % creates, 60 % reads, 20 % list pages) goes to
the engine directly and through the relay, rounds alternating; the median round of each is reported
with the ratio. On 2 cores the relay, the engine and the load generator share the CPU, as they would
not in a cluster: read the ratio as an upper bound of the cost.

    .venv/bin/python -m bench.console_bench [--requests 3000] [--rounds 3] [--concurrency 16]
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

from bench.engine_bench import ROOT, Server, free_port, probe, seed, start_engine, workload
from bench.engine_load import drive


def start_relay(engine: Server) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench.console_relay_app:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "RELAY_TARGET": f"http://127.0.0.1:{engine.port}"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not probe(port, "/ready"):  # relayed to the engine
        if proc.poll() is not None or time.perf_counter() - t0 > 30:
            proc.kill()
            raise SystemExit(f"the relay did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.01)
    # The same API as the engine's, the same seeded rows.
    cold = time.perf_counter() - t0
    return Server("relay", proc, port, cold, engine.create_path, engine.item_path, engine.list_path, ids=engine.ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per target per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        engine = start_engine(Path(tmp) / "engine.db")
        seed(engine)
        relay = start_relay(engine)
        try:
            targets = {"direct": engine, "relayed": relay}
            for server in targets.values():
                asyncio.run(drive(server.port, workload(server, 500, 1), args.concurrency))
            rounds: dict[str, list[dict]] = {name: [] for name in targets}
            for r in range(args.rounds):
                for name, server in targets.items():
                    load = workload(server, args.requests, 100 + r)
                    rounds[name].append(asyncio.run(drive(server.port, load, args.concurrency)))
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
