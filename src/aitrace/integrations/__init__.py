"""Integrations that other tools load through their own plug-in mechanisms (MLflow, GX)."""
