"""MLflow evidence: the runs a step created or used, linked with a digest of their data."""
