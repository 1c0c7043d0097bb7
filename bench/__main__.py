"""`make bench`: run every bench/bench_*.py module (or those named on the command line), print
one line per figure (``name: value unit``) and write them all to bench/results.json."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

from bench.figures import Figure

RESULTS = Path(__file__).with_name("results.json")


def modules(selected: list[str]) -> list[str]:
    found = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    return [m for m in found if not selected or m in selected or m.removeprefix("bench_") in selected]


def main(argv: list[str]) -> int:
    from bench.stack import use_bench_environment

    use_bench_environment()
    figures: list[Figure] = []
    failures = 0
    for name in modules(argv):
        started = time.monotonic()
        print(f"# {name}", flush=True)
        try:
            produced = importlib.import_module(f"bench.{name}").run()
        except Exception as error:  # one broken benchmark must not hide the others' figures
            failures += 1
            print(f"# {name} failed: {error!r}", flush=True)
            continue
        for figure in produced:
            print(figure.line(), flush=True)
        figures += produced
        print(f"# {name} took {time.monotonic() - started:.1f} s", flush=True)
    RESULTS.write_text(json.dumps([f.as_dict() for f in figures], indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
