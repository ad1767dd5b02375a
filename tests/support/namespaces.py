"""The namespaces of the engine's documents (process, data store, query) and names in them."""
from __future__ import annotations

PE = "http://www.infinica.com/process-engine"
DAT = "http://www.infinica.com/datastore"
Q = "http://www.infinica.com/query"


def pe(local: str) -> str:
    return f"{{{PE}}}{local}"


def dat(local: str) -> str:
    return f"{{{DAT}}}{local}"
