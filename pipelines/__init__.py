"""Prefect flows wiring the stages, the `lifecycle` CLI, settings and the audit log."""
