"""Rows of an engine's database changed behind its back: states no call leads to, planted for a test."""
from __future__ import annotations

from sqlalchemy import update

from engine.storage.tables import instances


def plant(pe, execution_id, **values):
    with pe.db.unit_of_work() as uow:
        uow.conn.execute(update(instances).where(instances.c.execution_id == execution_id).values(**values))
        uow.commit()
