"""Labels of replayed rows that wait for the time they become known.

Shared by the demo and the detection benchmark, which replay days in simulated time: a scored
day's labels are held back and handed over once the contract says they are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from features.contract import DatasetContract


@dataclass
class PendingLabels:
    """Labels of scored rows, waiting for the time they become known.

    Held as ``[id, label, <label-available field>]``: the same shape ``POST /v1/labels``
    takes, with the time computed from the contract (its column, or event time + delay).
    """

    frame: pd.DataFrame | None = None

    def add(self, batch: pd.DataFrame, contract: DatasetContract) -> None:
        """Hold the labels of a scored batch until they mature."""
        new = pd.DataFrame(
            {
                contract.id_column: batch[contract.id_column].to_numpy(),
                contract.label_column: batch[contract.label_column].to_numpy(),
                contract.label_available_field: contract.label_known_at(batch).to_numpy(),
            }
        )
        new = new[new[contract.label_column].notna()]
        self.frame = new if self.frame is None else pd.concat([self.frame, new], ignore_index=True)

    def pop_matured(self, now: datetime, contract: DatasetContract) -> pd.DataFrame:
        """Remove and return the labels known at ``now``."""
        if self.frame is None:
            return pd.DataFrame()
        ready = self.frame[contract.label_available_field] <= pd.Timestamp(now)
        matured, self.frame = self.frame[ready], self.frame[~ready].reset_index(drop=True)
        return matured
