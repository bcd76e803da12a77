"""Flat outcome tables: every row used or quarantined, clear errors for unusable outcomes."""

from __future__ import annotations

import pytest

from tierwise.errors import DataError
from tierwise.jobs.tables import read_outcome_table

ROWS = "\n".join(f"{i},{'software' if i % 3 else 'retail'},{i * 10},{'Won' if i % 2 else 'Lost'}"
                 for i in range(1, 41))


def test_outcome_values_map_and_identifiers_are_skipped(write_file):
    path = write_file("deals.csv", "deal_id,industry,size,result\n" + ROWS + "\n41,retail,5,\n42,retail,5,Open\n")
    t = read_outcome_table(path, outcome="RESULT", won="Won", lost=["Lost"])
    assert t.identifiers == ["deal_id"]  # unique text-like key, not an attribute
    assert list(t.frame.columns) == ["industry", "size", "won"]
    assert int(t.frame.won.sum()) == 20 and len(t.frame) == 40
    assert t.read == 42 and len(t.quarantined) == 2
    assert [q["_reason"] for q in t.quarantined] == [
        "outcome is empty", "outcome 'Open' is neither won ('Won') nor lost ('Lost')"]
    assert [q["_row"] for q in t.quarantined] == [41, 42]


def test_na_tokens_and_numbers(write_file):
    path = write_file("leads.csv", "source,visits,converted\nweb,\"1,200\",1\nSelect,3,0\nads,NA,0\n")
    t = read_outcome_table(path, outcome="converted", won="1", na_values=["Select"])
    assert t.kinds == {"source": "categorical", "visits": "numeric"}
    assert t.frame.visits.tolist()[:2] == [1200.0, 3.0] and t.frame.visits.isna().tolist()[2]
    assert t.frame.source.isna().tolist() == [False, True, False]
    assert t.lost_values == ["0"]


@pytest.mark.parametrize(("text", "kwargs", "message"), [
    ("a,result\nx,Won\ny,Won\n", {}, "every row of 'result' is 'Won': a model needs won and lost records"),
    ("a,result\nx,Won\ny,Lost\nz,Open\n", {}, "has 3 values (Lost, Open, Won); say which mean a loss with --lost"),
    ("a,result\nx,won\ny,Lost\n", {}, "never has the won value 'Won'; its values are: Lost, won"),
    ("a,result\nx,Won\ny,Lost\n", {"lost": ["Gone"]}, "has no value 'Gone'"),
    ("a,b\nx,Won\n", {}, "no outcome column 'result'; columns are: a, b"),
])
def test_unusable_outcomes_say_what_is_needed(write_file, text, kwargs, message):
    path = write_file("t.csv", text)
    with pytest.raises(DataError) as err:
        read_outcome_table(path, outcome="result", won="Won", **kwargs)
    assert message in str(err.value) and str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_outcome_table(tmp_path / "nope.csv", outcome="r", won="1")
