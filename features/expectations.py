"""The Great Expectations suite that gates every raw batch.

Two kinds of expectation, each carrying ``notes`` that say which failure it guards against:

* **Derived from the dataset contract** (`contract_expectations`): the exact column set, each
  column's type, non-nullability, numeric range and allowed categories, a unique id, and a label
  that cannot be known before the event happened. Change the contract and these follow.
* **Hand-written** (`hand_written_expectations`): batch-level plausibility checks that no
  per-row rule can see: an amount median that moved by a factor of 100 (cents), a truncated
  extract, a label pipeline that stopped writing positives, a device-scoring outage. Their
  bounds live in `GuardConfig`, with the reasoning beside each number.

Every expectation is strict (``mostly`` unset): one bad row fails the batch. The tolerance sits
in the bounds of the batch-level checks instead, which were set against the generator's clean
days (see `GuardConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import great_expectations as gx
from great_expectations.expectations.core import (
    expect_column_proportion_of_non_null_values_to_be_between as non_null_share,
)
from great_expectations.expectations.core.expect_column_mean_to_be_between import (
    ExpectColumnMeanToBeBetween,
)
from great_expectations.expectations.core.expect_column_median_to_be_between import (
    ExpectColumnMedianToBeBetween,
)
from great_expectations.expectations.core.expect_column_pair_values_a_to_be_greater_than_b import (
    ExpectColumnPairValuesAToBeGreaterThanB,
)
from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
    ExpectColumnValuesToBeInSet,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_type_list import (
    ExpectColumnValuesToBeInTypeList,
)
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
    ExpectColumnValuesToNotBeNull,
)
from great_expectations.expectations.core.expect_table_columns_to_match_set import (
    ExpectTableColumnsToMatchSet,
)
from great_expectations.expectations.core.expect_table_row_count_to_be_between import (
    ExpectTableRowCountToBeBetween,
)
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.row_conditions import Column

from features.contract import DatasetContract, DType

#: pandas dtypes a column of each contract dtype may arrive with. Strings and categories must be
#: plain Python strings (object dtype) or a pandas string dtype, never a pandas Categorical:
#: a Categorical batch carries its own category list and breaks concatenation across days.
#: Datetimes must be tz-naive (the contract's convention is naive UTC).
ALLOWED_PANDAS_TYPES: dict[DType, list[str]] = {
    "string": ["str", "StringDtype"],
    "category": ["str", "StringDtype"],
    "int": ["int64", "int32", "Int64"],
    "float": ["float64", "float32"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
}


class SuiteError(ValueError):
    """The guard configuration does not fit the contract; the message names the setting."""


@dataclass(frozen=True)
class GuardConfig:
    """Bounds and column roles of the hand-written, batch-level expectations.

    The defaults fit the card-fraud contract and were checked against the data generator: over
    60-day runs of scenarios ``none`` and ``default`` (seeds 1-40, 1,500 rows a day, incident
    days left out: 4,760 days) the daily fraud rate stayed in [1.7 %, 6.6 %], the amount median
    in [39, 57] EUR and the device-score null share in [0.31, 0.48]. Set a column to None to
    switch its guard off when pointing the project at a dataset without that column.

    Attributes:
        min_rows: Fewer rows means an empty or truncated extract. Deliberately loose so that the
            300-row committed sample passes; use `for_daily_volume` when the volume is known.
        max_rows: More rows means a runaway extract (several days, or a batch appended twice).
        min_label_rate: Below it the label pipeline has (nearly) stopped writing positives.
            Statistically meaningful from about 1,000 rows a batch: at the lowest clean rate a
            300-row batch expects only about five positives, and may see one.
        max_label_rate: Above it labels are being written for the wrong rows or all rows.
        amount_column: The transaction amount, or None for no median guard.
        min_median_amount: The clean median is 40-60 EUR; amounts sent in thousands (or a
            column of zeros and placeholders) fall below this.
        max_median_amount: Amounts sent in cents multiply the median by 100 (to 4,000 or more).
        device_score_column: The nullable device trust score, or None for no device guards.
        channel_column: The payment channel, used to say which rows must have a device score.
        no_device_channel: The channel that has no device (its score is legitimately missing).
        min_device_score_null_share: Below it, missing scores were filled upstream (e.g. with
            0), and card-present payments would look like untrusted devices to the model.
        max_device_score_null_share: Above it, the device-scoring service is failing.
        velocity_columns: The (shorter window, longer window) transaction counts, or None: a
            one-hour count can never exceed the 24-hour count of the same card.
    """

    min_rows: int = 100
    max_rows: int = 100_000
    min_label_rate: float = 0.005
    max_label_rate: float = 0.15
    amount_column: str | None = "amount"
    min_median_amount: float = 5.0
    max_median_amount: float = 500.0
    device_score_column: str | None = "device_trust_score"
    channel_column: str | None = "channel"
    no_device_channel: str = "card_present"
    min_device_score_null_share: float = 0.10
    max_device_score_null_share: float = 0.80
    velocity_columns: tuple[str, str] | None = ("txn_count_1h", "txn_count_24h")

    def __post_init__(self) -> None:
        pairs = {
            "rows": (self.min_rows, self.max_rows),
            "label_rate": (self.min_label_rate, self.max_label_rate),
            "median_amount": (self.min_median_amount, self.max_median_amount),
            "device_score_null_share": (
                self.min_device_score_null_share,
                self.max_device_score_null_share,
            ),
        }
        for name, (low, high) in pairs.items():
            if low > high:
                raise SuiteError(f"GuardConfig: min_{name} ({low}) is above max_{name} ({high})")
        for name in ("label_rate", "device_score_null_share"):
            low, high = pairs[name]
            if not 0.0 <= low <= high <= 1.0:
                raise SuiteError(f"GuardConfig: {name} bounds must lie in [0, 1]")

    @classmethod
    def for_daily_volume(cls, rows_per_day: int) -> GuardConfig:
        """Defaults, with the row-count bounds at half and four times the expected volume.

        Raises:
            SuiteError: `rows_per_day` is not positive.
        """
        if rows_per_day <= 0:
            raise SuiteError(f"rows_per_day must be positive, got {rows_per_day}")
        return replace(cls(), min_rows=rows_per_day // 2, max_rows=rows_per_day * 4)


def suite_name(contract: DatasetContract) -> str:
    """Name of the contract's gate suite in a Great Expectations context."""
    return f"{contract.name}_batch_gate"


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"[{low:g}, {high:g}]"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


