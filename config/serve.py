"""`process-engine serve`: the service under gunicorn with config/gunicorn.conf.py."""
from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

from config.settings import Settings

CONF = Path(__file__).with_name("gunicorn.conf.py")


def serve(settings: Settings, host: str | None = None, port: int | None = None, insecure: bool = False,
          config_file: str | None = None) -> int:
    host = host or settings.server.host
    port = port or settings.server.port
    if not settings.auth.users and not insecure and not _loopback(host):
        print(f"process-engine: refusing to listen on {host} without users configured (anyone could call "
              "every operation as admin); configure [[auth.users]] or pass --insecure", file=sys.stderr)
        return 2
    os.environ.update(PE_HOST=host, PE_PORT=str(port), PE_STORAGE_URL=settings.storage.url,
                      PE_THREADS=str(settings.server.threads), PE_KEEPALIVE=str(settings.server.keepalive_s))
    if config_file:
        os.environ["PROCESS_ENGINE_CONFIG"] = str(Path(config_file).resolve())
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "-c", str(CONF), "config.wsgi:application"]
    run()
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
