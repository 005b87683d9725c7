"""The operator under benchmark: a real ``python -m pim_operator`` process, its /metrics and its /proc.

Resource figures come from the kernel (VmRSS, the VmHWM peak, utime + stime), not from the
process's own metrics, so sampling never depends on the operator answering in time.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.operator_proc import OperatorProcess as TestOperatorProcess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Metrics:
    """One scrape of the operator's /metrics, summed over label subsets on demand."""

    def __init__(self, text: str) -> None:
        self.samples = [
            (s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples
        ]

    def total(self, name: str, **labels: str) -> float:
        return sum(
            v for n, lab, v in self.samples if n == name and all(lab.get(k) == want for k, want in labels.items())
        )

    def requests(self) -> float:
        return self.total("pim_operator_api_requests_total")

    def writes(self) -> float:
        """Writes to the API, the leader lease's renewals left out (the operator counts them apart)."""
        return self.total("pim_operator_api_writes_total")

    def requests_by(self) -> dict[str, float]:
        """``"VERB kind"`` -> count: where the requests went."""
        out: dict[str, float] = defaultdict(float)
        for n, lab, v in self.samples:
            if n == "pim_operator_api_requests_total":
                out[f"{lab['verb']} {lab['kind']}"] += v
        return dict(out)


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


class OperatorProcess(TestOperatorProcess):
    """The tests' operator process, plus the kernel's view of its memory and CPU."""

    def __init__(self, kubeconfig: Path, log_dir: Path, *args: str) -> None:
        super().__init__(kubeconfig, log_dir, "--log-format", "json", *args)
        self.peak_rss = 0  # bytes, the largest VmRSS sampled
        self.peak_hwm = 0  # bytes, the kernel's own high-water mark
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> int | None:
        self.stop_sampling()
        return super().stop()

    def metrics(self) -> Metrics:
        return Metrics(self.metrics_text())

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far (fields 14 and 15 of /proc/PID/stat)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in bytes."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
        return values["VmRSS"], values["VmHWM"]

    def start_sampling(self, interval: float = 0.25) -> None:
        self._sampling.clear()

        def sample() -> None:
            while not self._sampling.wait(interval):
                try:
                    rss, hwm = self.memory()
                except (OSError, KeyError):
                    return
                self.peak_rss = max(self.peak_rss, rss)
                self.peak_hwm = max(self.peak_hwm, hwm)

        self._sampler = threading.Thread(target=sample, daemon=True, name="rss sampler")
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._sampling.set()
        if self._sampler is not None:
            self._sampler.join(timeout=5)
            self._sampler = None
