"""A process that hosts an engine for the crash test, to be killed with SIGKILL.

Reads its storage URL and repository from the environment (PE_STORAGE_URL, PE_REPOSITORY_PATH,
PE_NODE_ID), starts TIMERS instances waiting on a timer and LOOPS long-running loops, prints one JSON
line with their IDs, and then serves until it is killed.
"""
from __future__ import annotations

import json
import os
import sys
import time

from config.settings import load_settings
from engine import operations as ops
from engine.model.datastore import DataStore, make_value
from engine.runtime.node import ProcessEngine
from engine.security.authorization import ANONYMOUS_ADMIN


def main() -> None:
    timers, loops = int(sys.argv[1]), int(sys.argv[2])
    settings = load_settings().with_overrides(engine={
        "thread_pools": {"default": max(loops, 1)}, "save_interval_ms": 200, "timer_poll_ms": 100,
        "node_id": os.environ["PE_NODE_ID"]})
    pe = ProcessEngine(settings).start()
    delay = DataStore([("delay", [make_value("1", "text/plain", os.environ.get("CRASH_TIMER", "PT4S"))])])
    timer_ids = [ops.run(pe, ANONYMOUS_ADMIN, "timer.ipd", process_params=delay, timeout=0,
                         auto_dispose="never").execution_id for _ in range(timers)]
    loop_ids = [ops.run(pe, ANONYMOUS_ADMIN, "spin.ipd", timeout=0, auto_dispose="never").execution_id
                for _ in range(loops)]
    print(json.dumps({"timers": timer_ids, "loops": loop_ids}), flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
