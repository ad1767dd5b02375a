"""Persistence: SQLAlchemy 2.0 tables, the unit of work, repository functions and Alembic migrations.

Repository functions take a connection and never commit; exactly one layer commits — the operation
in `engine/operations.py` (or the executor, for the instance it is running).
"""
