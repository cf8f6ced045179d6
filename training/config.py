"""How the training stage builds a candidate: its section of the settings tree.

The settings tree (``pipelines.settings``) holds one `TrainingConfig` under ``training``; the
pure core (`training.candidate.train_candidate`) takes it as it is. Each default is defined here
and nowhere else.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrainingConfig(BaseModel):
    """How much history to learn from, how to hold out, and how to measure the candidate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train_days: int = Field(default=28, ge=3, description="Days of labelled data used to fit.")
    holdout_days: int = Field(
        default=5, ge=1, description="Most recent labelled days held out (at least)."
    )
    min_holdout_positives: int = Field(
        default=50,
        ge=1,
        description=(
            "Positives the holdout should hold for a stable PR-AUC: it extends back day by day "
            "to reach them (at most half of the labelled days); fewer is recorded as a warning "
            "that travels with the version to the gate and the model card."
        ),
    )
    target_fpr: float = Field(
        default=0.01, gt=0, lt=1, description="False-positive rate of the recall@FPR figure."
    )
    max_single_feature_auc: float = Field(
        default=0.98,
        gt=0.5,
        le=1,
        description="A feature that alone ranks the labels this well stops training (leakage).",
    )
    recency_half_life_days: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description=(
            "Weight the training rows toward the recent regime: a row's weight halves for "
            "every this many days it lies before the newest training day (None: every row "
            "weighs the same). The holdout is never weighted."
        ),
    )
    threads: int | None = Field(
        default=1,
        ge=1,
        description=(
            "OpenMP threads of the fit (None: one per core). On shared cores 1 is often far "
            "faster: threads that wait for each other's cores spin instead of computing."
        ),
    )
