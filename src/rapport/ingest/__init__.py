"""Ingestion: the three dialects become one canonical message stream, durably queued."""
