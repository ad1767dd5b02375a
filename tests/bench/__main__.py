"""`make bench`: throughput figures, each beside a baseline measured in the same run.

Engine: instances per second of start → 10 assigns → end, run in-process with SQLite persistence,
beside SpiffWorkflow 3 running the equivalent BPMN (start → 10 script tasks → end) in the same
process. Goal: ours ≥ 3× Spiff.
REST: requests per second of GET /run beside a bare Flask route answering as much JSON, on the same
gunicorn settings, with p50 and p99 latency. Goal: ≥ 0.5.
SOAP: calls per second of SOAP run beside REST GET /run of the same definition, on one server. Goal: ≥ 0.6.
History: the engine and REST figures at history.level none, instance and activity, taking turns, with
a second `none` as a control: how far a ratio strays with nothing changed (`history.py`; goals:
instance ≥ 0.9× none, activity ≥ 0.65× none).
Scale (`--no-scale` skips it; a few minutes): findExecutions at 1M rows against 10k and raw SQL, on
PostgreSQL and SQLite, and every instance sorted by each field either way, paged deep (`scale.py`; goal:
p50 ≤ 50 ms, ≤ 2× 10k); what the indexes of the head revision cost writers against those of the one
before; idle CPU at scale against a small database (≤ 1.5×); a 10 MB data store through POST /run against lxml and json (`big_datastore.py`; ≥ 0.5×,
peak memory ≤ 3× the document); a written run on PostgreSQL against a bare Flask + psycopg2 app, and
asynchronous starts carried to their end against written runs (`postgres_run.py`; ≥ 0.9×, as fast);
10,000,000 history records on PostgreSQL: selective findHistory queries and one processUri's
statistics over 30 days (p50 ≤ 50 ms), and `run`'s p99 during a retention run deleting 1,000,000 of
them (< 2×; `history_scale.py`); the console in headless Chromium at 1M instances against 10k: the
overview opened (< 1 s) and the process list paged and filtered (p50 ≤ 300 ms; `console.py`).
"""
from __future__ import annotations

import argparse
import sys

from tests.bench import (big_datastore, console, engine_vs_spiff, history, history_scale, postgres_run, rest, scale,
                         soap)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per contender")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale section (a few minutes)")
    args = parser.parse_args(argv)
    print(engine_vs_spiff.report(args.seconds), flush=True)
    print(rest.report(args.seconds), flush=True)
    print(soap.report(args.seconds), flush=True)
    print(history.report(args.seconds), flush=True)
    if not args.no_scale:
        print(postgres_run.report(args.seconds), flush=True)
        print(big_datastore.report(), flush=True)
        print(scale.report())
        print(scale.index_cost(), flush=True)
        print(history_scale.report(), flush=True)
        print(console.report(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
