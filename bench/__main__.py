"""Every benchmark in bench/, one after another, each with its defaults: `.venv/bin/python -m bench`.

Exits 1 if any benchmark missed a goal. A benchmark is a module with `main(argv) -> int`.
"""

from __future__ import annotations

import sys

from bench import deadlines, digest, fanout, imports, policy_matching, webhook

BENCHMARKS = (policy_matching, digest, deadlines, imports, webhook, fanout)


def main() -> int:
    failed = False
    for benchmark in BENCHMARKS:
        failed |= benchmark.main([]) != 0
        print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
