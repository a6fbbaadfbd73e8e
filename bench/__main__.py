"""The benchmark suite (issue 7): `python -m bench run --scale tiny|small|province`, or `make bench SCALE=...`.

See docs/performance.md for what each scenario measures and the figures of the largest run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import suite


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="load a province, run every scenario, write bench/results/<scale>-<date>")
    run.add_argument("--scale", choices=sorted(suite.PLAN), default="small")
    run.add_argument("--reuse-db", action="store_true",
                     help="keep and reuse haolin_bench_<scale> when it holds a dataset of this scale")
    run.add_argument("--keep-db", action="store_true", help="leave the scratch database for a look afterwards")
    run.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                     help="load generator for GET throughput (auto: wrk when installed, except at tiny)")
    run.add_argument("--only", nargs="*", help="scenario numbers to run (1-8), default all")
    run.add_argument("--out", type=Path, default=suite.RESULTS, help="where the results go")
    serve = commands.add_parser("serve", help="load (or reuse) a province and keep the processes up for profiling")
    serve.add_argument("--scale", choices=sorted(suite.PLAN), default="small")
    args = parser.parse_args()
    if args.command == "serve":
        suite.run(args.scale, reuse_db=True, serve=True)
    if args.command == "run":
        suite.run(args.scale, reuse_db=args.reuse_db, keep_db=args.keep_db, generator=args.generator,
                  only=args.only, out=args.out)


if __name__ == "__main__":
    main()
