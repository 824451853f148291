"""Push integration: providers, campaigns, the timing agent and the orchestrator."""
