"""Activity figures for operators: events and decisions over time, processing lag,
ingestion errors per dialect, and report trends."""
