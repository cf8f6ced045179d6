"""Drift scenarios that work on any dataset contract, injected into a team's replayed data.

`lifecycle demo --contract PATH --data FILE --scenario S` replays a team's own rows day by day.
A scenario here is a transformation of those days, in two pure steps:

* `plan_scenario` makes every choice once, deterministically, from the contract, the history
  (the bootstrap days, before any transformation) and the seed: which column, which category or
  group, the shift in the column's own units, the share, the days. The `ScenarioPlan` is frozen
  and JSON-ready, so the demo's summary records exactly what was injected and from when.
* `apply_scenario` returns a new frame for one replayed day. It never changes its input, keeps
  the label values the contract declares, keeps missing values missing and keeps the dtypes the
  validation gate expects.

The incident (one day) comes before the onset (from which the drift lasts to the end). By
default they fall 40 % and 50 % into the replay, as in the built-in generators' scenarios.

Day indices are 0-based over the whole replay, bootstrap days included; the caller keeps the
incident and the onset out of the bootstrap (pass them explicitly).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, TypeVar

import numpy as np
import pandas as pd

from data.scenarios import ScenarioTimeline, default_incident_day, default_onset_day
from features.contract import DatasetContract, MedianGuard, OrderedGuard

#: How far covariate shift moves its feature, in standard deviations measured on the history.
DEFAULT_SHIFT_SDS: Final = 1.5
#: Share of a group's rarer-label rows whose label concept drift swaps (see `ConceptDrift`).
DEFAULT_FLIP_SHARE: Final = 0.5
#: The quality incident's factor: a value sent in cents instead of units, grams instead of kg.
UNIT_FACTOR: Final = 100
#: Covariate shift picks no feature whose clipping to the contract's range keeps less than this
#: share of the intended mean shift (on the history): that would be a range pile-up, not drift.
MIN_KEPT_SHIFT: Final = 0.5
#: Above this loss of the intended shift (on the history), the plan carries a warning.
_WARN_LOST_SHIFT: Final = 0.1

Label = str | int
_T = TypeVar("_T")
IncidentKind = Literal["unit_change", "schema_break"]


class ScenarioError(ValueError):
    """A scenario cannot apply to a contract or its history; the message says why and what to do."""


@dataclass(frozen=True)
class _Spec:
    summary: str
    incident: IncidentKind | None = None
    covariate_shift: bool = False
    concept_drift: bool = False


_SPECS: Final[dict[str, _Spec]] = {
    "none": _Spec("The data as it is, nothing injected: the false-alarm control."),
    "quality_incident": _Spec(
        f"On the incident day only, one numeric feature arrives x{UNIT_FACTOR} as after a unit "
        "change (else a category is renamed).",
        incident="unit_change",
    ),
    "covariate_shift": _Spec(
        f"From the onset day, one numeric feature shifted by {DEFAULT_SHIFT_SDS:g} standard "
        "deviations, kept within its range.",
        covariate_shift=True,
    ),
    "concept_drift": _Spec(
        "From the onset day, labels swapped within one segment's group: P(label | features) "
        "changes, the label rate does not.",
        concept_drift=True,
    ),
    "schema_break": _Spec(
        "On the incident day only, one feature column is missing.", incident="schema_break"
    ),
    "default": _Spec(
        "The quality incident, then covariate shift and concept drift from the onset day.",
        incident="unit_change",
        covariate_shift=True,
        concept_drift=True,
    ),
}


def scenario_summaries() -> dict[str, str]:
    """Each scenario's name and one-line summary (for ``--help``), in documented order."""
    return {name: spec.summary for name, spec in _SPECS.items()}


def _spec(name: str) -> _Spec:
    try:
        return _SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; valid scenarios: {', '.join(_SPECS)}"
        ) from None


# --- what a plan holds -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleColumn:
    """The incident: every value of a numeric feature multiplied by `factor` (a unit change).

    Attributes:
        column: The feature; the one whose median the contract guards, else the one with the
            largest median magnitude in the history.
        factor: The multiplier (an integer, so an int column stays int).
        history_median: The feature's median in the history.
        reason: Why this feature was chosen.
    """

    kind: Literal["scale_column"] = field(default="scale_column", init=False)
    column: str
    factor: int
    history_median: float
    reason: str

    def describe(self) -> str:
        """One line for progress output."""
        return f"'{self.column}' x{self.factor} (a unit change)"


