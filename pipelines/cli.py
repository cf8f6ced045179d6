"""The `lifecycle` command: one sub-command per stage of the machine-learning lifecycle.

Every command builds the settings once (environment ``LIFECYCLE_*`` plus flags), prints what it
is doing, and turns the pipeline's own errors into one readable line and a non-zero exit code.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.runtime import prefect_environment
from pipelines.settings import (
    DEFAULT_CONTRACT,
    REPO_ROOT,
    Settings,
    SettingsError,
    load_settings,
)

app = typer.Typer(
    name="lifecycle",
    rich_markup_mode="markdown",
    help=(
        "Run the machine-learning lifecycle stage by stage: bring data in (ingest or generate), "
        "validate it, train, promote, serve, monitor. The dataset contract (--contract, "
        f"LIFECYCLE_CONTRACT; default: {DEFAULT_CONTRACT.relative_to(REPO_ROOT)}) is the whole "
        "plug-in for a use case. Everything a run writes goes under the home folder "
        "(.lifecycle/ by default, LIFECYCLE_HOME or --home to move it). Thresholds come from "
        "`LIFECYCLE_<SECTION>__<KEY>` variables or a lifecycle.toml file (--config)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
contract_app = typer.Typer(
    name="contract",
    help="Draft a dataset contract from a data file, or check one.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(contract_app)
exercise_app = typer.Typer(
    name="exercise",
    help="Take-home exercises: list them, cut a starter repository, grade a candidate's work.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(exercise_app)
# Wide enough for the demo's timeline when the output is a file or a CI log, not a terminal.
console = Console(width=None if sys.stdout.isatty() else 150)
# Errors never wrap: a log line or a test reads one message per line.
errors = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Run home folder (default: .lifecycle, or LIFECYCLE_HOME)."),
]
ContractOption = Annotated[
    Path | None,
    typer.Option(
        "--contract",
        help=(
            "Dataset contract YAML (default: LIFECYCLE_CONTRACT, else "
            f"{DEFAULT_CONTRACT.relative_to(REPO_ROOT)})."
        ),
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (default: LIFECYCLE_CONFIG, else ./lifecycle.toml if present).",
    ),
]

EXIT_FAILED_CHECK = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one error line (no traceback) and exit."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def settings_for(
    home: Path | None, contract: Path | None = None, config: Path | None = None
) -> Settings:
    """Build settings, check the contract, and prepare Prefect's environment.

    Runs before any flow module is imported (Prefect reads its environment once). A bad
    variable, config file or contract ends here with one line, before any work starts.
    """
    try:
        settings = load_settings(config=config, home=home, contract=contract)
    except SettingsError as exc:
        fail(str(exc))
    from features.contract import ContractError, load_contract

    try:
        load_contract(settings.contract)
    except ContractError as exc:
        fail(str(exc))
    from pipelines.relocate import RelocationError, follow_home

    try:
        if moved := follow_home(settings):  # a copied or moved home: its store follows it
            console.print(f"[yellow]home:[/] {escape(moved)}", highlight=False, soft_wrap=True)
    except RelocationError as exc:
        fail(str(exc))
    os.environ.update(prefect_environment(settings, os.environ))
    # Prefect creates its home folder without parents; a fresh --home needs it made first.
    settings.paths.prefect.mkdir(parents=True, exist_ok=True)
    return settings


# Errors the pipeline raises on purpose, with a message meant for the user. Looked up only in
# modules already imported: an error class whose module never loaded cannot have been raised, and
# importing MLflow or Prefect just to catch their callers' errors would slow every command.
USER_ERRORS = {
    "data.batches": ("BatchExistsError",),
    "data.scenarios": (),
    "features.contract": ("ContractError",),
    "features.validation": ("ValidationInputError",),
    "pipelines.ingest": ("IngestError",),
    "pipelines.contract_draft": ("ContractDraftError",),
    "pipelines.replay_scenarios": ("ScenarioError",),
    "pipelines.settings": ("SettingsError",),
    "pipelines.flows": ("PipelineError",),
    "training.split": ("SplitError",),
    "training.leakage": ("LeakageError",),
    "training.fit": ("FitError",),
    "training.evaluate": ("EvaluationError",),
    "training.registry": ("RegistryError",),
    "pipelines.labels": ("LabelFileError",),
    "monitoring.errors": ("MonitoringError",),
    "serving.config": ("ServingConfigError",),
    "pipelines.prefect_server": ("LocalApiError",),
}


def known_errors() -> tuple[type[BaseException], ...]:
    """The user-facing error classes of the modules loaded so far, plus bad values and paths."""
    found: list[type[BaseException]] = [ValueError, FileNotFoundError, FileExistsError]
    for module, names in USER_ERRORS.items():
        loaded = sys.modules.get(module)
        found.extend(getattr(loaded, name) for name in names if loaded is not None)
    return tuple(found)


@contextmanager
def flow_runtime(
    settings: Settings, meanwhile: Callable[[], object] | None = None
) -> Iterator[None]:
    """:func:`user_errors`, with a Prefect API that ends with this process for the flows.

    Commands that run flows use this instead of Prefect's own temporary server, which a
    ``kill -9`` of the command would leave running (see :mod:`pipelines.prefect_server`).
    ``meanwhile`` runs while that server boots (the command's heavy imports).
    """
    with user_errors():
        from pipelines.prefect_server import local_api

        with local_api(settings.paths.prefect, meanwhile=meanwhile):
            yield


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the pipeline's expected errors into a one-line message and exit code 2."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, known_errors()):
            fail(str(exc))
        raise


def _generate_help() -> str:
    """The generate command's help, with one line per scenario of each built-in use case."""
    from data.usecases import USE_CASES

    blocks = []
    for name, use_case in USE_CASES.items():
        lines = "\n".join(f"- {s}: {summary}" for s, summary in use_case.scenarios().items())
        blocks.append(
            f"Use case **{name}** (`--contract {use_case.contract_file.name}`):\n\n{lines}"
        )
    return (
        "Write one immutable Parquet batch per day into the home's raw folder, from the "
        "built-in generator of the contract's use case (a contract of your own has none: "
        "bring its data in with `lifecycle ingest`).\n\n" + "\n\n".join(blocks) + "\n\n"
        "The incident day defaults to 40 % and the drift onset to 50 % of --days. The same "
        "seed gives the same bytes; an existing batch is never overwritten."
    )


@app.command(help=_generate_help())
def generate(
    scenario: Annotated[str, typer.Option(help="Scenario name (see the list above).")] = "none",
    days: Annotated[int, typer.Option(min=1, help="Number of daily batches.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 42,
    rows_per_day: Annotated[
        int | None, typer.Option(min=50, help="Rows per day (default: the use case's volume).")
    ] = None,
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (default 2026-01-01).")
    ] = None,
    incident_day: Annotated[
        int | None, typer.Option(help="0-based day of the quality incident / schema break.")
    ] = None,
    onset_day: Annotated[int | None, typer.Option(help="0-based day the drift starts.")] = None,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Write one immutable Parquet batch per day (help text: ``_generate_help``)."""
    from data.batches import write_batches
    from data.generator import DEFAULT_START
    from data.usecases import use_case_for_contract, use_case_names
    from features.contract import load_contract

    settings = settings_for(home, contract, config)
    name = load_contract(settings.contract).name
    use_case = use_case_for_contract(name)
    if use_case is None:
        fail(
            f"contract '{name}' has no built-in generator (built-in use cases: "
            f"{', '.join(use_case_names())}): bring its data in with `lifecycle ingest FILE`"
        )
    with user_errors():
        timeline = use_case.timeline(scenario, days, incident_day=incident_day, onset_day=onset_day)
        first = start.date() if start else DEFAULT_START
        rows = rows_per_day or use_case.default_rows_per_day
        batches = (
            (
                first + timedelta(days=index),
                use_case.generate_day(
                    index,
                    scenario,
                    seed=seed,
                    days=days,
                    rows=rows,
                    start=first,
                    incident_day=incident_day,
                    onset_day=onset_day,
                ),
            )
            for index in range(days)
        )
        written = write_batches(batches, settings.paths.raw)
    new = sum(1 for w in written if w.status == "written")
    console.print(
        f"[green]generated[/] {len(written)} batch(es) of {use_case.name} scenario "
        f"[bold]{scenario}[/] (seed {seed}) in {settings.paths.raw}: {new} new, "
        f"{len(written) - new} unchanged"
    )
    console.print(f"ground truth: {timeline}")


@app.command()
def validate(
    home: HomeOption = None, contract: ContractOption = None, config: ConfigOption = None
) -> None:
    """Check every raw batch not yet checked against the contract's Great Expectations suite.

    Passing batches are copied to the validated folder. Failing batches are copied into the
    quarantine folder beside the validation result (JSON and Data Docs HTML) that rejected them;
    the command then exits 1 naming each one and its failed expectations. Raw files are never
    changed or deleted. Files in the raw folder that are not batches (e.g. a CSV) are named;
    bring such files in with `lifecycle ingest`.
    """
    settings = settings_for(home, contract, config)
    with flow_runtime(settings):
        from features.validation import stray_files
        from pipelines.flows import validate_flow

        strays = stray_files(settings.paths.raw) if settings.paths.raw.is_dir() else []
        outcomes = validate_flow(settings)
    for stray in strays:
        errors.print(
            f"[yellow]not a batch:[/] {stray} (raw batches are Parquet files written by "
            "`lifecycle ingest` or `lifecycle generate`; bring this file in with "
            f"`lifecycle ingest {stray.name}`)",
            highlight=False,
        )
    if not outcomes:
        if strays:
            fail(
                f"nothing to validate: {settings.paths.raw} holds no batch, only "
                f"{len(strays)} other file(s); run `lifecycle ingest FILE` to bring data in"
            )
        console.print("nothing to validate: every raw batch has already been checked")
        return
    blocked = [o for o in outcomes if not o.success]
    console.print(
        f"validated {len(outcomes)} batch(es): {len(outcomes) - len(blocked)} passed, "
        f"{len(blocked)} quarantined"
    )
    for outcome in blocked:
        errors.print(f"[bold red]blocked[/] {outcome.batch_id} -> {outcome.destination}")
        for failure in outcome.failures:
            errors.print(
                f"  - {failure.expectation_type} ({failure.column or 'table'}): {failure.reason}"
            )
    if blocked:
        raise typer.Exit(EXIT_FAILED_CHECK)


@app.command()
def train(
    cutoff: Annotated[
        datetime | None,
        typer.Option(help="Label cutoff: 'now' for the labels (default: the current UTC time)."),
    ] = None,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Train a candidate on validated batches and register it with the alias `challenger`.

    Only rows whose label was already available at the cutoff count. The run stops with a clear
    message if a leakage check fires. Metrics, the model card and the lineage (batches, their
    hashes, the contract hash, the code revision) go to MLflow. Caveats (e.g. a holdout with
    fewer positives than a stable PR-AUC needs) are printed and travel with the version.
    """
    settings = settings_for(home, contract, config)
    with flow_runtime(settings):
        from pipelines.flows import train_flow

        result = train_flow(settings, cutoff=cutoff)
    for line in result.repaired:
        console.print(f"[yellow]repaired:[/] {escape(line)}", highlight=False)
    console.print(
        f"[green]registered[/] {result.model_name} version {result.version} as challenger "
        f"(run {result.run_id})"
    )
    console.print(_metrics_table(f"holdout {result.holdout_window}", result.metrics))
    for warning in result.warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Option(help="Version to judge (default: the challenger).")
    ] = None,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Move champion back to the previous champion.")
    ] = False,
    reason: Annotated[
        str, typer.Option(help="Why you roll back (recorded in the audit log).")
    ] = "manual rollback",
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Compare the challenger with the champion on the most recent labelled holdout.

    It is promoted only if it beats the champion by the stated margin with no segment guardrail
    breached; the very first model must instead clear an absolute floor. Each decision is
    appended to the audit log and set as tags on the versions. Exit code 1 means rejected.
    """
    settings = settings_for(home, contract, config)
    with flow_runtime(settings):
        from pipelines.flows import promote_flow, rollback_flow

        if rollback:
            result = rollback_flow(settings, reason)
            console.print(
                f"[yellow]rolled back[/] champion {result.from_version} -> {result.to_version}: "
                f"{result.reason}"
            )
            return
        decision = promote_flow(settings, version)
    style = "green" if decision.promoted else "red"
    console.print(
        f"[{style}]{decision.verdict}[/] version {decision.challenger_version} "
        f"(champion was {decision.champion_version or 'none'}): {decision.reason}"
    )
    for warning in decision.warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if not decision.promoted:
        raise typer.Exit(EXIT_FAILED_CHECK)


@app.command()
def demo(
    scenario: Annotated[
        str, typer.Option(help="Scenario name (see `generate --help`, or below for --data).")
    ] = "default",
    days: Annotated[
        int | None,
        typer.Option(min=20, help="Days to simulate (default 60; with --data: every day)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    rows_per_day: Annotated[
        int | None, typer.Option(min=50, help="Rows per day (default: the use case's volume).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Replay this CSV/Parquet file (or folder) instead of generated data.",
            exists=True,
        ),
    ] = None,
    skip_bad_rows: Annotated[
        bool,
        typer.Option("--skip-bad-rows", help="With --data: replay the rows that parse."),
    ] = False,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Replay the whole lifecycle day by day in simulated time, through a live server.

    Bootstrap: the first days are validated, trained on and promoted. Then each day: validate
    the day's batch (a blocked batch is quarantined and never scored or trained on); score it
    through a real uvicorn server on loopback; deliver the labels that have matured; monitor
    (days are grouped into windows of at least `monitoring.min_window_rows` rows); retrain,
    gate and promote when the policy says so, and watch the running server swap to the new
    champion without a restart.

    Without --data the days come from the contract's built-in generator. With --data your own
    file is replayed, and --scenario injects a problem into it: none, quality_incident (a
    numeric feature x100 on one day), covariate_shift (a numeric feature shifted by 1.5
    standard deviations from the onset), concept_drift (labels flipped for half of one
    segment from the onset), schema_break (a feature column dropped on one day), default (the
    incident, then both drifts).

    The previous run's state in the home folder is moved to `HOME/archive/TIME/` first.
    Prints one row per day and writes the same rows to `HOME/demo/summary.json`.
    """
    settings = settings_for(home, contract, config)
    console.print(
        "[start] loading the pipeline's libraries while Prefect's local API starts",
        markup=False,
        highlight=False,
    )
    with flow_runtime(settings, meanwhile=lambda: importlib.import_module("pipelines.demo")):
        from pipelines.demo import run_demo

        summary = run_demo(
            settings,
            scenario=scenario,
            days=days,
            seed=seed,
            rows_per_day=rows_per_day,
            data=data,
            skip_bad_rows=skip_bad_rows,
            progress=lambda line: console.print(line, markup=False, highlight=False),
        )
    console.print(summary.table())
    checks = Table(title="what the run showed")
    checks.add_column("check")
    checks.add_column("value")
    for key, value in summary.checks.items():
        checks.add_row(key, str(value))
    console.print(checks)
    for name, value in summary.paths.items():
        console.print(f"{name}: {value}", highlight=False, soft_wrap=True)
    console.print(f"finished in {summary.seconds:.0f} s", highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=(
                "Worker processes (default: serving.workers, 1). Each loads, smoke-tests and "
                "polls the champion itself; /metrics sums them all; they share the prediction log."
            ),
        ),
    ] = None,
) -> None:
    """Serve `models:/NAME@champion` over HTTP with uvicorn (FastAPI app, OpenAPI at /docs).

    POST /v1/predict scores one row or a list (fields from the contract); POST /v1/labels
    takes delayed labels; GET /v1/model, /health, /ready and /metrics (Prometheus). The server
    polls the champion alias and hot-swaps to a new champion after a smoke test, without a
    restart. Set LIFECYCLE_SERVING__API_KEY to require an X-API-Key header on /v1/* and
    /metrics. With --workers N, N processes share the port (each scores on one core at most).
    """
    import uvicorn

    settings = settings_for(home, contract, config)
    with user_errors():
        from pipelines.serve import log_store, run_workers, serving_config
        from serving.app import create_app

        serving = serving_config(settings)
        app_ = create_app(  # with workers, a check only: each worker builds its own
            serving, log_store=log_store(settings, serving.contract), freeze_heap=True
        )
    bind_host = host or settings.serving.host
    bind_port = port or settings.serving.port
    workers = workers or settings.serving.workers
    shown = f" with {workers} workers" if workers > 1 else ""
    console.print(
        f"serving {serving.contract.model_name}@champion on http://{bind_host}:{bind_port}{shown}"
    )
    if workers == 1:
        uvicorn.run(
            app_,
            host=bind_host,
            port=bind_port,
            log_level="info",
            access_log=settings.serving.access_log,
        )
    else:
        run_workers(settings, config, bind_host, bind_port, workers)


