"""CI's closing lines, from pytest's JUnit XML: how many tests ran, by suite; and, with
``--failures``, the end of each failure's report, so that a failed run's last screen says why it
failed even when only the tail of a long log is read. Missing files are skipped: a phase that
failed early wrote none."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

FAILURE_LINES = 30  # per failure: the assertion, and the tail of any command output it quotes
MAX_FAILURES = 3  # the first failures; later ones are often their consequences


def cases(paths: list[str]) -> Iterator[ET.Element]:
    for path in paths:
        if Path(path).is_file():
            yield from ET.parse(path).getroot().iter("testcase")


def outcome(case: ET.Element) -> str:
    for child in case:
        if child.tag in ("failure", "error"):
            return "failed"
        if child.tag == "skipped":
            return "skipped"
    return "passed"


def counts(paths: list[str]) -> int:
    totals: Counter[str] = Counter()
    for case in cases(paths):
        classname = case.get("classname", "")
        suite = classname.split(".")[1] if "." in classname else "?"
        result = outcome(case)
        totals[f"{suite}:{result}"] += 1
        totals[result] += 1
    suites = sorted({k.split(":")[0] for k in totals if ":" in k})
    for suite in suites:
        print(
            f"  {suite:10} passed {totals[suite + ':passed']:4}  failed {totals[suite + ':failed']:3}"
            f"  skipped {totals[suite + ':skipped']:3}"
        )
    cluster = totals["cluster:passed"] + totals["e2e:passed"]
    print(f"cluster-backed tests executed: {cluster}")
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if totals["failed"] else 0


def failures(paths: list[str]) -> int:
    failed = [case for case in cases(paths) if outcome(case) == "failed"]
    for case in failed[:MAX_FAILURES]:
        report = next(child for child in case if child.tag in ("failure", "error"))
        text = (report.text or report.get("message") or "").rstrip().splitlines()
        print(f"--- {report.tag}: {case.get('classname')}::{case.get('name')}")
        print("\n".join(f"  {line}" for line in text[-FAILURE_LINES:]))
    if len(failed) > MAX_FAILURES:
        print(f"--- and {len(failed) - MAX_FAILURES} more")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--failures"]:
        return failures(argv[1:])
    return counts(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
