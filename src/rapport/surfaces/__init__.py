"""Surfaces (places in the app), their variants, and the Content API."""
