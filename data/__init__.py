"""Synthetic data of the built-in use cases: their generators, drift scenarios and contracts."""
