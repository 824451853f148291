"""Shared foundations: database, migrations, keys, tokens, errors, clock, pagination."""
