"""Domain logic under the facade (`engine.operations`), each feature a room of its own: idempotency keys,
service processes, maintenance levels, and the diagnostics (checks, telemetry, garbage collection).
The facade calls them inside its transactions; the doors never do."""