def contract_expectations(contract: DatasetContract) -> list[Expectation]:
    """The expectations the contract implies, table-level first, then column by column."""
    expectations: list[Expectation] = [
        ExpectTableColumnsToMatchSet(
            column_set=contract.column_names,
            exact_match=True,
            notes=(
                "A schema break: a renamed, missing or extra column. The model, the API and the "
                "monitoring mapping are all built from the contract's column set."
            ),
        )
    ]
    for name, spec in contract.columns.items():
        expectations.append(
            ExpectColumnValuesToBeInTypeList(
                column=name,
                type_list=ALLOWED_PANDAS_TYPES[spec.dtype],
                notes=(
                    f"'{name}' arriving with the wrong type for a '{spec.dtype}' column (numbers "
                    "as text, tz-aware timestamps, a pandas Categorical, nulls that turned an "
                    "int column into floats)."
                ),
            )
        )
        if not spec.nullable:
            expectations.append(
                ExpectColumnValuesToNotBeNull(
                    column=name,
                    notes=(
                        f"Missing '{name}' values in a column the contract declares non-nullable "
                        "(a dropped field or a broken join upstream)."
                    ),
                )
            )
        if spec.is_numeric and (spec.min is not None or spec.max is not None):
            expectations.append(
                ExpectColumnValuesToBeBetween(
                    column=name,
                    min_value=spec.min,
                    max_value=spec.max,
                    notes=(
                        f"'{name}' outside the contract's range {_range_text(spec.min, spec.max)}"
                        ": a unit change, a sign error or a sentinel such as -1 or 9999."
                    ),
                )
            )
        if spec.categories is not None:
            if name == contract.label_column:
                note = (
                    f"A label other than {list(spec.categories)} (e.g. -1 for 'unknown' or a "
                    "chargeback reason code), which the binary classifier would mis-read."
                )
            else:
                note = (
                    f"A '{name}' value the contract does not list (a new code upstream, a typo, "
                    "a case change): the model's encoder would treat it as unknown."
                )
            expectations.append(
                ExpectColumnValuesToBeInSet(
                    column=name, value_set=list(spec.categories), notes=note
                )
            )
    expectations.append(
        ExpectColumnValuesToBeUnique(
            column=contract.id_column,
            notes=(
                f"Duplicate '{contract.id_column}' values: rows doubled by a join or a batch "
                "appended twice; duplicates bias training and double-count business costs."
            ),
        )
    )
    expectations.append(
        ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=contract.label_available_time_column,
            column_B=contract.event_time_column,
            or_equal=True,
            notes=(
                f"'{contract.label_available_time_column}' before "
                f"'{contract.event_time_column}': a label known before the transaction happened "
                "is a clock or timezone bug, and training on it would leak the future."
            ),
        )
    )
    return expectations


