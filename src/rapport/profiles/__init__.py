"""Profiles: the identity graph, merges, properties, computed fields, erasure."""