@dataclass(frozen=True)
class RenameCategory:
    """The incident: one category of a categorical feature arrives under another name.

    Attributes:
        column: The categorical feature.
        category: The value renamed: the most frequent category in the history.
        renamed_to: The new value (a case change, or a suffix if that is taken).
        history_share: The category's share of the history's rows.
        reason: Why a category was renamed rather than a number scaled.
    """

    kind: Literal["rename_category"] = field(default="rename_category", init=False)
    column: str
    category: str
    renamed_to: str
    history_share: float
    reason: str

    def describe(self) -> str:
        """One line for progress output."""
        return f"'{self.column}' value {self.category!r} renamed {self.renamed_to!r}"


@dataclass(frozen=True)
class DropColumn:
    """The incident: one feature column missing from the day's batch (the first feature)."""

    kind: Literal["drop_column"] = field(default="drop_column", init=False)
    column: str

    def describe(self) -> str:
        """One line for progress output."""
        return f"column '{self.column}' missing"


Incident = ScaleColumn | RenameCategory | DropColumn


@dataclass(frozen=True)
class CovariateShift:
    """From the onset: ``shift`` added to a numeric feature, then clipped to its range.

    Clipping to the contract's ``min``/``max`` keeps the gate from blocking the days (this is
    drift, not corruption); an int feature is shifted by a whole number. Missing values stay
    missing.

    Attributes:
        column: The feature whose mean, on the history, moves closest to ``k`` standard
            deviations once clipped and rounded (ties: contract order, upwards first), among
            those no guard would block.
        k: The intended shift in standard deviations.
        history_mean: The feature's mean in the history.
        history_sd: The feature's standard deviation in the history (ddof 1).
        shift: The value added, in the column's units (signed; whole for an int column).
        lower: The contract's ``min`` of the column (the clip), if any.
        upper: The contract's ``max`` of the column (the clip), if any.
        integer: True for an int column (values rounded after the shift).
        history_move_sds: How far the history's mean moves once shifted, clipped and rounded,
            in standard deviations (signed): what to expect on the replayed days.
    """

    column: str
    k: float
    history_mean: float
    history_sd: float
    shift: float
    lower: float | None
    upper: float | None
    integer: bool
    history_move_sds: float

    def describe(self) -> str:
        """One line for progress output."""
        return (
            f"'{self.column}' shifted by {self.shift:+.4g} "
            f"({self.shift / self.history_sd:+.2f} SD), kept within its range"
        )


@dataclass(frozen=True)
class ConceptDrift:
    """From the onset: labels swapped inside one group, so P(label | features) changes.

    On each drifted day, among the group's rows with a known label (``p`` positives, ``n``
    negatives), ``m = round(share * min(p, n))`` positives become negative and as many
    negatives become positive, chosen at random with a generator seeded by (seed, day index).
    The label rate stays what it was: the gate's label-rate guard still passes, and the change
    is one of concept (which rows are positive), not of prior. Flipping a share of every row
    instead would push a rare positive class towards 50 % and get every drifted day blocked.

    Attributes:
        column: A segment column (a feature or not), or a categorical feature when the contract
            declares no segment.
        value: The group: the value of ``column`` whose history holds the most rows of its
            rarer label, i.e. the most labels a swap can move (ties: more rows, then contract
            order).
        share: The share of the group's rarer-label rows swapped each day.
        positive: The contract's positive label.
        negative: The contract's other label.
        history_rows: The group's rows with a known label in the history.
        history_positives: Of those, the positives.
    """

    column: str
    value: Label
    share: float
    positive: Label
    negative: Label
    history_rows: int
    history_positives: int

    def describe(self) -> str:
        """One line for progress output."""
        return (
            f"labels swapped for {self.share:.0%} of the rarer label's rows where "
            f"'{self.column}' == {self.value!r}"
        )


