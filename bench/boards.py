"""Build every board target and record its report.

    python bench/boards.py [--boards icebreaker,ulx3s] [--out build/bench]

Runs ``spikeloom.boards.build.build`` for each board's default geometry (the
same flow as ``spikeloom build --board NAME``), writes
``bench/results/boards.json`` (one ``report.json`` per board, keyed by board
name, build time included) and regenerates ``docs/results.md``
(``bench/results_md.py``). A board whose build fails is recorded with its
error instead of a report, and the script exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "boards.json"


def main(argv=None):
    from spikeloom.boards import TARGETS
    from spikeloom.boards.build import BuildError, build, make_report, module_stats, summary

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default=",".join(TARGETS), help="comma-separated board names")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench", help="build root")
    ap.add_argument(
        "--from-build",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="record the finished `spikeloom build --board NAME --out DIR` of the default "
        "geometry instead of building again (the report is re-derived from DIR's files)",
    )
    ap.add_argument(
        "--no-modules", action="store_true", help="skip the per-module synthesis (one yosys run)"
    )
    args = ap.parse_args(argv)
    reuse = dict(item.split("=", 1) for item in args.from_build)

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = {k: v for k, v in results.items() if k in TARGETS}
    failed = []
    for name in args.boards.split(","):
        t = TARGETS[name]
        t0 = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            if name in reuse:
                old = json.loads((Path(reuse[name]) / "report.json").read_text())
                if old["geometry"] != t.geometry.as_dict():
                    raise BuildError(f"{reuse[name]} was not built with {name}'s default geometry")
                report = make_report(
                    t,
                    t.geometry,
                    reuse[name],
                    old["clock_mhz"],
                    old["clocks_per_bit"],
                    old["seconds"],
                )
            else:
                report = build(
                    t, out=args.out / name, progress=lambda s: print(f"   {s}", flush=True)
                )
        except BuildError as e:
            print(f"   FAILED: {e}", flush=True)
            results[name] = {
                "board": name,
                "device": t.device,
                "error": str(e).splitlines()[0],
                "geometry": t.geometry.as_dict(),
                "seconds": round(time.monotonic() - t0, 1),
            }
            failed.append(name)
            continue
        print(summary(report), flush=True)
        if not args.no_modules:
            build_dir = Path(reuse.get(name, args.out / name))
            try:
                report["modules"] = module_stats(t, build_dir)
            except BuildError as e:
                print(f"   per-module synthesis FAILED: {e}", flush=True)
        results[name] = report
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")

    import results_md  # beside this script

    results_md.main([])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
