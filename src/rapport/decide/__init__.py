"""Agents, policies, assignments and attribution."""