@dataclass(frozen=True)
class ScenarioPlan:
    """Everything a scenario injects, decided once; frozen and JSON-ready (`to_dict`).

    Attributes:
        scenario: The scenario's name.
        summary: Its one-line summary.
        contract: The contract's name.
        contract_hash: The contract's content hash; `apply_scenario` refuses another contract.
        days: Number of replayed days (bootstrap included).
        seed: Seeds the rows concept drift chooses, with the day index.
        incident_day: The single broken day (0-based), or None.
        onset_day: The first drifted day (0-based; drift lasts to the end), or None.
        incident: What breaks on the incident day, or None.
        covariate_shift: The feature shifted from the onset, or None.
        concept_drift: The group whose labels are swapped from the onset, or None.
        warnings: What the reader of the summary should know, e.g. that nothing in the
            contract would block the incident, or that part of ``default`` was left out.
    """

    scenario: str
    summary: str
    contract: str
    contract_hash: str
    days: int
    seed: int
    incident_day: int | None
    onset_day: int | None
    incident: Incident | None
    covariate_shift: CovariateShift | None
    concept_drift: ConceptDrift | None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (``incident_day`` and ``onset_day`` at the top level)."""
        plain: dict[str, Any] = asdict(self)
        plain["warnings"] = list(self.warnings)
        return plain

    @property
    def timeline(self) -> ScenarioTimeline:
        """The ground truth in the shape the built-in generators report it."""
        return ScenarioTimeline(self.scenario, self.days, self.incident_day, self.onset_day)

    def changes_on(self, day_index: int) -> tuple[str, ...]:
        """What `apply_scenario` changes on a day, one line each (empty for an untouched day)."""
        changes: list[str] = []
        if self.incident is not None and day_index == self.incident_day:
            changes.append(f"incident: {self.incident.describe()}")
        if self.onset_day is not None and day_index >= self.onset_day:
            if self.covariate_shift is not None:
                changes.append(f"covariate shift: {self.covariate_shift.describe()}")
            if self.concept_drift is not None:
                changes.append(f"concept drift: {self.concept_drift.describe()}")
        return tuple(changes)


# --- planning ----------------------------------------------------------------------------------


def plan_scenario(
    name: str,
    contract: DatasetContract,
    history: pd.DataFrame,
    *,
    days: int,
    seed: int,
    incident_day: int | None = None,
    onset_day: int | None = None,
    shift_sds: float = DEFAULT_SHIFT_SDS,
    flip_share: float = DEFAULT_FLIP_SHARE,
) -> ScenarioPlan:
    """Decide once what a scenario injects into a replay of ``days`` days.

    ``default`` leaves out a part the contract cannot take (e.g. covariate shift when no
    numeric feature varies) and says so in ``warnings``; a single-part scenario raises instead.

    Args:
        name: One of `scenario_summaries`.
        contract: The replayed data's contract.
        history: The bootstrap days as they are, before any transformation.
        days: Number of replayed days, bootstrap included.
        seed: Non-negative; seeds the rows concept drift chooses each day.
        incident_day: The broken day (default 40 % into the replay); ignored by scenarios
            without an incident, but range-checked.
        onset_day: The first drifted day (default 50 %); ignored likewise.
        shift_sds: Covariate shift's size in standard deviations of the history.
        flip_share: Concept drift's share of the group's rarer-label rows swapped.

    Raises:
        ValueError: An unknown name (the message lists the valid ones), days < 1, a negative
            seed, a day outside the replay, an incident not before the onset, a share outside
            (0, 1], a non-positive shift, or history lacking the contract's columns.
        ScenarioError: The scenario cannot apply to this contract or history (why is said).
    """
    spec = _spec(name)
    _check_arguments(days, seed, incident_day, onset_day, shift_sds, flip_share)
    incident: Incident | None = None
    shift: CovariateShift | None = None
    drift: ConceptDrift | None = None
    warnings: list[str] = []
    problems: list[str] = []
    partial = sum((spec.incident is not None, spec.covariate_shift, spec.concept_drift)) > 1
    if spec.incident is not None or spec.covariate_shift or spec.concept_drift:
        _check_history(history, contract)

    def attempt(part: str, plan: Callable[[], _T]) -> _T | None:
        try:
            return plan()
        except ScenarioError as exc:
            if not partial:
                raise
            problems.append(f"{part} left out: {exc}")
            return None

    if spec.incident == "schema_break":
        incident = DropColumn(column=contract.features[0])
    elif spec.incident == "unit_change":
        planned = attempt("the quality incident", lambda: _plan_unit_change(contract, history))
        if planned is not None:
            incident, notes = planned
            warnings.extend(notes)
    if spec.covariate_shift:
        shifted = attempt(
            "covariate shift", lambda: _plan_covariate_shift(contract, history, shift_sds)
        )
        if shifted is not None:
            shift, notes = shifted
            warnings.extend(notes)
    if spec.concept_drift:
        drift = attempt("concept drift", lambda: _plan_concept_drift(contract, history, flip_share))
    if partial and incident is None and shift is None and drift is None:
        raise ScenarioError(f"scenario {name!r} cannot apply: {'; '.join(problems)}")
    incident_at, onset_at = _resolve_days(
        name,
        days,
        incident_day if incident is not None else None,
        onset_day if shift is not None or drift is not None else None,
        has_incident=incident is not None,
        has_onset=shift is not None or drift is not None,
    )
    return ScenarioPlan(
        scenario=name,
        summary=spec.summary,
        contract=contract.name,
        contract_hash=contract.content_hash(),
        days=days,
        seed=seed,
        incident_day=incident_at,
        onset_day=onset_at,
        incident=incident,
        covariate_shift=shift,
        concept_drift=drift,
        warnings=(*problems, *warnings),
    )


def _check_arguments(
    days: int,
    seed: int,
    incident_day: int | None,
    onset_day: int | None,
    shift_sds: float,
    flip_share: float,
) -> None:
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    for what, day in (("incident_day", incident_day), ("onset_day", onset_day)):
        if day is not None and not 0 <= day < days:
            raise ValueError(
                f"{what} must be a 0-based day index in [0, {days - 1}] for a {days}-day "
                f"replay, got {day}"
            )
    if not (math.isfinite(shift_sds) and shift_sds > 0):
        raise ValueError(
            f"shift_sds must be a positive number of standard deviations, got {shift_sds}"
        )
    if not 0.0 < flip_share <= 1.0:
        raise ValueError(f"flip_share must lie in (0, 1], got {flip_share}")


def _resolve_days(
    name: str,
    days: int,
    incident_day: int | None,
    onset_day: int | None,
    *,
    has_incident: bool,
    has_onset: bool,
) -> tuple[int | None, int | None]:
    """The incident and onset days of the parts planned, with defaults; incident before onset."""
    incident = None
    onset = None
    if has_incident:
        incident = default_incident_day(days) if incident_day is None else incident_day
    if has_onset:
        onset = default_onset_day(days) if onset_day is None else onset_day
    if incident is not None and onset is not None and incident >= onset:
        raise ValueError(
            f"scenario {name!r} needs incident_day < onset_day (the incident comes before the "
            f"drift), got incident_day={incident}, onset_day={onset}; replay more days or pass "
            "both days"
        )
    return incident, onset


def _check_history(history: pd.DataFrame, contract: DatasetContract) -> None:
    if history.empty:
        raise ValueError("the history is empty: plan a scenario on the bootstrap days' rows")
    needed = [*contract.features, *contract.segments, contract.label_column]
    missing = [c for c in dict.fromkeys(needed) if c not in history.columns]
    if missing:
        raise ValueError(
            f"the history lacks column(s) {missing} of contract '{contract.name}': plan on the "
            "bootstrap days as parsed against the contract"
        )


def _plain_numeric_features(contract: DatasetContract) -> list[str]:
    """Numeric features that are quantities, not codes (no ``categories``)."""
    return [c for c in contract.numeric_features if contract.columns[c].categories is None]


def _known_values(series: pd.Series) -> np.ndarray:
    """The present values of a numeric column as float64."""
    return np.asarray(series.dropna().to_numpy(dtype="float64"), dtype="float64")


def _plan_unit_change(
    contract: DatasetContract, history: pd.DataFrame
) -> tuple[Incident, list[str]]:
    """Scale the feature a unit change would hit hardest, else rename a category."""
    guarded = {g.column for g in contract.guards if isinstance(g, MedianGuard)}
    ranked: list[tuple[bool, float, int, str, float]] = []
    for index, column in enumerate(_plain_numeric_features(contract)):
        values = _known_values(history[column])
        median = float(np.median(values)) if values.size else 0.0
        if median != 0.0:
            ranked.append((column not in guarded, -abs(median), index, column, median))
    if ranked:
        _, _, _, column, median = min(ranked)
        reason = (
            "the contract guards its median, so a unit change there is a known failure"
            if column in guarded
            else "the largest median magnitude among the numeric features"
        )
        scaled = ScaleColumn(
            column=column, factor=UNIT_FACTOR, history_median=median, reason=reason
        )
        return scaled, _unit_change_warnings(contract, history, scaled)
    return _plan_rename(contract, history), []


def _unit_change_warnings(
    contract: DatasetContract, history: pd.DataFrame, scaled: ScaleColumn
) -> list[str]:
    """A warning when no contract rule would see the scaled column (on the history)."""
    spec = contract.columns[scaled.column]
    values = _known_values(history[scaled.column]) * scaled.factor
    out_of_range = bool(
        (spec.max is not None and (values > spec.max).any())
        or (spec.min is not None and (values < spec.min).any())
    )
    median = float(np.median(values))
    median_blocked = any(
        _outside(g, median)
        for g in contract.guards
        if isinstance(g, MedianGuard) and g.column == scaled.column
    )
    if out_of_range or median_blocked:
        return []
    return [
        f"nothing in contract '{contract.name}' sees '{scaled.column}' x{scaled.factor} (no "
        "range it leaves, no median guard it breaks): the validation gate will let the incident "
        f"day through; declare a 'max' for '{scaled.column}' or add a 'median' guard"
    ]


def _plan_rename(contract: DatasetContract, history: pd.DataFrame) -> RenameCategory:
    """Rename the most frequent category of the categorical features (contract order on ties)."""
    ranked: list[tuple[int, int, int, str, str]] = []
    for column_index, column in enumerate(contract.categorical_features):
        counts = history[column].value_counts(dropna=True)
        for value_index, value in enumerate(contract.columns[column].categories or ()):
            count = int(counts.get(value, 0))
            if count > 0:
                ranked.append((-count, column_index, value_index, column, str(value)))
    if not ranked:
        raise ScenarioError(
            f"contract '{contract.name}' has no numeric feature with a non-zero median in the "
            "history to scale, and no categorical feature whose categories appear in it to rename"
        )
    negative_count, _, _, column, category = min(ranked)
    taken = {str(v) for v in contract.columns[column].categories or ()}
    return RenameCategory(
        column=column,
        category=category,
        renamed_to=_renamed(category, taken),
        history_share=round(-negative_count / len(history), 6),
        reason="the contract has no numeric feature with a non-zero median in the history",
    )


def _renamed(category: str, taken: set[str]) -> str:
    """A case change (as an upstream system might make), else the category with a suffix."""
    for candidate in (category.upper(), category.lower()):
        if candidate != category and candidate not in taken:
            return candidate
    suffix = 1
    while f"{category}_v{suffix}" in taken:
        suffix += 1
    return f"{category}_v{suffix}"


def _clip_bounds(contract: DatasetContract, column: str) -> tuple[float | None, float | None, bool]:
    """The column's range, tightened to whole numbers for an int column, and whether it is int."""
    spec = contract.columns[column]
    integer = spec.dtype == "int"
    lower, upper = spec.min, spec.max
    if integer:
        lower = None if lower is None else float(math.ceil(lower))
        upper = None if upper is None else float(math.floor(upper))
    return lower, upper, integer


