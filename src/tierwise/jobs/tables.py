"""One flat table with an outcome column, for a quick look without a spec.

``tierwise icp discover --table`` and ``tierwise model evaluate --table`` read
a CSV or Parquet file, map the outcome column to won/lost and type every other
column (numbers where every value parses as one, text otherwise). Rows whose
outcome is missing or neither the won nor a lost value are quarantined with
their row number and reason, so ``read = used + quarantined``.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "deals.csv").write_text("id,industry,size,result\\n1,software,120,Won\\n2,retail,40,Lost\\n"
...                                  "3,retail,,Lost\\n4,software,900,Open\\n")
>>> t = read_outcome_table(d / "deals.csv", outcome="result", won="Won", lost=["Lost"], exclude=["id"])
>>> t.frame.columns.tolist(), t.frame["won"].tolist(), t.kinds["size"]
(['industry', 'size', 'won'], [True, False, False], 'numeric')
>>> t.read, len(t.frame), t.quarantined[0]["_reason"]
(4, 3, "outcome 'Open' is neither won ('Won') nor lost ('Lost')")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierwise.engine import connect
from tierwise.engine.base import ROW_COLUMN
from tierwise.errors import DataError
from tierwise.models.frame import infer_kinds

#: Text read as missing in every flat table ("None" is not among them: it is often a real answer,
#: as in IBM's Competitor Type). Add others with ``na_values`` (``--na Select``).
NA_TOKENS = ("", "na", "n/a", "nan", "null")


@dataclass
class OutcomeTable:
    """A flat table mapped to ``won`` plus typed attribute columns."""

    path: Path
    frame: pd.DataFrame  # attributes, then won (bool) and, when given, amount
    kinds: dict[str, str]
    outcome: str
    won_value: str
    lost_values: list[str]
    read: int
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # columns skipped as record keys
    dates: list[str] = field(default_factory=list)  # date columns: when, not what -- not attributes

    def summary(self) -> dict[str, Any]:
        return {"file": str(self.path), "outcome": self.outcome, "won_value": self.won_value,
                "lost_values": self.lost_values, "read": self.read, "used": len(self.frame),
                "quarantined": len(self.quarantined), "identifiers_skipped": self.identifiers,
                "dates_skipped": self.dates}


def _read(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with connect("duckdb://") as engine:
        raw = engine.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else engine.read_csv(path)
        frame = engine.to_arrow(raw.table.order_by(ROW_COLUMN)).to_pandas()
    rejected = [{ROW_COLUMN: r.row, "_reason": f"malformed line: {r.reason}", "_line": r.text} for r in raw.rejected]
    return frame, rejected


def _typed(series: pd.Series, na: set[str]) -> pd.Series:
    """Text with the NA tokens as missing; numbers when every present value parses as one."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series
    text = series.astype("object").where(series.notna(), None)
    text = text.map(lambda v: None if pd.isna(v) or str(v).strip().lower() in na else str(v).strip())
    present = text.dropna()
    if len(present):
        numbers = pd.to_numeric(present.str.replace(",", "", regex=False), errors="coerce")
        if numbers.notna().all():
            return pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").astype("float64")
        if present.str.match(r"^\d{4}-\d{2}-\d{2}([ T].*)?$").all():
            dates = pd.to_datetime(text, format="ISO8601", errors="coerce")
            if dates.notna().sum() == len(present):
                return dates
    return text


