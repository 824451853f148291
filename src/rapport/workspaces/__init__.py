"""Workspaces (tenants), their settings and their API keys."""
