"""Experiences: keyed server-side personalization and the Experiences API."""