def read_outcome_table(path: str | Path, *, outcome: str, won: str, lost: Sequence[str] | None = None,
                       amount: str | None = None, exclude: Sequence[str] = (),
                       na_values: Sequence[str] = ()) -> OutcomeTable:
    """Read ``path`` and map ``outcome`` to won (``== won``) and lost (``lost``, or the one other value).

    Raises :class:`~tierwise.errors.DataError` naming the column and its values
    when the outcome column is missing, has no won or no lost rows, or has
    several other values and ``lost`` does not say which mean a loss.
    """
    path = Path(path)
    frame, quarantined = _read(path)
    read = len(frame) + len(quarantined)  # malformed lines are quarantined too
    columns = [c for c in frame.columns if c != ROW_COLUMN]
    by_lower = {c.lower(): c for c in columns}

    def column(name: str, what: str) -> str:
        found = name if name in columns else by_lower.get(name.lower())
        if found is None:
            raise DataError(f"{path}: no {what} column '{name}'; columns are: {', '.join(columns)}")
        return found

    outcome_col = column(outcome, "outcome")
    amount_col = column(amount, "amount") if amount else None
    excluded = {column(c, "--exclude") for c in exclude}
    values = frame[outcome_col].astype("object").map(lambda v: None if pd.isna(v) else str(v).strip())
    distinct = sorted({v for v in values.dropna() if v != ""})
    if won not in distinct:
        raise DataError(f"{path}: outcome column '{outcome_col}' never has the won value '{won}'; "
                        f"its values are: {', '.join(distinct[:20]) or '(none)'}")
    others = [v for v in distinct if v != won]
    if lost:
        unknown = [v for v in lost if v not in distinct]
        if unknown:
            raise DataError(f"{path}: outcome column '{outcome_col}' has no value {', '.join(map(repr, unknown))}; "
                            f"its values are: {', '.join(distinct[:20])}")
        lost_values = list(lost)
    elif len(others) == 1:
        lost_values = others
    elif not others:
        raise DataError(f"{path}: every row of '{outcome_col}' is '{won}': a model needs won and lost records")
    else:
        raise DataError(f"{path}: outcome column '{outcome_col}' has {len(distinct)} values "
                        f"({', '.join(distinct[:20])}); say which mean a loss with --lost VALUE "
                        "(rows with other values, such as open deals, are set aside)")
    is_won, is_lost = values == won, values.isin(lost_values)
    keep = is_won | is_lost
    for i in np.flatnonzero(~keep.to_numpy()):
        v = values.iloc[i]
        reason = ("outcome is empty" if pd.isna(v) or v == "" else
                  f"outcome '{v}' is neither won ('{won}') nor lost ('{', '.join(lost_values)}')")
        quarantined.append({ROW_COLUMN: int(frame[ROW_COLUMN].iloc[i]), "_reason": reason})
    kept = frame[keep.to_numpy()].reset_index(drop=True)
    if not len(kept):
        raise DataError(f"{path}: no row has a won or lost outcome in '{outcome_col}'")
    na = set(NA_TOKENS) | {v.strip().lower() for v in na_values}
    attrs = [c for c in columns if c not in excluded and c not in (outcome_col, amount_col)]
    out = pd.DataFrame({c: _typed(kept[c], na) for c in attrs})
    identifiers = [c for c in attrs if _is_identifier(c, out[c])]
    dates = [c for c in attrs if pd.api.types.is_datetime64_any_dtype(out[c])]
    out = out.drop(columns=identifiers + dates)
    out["won"] = is_won[keep].to_numpy()
    if amount_col:
        out["amount"] = pd.to_numeric(_typed(kept[amount_col], na), errors="coerce")
    kinds = infer_kinds(out.drop(columns=[c for c in ("won", "amount") if c in out.columns]))
    return OutcomeTable(path, out, kinds, outcome_col, won, lost_values, read=read,
                        quarantined=sorted(quarantined, key=lambda r: r[ROW_COLUMN]), identifiers=identifiers,
                        dates=dates)


def _is_identifier(name: str, series: pd.Series) -> bool:
    """A record key: text that is (nearly) unique per row, or a unique number named like an id."""
    present = series.dropna()
    if len(present) < 20:
        return False
    unique = present.nunique() / len(present)
    if pd.api.types.is_numeric_dtype(series):
        words = name.lower().replace("_", " ").split()
        return unique >= 0.95 and bool(words) and words[-1] in ("id", "number", "key", "no")
    return unique >= 0.95
