"""The load generators of ``engine_bench.py``: a raw-socket asyncio client and a wrk driver.

Both replay a fixed list of raw HTTP/1.1 requests over keep-alive connections. wrk (C, one thread)
costs the load core little, so the servers, not the client, set the pace; the Python client needs
nothing installed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

#: The core the load generator runs on (the servers get the other one).
CLIENT_CPU = 0


async def _connection(port: int, requests: list[bytes], latencies: list[float], failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            t0 = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, chunked = 0, False
            for line in head.split(b"\r\n")[1:]:
                lowered = line.lower()
                if lowered[:15] == b"content-length:":
                    length = int(line[15:])
                elif lowered.startswith(b"transfer-encoding:") and b"chunked" in lowered:
                    chunked = True
            if chunked:  # PocketBase streams its JSON
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    await reader.readexactly(size + 2)
                await reader.readuntil(b"\r\n")
            elif length:
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
        "failure_codes": sorted(set(failures))[:5],
    }


def _lua_string(data: str) -> str:
    return '"' + data.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def drive_wrk(name: str, port: int, requests: list[bytes], concurrency: int, seconds: float, script_dir: Path) -> dict:
    """Drive the server on ``port`` with wrk (C, one thread, on the load core) cycling through ``requests``."""
    lines = []
    for raw in requests:
        head, _, body = raw.partition(b"\r\n\r\n")
        method, path = head.split(b" ")[:2]
        payload = _lua_string(body.decode()) if body else "nil"
        lines.append(f"{{{_lua_string(method.decode())}, {_lua_string(path.decode())}, {payload}}},")
    script = script_dir / f"{name}.lua"
    script.write_text(
        "local reqs = {\n" + "\n".join(lines) + "\n}\n"
        "local i = 0\n"
        'local json = {["Content-Type"] = "application/json"}\n'
        "request = function()\n"
        "  i = i % #reqs + 1\n"
        "  local r = reqs[i]\n"
        "  if r[3] then return wrk.format(r[1], r[2], json, r[3]) end\n"
        "  return wrk.format(r[1], r[2])\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %f %d %d %d\\n", summary.requests, summary.duration / 1e6,\n'
        "    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write\n"
        "    + summary.errors.timeout, latency:percentile(50), latency:percentile(99)))\n"
        "end\n"
    )
    cmd = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(CLIENT_CPU), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    done, duration, errors, p50_us, p99_us = line.split()[1:]
    return {
        "requests": int(done),
        "rps": int(done) / float(duration),
        "p50_ms": int(p50_us) / 1000,
        "p99_ms": int(p99_us) / 1000,
        "failures": int(errors),
        "failure_codes": [],
    }
