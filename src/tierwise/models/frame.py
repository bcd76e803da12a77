"""Turning learning tables into model matrices: attribute kinds and list expansion.

Gradient boosting takes numbers and categories, not lists, so a list attribute
such as a tech stack becomes one 0/1 column per frequent item
(``tech_stack=snowflake``) plus its length. The items are learned on the
training rows and reused unchanged when scoring.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"industry": ["software", "retail", None],
...                    "tech_stack": [["hubspot", "snowflake"], ["snowflake"], []]})
>>> infer_kinds(df)
{'industry': 'categorical', 'tech_stack': 'list'}
>>> items = list_items(df, {"tech_stack": "list"}, min_share=0.3)
>>> items
{'tech_stack': ['snowflake', 'hubspot']}
>>> model_matrix(df, {"industry": "categorical", "tech_stack": "list"}, items).columns.tolist()
['industry', 'tech_stack=snowflake', 'tech_stack=hubspot', 'tech_stack_count']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

KINDS = ("categorical", "numeric", "list")


def _is_list_cell(value: object) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def explode_list(series: pd.Series) -> pd.DataFrame:
    """(row position, item) pairs of a list column; empty and missing cells give no pair."""
    cells = pd.Series([c if _is_list_cell(c) else [] for c in series], dtype="object")
    flat = cells.explode()
    flat = flat[flat.notna()]
    return pd.DataFrame({"row": flat.index.to_numpy(dtype="int64"), "item": flat.astype(str).to_numpy()})


def infer_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Each column's kind: ``list`` for list cells, ``numeric`` for numbers, else ``categorical``."""
    kinds = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s):
            kinds[col] = "categorical"
        elif pd.api.types.is_numeric_dtype(s):
            kinds[col] = "numeric"
        else:
            first = s.dropna()
            first = first.iloc[0] if len(first) else None
            kinds[col] = "list" if _is_list_cell(first) else "categorical"
    return kinds


def list_items(frame: pd.DataFrame, kinds: Mapping[str, str], *, min_share: float = 0.01,
               max_items: int = 50) -> dict[str, list[str]]:
    """The items of each list attribute present in at least ``min_share`` of rows (most common first)."""
    out = {}
    for col, kind in kinds.items():
        if kind != "list":
            continue
        pairs = explode_list(frame[col])
        counts = pairs.drop_duplicates().value_counts("item")
        floor = min_share * max(len(frame), 1)
        ranked = sorted(((int(n), item) for item, n in counts.items() if n >= floor), key=lambda p: (-p[0], p[1]))
        out[col] = [item for _, item in ranked[:max_items]]
    return out


def model_matrix(frame: pd.DataFrame, kinds: Mapping[str, str], items: Mapping[str, list[str]]) -> pd.DataFrame:
    """Columns in ``kinds`` order; each list attribute expanded to its items' 0/1 columns and a count.

    Categorical columns are returned as text (missing stays missing); the model
    turns them into categories with the levels it learned.
    """
    cols: dict[str, pd.Series] = {}
    for col, kind in kinds.items():
        s = frame[col]
        if kind == "list":
            pairs = explode_list(s).drop_duplicates()
            wanted = items.get(col, [])
            kept = pairs[pairs["item"].isin(wanted)]
            matrix = np.zeros((len(frame), len(wanted)), dtype="int8")
            matrix[kept["row"].to_numpy(), pd.Categorical(kept["item"], categories=wanted).codes] = 1
            for j, item in enumerate(wanted):
                cols[f"{col}={item}"] = pd.Series(matrix[:, j], index=frame.index)
            count = np.bincount(pairs["row"].to_numpy(), minlength=len(frame))
            cols[f"{col}_count"] = pd.Series(count.astype("int64"), index=frame.index)
        elif kind == "categorical":
            cols[col] = s.astype("object").where(s.notna(), None).map(lambda v: v if v is None else str(v))
        else:
            cols[col] = pd.to_numeric(s, errors="coerce").astype("float64")
    return pd.DataFrame(cols, index=frame.index)
