"""Monitoring at scale: one window of N logged predictions checked in time and memory.

``python -m benchmarks.monitoring [--rows 1000000]`` builds one day of the card-fraud
generator's stationary scenario (``none``), logs it with the server's record builders
(:func:`serving.prediction_log.prediction_records`, :func:`~serving.prediction_log.label_records`)
and times :func:`monitoring.window.monitor_window` on it (``write_html`` off), drift, data
quality and matured-label performance included, in a child process whose peak RSS is read with
``resource.getrusage``. Target (issue 9): 1,000,000 rows in at most 30 s and 2 GB peak RSS.

Scoring a million rows with a trained model is not what is measured, so the logged score is a
cheap deterministic function of the features and the label (seeded noise): the prediction log
has the same shape and types as the server's. Labels for every row are delivered, and the window
is evaluated ``as_of`` the day every label has matured. Figures go to stdout and to
``benchmarks/results/monitoring-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.usecases import DEFAULT_START, use_case
from features.contract import DatasetContract, load_contract
from features.vocabulary import LABELS_FILE
from monitoring.config import MonitoringConfig
from serving.prediction_log import ScoredBatch, append_lines, label_records, prediction_records

USE_CASE = "card_fraud"
SCENARIO = "none"
REFERENCE_ROWS = 50_000
CHUNK_ROWS = 100_000
THRESHOLD = 0.5
TARGET_SECONDS = 30.0
TARGET_RSS_MB = 2048.0
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cheap_score(frame: pd.DataFrame, contract: DatasetContract, seed: int) -> np.ndarray:
    """A deterministic stand-in for the model's score: the label blurred by seeded noise."""
    rng = np.random.default_rng(seed)
    label = frame[contract.label_column].to_numpy(dtype="float64")
    logit = 2.5 * label - 1.5 + rng.normal(0.0, 1.2, len(frame))
    return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype="float64")


def _plain(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    rows = frame[columns].astype(object).to_dict("records")
    return [{str(k): None if pd.isna(v) else v for k, v in row.items()} for row in rows]


def build_logs(work: Path, rows: int, seed: int) -> tuple[Path, dt.date, dt.datetime]:
    """Write the reference (parquet), one day of prediction log and its labels under ``work``."""
    case = use_case(USE_CASE)
    contract = load_contract(case.contract_file)
    day = DEFAULT_START + dt.timedelta(days=1)
    reference = case.generate_day(0, SCENARIO, seed=seed + 1, days=2, rows=REFERENCE_ROWS)
    reference[contract.score_name] = cheap_score(reference, contract, seed + 1)
    reference.to_parquet(work / "reference.parquet")
    window = case.generate_day(1, SCENARIO, seed=seed, days=2, rows=rows)
    scores = cheap_score(window, contract, seed)
    now = dt.datetime.combine(day, dt.time(23, 59))
    inputs = [contract.id_column, contract.event_time_column, *contract.input_columns]
    label_columns = [contract.id_column, contract.label_column, contract.label_available_field]
    for begin in range(0, rows, CHUNK_ROWS):
        chunk = window.iloc[begin : begin + CHUNK_ROWS]
        part = scores[begin : begin + CHUNK_ROWS]
        batch = ScoredBatch(
            request_id=f"bench-{begin}",
            items=_plain(chunk, inputs),
            scores=part.tolist(),
            decisions=[int(s >= THRESHOLD) for s in part],
            model_name=contract.model_name,
            model_version="1",
            threshold=THRESHOLD,
            received_at=now,
        )
        append_lines(
            work / "predictions" / f"{day.isoformat()}.jsonl",
            prediction_records(batch, contract, now),
        )
        append_lines(
            work / "labels" / LABELS_FILE,
            label_records(_plain(chunk, label_columns), contract, now),
        )
    as_of = dt.datetime.combine(day + dt.timedelta(days=case.max_label_delay_days + 1), dt.time())
    return work, day, as_of


def measure(
    work: Path, day: dt.date, as_of: dt.datetime, sample_rows: int | str | None = "default"
) -> dict[str, Any]:
    """Run ``monitor_window`` once here: seconds, peak RSS (MB), figures (str: default sample)."""
    from monitoring.window import monitor_window

    contract = load_contract(use_case(USE_CASE).contract_file)
    reference = pd.read_parquet(work / "reference.parquet")
    config = (
        MonitoringConfig(write_html=False)
        if isinstance(sample_rows, str)
        else MonitoringConfig(write_html=False, drift_sample_rows=sample_rows)
    )
    started = time.perf_counter()
    output = monitor_window(
        reference,
        contract,
        predictions_dir=work / "predictions",
        labels_dir=work / "labels",
        monitoring_dir=work / "monitoring",
        window=day,
        threshold=THRESHOLD,
        config=config,
        as_of=as_of,
    )
    seconds = time.perf_counter() - started
    summary = output.summary
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "n_rows": summary.n_rows,
        "n_labelled": summary.n_labelled,
        "n_drifted_features": summary.n_drifted_features,
        "data_drift_detected": summary.data_drift_detected,
        "drift_sample_rows": config.drift_sample_rows,
        "drift_sample_seed": config.drift_sample_seed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="predictions in the window")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--drift-sample-rows",
        default="default",
        help="rows sampled for drift statistics: a number, 'all' (no sample) or 'default'",
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is not None:  # the child: one measured run, JSON on stdout
        sample: int | str | None = args.drift_sample_rows
        if sample == "all":
            sample = None
        elif sample != "default":
            sample = int(str(sample))
        figures = measure(
            args.measure,
            dt.date.fromisoformat(args.day),
            dt.datetime.fromisoformat(args.as_of),
            sample,
        )
        print(json.dumps(figures))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        started = time.perf_counter()
        work, day, as_of = build_logs(Path(tmp), args.rows, args.seed)
        log_mb = (work / "predictions" / f"{day.isoformat()}.jsonl").stat().st_size / 2**20
        print(
            f"built {args.rows:,} logged predictions ({log_mb:.0f} MB of JSONL) "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.monitoring",
                "--measure",
                str(work),
                "--day",
                day.isoformat(),
                "--as-of",
                as_of.isoformat(),
                "--drift-sample-rows",
                str(args.drift_sample_rows),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures.update(
        rows=args.rows,
        seed=args.seed,
        reference_rows=REFERENCE_ROWS,
        score="deterministic stand-in (label + seeded noise), not the model",
        target_seconds=TARGET_SECONDS,
        target_peak_rss_mb=TARGET_RSS_MB,
        within_target=figures["seconds"] <= TARGET_SECONDS
        and figures["peak_rss_mb"] <= TARGET_RSS_MB,
    )
    print(
        f"monitor_window on {args.rows:,} rows: {figures['seconds']} s, "
        f"peak RSS {figures['peak_rss_mb']} MB (target <= {TARGET_SECONDS:.0f} s, "
        f"<= {TARGET_RSS_MB:.0f} MB): {'OK' if figures['within_target'] else 'OVER'}"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.drift_sample_rows == "default" else f"-sample-{args.drift_sample_rows}"
    out = RESULTS_DIR / f"monitoring-{dt.date.today().isoformat()}{suffix}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
