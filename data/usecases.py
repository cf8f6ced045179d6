"""The built-in synthetic use cases, keyed by their contract's name.

Each use case pairs a dataset contract under `data/contracts/` with a seeded generator and its
named scenarios. The pipeline looks a contract's name up here (`use_case_for_contract`) to
generate data or run the built-in demo; a contract with no entry is the user's own data, which
comes in through `lifecycle ingest` instead.

Both built-in use cases share the timeline rules of `data.scenarios` (incident at 40 % of the run,
drift onset at 50 %, by default) and have a scenario ``none`` (the control) and ``default`` (the
demo's story).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Protocol

import pandas as pd

from data import churn, generator, scenarios
from data.scenarios import ScenarioTimeline

__all__ = [
    "CONTRACTS_DIR",
    "DEFAULT_START",
    "DEFAULT_USE_CASE",
    "USE_CASES",
    "UseCase",
    "use_case",
    "use_case_for_contract",
    "use_case_names",
]

#: Folder of the built-in contracts.
CONTRACTS_DIR: Final = Path(__file__).resolve().parent / "contracts"
#: First generated day of a run when none is given (the same for every use case).
DEFAULT_START: Final = generator.DEFAULT_START
#: The use case the project runs when no contract is chosen.
DEFAULT_USE_CASE: Final = "card_fraud"


class _DayGenerator(Protocol):
    def __call__(
        self,
        day_index: int,
        scenario: str,
        *,
        seed: int,
        days: int,
        rows: int,
        start: datetime.date,
        incident_day: int | None,
        onset_day: int | None,
    ) -> pd.DataFrame: ...


_TimelineFn = Callable[[str, int, int | None, int | None], ScenarioTimeline]


@dataclass(frozen=True)
class UseCase:
    """A built-in synthetic use case: its contract, its volume and its seeded scenarios.

    Attributes:
        name: The contract's ``name`` (also the key in `USE_CASES`).
        contract_file: The contract YAML.
        default_rows_per_day: The daily volume the contract's row-count guard is sized for.
        max_label_delay_days: Days after an event until every label of that day is known (the
            demo sizes its bootstrap with it so that the first model trains on mature labels).
    """

    name: str
    contract_file: Path
    default_rows_per_day: int
    max_label_delay_days: int
    _summaries: Mapping[str, str] = field(repr=False)
    _timeline: _TimelineFn = field(repr=False)
    _day: _DayGenerator = field(repr=False)

    def scenarios(self) -> dict[str, str]:
        """Scenario name -> one-line summary, in the order they are documented."""
        return dict(self._summaries)

    def timeline(
        self,
        scenario: str,
        days: int,
        *,
        incident_day: int | None = None,
        onset_day: int | None = None,
    ) -> ScenarioTimeline:
        """The ground truth of a run: its incident day and drift onset (None when unused).

        Raises:
            ValueError: Unknown scenario (the message lists the valid ones), or days,
                incident_day or onset_day that do not fit the run.
        """
        return self._timeline(scenario, days, incident_day, onset_day)

    def generate_day(
        self,
        day_index: int,
        scenario: str,
        *,
        seed: int,
        days: int,
        rows: int,
        start: datetime.date = DEFAULT_START,
        incident_day: int | None = None,
        onset_day: int | None = None,
    ) -> pd.DataFrame:
        """One day of a run (date ``start + day_index``), generated alone and deterministically.

        Raises:
            ValueError: Unknown scenario (the message lists the valid ones), a day outside the
                run, too few rows, a negative seed, or incident/onset days that do not fit.
        """
        return self._day(
            day_index,
            scenario,
            seed=seed,
            days=days,
            rows=rows,
            start=start,
            incident_day=incident_day,
            onset_day=onset_day,
        )


# --- adapters: scenario names to each generator's scenario objects ---------------------------


def _card_fraud_day(
    day_index: int,
    scenario: str,
    *,
    seed: int,
    days: int,
    rows: int,
    start: datetime.date,
    incident_day: int | None,
    onset_day: int | None,
) -> pd.DataFrame:
    return generator.generate_day(
        day_index,
        scenarios.get_scenario(scenario),
        seed=seed,
        days=days,
        start=start,
        rows=rows,
        incident_day=incident_day,
        onset_day=onset_day,
    )


def _churn_day(
    day_index: int,
    scenario: str,
    *,
    seed: int,
    days: int,
    rows: int,
    start: datetime.date,
    incident_day: int | None,
    onset_day: int | None,
) -> pd.DataFrame:
    return churn.generate_day(
        day_index,
        churn.get_scenario(scenario),
        seed=seed,
        days=days,
        start=start,
        rows=rows,
        incident_day=incident_day,
        onset_day=onset_day,
    )


USE_CASES: Final[Mapping[str, UseCase]] = MappingProxyType(
    {
        "card_fraud": UseCase(
            name="card_fraud",
            contract_file=CONTRACTS_DIR / "card_fraud.yaml",
            default_rows_per_day=generator.DEFAULT_ROWS_PER_DAY,
            max_label_delay_days=10,  # chargebacks mature 3 to 10 days after the payment
            _summaries=MappingProxyType({n: s.summary for n, s in scenarios.SCENARIOS.items()}),
            _timeline=scenarios.scenario_timeline,
            _day=_card_fraud_day,
        ),
        "churn": UseCase(
            name="churn",
            contract_file=CONTRACTS_DIR / "churn.yaml",
            default_rows_per_day=churn.DEFAULT_ROWS_PER_DAY,
            max_label_delay_days=churn.LABEL_DELAY_DAYS,
            _summaries=MappingProxyType({n: s.summary for n, s in churn.SCENARIOS.items()}),
            _timeline=churn.scenario_timeline,
            _day=_churn_day,
        ),
    }
)


def use_case_names() -> list[str]:
    """Names of the built-in use cases, the default (card fraud) first."""
    return list(USE_CASES)


def use_case(name: str) -> UseCase:
    """Look a built-in use case up by name.

    Raises:
        ValueError: The name is unknown; the message lists the built-in use cases.
    """
    try:
        return USE_CASES[name]
    except KeyError:
        raise ValueError(
            f"unknown use case {name!r}; built-in use cases: {', '.join(use_case_names())}"
        ) from None


def use_case_for_contract(contract_name: str) -> UseCase | None:
    """The built-in use case whose contract is named `contract_name`, or None (the user's own)."""
    return USE_CASES.get(contract_name)
