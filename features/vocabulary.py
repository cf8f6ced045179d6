"""Names shared by more than one stage, defined once: registry aliases, tags and log fields.

Training writes the model-version tags that serving and monitoring read; serving writes the
prediction and label logs that monitoring joins. Each side imports the name from here, so a
rename cannot leave one side behind. Contract columns may not reuse a log field name (the
contract checks this at load), because both live side by side in one log record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

# --- registry aliases ----------------------------------------------------------------------

#: The alias the server serves and the monitor compares with.
CHAMPION: Final = "champion"
#: The alias a freshly trained version waits under until the gate decides.
CHALLENGER: Final = "challenger"

# --- model-version tags ----------------------------------------------------------------------

#: Decision threshold of the version (flag when score >= threshold), a float as text.
THRESHOLD_TAG: Final = "threshold"
#: ``DatasetContract.content_hash()`` of the contract the version was trained on.
CONTRACT_HASH_TAG: Final = "contract_hash"
#: Git revision of the code that trained the version.
CODE_REVISION_TAG: Final = "code_revision"
#: First and last event day of the training rows, ISO dates.
TRAIN_START_TAG: Final = "train_start"
TRAIN_END_TAG: Final = "train_end"
#: First and last event day of the holdout rows, ISO dates.
HOLDOUT_START_TAG: Final = "holdout_start"
HOLDOUT_END_TAG: Final = "holdout_end"
#: The instant labels were read at (ISO), the training run's "now".
CUTOFF_TAG: Final = "cutoff"
#: JSON list of caveats the training run found (e.g. a holdout with few positives); see
#: `warnings_tag` and `warnings_from_tag`.
WARNINGS_TAG: Final = "warnings"
#: On a promoted version: the champion it replaced (what a rollback returns to).
PREVIOUS_CHAMPION_TAG: Final = "previous_champion"
#: On a replaced champion: the version that replaced it.
REPLACED_BY_TAG: Final = "replaced_by"
#: Set last by a training run, once the version has its tags, lineage and model card: a
#: version without it was left behind by a training run that did not finish.
TRAINING_COMPLETE_TAG: Final = "training_complete"
#: On a version whose training run was killed: why it must not be promoted.
ABANDONED_TAG: Final = "abandoned"
#: Prefix of the promotion gate's tags (``gate.verdict``, ``gate.reason``, ...).
GATE_TAG_PREFIX: Final = "gate."

# --- training-run tags -----------------------------------------------------------------------

#: ``host:pid`` of the process that ran the training run: a RUNNING run whose process is gone
#: (same host) was killed and is marked FAILED on the next start.
RUN_PROCESS_TAG: Final = "lifecycle.process"

# --- prediction log fields (besides the contract's id, event-time and input columns) --------

#: Id of the HTTP request that scored the row.
REQUEST_ID: Final = "request_id"
#: When the server wrote the record (UTC, ISO).
LOGGED_AT: Final = "logged_at"
#: Registered model name and version that scored the row.
MODEL_NAME: Final = "model_name"
MODEL_VERSION: Final = "model_version"
#: 1 when the score reached the threshold, else 0.
DECISION: Final = "decision"
#: The threshold the decision used.
THRESHOLD: Final = "threshold"

# --- label log fields (besides the contract's id and label columns) -------------------------

#: File name of the label log inside the labels folder.
LABELS_FILE: Final = "labels.jsonl"
#: When the label reached the label log (UTC, ISO).
RECEIVED_AT: Final = "received_at"
#: When the label became known, for a contract without a label-available-time column.
LABEL_AVAILABLE_AT: Final = "label_available_at"

#: Field names of the logs that a contract column may not take.
RESERVED_FIELDS: Final = frozenset(
    {REQUEST_ID, LOGGED_AT, MODEL_NAME, MODEL_VERSION, DECISION, THRESHOLD, RECEIVED_AT}
)


def warnings_tag(warnings: Sequence[str]) -> str:
    """The value of `WARNINGS_TAG` for these warnings (a JSON list of text)."""
    return json.dumps(list(warnings))


def warnings_from_tag(text: str | None) -> tuple[str, ...] | None:
    """The warnings of a `WARNINGS_TAG` value: none for a missing tag, None if malformed."""
    if not text:
        return ()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return tuple(value)
