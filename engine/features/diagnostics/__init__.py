"""The sanity checks (`checks`), telemetry collectors (`telemetry`) and clean-up (`garbage`) behind the spec's
"Diagnostic Operations"; what they share is in `probe`.

We run neither ZooKeeper nor a task manager, so the spec's checks and telemetry types are mapped onto
our own stores. Our node registry (the `nodes` table, kept by heartbeats) stands in for ZooKeeper's
ZNodes, the `wait_states` table for the wait state storage, the `position` column of
`process_instances` for the process execution data, and `terminate_request` for the stored signals.
Each check is one small function; all but `execution`'s decoding of positions and `waiter` (which
starts from memory) are statements (`storage/findings.py`) that select exactly the faulty rows —
nothing is loaded into Python to be filtered there. Each check lists at most `PROBLEM_LIMIT` problems
(and then says so).

Checks (the standard ones run when none is asked for):

- `waitState` — a wait row whose instance is missing, disposed or not WAITING; a live WAITING instance
  without a wait row (nothing wakes it); a child wait whose child instance is gone, disposed or ended.
- `execution` — a live WAITING or PAUSED instance without a saved position (continuing it would start
  it over); an ended or disposed instance still holding a position; a live position that does not
  decode as JSON (`codec.loads` raises `CorruptState`; read in batches, the one check that must look at
  values); a live row saved in a state format this engine cannot read; a RUNNING instance claimed by
  no node or by a node that is not in the `nodes` table.
- `signal` — a pending `terminate_request` (our only stored signal) on an ended or disposed instance.
- `waiter` — callers blocked in memory (`Waiters.counts()`) on an execution ID that does not exist or
  is disposed (inline runs not yet written — volatile — are not missing), or on a watcher (getWatcher,
  key `watcher:ID`) that no longer exists or has finished.
- `zookeeperWatcher` — an unfinished watcher whose instance is gone or disposed (an obsolete watcher).
- `zookeeperProcess` — a live READY/RUNNING instance whose `owner_node` is set but not in `nodes` (the
  node that holds it is gone; the master marks such instances LOST).
- `zookeeperWaitState` — a timer of an online, healthy, live WAITING instance overdue by more than
  10 x `engine.timer_poll_ms` (nobody fires it), or a timer wait without a due time.
- `taskPayload` — we have no task manager: the check runs and finds nothing.

Non-standard checks, run only when asked for:

- `noRunning` — leftover execution data: any live READY/RUNNING instance, any wait row, any instance
  queued or running on a thread of this node, any saved position of a live instance.
- `cleanState` — what `noRunning` finds, plus every live (not disposed) instance at all.

Telemetry types (all of them when none is asked for): PROCESS_INSTANCE (live instances counted by
state and health, and the disposed rows awaiting purge), CACHED_PROCESS_INSTANCE (instances this node
holds in memory: running drivers and queued IDs), PROCESS_EXECUTION (live instances with a saved
position), SIGNAL (pending terminate requests), THREAD_POOL (each pool's size, permits in use and the
IDs running in it), WAITSTATE (wait rows), TASK (always empty: no task manager), WAITERS (blocked
callers per instance or watcher), CACHE (definition files, parsed revisions, revision registrations),
VOLATILE_INSTANCES (inline runs whose row is not written yet). Database types list at most
`TELEMETRY_LIMIT` items, then an item `truncated` with the total.

`collect_garbage` is what garbageCollect runs: purge disposed rows past `engine.dispose_retention_ms`,
delete process log rows whose instance no longer exists, and finish the unfinished watchers whose
instance is gone (with no captured snapshot) or disposed (capturing the disposed row, as the watchers'
own sweep does).
"""
