"""Request and response models of the HTTP API, derived from the dataset contract.

:func:`build_api_schemas` turns the contract into pydantic models, so the API accepts exactly
what the model was trained on and answers in the contract's words:

- a request row holds the id column (a non-empty string; a JSON integer too when the contract's
  id is an int, echoed as given), every feature with its type and allowed values (``ge``/``le``
  from ``min``/``max``, an enum of the declared categories, ``null`` only where the contract says
  ``nullable``), every segment that is not a feature as an optional, nullable field (validated
  and logged, never given to the model), and an optional event time;
- a prediction names the id under the contract's id column and the score under its
  ``score_name``;
- a label record holds the id, the label as one of the contract's two label values (a JSON
  string for text labels, a JSON integer for int labels; ``"1"`` is not ``1``) and, optionally,
  when the label became known.

Dates and times are ISO 8601 text (``2024-03-01T12:00:00Z``; a time without an offset is UTC),
never a number of seconds since 1970. Text (ids and string columns) refuses control characters
(C0, DEL and C1: NUL, newline, escape, ...), so a value cannot forge log lines or hide in a
terminal. Every datetime in a response carries its UTC offset (the server keeps tz-naive UTC
internally).

Numbers are strict: ``"12.5"`` or ``true`` is rejected instead of being coerced, and ``NaN`` or
``Infinity`` is rejected. An int column takes a number without a fractional part written as
``30.0`` (JSON has one number type, and JSON Schema counts ``30.0`` as an integer) and, when the
contract gives no bound, is bounded to int64, the type of the model's input. Unknown fields are
rejected (``extra="forbid"``) so that a misspelt column fails loudly instead of being silently
ignored. A column whose name pydantic cannot use as an attribute (``_id``, ``copy``,
``model_config``) becomes a field with that name as its alias, so read validated rows with
:func:`row_values`, never ``dict(item)``.

``POST /v1/predict`` accepts either ONE row object or a JSON array of 1..``max_batch`` row
objects; it answers with one prediction object or an array in the same order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
)
from pydantic_core import PydanticCustomError

from features.contract import ColumnSpec, DatasetContract, Value
from features.vocabulary import (
    DECISION,
    LABELS_FILE,
    MODEL_NAME,
    MODEL_VERSION,
    REQUEST_ID,
    THRESHOLD,
)

SINGLE_TAG = "row"
BATCH_TAG = "rows"
MAX_LABELS = 10_000
ID_MAX_LENGTH = 256
#: The range of an int column without bounds in the contract: the model's frame holds int64.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: C0 controls, DEL and C1 controls: refused in any text of a request.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
#: The same rule as a JSON-schema pattern, so the OpenAPI spec says what the server accepts.
NO_CONTROL_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
#: Lone UTF-16 surrogates: JSON can spell one (``"\ud800"``) but it is no character and has no
#: UTF-8 form. Not in the spec's pattern: a JSON Schema string is Unicode text, which has none.
SURROGATES = re.compile("[\ud800-\udfff]")

_REQUEST_CONFIG = ConfigDict(extra="forbid", protected_namespaces=(), frozen=True)
_RESPONSE_CONFIG = ConfigDict(protected_namespaces=())


class SchemaError(ValueError):
    """The contract declares something the API cannot express as a request field."""


def _bound(value: float | None, integer: bool) -> float | int | None:
    if value is None:
        return None
    return int(value) if integer and float(value).is_integer() else value


def whole_number(value: object) -> object:
    """``value``, except that a float without a fractional part (``30.0``) becomes the int ``30``.

    Anything else (``30.5``, ``"30"``, ``true``, infinity) is returned as it came, for the strict
    integer check that follows to refuse.
    """
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _choices(values: Sequence[Value]) -> str:
    """``0 or 1``, ``'a', 'b' or 'c'``: the allowed values as pydantic words them."""
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def strict_choice(values: Sequence[Value]) -> Any:
    """An enum of ``values`` that never coerces: ``"1"``, ``true`` or ``1.0`` is not ``1``.

    Text values accept JSON strings only and integer values JSON integers only; pydantic's
    plain ``Literal`` would take ``true`` and ``1.0`` for ``1``.
    """
    expected = _choices(values)
    kind = str if all(isinstance(v, str) for v in values) else int

    def exact_type(value: object) -> object:
        if type(value) is not kind:
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value

    return Annotated[Literal[tuple(values)], BeforeValidator(exact_type)]


def refuse_control_characters(value: str) -> str:
    """``value`` unchanged, or an error naming the first control character or lone surrogate.

    The error types are ``control_character`` and ``lone_surrogate``, with the code point and its
    position (never the character itself).
    """
    found = CONTROL_CHARACTERS.search(value)
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "Text must not contain control characters; found U+{code} at position {position}",
            {"code": f"{ord(found.group()):04X}", "position": found.start()},
        )
    found = SURROGATES.search(value)
    if found is not None:
        raise PydanticCustomError(
            "lone_surrogate",
            "Text must be valid Unicode; found the lone surrogate U+{code} at position {position}",
            {"code": f"{ord(found.group()):04X}", "position": found.start()},
        )
    return value


#: How a request date and time starts: ``YYYY-MM-DD``, ``T`` (or a space), ``HH:MM``.
ISO_DATETIME_START = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def iso_datetime_text(value: object) -> object:
    """``value`` if it is text shaped as an ISO 8601 date and time, else a ``datetime_type`` error.

    The datetime parser that follows would also take a number, or digits in a string, as seconds
    since 1970, and the OpenAPI spec (``format: date-time``) promises neither.
    """
    if not isinstance(value, str) or ISO_DATETIME_START.match(value) is None:
        raise PydanticCustomError(
            "datetime_type",
            "Input should be an ISO 8601 date and time such as 2024-03-01T12:00:00Z "
            "(UTC when no offset is given)",
        )
    return value


#: A date and time in a request: ISO 8601 text only (seconds and the offset may be left out).
RequestDatetime = Annotated[dt.datetime, BeforeValidator(iso_datetime_text)]

#: A JSON string without control characters (the check and its OpenAPI pattern).
Text = Annotated[
    str,
    Field(strict=True, json_schema_extra={"pattern": NO_CONTROL_PATTERN}),
    AfterValidator(refuse_control_characters),
]


def column_annotation(name: str, spec: ColumnSpec) -> Any:
    """The pydantic type of one contract column's value (without nullability).

    Floats accept JSON numbers (integers included) within ``[min, max]``, never strings, booleans
    or non-finite values; ints accept JSON integers (and integral numbers such as ``30.0``)
    within ``[min, max]``, int64's range where the contract gives none; columns with
    ``categories`` (category columns, and int columns with a closed set of codes) accept exactly
    those values.

    Raises:
        SchemaError: A category column declares no categories.
    """
    if spec.categories:
        return strict_choice(spec.categories)
    if spec.dtype == "float":
        return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=spec.min, le=spec.max)]
    if spec.dtype == "int":
        low, high = _bound(spec.min, True), _bound(spec.max, True)
        return Annotated[
            int,
            Field(
                strict=True,
                ge=INT64_MIN if low is None else low,
                le=INT64_MAX if high is None else high,
            ),
            BeforeValidator(whole_number),
        ]
    if spec.dtype == "string":
        return Text
    if spec.dtype == "datetime":
        return RequestDatetime
    raise SchemaError(f"column '{name}' ({spec.dtype}) declares no categories")


def _text_or_integer_id(value: object) -> object:
    """Let through a JSON integer or a string that passes the id's length bounds, nothing else.

    One check for both shapes, so a bad id is one error on the id field (a plain ``str | int``
    union would report one error per member). An integral number (``7.0``) is the integer ``7``.
    """
    value = whole_number(value)
    if type(value) is int:
        return value
    if type(value) is not str:
        raise PydanticCustomError("id_type", "Input should be a string or an integer")
    if not 1 <= len(value) <= ID_MAX_LENGTH:
        raise PydanticCustomError(
            "id_length",
            "An id has 1 to {max_length} characters, got {length}",
            {"max_length": ID_MAX_LENGTH, "length": len(value)},
        )
    return refuse_control_characters(value)


def id_annotation(contract: DatasetContract) -> Any:
    """The id's type: a non-empty string, or also a JSON integer when the contract's id is int."""
    text = Annotated[Text, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=None)]
    if contract.columns[contract.id_column].dtype == "int":
        return Annotated[text | int, BeforeValidator(_text_or_integer_id)]
    return text


class _Fields:
    """Fields of one model under construction; columns pydantic cannot name get an alias."""

    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {}

    def add(self, name: str, annotation: Any, default: Any, description: str | None) -> None:
        key = name
        alias: str | None = None
        if name.startswith("_") or hasattr(BaseModel, name):
            alias = name
            index = len(self.definitions)
            key = f"column_{index}"
            while key in self.definitions or hasattr(BaseModel, key):
                index += 1
                key = f"column_{index}"
        self.definitions[key] = (
            Annotated[annotation, Field(alias=alias, description=description)],
            default,
        )

    def model(self, name: str, doc: str, config: ConfigDict) -> type[BaseModel]:
        built: type[BaseModel] = create_model(
            name, __config__=config, __doc__=doc, **self.definitions
        )
        return built


def row_values(item: BaseModel) -> dict[str, Any]:
    """A validated request item as ``{column name: value}`` (aliases resolved, types kept)."""
    return item.model_dump(by_alias=True)


def build_row_model(contract: DatasetContract) -> type[BaseModel]:
    """The request item: the id, every feature, every extra segment and an optional event time."""
    fields = _Fields()
    fields.add(
        contract.id_column,
        id_annotation(contract),
        ...,
        "Caller's id of the row; echoed as given in the prediction and the prediction log.",
    )
    for name in contract.features:
        spec = contract.columns[name]
        annotation = column_annotation(name, spec)
        if spec.nullable:
            fields.add(name, annotation | None, None, spec.description or None)
        else:
            fields.add(name, annotation, ..., spec.description or None)
    for name in contract.extra_segments:
        spec = contract.columns[name]
        description = (
            f"{spec.description} " if spec.description else ""
        ) + "Optional; logged and used to slice results per segment, never given to the model."
        fields.add(name, column_annotation(name, spec) | None, None, description)
    fields.add(
        contract.event_time_column,
        RequestDatetime | None,
        None,
        "When the row's event happened (ISO 8601; UTC when no offset is given). Defaults to the "
        "time the request is received. Decides the prediction log file the row is written to.",
    )
    return fields.model(
        "Row", f"One row to score, with the columns of contract '{contract.name}'.", _REQUEST_CONFIG
    )


def build_label_model(contract: DatasetContract) -> type[BaseModel]:
    """One label delivered after scoring: the id, the label value, and when it became known."""
    values = contract.label_values
    fields = _Fields()
    fields.add(contract.id_column, id_annotation(contract), ..., "Id of the scored row.")
    fields.add(
        contract.label_column,
        strict_choice(values),
        ...,
        f"The row's label: {_choices(values)}; {contract.positive!r} is the class the model "
        "detects.",
    )
    fields.add(
        contract.label_available_field,
        RequestDatetime | None,
        None,
        "When the label became known (ISO 8601, UTC if no offset).",
    )
    return fields.model(
        "LabelRecord",
        f"A label delivered after scoring, appended to {LABELS_FILE}.",
        _REQUEST_CONFIG,
    )


def build_prediction_model(contract: DatasetContract) -> type[BaseModel]:
    """The answer for one row: its id and score under the contract's names, and the decision."""
    fields = _Fields()
    fields.add(REQUEST_ID, str, ..., "Id of the HTTP request (also in header X-Request-ID).")
    fields.add(contract.id_column, id_annotation(contract), ..., "The row's id, as sent.")
    fields.add(
        contract.score_name,
        Annotated[float, Field(ge=0, le=1)],
        ...,
        f"Model score: the probability that {contract.label_column} is {contract.positive!r}.",
    )
    fields.add(
        DECISION,
        Literal[0, 1],
        ...,
        f"1 when the score reaches the threshold ({contract.score_name} >= threshold), else 0.",
    )
    fields.add(THRESHOLD, float, ..., "Decision threshold of the model version that scored.")
    fields.add(MODEL_NAME, str, ..., "Registered model name.")
    fields.add(MODEL_VERSION, str, ..., "Version that scored the row.")
    return fields.model(
        "Prediction",
        "The score of one row and the decision taken with the model version's threshold.",
        _RESPONSE_CONFIG,
    )


