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
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
errorlog = "-"


def _ours(worker):
    """The hooks concern the process engine; the same settings may serve another app (the bench's)."""
    return getattr(worker.app, "app_uri", "config.wsgi:application") == "config.wsgi:application"


def post_worker_init(worker):
    import gc
    import signal

    from config.wsgi import application

    if not _ours(worker):
        return
    application.load()
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
