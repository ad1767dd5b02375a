"""The revisions of definitions the engine has seen, and their version numbers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .tables import definitions


def register_revision(conn: Connection, uri: str, revision: str, name: str | None, origin: str,
                      changed_at: datetime, source: bytes) -> tuple[int, int]:
    """(row id, version) of this revision of `uri`, numbering it when it is new.

    Two nodes may register the same or competing revisions at once; the unique constraints decide, and
    the loser reads the winner's row (inside a savepoint, so the caller's transaction survives).
    """
    for _ in range(5):
        found = conn.execute(select(definitions.c.id, definitions.c.version)
                             .where(definitions.c.uri == uri, definitions.c.revision == revision)).first()
        if found is not None:
            return found.id, found.version
        latest = conn.execute(select(func.max(definitions.c.version)).where(definitions.c.uri == uri)).scalar()
        try:
            with conn.begin_nested():
                new_id = conn.execute(insert(definitions).values(
                    uri=uri, revision=revision, version=(latest or 0) + 1, name=name, origin=origin,
                    changed_at=changed_at, source=source)).inserted_primary_key[0]
            return new_id, (latest or 0) + 1
        except IntegrityError:
            continue
    raise RuntimeError(f"could not register a revision of {uri} after 5 attempts")


def load_source(conn: Connection, definition_id: int) -> tuple[str, str, bytes] | None:
    """(uri, origin, source) of a registered revision."""
    row = conn.execute(select(definitions.c.uri, definitions.c.origin, definitions.c.source)
                       .where(definitions.c.id == definition_id)).first()
    return (row.uri, row.origin, bytes(row.source)) if row is not None else None
