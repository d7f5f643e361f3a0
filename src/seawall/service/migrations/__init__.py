"""Alembic migrations of the service store (run by `Store.migrate`, i.e. on every start)."""