def _shifted(
    values: np.ndarray, shift: float, lower: float | None, upper: float | None, integer: bool
) -> np.ndarray:
    """``values + shift``, rounded for an int column, clipped to ``[lower, upper]``."""
    moved = values + shift
    if integer:
        moved = np.round(moved)
    return np.clip(moved, -np.inf if lower is None else lower, np.inf if upper is None else upper)


def _blocked_direction(contract: DatasetContract, column: str, direction: int) -> str | None:
    """Why an ordered guard forbids moving ``column`` that way, or None."""
    for guard in contract.guards:
        if isinstance(guard, OrderedGuard):
            if guard.lower == column and direction > 0:
                return f"up would break the guard '{guard.lower}' <= '{guard.upper}'"
            if guard.upper == column and direction < 0:
                return f"down would break the guard '{guard.lower}' <= '{guard.upper}'"
    return None


def _outside(guard: MedianGuard, median: float) -> bool:
    return (guard.min is not None and median < guard.min) or (
        guard.max is not None and median > guard.max
    )


def _blocked_median(contract: DatasetContract, column: str, median: float) -> str | None:
    """Why a median guard would block the shifted median, or None."""
    for guard in contract.guards:
        if isinstance(guard, MedianGuard) and guard.column == column and _outside(guard, median):
            low = "-inf" if guard.min is None else f"{guard.min:g}"
            high = "inf" if guard.max is None else f"{guard.max:g}"
            return f"its median guard [{low}, {high}] would block the shifted median {median:.4g}"
    return None


