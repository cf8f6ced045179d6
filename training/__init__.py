"""Time-aware splits, leakage checks, fitting, evaluation, model card, registry, promotion gate."""
