"""HTTP layer: a small ASGI toolkit, the app factory, management API plumbing."""