def _plan_covariate_shift(
    contract: DatasetContract, history: pd.DataFrame, k: float
) -> tuple[CovariateShift, list[str]]:
    """Shift the feature whose history mean moves closest to ``k`` SD within the guards."""
    options: list[tuple[float, int, int, CovariateShift]] = []
    reasons: dict[str, list[str]] = {}
    candidates = _plain_numeric_features(contract)
    for index, column in enumerate(candidates):
        values = _known_values(history[column])
        sd = float(np.std(values, ddof=1)) if values.size >= 2 else 0.0
        if not sd > 0:
            reasons[column] = ["no spread in the history"]
            continue
        lower, upper, integer = _clip_bounds(contract, column)
        for direction in (1, -1):
            way = "up" if direction > 0 else "down"
            blocked = _blocked_direction(contract, column, direction)
            shift = direction * k * sd
            if integer:
                shift = float(round(shift))
                if shift == 0:
                    blocked = blocked or f"{k:g} SD ({k * sd:.2g}) rounds to no change"
            moved = _shifted(values, shift, lower, upper, integer)
            blocked = blocked or _blocked_median(contract, column, float(np.median(moved)))
            move_sds = float(moved.mean() - values.mean()) / sd
            kept = move_sds / (direction * k)
            if blocked is None and kept < MIN_KEPT_SHIFT:
                blocked = f"{way}, the range keeps only {max(kept, 0):.0%} of the shift"
            if blocked is not None:
                reasons.setdefault(column, []).append(blocked)
                continue
            plan = CovariateShift(
                column=column,
                k=float(k),
                history_mean=float(values.mean()),
                history_sd=sd,
                shift=shift,
                lower=lower,
                upper=upper,
                integer=integer,
                history_move_sds=round(move_sds, 6),
            )
            options.append((round(abs(1.0 - kept), 3), index, -direction, plan))
    if not options:
        why = "; ".join(f"'{c}': {' and '.join(r)}" for c, r in reasons.items())
        raise ScenarioError(
            f"covariate_shift cannot apply to contract '{contract.name}': "
            + (
                f"no numeric feature can take a shift of {k:g} SD that the gate lets through "
                f"and its range keeps ({why})"
                if candidates
                else "it has no numeric feature (int or float without categories) to shift"
            )
        )
    lost, _, _, plan = min(options, key=lambda option: option[:3])
    warnings = []
    if lost > _WARN_LOST_SHIFT:
        warnings.append(
            f"covariate shift: keeping '{plan.column}' within its range moves its mean by "
            f"{abs(plan.history_move_sds):.2f} SD on the history, not {k:g}"
        )
    return plan, warnings


