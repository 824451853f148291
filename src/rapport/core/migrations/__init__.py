"""Alembic migrations; run through :mod:`rapport.core.migrate`."""