def _request_kind(value: object) -> str:
    return BATCH_TAG if isinstance(value, list) else SINGLE_TAG


@dataclass(frozen=True)
class ApiSchemas:
    """The request and response types derived from one contract.

    Attributes:
        row: The request item model (``Row``).
        label: The label record model (``LabelRecord``).
        prediction: The answer for one row (``Prediction``).
        predict_body: The body of ``POST /v1/predict``: one ``Row`` or an array of
            1..max_batch of them (a discriminated union, so errors name one shape only).
        predict_response: The answer of ``POST /v1/predict``: one ``Prediction`` or an array.
        labels_body: The body of ``POST /v1/labels``: an array of 1..MAX_LABELS label records.
    """

    row: type[BaseModel]
    label: type[BaseModel]
    prediction: type[BaseModel]
    predict_body: Any
    predict_response: Any
    labels_body: Any


def build_api_schemas(contract: DatasetContract, max_batch: int) -> ApiSchemas:
    """Derive every contract-dependent type of the API from the contract."""
    row = build_row_model(contract)
    label = build_label_model(contract)
    prediction = build_prediction_model(contract)
    predict_body = Annotated[
        Annotated[row, Tag(SINGLE_TAG)]  # type: ignore[valid-type]
        | Annotated[
            list[row],  # type: ignore[valid-type]
            Field(min_length=1, max_length=max_batch),
            Tag(BATCH_TAG),
        ],
        Discriminator(_request_kind),
    ]
    labels_body = Annotated[
        list[label],  # type: ignore[valid-type]
        Field(min_length=1, max_length=MAX_LABELS),
    ]
    return ApiSchemas(
        row=row,
        label=label,
        prediction=prediction,
        predict_body=predict_body,
        predict_response=prediction | list[prediction],  # type: ignore[valid-type]
        labels_body=labels_body,
    )


