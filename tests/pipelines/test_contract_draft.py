"""`lifecycle contract init`'s core: a contract drafted from data loads, and its guards hold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from features.contract import DatasetContract, parse_contract
from features.validation import validate_frame
from pipelines.contract_draft import (
    ContractDraftError,
    draft_contract,
    infer_dtype,
    read_frame,
    render_contract_yaml,
    write_contract,
)
from pipelines.ingest import ingest

DAYS = 4


@pytest.fixture(scope="module")
def cancer_csv(tmp_path_factory) -> Path:
    """A CSV no generator made: scikit-learn's breast cancer table with a time and a text label.

    Four days of event time (about 140 rows a day), a yes/no label, a yes/no category feature,
    a three-valued category, a free-text column, and gaps in one numeric column.
    """
    data = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(3)
    frame = data[["mean radius", "mean texture", "mean area", "worst smoothness"]].copy()
    frame.columns = ["radius", "texture", "area", "smoothness"]
    seconds = np.sort(rng.uniform(0, DAYS * 86_400, len(frame)))
    start = pd.Timestamp("2026-02-01")
    frame.insert(0, "seen_at", (start + pd.to_timedelta(seconds, unit="s")).strftime("%FT%T"))
    frame["clinic"] = rng.choice(["north", "south", "east"], len(frame))
    frame["smoker"] = rng.choice(["yes", "no"], len(frame))
    frame["note"] = [f"visit {i}" for i in range(len(frame))]
    frame.loc[rng.choice(len(frame), 30, replace=False), "texture"] = np.nan
    frame["benign"] = np.where(data["target"] == 1, "yes", "no")
    path = tmp_path_factory.mktemp("draft") / "cancer.csv"
    frame.to_csv(path, index=False)
    return path


def _draft(frame: pd.DataFrame, **options):
    arguments = {
        "label": "benign",
        "positive_label": "no",
        "event_time": "seen_at",
        "name": "cancer",
        "source": "cancer.csv",
    }
    return draft_contract(frame, **(arguments | options))


def _loaded(text: str) -> DatasetContract:
    return parse_contract(yaml.safe_load(text), source="draft")


def test_a_draft_loads_and_says_what_to_review(cancer_csv):
    draft = _draft(read_frame(cancer_csv))
    text = render_contract_yaml(draft, generated_on=dt.date(2026, 3, 1))
    contract = _loaded(text)

    assert contract.content_hash() == draft.contract.content_hash(), "the YAML is the draft"
    assert text.startswith("# Dataset contract drafted from cancer.csv on 2026-03-01"), text[:80]
    for review in ("costs: placeholders", "label_delay:", "categories:", "guards:"):
        assert review in text.split("\nname:")[0], f"the header asks to review {review}"
    assert contract.label_delay == dt.timedelta(days=1), "without --label-delay: one day"
    assert "SET THIS: how long after the event" in text, "and a comment saying to set it"
    assert f"over {DAYS} day(s)" in text, "the header says how many days the data spans"
    assert "labelled rows" in text, "and the positive rate"
    assert (contract.costs.false_negative, contract.costs.false_positive) == (10.0, 1.0), (
        "placeholder costs"
    )
    assert contract.score_name == "probability", "the neutral default score name"


def test_columns_are_typed_ranged_and_categorised_from_the_data(cancer_csv):
    contract = _draft(read_frame(cancer_csv)).contract
    columns = contract.columns

    assert columns["seen_at"].dtype == "datetime", "ISO text is a datetime"
    assert columns["radius"].dtype == "float", "decimal text is a float"
    assert columns["radius"].min == 0.0, "no negative lower bound for a non-negative column"
    assert (columns["radius"].max or 0) > 28.11, "the upper bound is above the largest radius"
    assert columns["texture"].nullable, "a column with gaps is nullable"
    assert not columns["radius"].nullable, "a column without gaps is not"
    assert columns["clinic"].categories == ("east", "north", "south"), "categories sorted"
    assert columns["note"].dtype == "string", "nearly unique text is a string"
    assert columns["benign"].categories == ("no", "yes"), "a text label keeps its values"
    assert contract.positive == "no", "the positive label as given"
    assert contract.features == ("radius", "texture", "area", "smoothness", "clinic", "smoker"), (
        "numbers and categories are features; roles and strings are not"
    )
    assert contract.segments == ("clinic", "smoker"), "category features with 2-12 values"


def test_yes_no_values_are_quoted_so_yaml_keeps_them_text(cancer_csv):
    text = render_contract_yaml(_draft(read_frame(cancer_csv)))

    assert "categories: ['no', 'yes']" in text, "yes/no quoted in the YAML"
    assert "positive_label: 'no'" in text, "the positive label quoted too"
    loaded = _loaded(text)
    assert loaded.columns["smoker"].categories == ("no", "yes"), "read back as text, not bools"


def test_without_id_ingest_makes_ids_and_with_id_the_column_is_used(cancer_csv):
    frame = read_frame(cancer_csv)
    generated = _draft(frame).contract
    assert (generated.id_column, generated.id_generated) == ("row_id", True), "ids made at ingest"
    assert generated.columns["row_id"].dtype == "string", "a string id column is declared"

    frame["visit"] = [f"v{i:05d}" for i in range(len(frame))]
    given = _draft(frame, id_column="visit").contract
    assert (given.id_column, given.id_generated) == ("visit", False), "the given id is used"
    assert "row_id" not in given.columns, "no generated id column"


def test_guards_come_from_the_data_and_pass_on_every_ingested_day(cancer_csv, tmp_path):
    draft = _draft(read_frame(cancer_csv))
    contract = _loaded(render_contract_yaml(draft))
    kinds = {guard.check for guard in contract.guards}
    assert {"row_count", "label_rate", "null_share", "median"} <= kinds, kinds
    assert all(guard.catches for guard in contract.guards), "each guard says what it catches"

    report = ingest(cancer_csv, contract, tmp_path / "raw", tmp_path / "ingest")

    assert report.rows_ingested == report.rows_read == 569, "every row of the source ingested"
    assert len(report.batches) == DAYS, "one batch per day"
    for batch in report.batches:
        outcome = validate_frame(pd.read_parquet(batch.path), contract)
        assert outcome.success, f"{batch.batch_id}: {outcome.summary()}"


def test_a_numeric_zero_one_label_becomes_an_int_column(cancer_csv):
    frame = read_frame(cancer_csv)
    frame["benign"] = frame["benign"].map({"yes": "1", "no": "0"})

    contract = _draft(frame, positive_label="1").contract

    assert contract.columns["benign"].dtype == "int", "a 0/1 label is an int column"
    assert contract.columns["benign"].categories == (0, 1), "with categories [0, 1]"
    assert contract.positive == 1, "the positive label typed as the column"


def test_no_event_time_is_rejected_with_what_to_do(cancer_csv):
    with pytest.raises(ContractDraftError) as caught:
        _draft(read_frame(cancer_csv), event_time=None)

    message = str(caught.value)
    assert "a time column is needed" in message, message
    assert "pass --event-time COL" in message, message
    assert "seen_at" in message, "it names the column that holds dates"


def test_a_positive_label_the_data_does_not_hold_is_rejected(cancer_csv):
    with pytest.raises(ContractDraftError, match=r"--positive-label 'Yes' is not one of"):
        _draft(read_frame(cancer_csv), positive_label="Yes")


def test_a_label_that_is_not_binary_is_rejected(cancer_csv):
    with pytest.raises(ContractDraftError, match="exactly two distinct values"):
        _draft(read_frame(cancer_csv), label="clinic", positive_label="north")


def test_a_non_unique_id_is_rejected(cancer_csv):
    with pytest.raises(ContractDraftError, match="--id 'clinic' is not unique"):
        _draft(read_frame(cancer_csv), id_column="clinic")


def test_a_file_stem_becomes_a_valid_name(cancer_csv):
    contract = _draft(read_frame(cancer_csv), name="my export (v2)").contract
    assert contract.name == "my_export_v2", contract.name


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2", "3", "4"], "int"),
        (["1", "2.0", "-3"], "int"),
        (["1.5", "2", "3"], "float"),
        (["007", "008", "007", "008", "007", "009"], "category"),
        (["2026-01-01", "2026-01-02T10:00:00+01:00"], "datetime"),
        (["a", "b", "a", "b", "a"], "category"),
        ([f"id-{i}" for i in range(10)], "string"),
        (["", " ", None], "string"),
    ],
)
def test_infer_dtype(values, expected):
    assert infer_dtype(pd.Series(values, dtype=object))[0] == expected, values


def test_write_contract_never_replaces_a_file(tmp_path):
    out = tmp_path / "contracts" / "mine.yaml"
    write_contract("name: x\n", out)
    assert out.read_text() == "name: x\n", "written"

    with pytest.raises(ContractDraftError, match="already exists"):
        write_contract("name: y\n", out)
    assert out.read_text() == "name: x\n", "the first file is untouched"
