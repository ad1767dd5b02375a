"""Running instances: the interpreter, the executor and its thread pools, timers, waiters, nodes."""
