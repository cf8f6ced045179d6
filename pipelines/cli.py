"""The `lifecycle` command: one sub-command per stage of the machine-learning lifecycle.

Every command builds the settings once (environment ``LIFECYCLE_*`` plus flags), prints what it
is doing, and turns the pipeline's own errors into one readable line and a non-zero exit code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.runtime import prefect_environment
from pipelines.settings import Settings, load_settings

app = typer.Typer(
    name="lifecycle",
    rich_markup_mode="markdown",
    help=(
        "Run the machine-learning lifecycle stage by stage: generate data, validate it, train, "
        "promote, serve, monitor. Everything a run writes goes under the home folder "
        "(.lifecycle/ by default, LIFECYCLE_HOME or --home to move it)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the demo's timeline when the output is a file or a CI log, not a terminal.
console = Console(width=None if sys.stdout.isatty() else 150)
# Errors never wrap: a log line or a test reads one message per line.
errors = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Run home folder (default: .lifecycle, or LIFECYCLE_HOME)."),
]

EXIT_FAILED_CHECK = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one error line (no traceback) and exit."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def settings_for(home: Path | None) -> Settings:
    """Build settings and prepare Prefect's environment before any flow module is imported."""
    try:
        settings = load_settings(home=home)
    except Exception as exc:  # pydantic's ValidationError names the bad variable
        fail(f"invalid settings: {exc}")
    os.environ.update(prefect_environment(settings, os.environ))
    # Prefect creates its home folder without parents; a fresh --home needs it made first.
    settings.paths.prefect.mkdir(parents=True, exist_ok=True)
    return settings


# Errors the pipeline raises on purpose, with a message meant for the user. Looked up only in
# modules already imported: an error class whose module never loaded cannot have been raised, and
# importing MLflow or Prefect just to catch their callers' errors would slow every command.
USER_ERRORS = {
    "data.generator": ("BatchExistsError",),
    "data.scenarios": (),
    "features.contract": ("ContractError",),
    "pipelines.flows": ("PipelineError",),
    "training.split": ("SplitError",),
    "training.leakage": ("LeakageError",),
    "training.fit": ("FitError",),
    "training.evaluate": ("EvaluationError",),
    "training.registry": ("RegistryError",),
    "pipelines.labels": ("LabelFileError",),
    "monitoring.errors": ("MonitoringError",),
    "serving.config": ("ServingConfigError",),
}


def known_errors() -> tuple[type[BaseException], ...]:
    """The user-facing error classes of the modules loaded so far, plus bad values and paths."""
    found: list[type[BaseException]] = [ValueError, FileNotFoundError, FileExistsError]
    for module, names in USER_ERRORS.items():
        loaded = sys.modules.get(module)
        found.extend(getattr(loaded, name) for name in names if loaded is not None)
    return tuple(found)


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
    """The generate command's help, with one line per scenario taken from the scenario table."""
    from data.scenarios import SCENARIOS

    lines = "\n".join(f"- {name}: {scenario.summary}" for name, scenario in SCENARIOS.items())
    return (
        "Write one immutable Parquet batch per day into the home's raw folder.\n\n"
        f"Scenarios:\n\n{lines}\n\n"
        "The incident day defaults to 40 % and the drift onset to 50 % of --days. The same "
        "seed gives the same bytes; an existing batch is never overwritten."
    )


