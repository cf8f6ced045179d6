"""How realistic is the synthetic data? Prints the figures the generator is tuned against.

For each seed: the fraud rate of every scenario; the ROC-AUC and PR-AUC of the project's own
model pipeline (training.fit) trained on 21 days and tested on the next 7 (scenario `none`),
with each feature's ROC-AUC on its own (training.leakage); and, for `concept_drift`, `default`
and (as the control) `covariate_shift` over 60 days, the PR-AUC of a stale model (trained
before the onset) on pre-onset and post-onset days, and of a model retrained on 21 days that
include 12 post-onset days. Incident days are left out of training, as the validation gate
would quarantine them.

Targets: fraud rate 2-5 %; `none` ROC-AUC 0.85-0.93, PR-AUC 0.35-0.70, every single feature
ROC-AUC < 0.9; under concept drift the stale PR-AUC drops by >= 0.15 after the onset and
retraining recovers most of it; under covariate shift alone it barely moves.

Run: `python -m benchmarks.data_realism [--seeds 1 2 3]`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline

from data.generator import generate, scenario_names
from data.scenarios import scenario_timeline
from features.contract import DatasetContract, ModelParams, load_contract
from pipelines.settings import DEFAULT_CONTRACT
from training.fit import feature_frame, fit_pipeline
from training.leakage import feature_aucs

DRIFT_DAYS = 60


@cache
def contract() -> DatasetContract:
    """The shipped dataset contract (read once, on first use)."""
    return load_contract(DEFAULT_CONTRACT)


def run(scenario: str, days: int, seed: int) -> list[pd.DataFrame]:
    return [frame for _, frame in generate(scenario, days, seed)]


def fit(frames: Sequence[pd.DataFrame]) -> Pipeline:
    """The project's own model pipeline (training.fit), on one OpenMP thread."""
    return fit_pipeline(pd.concat(frames, ignore_index=True), contract(), ModelParams(), threads=1)


def scores(model: Pipeline, frames: Sequence[pd.DataFrame]) -> tuple[float, float]:
    test = pd.concat(frames, ignore_index=True)
    proba = model.predict_proba(feature_frame(test, contract()))[:, 1]
    y = test[contract().label_column].to_numpy()
    return float(roc_auc_score(y, proba)), float(average_precision_score(y, proba))


def fraud_rates(seed: int) -> None:
    parts = []
    for name in scenario_names():
        frames = run(name, DRIFT_DAYS, seed)
        rate = float(np.mean([f["is_fraud"].mean() for f in frames]))
        onset = scenario_timeline(name, DRIFT_DAYS).onset_day
        extra = ""
        if onset is not None:
            pre = pd.concat(frames[:onset])["is_fraud"].mean()
            post = pd.concat(frames[onset:])["is_fraud"].mean()
            extra = f" (pre {pre:.2%}, post {post:.2%})"
        parts.append(f"{name} {rate:.2%}{extra}")
    print(f"  fraud rate over {DRIFT_DAYS} days: " + "; ".join(parts))


def stationary(seed: int) -> None:
    frames = run("none", 28, seed)
    train, test = frames[:21], frames[21:]
    roc, pr = scores(fit(train), test)
    test_rate = pd.concat(test)["is_fraud"].mean()
    print(
        f"  none, train days 0-20, test 21-27: ROC-AUC {roc:.3f}, PR-AUC {pr:.3f} "
        f"(test fraud rate {test_rate:.2%})"
    )
    single = feature_aucs(pd.concat(train, ignore_index=True), contract(), contract().features)
    best = max(single, key=lambda c: single[c])
    listing = ", ".join(f"{c} {v:.2f}" for c, v in sorted(single.items(), key=lambda kv: -kv[1]))
    print(f"  single-feature ROC-AUC (max {best} {single[best]:.3f}): {listing}")


def drift(scenario: str, seed: int) -> None:
    frames = run(scenario, DRIFT_DAYS, seed)
    timeline = scenario_timeline(scenario, DRIFT_DAYS)
    onset = timeline.onset_day
    assert onset is not None
    usable = [i != timeline.incident_day for i in range(DRIFT_DAYS)]

    def days(first: int, last: int) -> list[pd.DataFrame]:
        return [frames[i] for i in range(first, last + 1) if usable[i]]

    stale = fit(days(0, onset - 8))
    _, pr_pre = scores(stale, days(onset - 7, onset - 1))
    _, pr_first = scores(stale, days(onset, onset + 6))
    _, pr_post = scores(stale, days(onset + 12, onset + 18))
    fresh = fit(days(onset - 9, onset + 11))
    _, pr_fresh = scores(fresh, days(onset + 12, onset + 18))
    print(
        f"  {scenario} (onset day {onset}): stale PR-AUC pre {pr_pre:.3f} -> post "
        f"{pr_post:.3f} (first post week {pr_first:.3f}; drop {pr_pre - pr_post:.3f}); "
        f"retrained with 12 post-onset days {pr_fresh:.3f}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    list(generate("default", DRIFT_DAYS, 0))
    print(f"generating {DRIFT_DAYS} days x 1500 rows: {time.perf_counter() - started:.2f} s")
    for seed in args.seeds:
        print(f"seed {seed}")
        fraud_rates(seed)
        stationary(seed)
        for scenario in ("concept_drift", "default", "covariate_shift"):
            drift(scenario, seed)


if __name__ == "__main__":
    main()
