"""hack/ci/count.py, CI's closing lines: the counts by suite, and the end of each failure's report
(what a reader of only the log's last screen needs to see why a run failed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
COUNT = Path(__file__).resolve().parents[2] / "hack" / "ci" / "count.py"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.unit.test_a" name="test_ok"/>
  <testcase classname="tests.e2e.test_b" name="test_skip"><skipped message="kind only"/></testcase>
  <testcase classname="tests.e2e.test_node_faults" name="test_restart">
    <failure message="ClusterError">{body}</failure>
  </testcase>
</testsuite></testsuites>
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(COUNT), *args], capture_output=True, text=True, check=False)


def test_counts_by_suite_and_fails_when_a_test_failed(tmp_path: Path) -> None:
    xml = tmp_path / "junit.xml"
    xml.write_text(JUNIT.format(body="E boom"))
    result = run(str(xml), str(tmp_path / "missing.xml"))
    assert result.returncode == 1
    assert "1 passed, 1 failed, 1 skipped" in result.stdout
    assert "e2e        passed    0  failed   1  skipped   1" in result.stdout


def test_failures_print_the_end_of_each_report(tmp_path: Path) -> None:
    body = "\n".join(f"line {i}" for i in range(100)) + "\nE   ClusterError: the --between command exited 1"
    xml = tmp_path / "junit.xml"
    xml.write_text(JUNIT.format(body=body))
    result = run("--failures", str(xml))
    assert result.returncode == 1
    assert "--- failure: tests.e2e.test_node_faults::test_restart" in result.stdout
    assert "E   ClusterError: the --between command exited 1" in result.stdout
    assert "line 99" in result.stdout
    assert "  line 70\n" not in result.stdout  # only the last 30 lines


def test_no_failures_no_report(tmp_path: Path) -> None:
    result = run("--failures", str(tmp_path / "none.xml"))
    assert (result.returncode, result.stdout) == (0, "")