@app.command()
def monitor(
    window: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="Last day of the window (default: last logged day)."
        ),
    ] = None,
    retrain: Annotated[
        bool, typer.Option("--retrain/--no-retrain", help="Act on a retrain verdict.")
    ] = True,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Evaluate a window of the prediction log against the champion's reference (Evidently).

    The window is the given day, extended back day by day when it holds fewer than
    `monitoring.min_window_rows` predictions (the output says so). Writes an HTML report and
    summary.json under `HOME/monitoring/WINDOW/`: data drift per feature and the share
    drifted, prediction drift, data quality and, once enough labels matured, performance
    overall and per segment against the champion's training-time figures. The retraining
    policy then decides on the windows up to this one (drift persisting for k windows, or a
    performance drop; then a cool-down); a retrain runs the train flow on the most recent
    labels and the promotion gate.
    """
    settings = settings_for(home, contract, config)
    from pipelines.monitor import grow_window, logged_rows_by_day
    from pipelines.serve import log_store

    logs = log_store(settings)
    try:
        rows_by_day = logged_rows_by_day(logs)
    finally:
        logs.close()
    today = datetime.now(UTC).date()
    day = window.date() if window else max((d for d in rows_by_day if d <= today), default=None)
    if day is None:
        fail(f"no predictions logged in {logs.location}: serve and score first")
    if day not in rows_by_day:
        logged = f"{min(rows_by_day)} to {max(rows_by_day)}" if rows_by_day else "none"
        fail(f"no predictions logged for {day} in {logs.location} (logged: {logged})")
    bounds, note = grow_window(
        rows_by_day,
        day,
        settings.monitoring.min_window_rows,
        settings.monitoring.performance_days,
    )
    if note:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    with flow_runtime(settings):
        from pipelines.monitor import monitor_flow

        result = monitor_flow(settings, bounds, retrain=retrain)
    window_summary = result.output.summary
    console.print(
        f"window {window_summary.window_id}: {window_summary.n_rows} predictions, drift share "
        f"{window_summary.drift_share:.2f} ({', '.join(window_summary.drifted_features) or 'none'})"
    )
    if window_summary.performance:
        perf = window_summary.performance
        console.print(
            f"matured labels: {perf.n_labelled} ({perf.n_positives} positive), PR-AUC "
            f"{perf.pr_auc:.3f} (training {perf.reference_pr_auc})"
        )
    else:
        console.print(f"performance: {window_summary.performance_note}")
    for warning in window_summary.warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    console.print(f"policy: {result.decision.verdict}: {result.decision.reason}")
    if result.promotion is not None:
        console.print(f"gate: {result.promotion.verdict}: {result.promotion.reason}")
    console.print(f"report: {result.output.report_path or result.output.summary_path}")


@app.command()
def labels(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet with the id and label columns.", exists=True)
    ],
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Append a file of delayed labels (keyed by the contract's id column) to the label log.

    Labels take the contract's label values (e.g. 0/1, or yes/no); an optional column with the
    time each label became known is kept. Nothing is appended if any row is bad.
    """
    settings = settings_for(home, contract, config)
    with user_errors():
        from pipelines.labels import append_label_file

        done = append_label_file(settings, file)
    console.print(
        f"appended {done.appended} label(s) to {done.location}; {done.matched} match a "
        "scored row in the prediction log"
    )
    if done.matched < done.appended:
        errors.print(
            f"[yellow]warning:[/] {done.appended - done.matched} label(s) name an id the "
            "prediction log does not hold (yet): monitoring joins only scored rows",
            highlight=False,
        )


