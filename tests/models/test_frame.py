"""Model matrices: list attributes expand to item columns learned once and reused."""

from __future__ import annotations

import pandas as pd

from tierwise.models.frame import infer_kinds, list_items, model_matrix


def test_items_are_learned_by_share_and_reused_for_new_rows():
    train = pd.DataFrame({"tech": [["a", "b"], ["a"], ["a", "c"], [], None], "n": [1, 2, 3, 4, 5]})
    kinds = infer_kinds(train)
    assert kinds == {"tech": "list", "n": "numeric"}
    items = list_items(train, kinds, min_share=0.3)
    assert items == {"tech": ["a"]}  # b and c are in 1 of 5 rows only
    new = pd.DataFrame({"tech": [["c", "a", "a"], ["zzz"]], "n": [None, 7]})
    m = model_matrix(new, kinds, items)
    assert m.columns.tolist() == ["tech=a", "tech_count", "n"]
    assert m["tech=a"].tolist() == [1, 0] and m["tech_count"].tolist() == [2, 1]  # duplicates count once
    assert m["n"].isna().tolist() == [True, False]


def test_categoricals_stay_text_with_missing_as_missing():
    df = pd.DataFrame({"flag": [True, False, None], "industry": ["x", None, "y"]})
    kinds = infer_kinds(df)
    assert kinds == {"flag": "categorical", "industry": "categorical"}
    m = model_matrix(df, kinds, {})
    assert m["flag"].tolist()[:2] == ["True", "False"] and pd.isna(m["flag"].iloc[2])
    assert m["industry"].iloc[0] == "x" and pd.isna(m["industry"].iloc[1])