@app.command(help=_generate_help())
def generate(
    scenario: Annotated[str, typer.Option(help="Scenario name (see the list above).")] = "none",
    days: Annotated[int, typer.Option(min=1, help="Number of daily batches.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 42,
    rows_per_day: Annotated[int, typer.Option(min=50, help="Transactions per day.")] = 1500,
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (default 2026-01-01).")
    ] = None,
    incident_day: Annotated[
        int | None, typer.Option(help="0-based day of the quality incident / schema break.")
    ] = None,
    onset_day: Annotated[int | None, typer.Option(help="0-based day the drift starts.")] = None,
    home: HomeOption = None,
) -> None:
    """Write one immutable Parquet batch per day (help text: ``_generate_help``)."""
    from data.generator import DEFAULT_START, scenario_timeline, write_batches
    from data.generator import generate as generate_batches

    settings = settings_for(home)
    with user_errors():
        timeline = scenario_timeline(scenario, days, incident_day=incident_day, onset_day=onset_day)
        batches = generate_batches(
            scenario,
            days,
            seed,
            start=start.date() if start else DEFAULT_START,
            rows_per_day=rows_per_day,
            incident_day=incident_day,
            onset_day=onset_day,
        )
        written = write_batches(batches, settings.paths.raw)
    new = sum(1 for w in written if w.status == "written")
    console.print(
        f"[green]generated[/] {len(written)} batch(es) of scenario [bold]{scenario}[/] "
        f"(seed {seed}) in {settings.paths.raw}: {new} new, {len(written) - new} unchanged"
    )
    console.print(f"ground truth: {timeline}")


@app.command()
def validate(home: HomeOption = None) -> None:
    """Check every raw batch not yet checked against the Great Expectations suite.

    Passing batches are copied to the validated folder. Failing batches are copied into the
    quarantine folder beside the validation result (JSON and Data Docs HTML) that rejected them;
    the command then exits 1 naming each one and its failed expectations. Raw files are never
    changed or deleted.
    """
    settings = settings_for(home)
    with user_errors():
        from pipelines.flows import validate_flow

        outcomes = validate_flow(settings)
    if not outcomes:
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
        typer.Option(help="Label cutoff ('now' for labels); default: end of the last batch."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Train a candidate on validated batches and register it with the alias `challenger`.

    Only rows whose label was already available at the cutoff count. The run stops with a clear
    message if a leakage check fires. Metrics, the model card and the lineage (batches, their
    hashes, the contract hash, the code revision) go to MLflow.
    """
    settings = settings_for(home)
    with user_errors():
        from pipelines.flows import train_flow

        result = train_flow(settings, cutoff=cutoff)
    console.print(
        f"[green]registered[/] {result.model_name} version {result.version} as challenger "
        f"(run {result.run_id})"
    )
    console.print(_metrics_table(f"holdout {result.holdout_window}", result.metrics))


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
) -> None:
    """Compare the challenger with the champion on the most recent labelled holdout.

    It is promoted only if it beats the champion by the stated margin with no segment guardrail
    breached; the very first model must instead clear an absolute floor. Each decision is
    appended to the audit log and set as tags on the versions. Exit code 1 means rejected.
    """
    settings = settings_for(home)
    with user_errors():
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
    if not decision.promoted:
        raise typer.Exit(EXIT_FAILED_CHECK)


@app.command()
def demo(
    scenario: Annotated[
        str, typer.Option(help="Scenario name (see `generate --help`).")
    ] = "default",
    days: Annotated[int, typer.Option(min=20, help="Days to simulate.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    rows_per_day: Annotated[int, typer.Option(min=200, help="Transactions per day.")] = 1000,
    home: HomeOption = None,
) -> None:
    """Replay the whole lifecycle day by day in simulated time, through a live server.

    Bootstrap: the first third of the days is generated, validated, trained on and promoted.
    Then each day: validate the day's batch (a blocked batch is quarantined and never scored or
    trained on); score it through a real uvicorn server on loopback; deliver the labels that
    have matured; monitor the day with Evidently; retrain, gate and promote when the policy says
    so, and watch the running server swap to the new champion without a restart.

    The previous run's state in the home folder is moved to `HOME/archive/TIME/` first.
    Prints one row per day and writes the same rows to `HOME/demo/summary.json`.
    """
    settings = settings_for(home)
    with user_errors():
        from pipelines.demo import run_demo

        summary = run_demo(
            settings,
            scenario=scenario,
            days=days,
            seed=seed,
            rows_per_day=rows_per_day,
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
) -> None:
    """Serve `models:/NAME@champion` over HTTP with uvicorn (FastAPI app, OpenAPI at /docs).

    POST /v1/predict scores one transaction or a list; POST /v1/labels takes delayed labels;
    GET /v1/model, /health, /ready and /metrics (Prometheus). The server polls the champion
    alias and hot-swaps to a new champion after a smoke test, without a restart. Set
    LIFECYCLE_API_KEY to require an X-API-Key header on /v1/* and /metrics.
    """
    import uvicorn

    settings = settings_for(home)
    with user_errors():
        from pipelines.serve import serving_config
        from serving.app import create_app

        app_ = create_app(serving_config(settings))
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"serving {settings.model_name}@champion on http://{bind_host}:{bind_port}")
    uvicorn.run(app_, host=bind_host, port=bind_port, log_level="info")


@app.command()
def monitor(
    window: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Day to evaluate (default: last logged day)."),
    ] = None,
    retrain: Annotated[
        bool, typer.Option("--retrain/--no-retrain", help="Act on a retrain verdict.")
    ] = True,
    home: HomeOption = None,
) -> None:
    """Evaluate one day of the prediction log against the champion's reference (Evidently).

    Writes an HTML report and summary.json under `HOME/monitoring/DAY/`: data drift per
    feature and the share drifted, prediction drift, data quality and, once labels matured,
    performance against the champion's training-time figures. The retraining policy then
    decides (drift persisting for k windows, or a performance drop; then a cool-down); a retrain
    runs the train flow on the most recent labels and the promotion gate.
    """
    settings = settings_for(home)
    day = window.date() if window else _last_logged_day(settings.paths.predictions)
    if day is None:
        fail(f"no predictions logged in {settings.paths.predictions}: serve and score first")
    with user_errors():
        from pipelines.monitor import monitor_flow

        result = monitor_flow(settings, day, retrain=retrain)
    window_summary = result.output.summary
    console.print(
        f"window {window_summary.window_id}: {window_summary.n_rows} predictions, drift share "
        f"{window_summary.drift_share:.2f} ({', '.join(window_summary.drifted_features) or 'none'})"
    )
    if window_summary.performance:
        perf = window_summary.performance
        console.print(
            f"matured labels: {perf.n_labelled}, PR-AUC {perf.pr_auc:.3f} "
            f"(training {perf.reference_pr_auc})"
        )
    else:
        console.print(f"performance: {window_summary.performance_note}")
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
) -> None:
    """Append a batch file of delayed labels (keyed by transaction id) to the label log."""
    settings = settings_for(home)
    with user_errors():
        from pipelines.labels import append_label_file

        count = append_label_file(settings, file)
    console.print(f"appended {count} label(s) to {settings.paths.labels}")


def _last_logged_day(folder: Path) -> date | None:
    days = sorted(p.stem for p in folder.glob("*.jsonl")) if folder.exists() else []
    return date.fromisoformat(days[-1]) if days else None


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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    run: Callable[..., Any] = app
    run(args=argv if argv is not None else sys.argv[1:], prog_name="lifecycle")