def _plan_concept_drift(
    contract: DatasetContract, history: pd.DataFrame, share: float
) -> ConceptDrift:
    """Pick the group whose history holds the most rows of its rarer label."""
    columns = list(contract.segments) or contract.categorical_features
    if not columns:
        raise ScenarioError(
            f"concept_drift cannot apply to contract '{contract.name}': it needs a segment or a "
            "categorical feature to pick a group from, and declares neither"
        )
    encoded = contract.binary_labels(history[contract.label_column])
    known = encoded.notna().to_numpy(dtype=bool)
    positive = encoded.eq(1).to_numpy(dtype=bool, na_value=False)
    ranked: list[tuple[int, int, int, int, str, Label, int, int]] = []
    for column_index, column in enumerate(columns):
        values = history[column]
        for value_index, value in enumerate(contract.columns[column].categories or ()):
            group = values.eq(value).to_numpy(dtype=bool, na_value=False) & known
            rows = int(group.sum())
            positives = int((group & positive).sum())
            pairs = min(positives, rows - positives)
            if pairs > 0:
                ranked.append(
                    (-pairs, -rows, column_index, value_index, column, value, rows, positives)
                )
    if not ranked:
        raise ScenarioError(
            f"concept_drift cannot apply to contract '{contract.name}': no group of {columns} "
            "holds both labels in the history, so no label can be swapped"
        )
    *_, column, value, rows, positives = min(ranked, key=lambda option: option[:4])
    return ConceptDrift(
        column=column,
        value=value,
        share=share,
        positive=contract.positive,
        negative=contract.negative_label,
        history_rows=rows,
        history_positives=positives,
    )


