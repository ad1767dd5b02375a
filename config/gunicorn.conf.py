"""gunicorn settings of the service: gthread workers, request limits, a graceful shutdown that lets the
engine hand running instances back before the worker exits.

SQLite serves one node, so with SQLite there is exactly one worker (its threads serve the requests).
"""
import os

bind = f"{os.environ.get('PE_HOST', '127.0.0.1')}:{os.environ.get('PE_PORT', '8080')}"
worker_class = "gthread"
threads = int(os.environ.get("PE_THREADS", "16"))
_sqlite = os.environ.get("PE_STORAGE_URL", "sqlite").startswith("sqlite")
workers = 1 if _sqlite else int(os.environ.get("PE_WORKERS", "2"))
graceful_timeout = 30
timeout = 0 if worker_class == "gthread" else 30  # long synchronous waits are legitimate
keepalive = int(os.environ.get("PE_KEEPALIVE", "5"))  # server.keepalive_s
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
errorlog = "-"


# PE_PIN_WORKERS=1 puts each worker on a CPU of its own. A worker's threads take turns holding one GIL,
# and handing it between threads on different cores costs far more than on one: on a 2-core machine
# `GET /run` served about 1.3-1.45x the requests pinned (median latency halved, p99 up by a quarter).
# Off by default: a pinned worker cannot move away from a core that something else keeps busy.
pin_workers = os.environ.get("PE_PIN_WORKERS", "0") == "1"


def post_fork(server, worker):
    from config.allocator import for_a_worker

    for_a_worker()  # before the worker starts its threads
    if pin_workers:
        _pin(server, worker)


def _pin(server, worker):
    """The CPU fewest sibling workers are pinned to, starting the search at one that depends on the
    master, so that several services on one machine spread too. Nothing when there is a single CPU or
    more workers than CPUs: then the kernel balances better."""
    if not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or server.num_workers > len(cpus):
        return
    taken = []
    for pid in set(server.WORKERS) - {worker.pid}:
        try:
            mask = os.sched_getaffinity(pid)
        except OSError:  # gone meanwhile
            continue
        if len(mask) == 1:
            taken += mask
    start = os.getppid() % len(cpus)
    order = cpus[start:] + cpus[:start]
    os.sched_setaffinity(0, {min(order, key=taken.count)})


def _ours(worker):
    """The hooks concern the process engine; the same settings may serve another app (the bench's)."""
    return getattr(worker.app, "app_uri", "config.wsgi:application") == "config.wsgi:application"


def post_worker_init(worker):
    import gc
    import signal

    from config import refusals
    from config.allocator import small_objects_on_malloc
    from config.wsgi import application
    from schemas import datastore

    if not _ours(worker):
        return
    refusals.install()
    application.load()
    on_malloc = small_objects_on_malloc()
    if on_malloc is not None:  # a large store's objects go back to the system after its call
        datastore.read_large_documents_within(on_malloc.held)
    # What start-up built (the engine, both doors, the libraries) lives as long as the worker: the
    # collector need not walk it again in every full collection.
    gc.freeze()
    graceful = signal.getsignal(signal.SIGTERM)  # gunicorn's: stop accepting, finish what is in flight

    def on_term(signum, frame):
        application.drain()  # long synchronous waits answer now instead of being cut at the deadline
        if callable(graceful):
            graceful(signum, frame)

    signal.signal(signal.SIGTERM, on_term)


def worker_exit(server, worker):
    from config.wsgi import application

    if _ours(worker):
        application.shutdown()
