"""The FastAPI app that serves the champion model, swaps it live, and logs what it scores.

:func:`create_app` builds the app from a :class:`~serving.config.ServingConfig` and does no I/O:
the registry is contacted and the model loaded in the lifespan (startup), and a background task
then polls the alias every ``poll_seconds`` and hot-swaps new versions (see
:mod:`serving.model_store` for the rules).

Routes:

- ``POST /v1/predict``: score ONE row object, or a JSON array of 1..``max_batch`` of them;
  answers one prediction object, or an array in request order. The rows of concurrent requests
  are scored together in one model call (see :mod:`serving.batcher`). The fields of a row and of a
  prediction are the contract's (see :mod:`serving.schemas`): the id under the contract's id
  column, the score under its ``score_name``.
- ``POST /v1/labels``: append labels that became known after scoring to the label log.
- ``GET /v1/model``: the version serving, its training window, metrics and last swap failure.
- ``GET /health`` (liveness, always 200), ``GET /ready`` (200 only with a model loaded).
- ``GET /metrics``: Prometheus text.

Every response carries ``X-Request-ID``; every error is JSON shaped as
:class:`~serving.schemas.ErrorBody`. Client mistakes are 4xx, never 5xx: 422 for an invalid or
unparseable body (naming each bad field, or the JSON decoder's reason), 413 for a body larger
than ``max_body_bytes``, 415 for a body not sent as ``application/json``; 503 means no model is
loaded yet, or ``max_queue_rows`` rows are already waiting for the model (with ``Retry-After``).
Event times (and label times) must lie within ``max_event_time_past`` before and
``max_event_time_future`` after the app's clock.
"""

import asyncio
import contextlib
import datetime as dt
import email.message
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, cast

import anyio.to_thread
import numpy as np
from fastapi import Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.contract import ColumnSpec, DatasetContract
from features.vocabulary import (
    CODE_REVISION_TAG,
    CONTRACT_HASH_TAG,
    CUTOFF_TAG,
    DECISION,
    HOLDOUT_END_TAG,
    HOLDOUT_START_TAG,
    MODEL_NAME,
    MODEL_VERSION,
    REQUEST_ID,
    THRESHOLD,
    TRAIN_END_TAG,
    TRAIN_START_TAG,
    WARNINGS_TAG,
    warnings_from_tag,
)
from serving.auth import api_key_guard
from serving.batcher import BatcherClosedError, MicroBatcher, QueueFullError, Rows
from serving.config import ServingConfig, ServingSettings
from serving.heap import freeze_long_lived
from serving.log_store import JsonLinesLogStore, LogStore
from serving.metrics import CONTENT_TYPE, ServingMetrics
from serving.mlflow_source import MlflowModelSource
from serving.model_store import (
    LoadedModel,
    ModelSource,
    ModelStore,
    RefreshOutcome,
    RefreshResult,
    utc_now,
)
from serving.prediction_log import (
    PredictionLogWriter,
    ScoredBatch,
    label_records,
    to_utc_naive,
)
from serving.schemas import (
    ApiSchemas,
    ErrorBody,
    FieldError,
    Health,
    LabelsAccepted,
    ModelInfo,
    Ready,
    SwapErrorOut,
    build_api_schemas,
    clean_loc,
    dotted,
    field_errors,
    row_values,
)
from serving.scoring import (
    SingleThreadedModelCalls,
    decisions,
    fast_probabilities,
    feature_frame,
    positive_probabilities,
)

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
Responses = dict[int | str, dict[str, Any]]
API_VERSION = "1"


JSON_PATHS = frozenset({"/v1/predict", "/v1/labels"})
PARSE_ERROR_DETAIL = "There was an error parsing the body"  # FastAPI's words for its 400


class ServiceUnavailableError(RuntimeError):
    """The server cannot answer this request right now (no model loaded, log not writable)."""


