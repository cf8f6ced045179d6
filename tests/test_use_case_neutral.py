"""The generic layers name no use case: the contract is the whole plug-in.

Outside ``data/`` (generators, contracts), code may not name a card-fraud column, unit, rate or
word: not in identifiers, not in string literals. Docstrings and comments may (they explain
with examples). A team that writes its own contract then needs no code change.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from features.contract import load_contract

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("features", "training", "serving", "monitoring", "pipelines")
#: Words of the card-fraud case, matched as whole words of identifiers and string literals.
WORDS = {"amount", "amounts", "fraud", "frauds", "transaction", "transactions", "txn", "card"}
WORDS |= {"cards", "chargeback", "chargebacks", "eur"}
#: Names of other libraries' APIs that happen to contain such a word.
LIBRARY_NAMES = {"in_transaction"}  # sqlite3.Connection
#: "Model card" is the name of a document every model has, not a word of the use case.
MODEL_CARD = re.compile(r"model[ _-]?cards?", re.IGNORECASE)
CARD_FRAUD = load_contract(ROOT / "data" / "contracts" / "card_fraud.yaml")
#: Its columns, categories and names, matched as whole literals or identifiers.
NAMES = {
    *(c for c in CARD_FRAUD.columns if c not in (CARD_FRAUD.event_time_column,)),
    *(
        str(v)
        for c in CARD_FRAUD.categorical_features
        for v in CARD_FRAUD.columns[c].categories or ()
    ),
    CARD_FRAUD.score_name,
    CARD_FRAUD.model_name,
    CARD_FRAUD.name,
} - {"label_available_at"}  # also the generic name of "when a label became known"


def _docstring_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for index, statement in enumerate(body):
            is_string = (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            )
            # The node's docstring, or an attribute docstring after an assignment.
            if is_string and (
                index == 0 or isinstance(body[index - 1], ast.Assign | ast.AnnAssign)
            ):
                end = statement.end_lineno or statement.lineno
                lines.update(range(statement.lineno, end + 1))
    return lines


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", MODEL_CARD.sub(" ", text))}


def offences(path: Path) -> list[str]:
    """``line: token`` for each identifier or literal of ``path`` naming the card-fraud case."""
    source = path.read_text(encoding="utf-8")
    skip = _docstring_lines(ast.parse(source))
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.start[0] in skip or token.type not in (tokenize.NAME, tokenize.STRING):
            continue
        if token.string in LIBRARY_NAMES:
            continue
        text = token.string
        literal = text.strip("\"'rbfRBF")
        if token.type == tokenize.STRING and literal.endswith((".yaml", ".yml")):
            continue  # a contract's file name (the default contract is named by its file)
        if (
            _words(text.replace("_", " ")) & WORDS
            or literal in NAMES
            or (token.type == tokenize.NAME and text in NAMES)
        ):
            found.append(f"{path.relative_to(ROOT)}:{token.start[0]}: {text[:60]}")
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_generic_layers_name_no_card_fraud_column_or_word(layer: str) -> None:
    hits = [hit for path in sorted((ROOT / layer).rglob("*.py")) for hit in offences(path)]
    assert hits == [], "code outside data/ names the card-fraud use case:\n" + "\n".join(hits)


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docstrings may say fraud and amount."""\n'
        "# comments may say transaction\n"
        "def score(fraud_probability: float) -> float:\n"
        '    """Here too: card."""\n'
        '    return frame["amount"] * fraud_probability\n'
        "cardinality = 1\n"
        "render_model_card = 2\n"
    )
    found = offences_in(sample)
    assert [hit.split(": ", 1)[1] for hit in found] == [
        "fraud_probability",
        '"amount"',
        "fraud_probability",
    ], found


def offences_in(path: Path) -> list[str]:
    """`offences` for a file outside the repository (the check's own test)."""
    global ROOT
    saved, ROOT = ROOT, path.parent
    try:
        return offences(path)
    finally:
        ROOT = saved
