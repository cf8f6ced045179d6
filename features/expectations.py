"""The Great Expectations suite that gates every raw batch, derived entirely from the contract.

Two kinds of expectation, each carrying ``notes`` that say which failure it guards against:

* **Per-row rules the contract implies** (`contract_expectations`): the exact column set, each
  column's type, non-nullability, numeric range and allowed categories, a unique id, and (when
  the contract has a label-available column) a label that cannot be known before the event.
* **Batch guards the contract declares** (`guard_expectations`): plausibility checks no per-row
  rule can see, such as a median that moved by a factor of 100 (a unit change), a truncated
  extract, a label pipeline that stopped writing positives or a scoring outage upstream. Their
  bounds and the failure each one catches (its ``catches``, used as the notes) live in the
  contract's ``guards`` section, beside the columns they check.

Every per-row rule is strict (``mostly`` unset): one bad row fails the batch. The only
expectations with ``mostly`` are the two halves of a label-rate guard, where it expresses the
bound on the positive share; they carry ``meta["guard"] == "label_rate"`` so that the gate can
report them as a share of positives rather than as rows out of a set.
"""

from __future__ import annotations

from typing import Any, Final

import great_expectations as gx
from great_expectations.expectations.core import (
    expect_column_proportion_of_non_null_values_to_be_between as non_null_share,
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
from great_expectations.expectations.core.expect_column_values_to_be_null import (
    ExpectColumnValuesToBeNull,
)
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_in_set import (
    ExpectColumnValuesToNotBeInSet,
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

from features.contract import (
    DatasetContract,
    DType,
    LabelRateGuard,
    MedianGuard,
    NullShareGuard,
    NullWhenGuard,
    OrderedGuard,
    RowCountGuard,
)

#: pandas dtypes a column of each contract dtype may arrive with. Strings and categories must be
#: plain Python strings (object dtype) or a pandas string dtype, never a pandas Categorical:
#: a Categorical batch carries its own category list and breaks concatenation across days.
#: Datetimes must be tz-naive (the contract's convention is naive UTC).
ALLOWED_PANDAS_TYPES: dict[DType, list[str]] = {
    "string": ["str", "StringDtype"],
    "category": ["str", "StringDtype"],
    "int": ["int64", "int32", "Int64Dtype", "Int32Dtype"],
    "float": ["float64", "float32"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
}

#: Key of an expectation's ``meta`` naming the contract guard it was made from (its ``check``).
GUARD_META_KEY: Final = "guard"


class SuiteError(ValueError):
    """Great Expectations refused part of the suite built from a valid contract."""


def suite_name(contract: DatasetContract) -> str:
    """Name of the contract's gate suite in a Great Expectations context."""
    return f"{contract.name}_batch_gate"


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"[{low:g}, {high:g}]"
    return f">= {low:g}" if low is not None else f"<= {high:g}"


def _label_note(contract: DatasetContract, values: list[Any]) -> str:
    return (
        f"A label other than {values} (e.g. a code for 'unknown', a reason code, a case change "
        f"or a number written as text): the model learns only '{contract.positive}' against "
        f"'{contract.negative_label}', so any other value would be mis-read as one of them."
    )


def contract_expectations(contract: DatasetContract) -> list[Expectation]:
    """The per-row rules the contract implies, table-level first, then column by column."""
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
            values = list(spec.categories)
            if name == contract.label_column:
                note = _label_note(contract, values)
            else:
                note = (
                    f"A '{name}' value the contract does not list (a new code upstream, a typo, "
                    "a case change): the model's encoder would treat it as unknown."
                )
            expectations.append(
                ExpectColumnValuesToBeInSet(column=name, value_set=values, notes=note)
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
    available = contract.label_available_time_column
    if available is not None:
        expectations.append(
            ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=available,
                column_B=contract.event_time_column,
                or_equal=True,
                notes=(
                    f"'{available}' before '{contract.event_time_column}': a label known before "
                    "the event happened is a clock or timezone bug, and training on it would "
                    "leak the future."
                ),
            )
        )
    return expectations


def _label_rate(contract: DatasetContract, guard: LabelRateGuard) -> list[Expectation]:
    """The share of labelled rows equal to the positive label, as one or two set checks.

    A mean would not do: the label may be text. ``mostly`` on "in {positive}" bounds the share
    from below, ``mostly`` on "not in {positive}" bounds it from above. Great Expectations leaves
    missing labels out of both the count and the share, as the guard means.
    """
    label, positive = contract.label_column, contract.positive
    meta = {
        GUARD_META_KEY: guard.check,
        "column": label,
        "positive": positive,
        "min": guard.min,
        "max": guard.max,
    }
    expectations: list[Expectation] = []
    if guard.min is not None and guard.min > 0:
        expectations.append(
            ExpectColumnValuesToBeInSet(
                column=label, value_set=[positive], mostly=guard.min, meta=meta, notes=guard.catches
            )
        )
    if guard.max is not None and guard.max < 1:
        expectations.append(
            ExpectColumnValuesToNotBeInSet(
                column=label,
                value_set=[positive],
                mostly=1.0 - guard.max,
                meta=meta,
                notes=guard.catches,
            )
        )
    return expectations


def _null_when(guard: NullWhenGuard) -> list[Expectation]:
    """Present where the condition does not hold, missing where it does: two checks."""
    when = Column(guard.when.column)
    meta = {GUARD_META_KEY: guard.check}
    return [
        ExpectColumnValuesToNotBeNull(
            column=guard.column,
            row_condition=when != guard.when.equals,
            meta=meta,
            notes=guard.catches,
        ),
        ExpectColumnValuesToBeNull(
            column=guard.column,
            row_condition=when == guard.when.equals,
            meta=meta,
            notes=guard.catches,
        ),
    ]


def _whole(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


def _complement(share: float | None) -> float | None:
    return None if share is None else 1.0 - share


def guard_expectations(contract: DatasetContract) -> list[Expectation]:
    """The contract's batch guards as expectations, in contract order.

    Each expectation's notes are the guard's ``catches`` and its ``meta["guard"]`` is the
    guard's kind (``row_count``, ``label_rate``, ...). A label-rate guard becomes up to two
    expectations (one per bound) and a null-when guard exactly two (one per direction).
    """
    expectations: list[Expectation] = []
    for guard in contract.guards:
        meta: dict[str, Any] = {GUARD_META_KEY: guard.check}
        if isinstance(guard, RowCountGuard):
            expectations.append(
                ExpectTableRowCountToBeBetween(
                    min_value=_whole(guard.min),
                    max_value=_whole(guard.max),
                    meta=meta,
                    notes=guard.catches,
                )
            )
        elif isinstance(guard, LabelRateGuard):
            expectations.extend(_label_rate(contract, guard))
        elif isinstance(guard, MedianGuard):
            expectations.append(
                ExpectColumnMedianToBeBetween(
                    column=guard.column,
                    min_value=guard.min,
                    max_value=guard.max,
                    meta=meta,
                    notes=guard.catches,
                )
            )
        elif isinstance(guard, NullShareGuard):
            expectations.append(
                non_null_share.ExpectColumnProportionOfNonNullValuesToBeBetween(
                    column=guard.column,
                    min_value=_complement(guard.max),
                    max_value=_complement(guard.min),
                    meta={**meta, "column": guard.column, "min": guard.min, "max": guard.max},
                    notes=guard.catches,
                )
            )
        elif isinstance(guard, OrderedGuard):
            expectations.append(
                ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=guard.upper,
                    column_B=guard.lower,
                    or_equal=not guard.strict,
                    ignore_row_if="either_value_is_missing",
                    meta=meta,
                    notes=guard.catches,
                )
            )
        else:
            expectations.extend(_null_when(guard))
    return expectations


def build_suite(contract: DatasetContract) -> gx.ExpectationSuite:
    """The gate suite: the contract's per-row rules followed by its batch guards.

    The suite is not attached to any context; add it with ``context.suites.add_or_update``.

    Raises:
        SuiteError: Great Expectations dropped an expectation it could not process.
    """
    expectations = [*contract_expectations(contract), *guard_expectations(contract)]
    suite = gx.ExpectationSuite(
        name=suite_name(contract),
        expectations=expectations,
        meta={"contract_name": contract.name, "contract_hash": contract.content_hash()},
    )
    # The constructor logs and skips an expectation it cannot process; never drop one silently.
    if len(suite.expectations) != len(expectations):
        raise SuiteError(
            f"Great Expectations accepted {len(suite.expectations)} of {len(expectations)} "
            f"expectations of contract '{contract.name}'; see its log for the rejected "
            "configuration"
        )
    return suite