def _require_column(contract: DatasetContract, setting: str, column: str) -> None:
    if column not in contract.columns:
        raise SuiteError(
            f"GuardConfig.{setting} is '{column}', which contract '{contract.name}' does not "
            f"declare; set it to a declared column or to None to switch that guard off"
        )


def hand_written_expectations(contract: DatasetContract, guards: GuardConfig) -> list[Expectation]:
    """Batch-level guards no per-row rule can express; each one's notes give its reason.

    Raises:
        SuiteError: A guard names a column the contract does not declare.
    """
    expectations: list[Expectation] = [
        ExpectTableRowCountToBeBetween(
            min_value=guards.min_rows,
            max_value=guards.max_rows,
            notes=(
                "An empty or truncated extract (a failed export, a partial file), or a runaway "
                "one (several days in one file, a batch appended twice)."
            ),
        ),
        ExpectColumnMeanToBeBetween(
            column=contract.label_column,
            min_value=guards.min_label_rate,
            max_value=guards.max_label_rate,
            notes=(
                f"A positive-label rate outside [{guards.min_label_rate:.1%}, "
                f"{guards.max_label_rate:.0%}]: a label pipeline that stops writing positives, "
                "or one that marks every row; either silently ruins the next model."
            ),
        ),
    ]
    if guards.amount_column is not None:
        _require_column(contract, "amount_column", guards.amount_column)
        expectations.append(
            ExpectColumnMedianToBeBetween(
                column=guards.amount_column,
                min_value=guards.min_median_amount,
                max_value=guards.max_median_amount,
                notes=(
                    "Amounts in the wrong unit: amounts sent in cents multiply the median by "
                    "100, amounts sent in thousands divide it by 1,000."
                ),
            )
        )
    if guards.device_score_column is not None:
        column = guards.device_score_column
        _require_column(contract, "device_score_column", column)
        expectations.append(
            non_null_share.ExpectColumnProportionOfNonNullValuesToBeBetween(
                column=column,
                min_value=1.0 - guards.max_device_score_null_share,
                max_value=1.0 - guards.min_device_score_null_share,
                notes=(
                    f"A null share of '{column}' outside [{guards.min_device_score_null_share:.0%}"
                    f", {guards.max_device_score_null_share:.0%}]: a device-scoring outage "
                    "(too many nulls), or an upstream fill-na that gave payments without a "
                    "device a made-up score (too few)."
                ),
            )
        )
        if guards.channel_column is not None:
            _require_column(contract, "channel_column", guards.channel_column)
            expectations.append(
                ExpectColumnValuesToNotBeNull(
                    column=column,
                    row_condition=Column(guards.channel_column) != guards.no_device_channel,
                    notes=(
                        f"A missing '{column}' on a payment that has a device (channel other "
                        f"than '{guards.no_device_channel}'): the scoring service failed for it."
                    ),
                )
            )
    if guards.velocity_columns is not None:
        short, long = guards.velocity_columns
        _require_column(contract, "velocity_columns", short)
        _require_column(contract, "velocity_columns", long)
        expectations.append(
            ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=long,
                column_B=short,
                or_equal=True,
                notes=(
                    f"'{short}' above '{long}': the two velocity counters were swapped or "
                    "computed over the wrong windows."
                ),
            )
        )
    return expectations


def build_suite(
    contract: DatasetContract, guards: GuardConfig | None = None
) -> gx.ExpectationSuite:
    """The gate suite: contract-derived expectations followed by the hand-written guards.

    The suite is not attached to any context; add it with ``context.suites.add_or_update``.

    Raises:
        SuiteError: A guard names a column the contract does not declare.
    """
    guards = guards or GuardConfig()
    expectations = [
        *contract_expectations(contract),
        *hand_written_expectations(contract, guards),
    ]
    suite = gx.ExpectationSuite(
        name=suite_name(contract),
        expectations=expectations,
        meta={"contract_name": contract.name, "contract_hash": contract.content_hash()},
    )
    # The constructor logs and skips an expectation it cannot process; never drop one silently.
    if len(suite.expectations) != len(expectations):
        raise SuiteError(
            f"Great Expectations accepted {len(suite.expectations)} of {len(expectations)} "
            "expectations; see its log for the rejected configuration"
        )
    return suite
