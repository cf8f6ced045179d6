"""The promotion gate: clearly better is promoted; worse, useless or equal is refused."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pipelines.exercises.graders.prototype_production.conftest import Models


def decide(
    production: ModuleType, champion: Any | None, challenger: Any, holdout: pd.DataFrame
) -> bool:
    """The gate's answer, checked to be a boolean (not a truthy decision object)."""
    answer = production.promote(champion, challenger, holdout.copy())
    assert isinstance(answer, bool | np.bool_), f"promote returned {type(answer).__name__}"
    return bool(answer)


def test_a_clearly_better_challenger_is_promoted(
    production: ModuleType, models: Models, holdout: pd.DataFrame
) -> None:
    assert decide(production, models.shuffled, models.good, holdout)


def test_a_worse_challenger_is_refused(
    production: ModuleType, models: Models, holdout: pd.DataFrame
) -> None:
    assert not decide(production, models.good, models.shuffled, holdout)


def test_a_useless_challenger_is_refused(
    production: ModuleType, models: Models, holdout: pd.DataFrame
) -> None:
    assert not decide(production, models.good, models.constant, holdout)


def test_a_challenger_no_better_than_the_champion_is_refused(
    production: ModuleType, models: Models, holdout: pd.DataFrame
) -> None:
    assert not decide(production, models.good, models.good_copy, holdout)


def test_with_no_champion_a_useful_model_is_promoted(
    production: ModuleType, models: Models, holdout: pd.DataFrame
) -> None:
    assert decide(production, None, models.good, holdout)
