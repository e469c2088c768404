"""The data-query log: one row per record-level problem and what was done about it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

QUERY_COLUMNS = ["QUERYID", "DOMAIN", "FILE", "ROW", "COLUMN", "USUBJID", "VARIABLE", "VALUE", "CHECK", "MESSAGE",
                 "ACTION"]


@dataclass
class QueryLog:
    rows: list[dict] = field(default_factory=list)
    prefix: str = "Q"  # query ids: Q00001 from cleaning, D00001 from derivations

    def add(self, domain, record, variable, value, check, message, action, column: str = "") -> None:
        """One query on ``record`` (its SRCFILE and SRCROW name the raw file and row; ``column`` the raw column)."""
        self.rows.append({
            "DOMAIN": domain, "FILE": record.get("SRCFILE", ""), "ROW": record.get("SRCROW", ""), "COLUMN": column,
            "USUBJID": record.get("USUBJID", ""), "VARIABLE": variable, "VALUE": "" if value is None else str(value),
            "CHECK": check, "MESSAGE": message, "ACTION": action,
        })

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=QUERY_COLUMNS[1:])
        frame.insert(0, "QUERYID", [f"{self.prefix}{i:05d}" for i in range(1, len(frame) + 1)])
        return frame