class RecentIds:
    """The last ``capacity`` distinct ids scored by this process (thread-safe, bounded memory)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[Any, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, ids: Iterable[Any]) -> None:
        """Remember ``ids`` as the most recent, forgetting the oldest beyond the capacity."""
        if self.capacity == 0:
            return
        with self._lock:
            for row_id in ids:
                self._ids[row_id] = None
                self._ids.move_to_end(row_id)
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)

    def count_known(self, ids: Iterable[Any]) -> int:
        """How many of ``ids`` are remembered (each occurrence counts)."""
        with self._lock:
            return sum(1 for row_id in ids if row_id in self._ids)


@dataclass
class Services:
    """What the endpoints use, created in the lifespan and held on ``app.state.services``."""

    config: ServingConfig
    schemas: ApiSchemas
    store: ModelStore
    metrics: ServingMetrics
    prediction_log: PredictionLogWriter
    log_store: LogStore
    scored_ids: RecentIds
    model_calls: SingleThreadedModelCalls = field(default_factory=SingleThreadedModelCalls)
    freeze_heap: bool = False
    batcher: MicroBatcher = field(init=False)

    def __post_init__(self) -> None:
        self.batcher = MicroBatcher(
            self.config.settings,
            self.score_rows,
            self.serving_model,
            self.metrics,
            runs_inline=LoadedModel.scores_inline,
        )

    def serving_model(self) -> LoadedModel:
        """The version serving now (see :func:`require_model`)."""
        return require_model(self)

    def score_rows(self, loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
        """Positive-class scores of validated rows with ``loaded``.

        The version's fast path when it has one (single-threaded by construction), else
        ``predict_proba`` with one OpenMP thread.
        """
        if loaded.fast is not None:
            return fast_probabilities(loaded.fast, rows)
        frame = feature_frame(rows, self.config.contract)
        with self.model_calls.limit():
            return positive_probabilities(loaded.model, frame)

    def refresh(self) -> RefreshOutcome:
        """One hot-swap check (blocking: call it from a worker thread), recorded in metrics."""
        outcome = self.store.refresh()
        self.metrics.observe_refresh(outcome, self.store.current)
        if self.freeze_heap and outcome.result is RefreshResult.SWAPPED:
            frozen = freeze_long_lived()
            logger.info("version %s loaded: %d objects frozen", outcome.version, frozen)
        return outcome

    def not_ready_reason(self) -> str:
        """Why no model is serving, in words an operator can act on."""
        config = self.config
        failure = self.store.last_swap_error
        if failure is not None:
            return (
                f"No model is loaded: '{config.model_name}' version {failure.version} (alias "
                f"'{config.alias}') was rejected: {failure.reason}. Point the alias at a "
                "working version; the server picks it up without a restart."
            )
        if self.store.alias_version is None:
            return (
                f"No model is loaded yet: no version of '{config.model_name}' has the alias "
                f"'{config.alias}'. Promote a version; the server checks every "
                f"{config.settings.poll_seconds:g} s and loads it without a restart."
            )
        return f"No model is loaded yet: version {self.store.alias_version} is being loaded."


async def get_services(request: Request) -> Services:
    """The app's :class:`Services` (set by the lifespan)."""
    return cast(Services, request.app.state.services)


async def get_request_id(request: Request) -> str:
    """The id the request-context middleware gave this request."""
    return str(request.state.request_id)


ServicesDep = Annotated[Services, Depends(get_services)]
RequestIdDep = Annotated[str, Depends(get_request_id)]


def require_model(services: Services) -> LoadedModel:
    """The serving model, read ONCE so the whole request uses the same version.

    Raises:
        ServiceUnavailableError: No model is loaded.
    """
    loaded = services.store.current
    if loaded is None:
        raise ServiceUnavailableError(services.not_ready_reason())
    return loaded


