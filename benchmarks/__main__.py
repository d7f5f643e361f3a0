"""`python -m benchmarks [NAME ...]`: run every benchmarks/*.py module's main(), in name order."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("*.py") if not p.stem.startswith("_"))
    wanted = [n for n in argv if n in names] or names
    unknown = [n for n in argv if n not in names]
    if unknown:
        print(f"benchmarks: unknown benchmark(s) {', '.join(unknown)}; have: {', '.join(names)}",
              file=sys.stderr)
        return 2
    failed: list[str] = []
    for name in wanted:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        started = time.perf_counter()
        saved = sys.argv
        sys.argv = [f"benchmarks.{name}"]  # each main() parses its own (empty) command line
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            code = module.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc()
            code = 1
        finally:
            sys.argv = saved
        print(f"=== benchmarks.{name}: exit {code} in {time.perf_counter() - started:.1f} s ===", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
