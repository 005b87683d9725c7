"""Print how many tests ran, by suite, from pytest's JUnit XML (CI's closing lines)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter


def main(paths: list[str]) -> int:
    totals: Counter[str] = Counter()
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            suite = case.get("classname", "").split(".")[1] if "." in case.get("classname", "") else "?"
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome = "skipped"
            totals[f"{suite}:{outcome}"] += 1
            totals[outcome] += 1
    suites = sorted({k.split(":")[0] for k in totals if ":" in k})
    for suite in suites:
        print(f"  {suite:10} passed {totals[suite + ':passed']:4}  failed {totals[suite + ':failed']:3}"
              f"  skipped {totals[suite + ':skipped']:3}")
    cluster = totals["cluster:passed"] + totals["e2e:passed"]
    print(f"cluster-backed tests executed: {cluster}")
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