class RequestContextMiddleware:
    """Gives each HTTP request an id (scope state + ``X-Request-ID``) and records its metrics.

    Also the last line of defence: an unhandled error is logged with the request id and answered
    with a JSON 500 carrying that id. A plain ASGI middleware (no per-request task or body
    buffering) to keep the hot path short.
    """

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
                response_started = True
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # An unhandled error: log it with the request id and answer a JSON 500 ourselves,
            # so the client gets the id (header and body) to quote.
            logger.exception(
                "unhandled error on %s %s (request %s)", scope["method"], scope["path"], request_id
            )
            if response_started:
                raise
            body = ErrorBody(
                detail="Internal server error; the server log has the details.",
                request_id=request_id,
            )
            response = JSONResponse(body.model_dump(mode="json"), status_code=500)
            await response(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(
                route, scope["method"], status_code, time.perf_counter() - started
            )


def json_content_type_problem(content_type: str | None) -> str | None:
    """Why a request body of this Content-Type is not accepted as JSON, or None if it is.

    Exactly ``application/json`` is accepted, with at most a ``charset=utf-8`` parameter;
    ``application/<x>+json``, ``text/plain`` or no Content-Type are refused, so a body is never
    parsed as JSON unless the client said it is JSON.
    """
    expected = "send the body as JSON with 'Content-Type: application/json'"
    if not content_type:
        return f"The request has no Content-Type: {expected}."
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_type() != "application/json":
        return f"Content-Type '{content_type[:100]}' is not accepted: {expected}."
    params = {k.lower(): v for k, v in (message.get_params() or [])[1:]}
    charset = str(params.pop("charset", "utf-8")).lower()
    if charset not in ("utf-8", "utf8") or params:
        return f"Content-Type '{content_type[:100]}' is not accepted: {expected} (UTF-8)."
    return None


class BodyGuardMiddleware:
    """Refuses the body of a JSON route before FastAPI parses it: too large (413) or not JSON (415).

    The size is checked on ``Content-Length`` first (no byte read), then on the bytes actually
    received (a chunked or lying client), so the server never holds more than ``max_bytes`` of
    one request. Bodies of the JSON routes are read here and handed on as one message. Other
    requests pass untouched: their routes never read a body, so none is refused (and none of
    them declares a 413 in the spec).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, json_paths: frozenset[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_paths = json_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in self.json_paths or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, 413, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:  # an empty body reaches FastAPI, which names the missing body (422)
            problem = json_content_type_problem(headers.get("content-type"))
            if problem is not None:
                await self._refuse(scope, receive, send, 415, problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return (
            f"The request body is larger than {self.max_bytes} bytes (max_body_bytes): "
            "send fewer rows per request."
        )

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        request_id = scope.get("state", {}).get("request_id")
        body = ErrorBody(detail=detail, request_id=request_id)
        # The client may still be sending: close the connection after this answer.
        response = JSONResponse(
            body.model_dump(mode="json"), status_code=status, headers={"Connection": "close"}
        )
        await response(scope, receive, send)


def _request_id_of(request: Request) -> str | None:
    return cast(str | None, request.scope.get("state", {}).get("request_id"))


def _error(
    request: Request, status_code: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> JSONResponse:
    body.request_id = _request_id_of(request)
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        shown = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        detail = f"Invalid request ({len(errors)} problem(s)): {shown}{more}"
        return _error(request, 422, ErrorBody(detail=detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == PARSE_ERROR_DETAIL:
            # FastAPI's answer when the JSON decoder fails with something other than a
            # JSONDecodeError (bytes that are not UTF-8, nesting too deep): a malformed body.
            cause = exc.__cause__
            reason = (
                "the body is not UTF-8 text"
                if isinstance(cause, UnicodeDecodeError)
                else f"{type(cause).__name__ if cause else 'unreadable'}"
            )
            error = FieldError(
                field="body",
                loc=["body"],
                message=f"Malformed JSON body: {reason}",
                type="json_invalid",
            )
            detail = f"Invalid request (1 problem(s)): body: {error.message}"
            return _error(request, 422, ErrorBody(detail=detail, errors=[error]))
        return _error(
            request,
            exc.status_code,
            ErrorBody(detail=str(exc.detail)),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(ServiceUnavailableError)
    @app.exception_handler(BatcherClosedError)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return _error(request, 503, ErrorBody(detail=str(exc)), headers={"Retry-After": "5"})

    @app.exception_handler(QueueFullError)
    async def at_capacity(request: Request, exc: QueueFullError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)}
        return _error(request, 503, ErrorBody(detail=str(exc)), headers=headers)


async def _poll_alias(services: Services, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await anyio.to_thread.run_sync(services.refresh)
        except Exception:  # the poller must survive anything and try again next period
            logger.exception("alias refresh failed")


def _model_info(services: Services, loaded: LoadedModel) -> ModelInfo:
    failure = services.store.last_swap_error
    return ModelInfo(
        name=loaded.name,
        version=loaded.version,
        alias=services.config.alias,
        alias_version=services.store.alias_version,
        run_id=loaded.run_id,
        threshold=loaded.threshold,
        contract_hash=loaded.tag(CONTRACT_HASH_TAG),
        train_start=loaded.tag(TRAIN_START_TAG),
        train_end=loaded.tag(TRAIN_END_TAG),
        holdout_start=loaded.tag(HOLDOUT_START_TAG),
        holdout_end=loaded.tag(HOLDOUT_END_TAG),
        cutoff=loaded.tag(CUTOFF_TAG),
        code_revision=loaded.tag(CODE_REVISION_TAG),
        warnings=warnings_of(loaded.tag(WARNINGS_TAG)),
        metrics={name: value for name, value in loaded.metrics.items() if math.isfinite(value)},
        scored_by=loaded.scored_by,
        loaded_at=loaded.loaded_at,
        last_swap_error=(
            SwapErrorOut(version=failure.version, reason=failure.reason, at=failure.at)
            if failure
            else None
        ),
    )


def warnings_of(tag: str | None) -> list[str]:
    """The training caveats of a version's warnings tag (a JSON list of text).

    A tag that is not such a list is shown as one caveat rather than dropped.
    """
    warnings = warnings_from_tag(tag)
    return [tag or ""] if warnings is None else list(warnings)


def _example_value(spec: ColumnSpec) -> Any:
    """A valid value of one column: its first category, else 10 % into its numeric range."""
    if spec.categories:
        return spec.categories[0]
    if spec.is_numeric:
        low = spec.min if spec.min is not None else 0.0
        high = spec.max if spec.max is not None else low + 10.0
        value = low + 0.1 * (high - low)
        return round(value) if spec.dtype == "int" else round(value, 2)
    if spec.dtype == "datetime":
        return "2024-01-01T00:00:00"
    return "text"


def example_id(contract: DatasetContract, number: int) -> str | int:
    """An id for the docs' examples: ``number`` for an int id, else ``"row-<number>"``."""
    return number if contract.columns[contract.id_column].dtype == "int" else f"row-{number}"


def example_row(contract: DatasetContract, row_id: str | int | None = None) -> dict[str, Any]:
    """A valid request item for the OpenAPI docs: every feature and every extra segment."""
    item: dict[str, Any] = {
        contract.id_column: example_id(contract, 1) if row_id is None else row_id
    }
    for name in contract.input_columns:
        item[name] = _example_value(contract.columns[name])
    return item


def duration_text(value: dt.timedelta) -> str:
    """``400 days``, ``1 day``, or ``timedelta``'s own text when it is not whole days."""
    days, rest = divmod(value, dt.timedelta(days=1))
    if rest:
        return str(value)
    return f"{days} day" if days == 1 else f"{days} days"


@dataclass(frozen=True)
class TimeWindow:
    """The event times a request may carry: from ``past`` before now to ``future`` after it."""

    past: dt.timedelta
    future: dt.timedelta

    def bounds(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The earliest and latest accepted times around ``now`` (tz-naive UTC).

        A window reaching beyond the calendar (``past`` longer than the time since year 1, say)
        stops at :data:`datetime.datetime.min` / ``max`` instead of overflowing.
        """
        try:
            earliest = now - self.past
        except OverflowError:
            earliest = dt.datetime.min
        try:
            latest = now + self.future
        except OverflowError:
            latest = dt.datetime.max
        return earliest, latest

    def problems(
        self, items: Sequence[Mapping[str, Any]], column: str, now: dt.datetime, single: bool
    ) -> list[FieldError]:
        """One error per item whose ``column`` lies outside the window around ``now``.

        ``now`` is the app's clock (tz-naive UTC); a naive time is UTC. ``single`` tells whether
        the body was one object (errors on ``body.<column>``) or an array (``body[i].<column>``).
        A time that has no UTC equivalent (year 1 with a positive offset) is outside.
        """
        earliest, latest = self.bounds(now)
        errors: list[FieldError] = []
        for index, item in enumerate(items):
            value = item.get(column)
            if value is None:
                continue
            try:
                inside = earliest <= to_utc_naive(value) <= latest
            except OverflowError:  # e.g. year 9999 with a negative offset
                inside = False
            if inside:
                continue
            loc = clean_loc(["body", column] if single else ["body", index, column])
            errors.append(
                FieldError(
                    field=dotted(loc),
                    loc=loc,
                    message=(
                        f"{column} {value.isoformat()} is outside the accepted window "
                        f"{earliest.isoformat()}Z .. {latest.isoformat()}Z (UTC; "
                        "max_event_time_past / max_event_time_future around the server's clock)"
                    ),
                    type="time_out_of_window",
                )
            )
        return errors

    def check(
        self, items: Sequence[Mapping[str, Any]], column: str, now: dt.datetime, single: bool
    ) -> None:
        """Raise a 422 naming each item whose ``column`` lies outside the window.

        Raises:
            RequestValidationError: Some time is outside the window.
        """
        errors = self.problems(items, column, now, single)
        if errors:
            raise RequestValidationError(
                [{"type": e.type, "loc": tuple(e.loc), "msg": e.message} for e in errors]
            )


def prediction_answers(
    contract: DatasetContract,
    request_id: str,
    rows: Sequence[Mapping[str, Any]],
    scores: Sequence[float],
    flags: Sequence[int],
    loaded: LoadedModel,
) -> list[dict[str, Any]]:
    """The predictions of scored rows as the contract's response model spells them (pure)."""
    return [
        {
            REQUEST_ID: request_id,
            contract.id_column: row[contract.id_column],
            contract.score_name: score,
            DECISION: flag,
            THRESHOLD: loaded.threshold,
            MODEL_NAME: loaded.name,
            MODEL_VERSION: loaded.version,
        }
        for row, score, flag in zip(rows, scores, flags, strict=True)
    ]


#: Where the Swagger UI files (from the locked ``swagger-ui-py`` package) are served.
DOCS_ASSETS: Final = "/docs-assets"


def swagger_ui_files() -> Path:
    """The Swagger UI 5 files of the locked ``swagger-ui-py`` package (it reads OpenAPI 3.1).

    Found without importing the package, whose ``__init__`` loads adapters for other web
    frameworks.
    """
    import importlib.util

    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _serve_offline_docs(app: FastAPI) -> None:
    """``GET /docs``: Swagger UI for the app's OpenAPI, with every asset served locally."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_files())), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


def api_description(contract: DatasetContract, settings: ServingSettings) -> str:
    """The OpenAPI description (Markdown, shown at ``/docs``), with this server's limits."""
    days = (settings.max_event_time_past.days, settings.max_event_time_future.days)
    key = "Every `/v1` route needs the `X-API-Key` header." if settings.api_key else ""
    return "\n\n".join(
        part
        for part in (
            f"Scores rows of the `{contract.name}` contract with the model version that holds "
            "the serving alias, swapped live when the alias moves. Every answer names the "
            "version that scored it.",
            f"- `POST /v1/predict`: one row object, or an array of 1 to {settings.max_batch} "
            f"rows; the id is `{contract.id_column}`, the score `{contract.score_name}`.\n"
            "- `POST /v1/labels`: labels that became known after scoring.\n"
            "- `GET /v1/model`: the version serving, its training window and metrics.\n"
            "- `GET /health` (liveness), `GET /ready` (a model is loaded), `GET /metrics` "
            "(Prometheus).",
            "Errors are JSON with a reason: 422 for an invalid body (each bad field named), "
            f"413 above {settings.max_body_bytes:,} bytes, 415 unless sent as "
            "`application/json`, 503 while no model is loaded or while "
            f"{settings.max_queue_rows:,} rows already wait for the model (with `Retry-After`). "
            "Event and label times must lie "
            f"within {days[0]} days before and {days[1]} days after the server's clock.",
            key,
        )
        if part
    )


def create_app(
    config: ServingConfig,
    source: ModelSource | None = None,
    clock: Callable[[], Any] = utc_now,
    *,
    log_store: LogStore | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """Build the app; nothing is contacted or loaded until the lifespan starts.

    Args:
        config: The contract, where the model and the logs are, and the serving settings
            (API key, polling, batch limit).
        source: Where model versions come from; default: the MLflow registry of
            ``config.tracking_uri``. Tests pass an in-memory source.
        clock: UTC clock (tz-naive datetimes), for the logs and swap records.
        log_store: Where predictions and labels are logged; default: JSON-lines files in
            ``config.predictions_dir`` and ``config.labels_dir``. The app closes it at shutdown.
        freeze_heap: Freeze the process's objects after each version loads (see
            :mod:`serving.heap`): for a process that only serves, as ``lifecycle serve``'s.
    """
    contract = config.contract
    settings = config.settings
    schemas = build_api_schemas(contract, settings.max_batch)
    metrics = ServingMetrics()
    guard = Depends(api_key_guard(settings.api_key_value()))
    window = TimeWindow(settings.max_event_time_past, settings.max_event_time_future)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model_source = source or MlflowModelSource(
            config.tracking_uri, config.model_name, config.alias
        )
        logs = log_store or JsonLinesLogStore(config.predictions_dir, config.labels_dir, contract)
        writer = PredictionLogWriter(logs, contract, clock, on_error=metrics.log_errors.inc)
        services = Services(
            config=config,
            schemas=schemas,
            store=ModelStore(model_source, contract, clock),
            metrics=metrics,
            prediction_log=writer,
            log_store=logs,
            scored_ids=RecentIds(settings.remembered_scored_ids),
            freeze_heap=freeze_heap,
        )
        metrics.bind_log_pending(lambda: writer.pending)
        metrics.bind_queue_rows(lambda: services.batcher.queued_rows)
        writer.start()
        services.batcher.start()
        app.state.services = services
        outcome = await anyio.to_thread.run_sync(services.refresh)
        logger.info("startup model check: %s (version %s)", outcome.result, outcome.version)
        poller = asyncio.create_task(_poll_alias(services, settings.poll_seconds))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await services.batcher.close()
            await anyio.to_thread.run_sync(writer.close)
            await anyio.to_thread.run_sync(logs.close)
            metrics.close()

    app = FastAPI(
        title=f"{contract.name} scoring API",
        version=API_VERSION,
        summary=(
            f"Scores rows of contract '{contract.name}' with "
            f"models:/{config.model_name}@{config.alias}."
        ),
        description=api_description(contract, settings),
        lifespan=lifespan,
        # The default /docs and /redoc pages load their scripts from a CDN and stay blank
        # offline; /docs is served below from the Swagger UI files in the lock instead.
        docs_url=None,
        redoc_url=None,
    )
    _serve_offline_docs(app)
    # Added last = outermost: the request id and metrics cover the body guard's answers too.
    app.add_middleware(
        BodyGuardMiddleware, max_bytes=settings.max_body_bytes, json_paths=JSON_PATHS
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    _install_error_handlers(app)

    error_401: Responses = (
        {401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key"}}
        if settings.api_key is not None
        else {}
    )
    error_503: Responses = {503: {"model": ErrorBody, "description": "No model loaded yet"}}
    predict_503: Responses = {
        503: {
            "model": ErrorBody,
            "description": (
                "No model loaded yet, or max_queue_rows rows already wait for the model: retry "
                "after the Retry-After header's seconds"
            ),
        }
    }
    body_errors: Responses = {
        422: {
            "model": ErrorBody,
            "description": (
                "Invalid or unparseable body, or a time outside the server's window; `errors` "
                "names each field"
            ),
        },
        413: {"model": ErrorBody, "description": "Body larger than max_body_bytes"},
        415: {
            "model": ErrorBody,
            "description": "Body not sent as 'Content-Type: application/json' (UTF-8)",
        },
    }

    # The request types are built from the contract at runtime, so the type checker sees them
    # as Any; FastAPI reads the real types from the annotations.
    predict_body: Any = schemas.predict_body
    labels_body: Any = schemas.labels_body
    example = example_row(contract)
    score = contract.score_name

    window_text = (
        f"within the server's window around now ({duration_text(window.past)} before, "
        f"{duration_text(window.future)} after); outside it, the answer is 422."
    )

    @app.post(
        "/v1/predict",
        response_model=schemas.predict_response,
        responses={**error_401, **body_errors, **predict_503},
        dependencies=[guard],
        tags=["scoring"],
        description=(
            "Score one row (object in, object out) or a batch (array in, array out). "
            f"`{score}` is the probability that `{contract.label_column}` is "
            f"{contract.positive!r}; `decision` is 1 when `{score} >= threshold`, else 0. "
            "Every scored row is appended to the prediction log. Concurrent requests are "
            "scored together in one model call; each answer is the same as scoring its rows "
            "alone. "
            f"`{contract.event_time_column}` must lie {window_text}"
        ),
    )
    async def predict(
        body: Annotated[
            predict_body,
            Body(
                openapi_examples={
                    "one": {"summary": "One row", "value": example},
                    "batch": {
                        "summary": "A batch (array of 1..max_batch)",
                        "value": [example, example_row(contract, example_id(contract, 2))],
                    },
                }
            ),
        ],
        services: ServicesDep,
        request_id: RequestIdDep,
    ) -> Any:
        """Validate, queue for the batcher, log, answer in request order with the batch's version.

        Validation (schema, time window) is per request and before the queue, so a bad row is
        refused alone and never reaches its would-be batch-mates.
        """
        require_model(services)  # 503 at once, not after queueing, while no model is loaded
        items = body if isinstance(body, list) else [body]
        rows = [row_values(item) for item in items]
        received_at = clock()
        window.check(rows, contract.event_time_column, received_at, not isinstance(body, list))
        scored = await services.batcher.score(rows)
        loaded = scored.loaded
        flags = decisions(scored.scores, loaded.threshold)
        score_list = scored.scores.tolist()
        flag_list = flags.tolist()
        services.scored_ids.add(row[contract.id_column] for row in rows)
        services.prediction_log.submit(
            ScoredBatch(
                request_id=request_id,
                items=rows,
                scores=score_list,
                decisions=flag_list,
                model_name=loaded.name,
                model_version=loaded.version,
                threshold=loaded.threshold,
                received_at=received_at,
            )
        )
        services.metrics.observe_predictions(score_list, flag_list)
        answers = prediction_answers(contract, request_id, rows, score_list, flag_list, loaded)
        return answers if isinstance(body, list) else answers[0]

    @app.post(
        "/v1/labels",
        response_model=LabelsAccepted,
        responses={
            **error_401,
            **body_errors,
            503: {"model": ErrorBody, "description": "Label log unwritable"},
        },
        dependencies=[guard],
        tags=["scoring"],
        description=(
            "Append labels that became known after scoring; they are stored when this answers. "
            f"`{contract.label_available_field}` must lie {window_text}"
        ),
    )
    def post_labels(
        body: Annotated[labels_body, Body()],
        services: ServicesDep,
        request_id: RequestIdDep,
    ) -> LabelsAccepted:
        """Append labels that became known after scoring; stored when this returns."""
        values = [row_values(label) for label in body]
        now = clock()
        window.check(values, contract.label_available_field, now, single=False)
        records = label_records(values, contract, now)
        try:
            written = services.log_store.append_labels(records)
        except OSError as exc:
            logger.error("label log in %s not writable: %s", services.log_store.location, exc)
            raise ServiceUnavailableError(
                f"The label log cannot be written ({exc.strerror}); retry later."
            ) from exc
        matched = services.scored_ids.count_known(v[contract.id_column] for v in values)
        return LabelsAccepted(request_id=request_id, accepted=written, matched=matched)

    @app.get(
        "/v1/model",
        response_model=ModelInfo,
        responses={**error_401, **error_503},
        dependencies=[guard],
        tags=["model"],
    )
    async def model_info(services: ServicesDep) -> ModelInfo:
        """The version serving, its training window, holdout metrics and last swap failure."""
        return _model_info(services, require_model(services))

    @app.get("/health", response_model=Health, tags=["probes"])
    async def health() -> Health:
        """Liveness: 200 whenever the process answers, model or not."""
        return Health()

    @app.get("/ready", response_model=Ready, responses=error_503, tags=["probes"])
    async def ready(services: ServicesDep) -> Ready:
        """Readiness: 200 only when a model is loaded, else 503 with the reason."""
        loaded = require_model(services)
        return Ready(model_name=loaded.name, model_version=loaded.version)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {}}}, **error_401},
        dependencies=[guard],
        tags=["probes"],
    )
    async def prometheus_metrics() -> Response:
        """Prometheus text exposition of this app's metrics."""
        return Response(content=metrics.render(), media_type=CONTENT_TYPE)

    return app