# ----------------------------------------------------------------------------- responses


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` with its UTC offset: a naive time is UTC (the project's convention)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: A response datetime: always serialized with its offset (``...+00:00``), as OpenAPI's
#: ``date-time`` format requires.
UtcDatetime = Annotated[dt.datetime, AfterValidator(as_utc)]


class LabelsAccepted(BaseModel):
    """Acknowledgement that labels were appended to the label log."""

    request_id: str
    accepted: int = Field(description="Number of label records written.")
    matched: int = Field(
        description=(
            "How many of them carry the id of a row this server process scored (among the "
            "most recently scored ids it remembers; labels for rows scored before a restart "
            "or by another replica are not counted). Labels that match nothing cannot be "
            "joined by monitoring."
        )
    )


class SwapErrorOut(BaseModel):
    """The last model version that was NOT swapped in, and why."""

    version: str
    reason: str
    at: UtcDatetime


class ModelInfo(BaseModel):
    """The model version being served, where it came from and how it scored on its holdout."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str
    alias: str
    alias_version: str | None = Field(
        description="Version the alias points to now; differs from `version` after a rejected swap."
    )
    run_id: str | None
    threshold: float
    contract_hash: str | None
    train_start: str | None
    train_end: str | None
    holdout_start: str | None
    holdout_end: str | None
    cutoff: str | None
    code_revision: str | None
    warnings: list[str] = Field(
        description="Caveats the training run recorded (e.g. a holdout with few positives)."
    )
    metrics: dict[str, float] = Field(
        description=(
            "Holdout metrics of the training run; one it logged as NaN or infinite is left out "
            "(JSON has no such numbers)."
        )
    )
    scored_by: Literal["fast path", "predict_proba"] = Field(
        description=(
            "How this version's scores are computed: `fast path`, the Pipeline's fitted "
            "encoder and trees applied in numpy (the same bits, much less time per call), or "
            "the Pipeline's own `predict_proba` (a Pipeline of another shape, or a fast path "
            "that disagreed with it on the version's input example)."
        )
    )
    loaded_at: UtcDatetime
    last_swap_error: SwapErrorOut | None


class Health(BaseModel):
    """Liveness: the process answers."""

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    """Readiness: a model is loaded and predictions can be served."""

    status: Literal["ready"] = "ready"
    model_name: str
    model_version: str

    model_config = ConfigDict(protected_namespaces=())


class FieldError(BaseModel):
    """One invalid part of a request."""

    field: str = Field(description="Dotted path of the bad value, e.g. 'body[3].age'.")
    loc: list[str | int] = Field(description="The same path as a list.")
    message: str
    type: str = Field(description="Machine-readable error type (pydantic's).")


class ErrorBody(BaseModel):
    """Every error response of the API has this shape."""

    detail: str = Field(description="What went wrong and what to do about it.")
    request_id: str | None = None
    errors: list[FieldError] = Field(
        default_factory=list, description="Each invalid field (validation errors only)."
    )


# ----------------------------------------------------------------------- error formatting


def clean_loc(loc: Sequence[str | int]) -> list[str | int]:
    """Drop the union tag pydantic inserts after ``body`` (``row``/``rows``)."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "body" and parts[1] in (SINGLE_TAG, BATCH_TAG):
        del parts[1]
    return parts


def dotted(loc: Iterable[str | int]) -> str:
    """``["body", 3, "age"]`` -> ``"body[3].age"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "request"


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Turn pydantic/FastAPI validation errors into :class:`FieldError` with readable messages.

    A malformed JSON body (``json_invalid``) is reported on ``body`` with the decoder's reason
    and character position instead of pydantic's bare location.
    """
    out: list[FieldError] = []
    for err in errors:
        kind = str(err.get("type", "value_error"))
        loc = clean_loc(err.get("loc", ()))
        message = str(err.get("msg", "invalid value"))
        if kind == "json_invalid":
            position = loc[1] if len(loc) > 1 else None
            reason = (err.get("ctx") or {}).get("error", "not valid JSON")
            where = f" at character {position}" if isinstance(position, int) else ""
            message = f"Malformed JSON body: {reason}{where}"
            loc = ["body"]
        elif kind == "missing" and loc == ["body"]:
            message = "Request body is missing: send JSON (one object or a non-empty array)"
        out.append(FieldError(field=dotted(loc), loc=loc, message=message, type=kind))
    return out