# --- applying ----------------------------------------------------------------------------------


def apply_scenario(
    frame: pd.DataFrame, plan: ScenarioPlan, day_index: int, contract: DatasetContract
) -> pd.DataFrame:
    """Day ``day_index`` of the replay as the scenario makes it; the input is never changed.

    Deterministic: the same frame, plan and day give the same result.

    Raises:
        ValueError: ``day_index`` outside the replay, a plan made for another contract, or a
            frame lacking a column the scenario changes.
    """
    if not 0 <= day_index < plan.days:
        raise ValueError(
            f"day_index must be in [0, {plan.days - 1}] for a {plan.days}-day replay, "
            f"got {day_index}"
        )
    if contract.content_hash() != plan.contract_hash:
        raise ValueError(
            f"the plan was made for contract '{plan.contract}' (hash {plan.contract_hash[:12]}), "
            f"not for contract '{contract.name}' (hash {contract.content_hash()[:12]}): plan again"
        )
    out = frame.copy()
    if plan.incident is not None and day_index == plan.incident_day:
        out = _apply_incident(out, plan.incident, plan.scenario)
    if plan.onset_day is not None and day_index >= plan.onset_day:
        if plan.covariate_shift is not None:
            out = _apply_shift(out, plan.covariate_shift, plan.scenario)
        if plan.concept_drift is not None:
            rng = np.random.default_rng([plan.seed, day_index])
            out = _apply_swap(out, plan.concept_drift, contract, rng, plan.scenario)
    return out


def _require(frame: pd.DataFrame, columns: list[str], scenario: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the day's rows lack column(s) {missing}, which scenario {scenario!r} changes"
        )


def _apply_incident(frame: pd.DataFrame, incident: Incident, scenario: str) -> pd.DataFrame:
    _require(frame, [incident.column], scenario)
    if isinstance(incident, DropColumn):
        return frame.drop(columns=[incident.column])
    column = frame[incident.column]
    if isinstance(incident, ScaleColumn):
        frame[incident.column] = column * incident.factor
    else:
        frame[incident.column] = column.mask(column.eq(incident.category), incident.renamed_to)
    return frame


def _apply_shift(frame: pd.DataFrame, shift: CovariateShift, scenario: str) -> pd.DataFrame:
    _require(frame, [shift.column], scenario)
    column = frame[shift.column]
    values = column.to_numpy(dtype="float64", na_value=np.nan)
    moved = _shifted(values, shift.shift, shift.lower, shift.upper, shift.integer)
    frame[shift.column] = pd.Series(moved, index=frame.index).astype(column.dtype)
    return frame


def _apply_swap(
    frame: pd.DataFrame,
    drift: ConceptDrift,
    contract: DatasetContract,
    rng: np.random.Generator,
    scenario: str,
) -> pd.DataFrame:
    label = contract.label_column
    _require(frame, [drift.column, label], scenario)
    labels = frame[label]
    group = frame[drift.column].eq(drift.value).to_numpy(dtype=bool, na_value=False)
    positives = np.flatnonzero(group & labels.eq(drift.positive).to_numpy(bool, na_value=False))
    negatives = np.flatnonzero(group & labels.eq(drift.negative).to_numpy(bool, na_value=False))
    swaps = math.floor(drift.share * min(positives.size, negatives.size) + 0.5)
    if swaps == 0:
        return frame
    to_negative = np.sort(rng.choice(positives, size=swaps, replace=False))
    to_positive = np.sort(rng.choice(negatives, size=swaps, replace=False))
    swapped = labels.copy()
    swapped.iloc[to_negative] = drift.negative
    swapped.iloc[to_positive] = drift.positive
    frame[label] = swapped
    return frame