@app.command()
def score(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="A Parquet or CSV file, or a folder of them (its Parquet files, else its CSVs).",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="New (or empty) folder for the scored partitions and manifest."
        ),
    ],
    version: Annotated[
        str | None,
        typer.Option(help="Registered version to score with (default: the champion)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Dask workers of the local cluster (one core each); ignored with "
            "LIFECYCLE_DASK_ADDRESS.",
        ),
    ] = 1,
    partition_rows: Annotated[
        int, typer.Option(min=1, help="Most rows per partition (one Dask task each).")
    ] = 250_000,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Score a file of rows with the champion (or --version) in a Prefect flow on Dask.

    Rows are checked against the same contract-derived schema as `POST /v1/predict` and scored
    by the same registered model on the same feature frame, so a row gets the score the server
    would give it. Writes OUTPUT/part-NNNNN.parquet (the id, the score under the contract's
    score name, the decision at the version's threshold, the model version) and
    OUTPUT/manifest.json (rows in and out, every rejected row with its id and reasons, version,
    threshold, timings, input files). Rejected rows are never scored and never silently
    dropped. Partitions run on a local Dask cluster (--workers), or on the scheduler at
    LIFECYCLE_DASK_ADDRESS (e.g. tcp://scheduler:8786), whose workers must see INPUT, OUTPUT
    and the MLflow store. Example: `lifecycle score .lifecycle/data/raw --output scored/`.
    """
    if not source.exists():
        fail(f"{source}: no such file or folder")
    settings = settings_for(home, contract, config)
    with flow_runtime(settings):
        from features.contract import load_contract
        from pipelines.scoring import rejected_summary, run_batch_scoring

        result = run_batch_scoring(
            settings,
            load_contract(settings.contract),
            source,
            output,
            version=version,
            workers=workers,
            partition_rows=partition_rows,
            progress=lambda line: console.print(escape(line), highlight=False, soft_wrap=True),
        )
    console.print(
        f"scored {result.rows_out} of {result.rows_in} row(s) with version {result.model.version} "
        f"in {result.seconds['flow']:.1f} s ({result.rows_per_second:,.0f} rows/s); "
        f"{len(result.rejected)} rejected",
        highlight=False,
    )
    for line in rejected_summary(result.rejected):
        errors.print(f"[yellow]rejected:[/] {escape(line)}", highlight=False, soft_wrap=True)
    console.print(f"manifest: {result.manifest}", highlight=False, soft_wrap=True)


@app.command()
def doctor(
    stale_hours: Annotated[
        float, typer.Option(min=0, help="A run RUNNING for longer than this is stale.")
    ] = 6.0,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Finish what a killed command left half done, and say what was repaired.

    A promotion or rollback interrupted between its steps (its intent is in the journal, its
    outcome is not in the audit log) is completed so that the registry and the audit log agree.
    MLflow runs left RUNNING by a killed training run (its process gone, or older than
    --stale-hours) are marked FAILED and a version it left incomplete is tagged `abandoned`.
    `lifecycle train` and `lifecycle promote` do all of this by themselves before they start.
    Safe to run at any time.
    """
    from datetime import timedelta

    settings = settings_for(home, contract, config)
    with user_errors():
        from pipelines.flows import fail_stale_runs, repair

        done = [*repair(settings), *fail_stale_runs(settings, timedelta(hours=stale_hours))]
    for line in done:
        console.print(f"[yellow]repaired:[/] {escape(line)}", highlight=False)
    if not done:
        console.print("nothing to repair: the registry and the audit log agree")


@app.command()
def handoff(
    out: Annotated[
        Path | None,
        typer.Option(help="Write the notes to this Markdown file instead of printing them."),
    ] = None,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Write handoff notes for whoever takes over the service (or reviews a run).

    What is deployed (version, windows, metrics, the gate's reason), open risks (interrupted
    promotions, drift, caveats, quarantined batches, abandoned versions), recent decisions, how
    to roll back, where every log is, and the champion's model card. Read-only.
    """
    settings = settings_for(home, contract, config)
    with user_errors():
        from pipelines.handoff import gather, render

        notes = render(gather(settings))
    if out is None:
        typer.echo(notes, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(notes, encoding="utf-8")
    console.print(f"handoff notes written to {out}")


@app.command()
def report(
    out: Annotated[
        Path | None,
        typer.Option(help="Write the page here instead of <home>/demo/index.html."),
    ] = None,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the run report: one self-contained HTML page, readable offline.

    Charts over the days (matured PR-AUC per version, recall, drift share, score drift, rows
    blocked, the champion with every retrain, promotion, rejection and rollback), the
    evaluation record of each version (intervals, segments, calibration, cost curve, the
    gate's comparison), the failure taxonomy and the filterable audit log, linking each
    Evidently report, MLflow run and quarantined batch. `lifecycle demo` writes it as
    <home>/demo/index.html; this rebuilds it for any home. Read-only, but for the page.
    """
    settings = settings_for(home, contract, config)
    with user_errors():
        from pipelines.report import write_report

        written = write_report(settings, out)
    console.print(f"run report written to {written}", highlight=False, soft_wrap=True)


@app.command()
def deploy(
    pool: Annotated[
        str | None,
        typer.Option(
            help="Prefect work pool (type process; default lifecycle); created when missing."
        ),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option(help="When the daily flow runs, a cron line in UTC (default 0 6 * * *)."),
    ] = None,
    schedule: Annotated[
        bool, typer.Option("--schedule/--no-schedule", help="Schedule the daily flow.")
    ] = True,
    ingest_from: Annotated[
        str | None,
        typer.Option(
            help="A landing CSV/Parquet file or folder (a path the worker sees) that each "
            "daily run ingests before validating; content already ingested changes nothing."
        ),
    ] = None,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Register the project's flows as deployments on the Prefect server at PREFECT_API_URL.

    `daily` ingests what landed (--ingest-from), validates pending batches and monitors the
    last logged day (a retrain verdict runs training and the gate); `retrain` trains and gates
    on demand; `score` batch-scores a file or folder (parameters source, output) on Dask. A
    worker runs them:
    `prefect worker start --pool lifecycle`. Each run takes its settings from the worker's
    environment (LIFECYCLE_HOME, LIFECYCLE_TRACKING_URI, ...), not from this command. Running
    it again updates the deployments in place.
    """
    if not os.environ.get("PREFECT_API_URL"):
        fail(
            "deployments live on a Prefect server: set PREFECT_API_URL, e.g. "
            "http://127.0.0.1:4200/api after `prefect server start` (see docs/deploy.md)"
        )
    settings_for(home, contract, config)
    with user_errors():
        from pipelines import deployments

        pool = pool or deployments.DEFAULT_POOL
        daily = (cron or deployments.DAILY_CRON) if schedule else None
        ids = deployments.deploy(deployments.deployment_specs(daily, ingest_from), pool)
    for name, deployment_id in ids.items():
        console.print(f"deployment {name}/{name}: {deployment_id}", highlight=False)
    console.print(f"run them with a worker: prefect worker start --pool {pool}", highlight=False)


@app.command()
def ingest(
    file: Annotated[
        Path,
        typer.Argument(help="CSV or Parquet file, or a folder of them, to bring in.", exists=True),
    ],
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows",
            help="Ingest the rows that parse; the others are still saved and counted.",
        ),
    ] = False,
    home: HomeOption = None,
    contract: ContractOption = None,
    config: ConfigOption = None,
) -> None:
    """Bring a data file in: one immutable raw batch per day of event time, ready to validate.

    Every row is parsed against the contract (types, dates, categories). Rows that cannot be
    parsed are never dropped silently: by default nothing is ingested, the bad rows are saved
    beside a report under `HOME/data/ingest/`, and the command exits 2 saying how many and why,
    per column. Re-ingesting the same file changes nothing. A day that already has a batch with
    other rows gets a second batch (`YYYY-MM-DD.<hash>.parquet`); existing batches are never
    changed. Next: `lifecycle validate`.
    """
    settings = settings_for(home, contract, config)
    with user_errors():
        from features.contract import load_contract
        from pipelines.ingest import ingest as ingest_file

        report = ingest_file(
            file,
            load_contract(settings.contract),
            settings.paths.raw,
            settings.paths.ingest,
            skip_bad_rows=skip_bad_rows,
        )
    _print_ingest_report(report)


def _print_ingest_report(report: Any) -> None:
    """The report's one-line summary, the columns left out, and what to run next."""
    style = "yellow" if report.rows_rejected else "green"
    console.print(f"[{style}]{escape(report.summary())}[/]", highlight=False, soft_wrap=True)
    if report.ignored_columns and not report.already_ingested:
        console.print(
            f"columns not in the contract, left out: {', '.join(report.ignored_columns)}",
            highlight=False,
        )
    if not report.already_ingested:
        console.print("next: `lifecycle validate`", highlight=False)


@contract_app.command("init")
def contract_init(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet file (or folder) to draft the contract from.")
    ],
    label: Annotated[str, typer.Option("--label", help="The target column.")],
    positive_label: Annotated[
        str, typer.Option("--positive-label", help="The label value of the class to detect.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the contract YAML.")],
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="Unique row id column (default: ids are made at ingest)."),
    ] = None,
    event_time: Annotated[
        str | None,
        typer.Option("--event-time", help="When each row happened (required in practice)."),
    ] = None,
    label_delay: Annotated[
        str | None,
        typer.Option("--label-delay", help="How long after the event the label is known, e.g. 7d."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Use-case name (default: the file's stem).")
    ] = None,
) -> None:
    """Draft a commented dataset contract from a data file, for you to review.

    Infers each column's type, range (with a margin), categories and nullability; picks the
    features and up to three segments; derives batch guards from the data's daily volume,
    positive rate, null shares and medians. Review the costs and the label delay before use.
    Next: `lifecycle ingest FILE --contract OUT`.
    """
    if not file.exists():
        fail(f"{file} does not exist")
    with user_errors():
        from pipelines.contract_draft import (
            draft_contract,
            read_frame,
            render_contract_yaml,
            write_contract,
        )

        draft = draft_contract(
            read_frame(file),
            label=label,
            positive_label=positive_label,
            id_column=id_column,
            event_time=event_time,
            label_delay=label_delay,
            name=name or file.stem,
            source=file,
        )
        write_contract(render_contract_yaml(draft), out)
    console.print(f"[green]wrote[/] {out}: review the costs, label delay, ranges and guards")
    console.print(f"next: lifecycle ingest {file} --contract {out}", highlight=False)


@contract_app.command("check")
def contract_check(
    path: Annotated[Path, typer.Argument(help="Contract YAML to check.")],
) -> None:
    """Load a contract and report what it declares, or the first problem in it (exit 2)."""
    with user_errors():
        from features.contract import load_contract

        loaded = load_contract(path)
    console.print(
        f"[green]ok[/] {path}: use case '{loaded.name}', {len(loaded.columns)} columns, "
        f"{len(loaded.features)} features, segments {list(loaded.segments)}, label "
        f"'{loaded.label_column}' (positive {loaded.positive!r}), {len(loaded.guards)} guard(s)",
        highlight=False,
    )


def _metrics_table(title: str, metrics: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if value is None:
            shown = "-"
        elif isinstance(value, float):
            shown = f"{value:.0f}" if key.startswith("n_") else f"{value:.4f}"
        else:
            shown = str(value)
        table.add_row(key, shown)
    return table


@contextmanager
def exercise_errors() -> Iterator[None]:
    """Turn the kit's user mistakes (and a copy without the kit) into one error line."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("pipelines.exercises"):
            raise
        fail("this copy of the project has no exercise kit (pipelines/exercises)")
    except ValueError as exc:
        from pipelines.exercises.model import ExerciseError

        if not isinstance(exc, ExerciseError):
            raise
        fail(str(exc))


@exercise_app.command("list")
def exercise_list() -> None:
    """List the exercises with their one-line brief and time box."""
    with exercise_errors():
        from pipelines.exercises.catalog import EXERCISES

        table = Table(title="take-home exercises")
        for column in ("name", "time box", "points", "brief"):
            table.add_column(column)
        for exercise in EXERCISES.values():
            table.add_row(
                exercise.name, exercise.time_box, str(exercise.max_points), exercise.summary
            )
        console.print(table)


@exercise_app.command("new")
def exercise_new(
    name: Annotated[str, typer.Argument(help="Exercise name (see `lifecycle exercise list`).")],
    folder: Annotated[Path, typer.Argument(help="New or empty folder for the starter repository.")],
    seed: Annotated[
        int | None,
        typer.Option(
            min=0, help="Picks the variant (e.g. which fault is hidden); default: a random one."
        ),
    ] = None,
) -> None:
    """Write a starter repository (git, first commit) with one part of this project removed.

    Its README holds the brief, the time box and the rubric. Hand the folder to the candidate;
    grade it afterwards with `lifecycle exercise grade FOLDER`. Give each candidate their own
    seed, so that the exercises that hide a fault hide a different one.
    """
    import secrets

    chosen = seed if seed is not None else secrets.randbelow(1_000_000)
    with exercise_errors():
        from pipelines.exercises.catalog import exercise_named
        from pipelines.exercises.scaffold import create_exercise

        exercise = exercise_named(name)
        created = create_exercise(exercise, REPO_ROOT, folder.expanduser().resolve(), chosen)
    console.print(
        f"wrote the {exercise.name} exercise (seed {chosen}) to {escape(str(created))} "
        f"({exercise.time_box}, {exercise.max_points} points): see its README.md",
        highlight=False,
        soft_wrap=True,
    )


@exercise_app.command("grade")
def exercise_grade(
    folder: Annotated[Path, typer.Argument(help="A repository made by `lifecycle exercise new`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Also print the grader tests' output.")
    ] = False,
) -> None:
    """Run the hidden grader tests against the repository and print the score per rubric line."""
    with exercise_errors():
        from pipelines.exercises.grading import grade

        report, output = grade(folder.expanduser())
    if as_json:
        typer.echo(report.to_json())
        return
    if verbose:
        console.print(escape(output), highlight=False)
    table = Table(title=f"{report.exercise}: {report.score:g} / {report.max_score}")
    for column in ("line", "points", "tests passed", "failed tests"):
        table.add_column(column)
    for line in report.lines:
        table.add_row(
            escape(line.text),
            f"{line.points:g} / {line.max_points}",
            f"{line.passed} / {line.total}",
            escape(", ".join(line.failed_tests) or "-"),
        )
    console.print(table)
    console.print(f"score: {report.score:g} / {report.max_score}", highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    run: Callable[..., Any] = app
    run(args=argv if argv is not None else sys.argv[1:], prog_name="lifecycle")
