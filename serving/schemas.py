"""Request and response models of the HTTP API; the request side is derived from the contract.

:func:`build_api_schemas` turns the dataset contract into pydantic models, so the API accepts
exactly what the model was trained on: the id column (a non-empty string), every feature column
with its type and allowed values (``ge``/``le`` from ``min``/``max``, an enum of the declared
categories, ``null`` only where the contract says ``nullable``) and an optional event time.
Numbers are strict: ``"12.5"`` or ``true`` is rejected instead of being coerced, and ``NaN`` or
``Infinity`` is rejected. Unknown fields are rejected (``extra="forbid"``) so that a misspelt
column fails loudly instead of being silently ignored.

``POST /v1/predict`` accepts either ONE transaction object or a JSON array of 1..``max_batch``
transaction objects; it answers with one prediction object or an array in the same order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
)

from features.contract import ColumnSpec, DatasetContract

SINGLE_TAG = "transaction"
BATCH_TAG = "transactions"
MAX_LABELS = 10_000
ID_MAX_LENGTH = 256

_REQUEST_CONFIG = ConfigDict(extra="forbid", protected_namespaces=(), frozen=True)


class SchemaError(ValueError):
    """The contract declares something the API cannot express as a request field."""


def _bound(value: float | None, integer: bool) -> float | int | None:
    if value is None:
        return None
    return int(value) if integer and float(value).is_integer() else value


def feature_field(name: str, spec: ColumnSpec) -> tuple[Any, Any]:
    """The pydantic ``(annotation, default)`` pair for one feature column of the contract.

    Floats accept JSON numbers (integers included) within ``[min, max]``, never strings, booleans
    or non-finite values; ints accept JSON integers only. Categories become an enum. A nullable
    column accepts ``null`` and may be omitted (it then means missing); any other column is
    required.
    """
    description = spec.description or None
    annotation: Any
    if spec.dtype == "float":
        annotation = Annotated[
            float,
            Field(strict=True, allow_inf_nan=False, ge=spec.min, le=spec.max),
        ]
    elif spec.dtype == "int":
        annotation = Annotated[
            int,
            Field(strict=True, ge=_bound(spec.min, True), le=_bound(spec.max, True)),
        ]
    elif spec.dtype == "category":
        if not spec.categories:
            raise SchemaError(f"category column '{name}' declares no categories")
        annotation = Literal[tuple(spec.categories)]
    elif spec.dtype == "string":
        annotation = Annotated[str, Field(strict=True)]
    elif spec.dtype == "datetime":
        annotation = dt.datetime
    else:  # pragma: no cover - DType is a closed Literal
        raise SchemaError(f"column '{name}' has unsupported dtype '{spec.dtype}'")
    if spec.nullable:
        return Annotated[annotation | None, Field(description=description)], None
    return Annotated[annotation, Field(description=description)], ...


def build_transaction_model(contract: DatasetContract) -> type[BaseModel]:
    """The request item: id column, every feature column, and an optional event time."""
    fields: dict[str, Any] = {
        contract.id_column: (
            Annotated[
                str,
                Field(
                    strict=True,
                    min_length=1,
                    max_length=ID_MAX_LENGTH,
                    description="Caller's id of the transaction; echoed in the prediction.",
                ),
            ],
            ...,
        ),
    }
    for name in contract.features:
        fields[name] = feature_field(name, contract.columns[name])
    fields[contract.event_time_column] = (
        Annotated[
            dt.datetime | None,
            Field(
                description=(
                    "When the transaction happened (ISO 8601; UTC when no offset is given). "
                    "Defaults to the time the request is received. Decides the prediction "
                    "log file the transaction is written to."
                )
            ),
        ],
        None,
    )
    model: type[BaseModel] = create_model(
        "Transaction",
        __config__=_REQUEST_CONFIG,
        __doc__=f"One transaction to score, with the columns of contract '{contract.name}'.",
        **fields,
    )
    return model


def build_label_model(contract: DatasetContract) -> type[BaseModel]:
    """One delayed label: the transaction id, its label (0/1) and when the label became known."""
    label = contract.columns[contract.label_column]
    values = [int(v) for v in label.categories or (0, 1)]
    fields: dict[str, Any] = {
        contract.id_column: (
            Annotated[str, Field(strict=True, min_length=1, max_length=ID_MAX_LENGTH)],
            ...,
        ),
        contract.label_column: (
            Annotated[
                int,
                Field(
                    strict=True,
                    ge=min(values),
                    le=max(values),
                    description="1 if the transaction was confirmed fraud, else 0.",
                ),
            ],
            ...,
        ),
        contract.label_available_time_column: (
            Annotated[
                dt.datetime | None,
                Field(description="When the label became known (ISO 8601, UTC if no offset)."),
            ],
            None,
        ),
    }
    model: type[BaseModel] = create_model(
        "LabelRecord",
        __config__=_REQUEST_CONFIG,
        __doc__="A label delivered after scoring (e.g. a chargeback), appended to labels.jsonl.",
        **fields,
    )
    return model


def _request_kind(value: object) -> str:
    return BATCH_TAG if isinstance(value, list) else SINGLE_TAG


@dataclass(frozen=True)
class ApiSchemas:
    """The request types derived from one contract.

    Attributes:
        transaction: The request item model (``Transaction``).
        label: The label record model (``LabelRecord``).
        predict_body: The body of ``POST /v1/predict``: one ``Transaction`` or an array of
            1..max_batch of them (a discriminated union, so errors name one shape only).
        labels_body: The body of ``POST /v1/labels``: an array of 1..MAX_LABELS label records.
    """

    transaction: type[BaseModel]
    label: type[BaseModel]
    predict_body: Any
    labels_body: Any


def build_api_schemas(contract: DatasetContract, max_batch: int) -> ApiSchemas:
    """Derive every request type of the API from the contract."""
    transaction = build_transaction_model(contract)
    label = build_label_model(contract)
    predict_body = Annotated[
        Annotated[transaction, Tag(SINGLE_TAG)]  # type: ignore[valid-type]
        | Annotated[
            list[transaction],  # type: ignore[valid-type]
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
        transaction=transaction, label=label, predict_body=predict_body, labels_body=labels_body
    )


# ----------------------------------------------------------------------------- responses


class Prediction(BaseModel):
    """The score of one transaction and the decision taken with the model's threshold."""

    model_config = ConfigDict(protected_namespaces=())

    request_id: str = Field(description="Id of the HTTP request (also in header X-Request-ID).")
    transaction_id: str
    fraud_probability: float = Field(ge=0, le=1, description="Model score P(fraud).")
    decision: Literal[0, 1] = Field(
        description="1 = flag as fraud (fraud_probability >= threshold), 0 = let it through."
    )
    threshold: float = Field(description="Decision threshold of the model version that scored.")
    model_name: str
    model_version: str


class LabelsAccepted(BaseModel):
    """Acknowledgement that labels were appended to the label log."""

    request_id: str
    accepted: int = Field(description="Number of label records written.")


class SwapErrorOut(BaseModel):
    """The last model version that was NOT swapped in, and why."""

    version: str
    reason: str
    at: dt.datetime


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
    metrics: dict[str, float] = Field(description="Holdout metrics of the training run.")
    loaded_at: dt.datetime
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

    field: str = Field(description="Dotted path of the bad value, e.g. 'body[3].amount'.")
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
    """Drop the union tag pydantic inserts after ``body`` (``transaction``/``transactions``)."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "body" and parts[1] in (SINGLE_TAG, BATCH_TAG):
        del parts[1]
    return parts


def dotted(loc: Iterable[str | int]) -> str:
    """``["body", 3, "amount"]`` -> ``"body[3].amount"``."""
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
