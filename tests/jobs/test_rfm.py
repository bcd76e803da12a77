"""``tierwise rfm`` end to end: outputs, row accounting, bad input, history and segment-change tasks, CLV."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pyarrow.parquet as pq
import pytest

from tierwise.compile.rfm import OUTPUT_COLUMNS
from tierwise.errors import DataError
from tierwise.jobs.rfm import history_runs, rfm, rfm_file

RUN1, RUN2 = date(2026, 6, 1), date(2026, 11, 1)


def champion_slips() -> tuple[str, str]:
    """Accounts and transactions: C9 is the champion on RUN1 and has stopped buying by RUN2."""
    accounts = ["account_id,name,open_tickets"] + [f"C{i},Company {i},{i % 3}" for i in range(10)]
    lines = ["transaction_id,account_id,order_id,occurred_at,amount"]
    n = 0

    def add(acc, order, when, amount):
        nonlocal n
        n += 1
        lines.append(f"T{n},{acc},{order},{when.isoformat()},{amount}")

    for k in range(10):  # the champion: ten orders in late May
        add("C9", f"C9-{k}", date(2026, 5, 20) + timedelta(days=k), 1000)
    for i in range(9):  # the others: a few small orders in the spring, one more after RUN1
        for k in range(i % 5 + 1):
            add(f"C{i}", f"C{i}-{k}", date(2026, 3, 1) + timedelta(days=3 * i + k), 50 + 10 * i)
        add(f"C{i}", f"C{i}-late", date(2026, 7, 1) + timedelta(days=9 * i), 10)
    add("C3", "C3-0", date(2026, 3, 20), -20)  # a return on an earlier order
    return "\n".join(accounts) + "\n", "\n".join(lines) + "\n"


SPEC = """\
fit: {weight: 0}
signals: {weight: 60}
engagement: {weight: 40}
rfm:
  clv: {enabled: false}
  health:
    support: {field: open_tickets, full_at: 4}
"""
DATA = """\
data:
  accounts: {path: accounts.csv, attributes: {open_tickets: int}}
  transactions: {path: transactions.csv}
"""


@pytest.fixture
def workspace(make_workspace):
    accounts, transactions = champion_slips()
    return make_workspace(SPEC, {"accounts.csv": accounts, "transactions.csv": transactions}, data=DATA)


def read(path):
    return {r["account_id"]: r for r in pq.read_table(path).to_pylist()}


def test_spec_run_writes_scores_segments_and_a_summary(workspace, tmp_path):
    result = rfm(workspace, tmp_path / "out", as_of=RUN1)
    rows = read(result.files["parquet"])
    assert list(pq.read_schema(result.files["parquet"]).names) == list(OUTPUT_COLUMNS)
    c9 = rows["C9"]
    assert (c9["recency_days"], c9["frequency"], c9["monetary"], c9["rfm_cell"], c9["segment"]) == \
        (3, 10, 10000.0, "555", "Champions")
    assert c9["motion"] == "referral asks and case studies"
    assert c9["open_issues"] == 0 and c9["health_band"] == "healthy"
    assert rows["C3"]["return_lines"] == 1 and rows["C3"]["monetary"] == 4 * 80 - 20
    s = result.summary
    assert s["customers"] == 10 and s["frequency_counts"] == "orders"  # order_id is present: auto -> orders
    assert s["rows"]["read"] == 45 and s["rows"]["after_as_of"] == 9 and s["rows"]["used"] == 36
    assert s["rows"]["reconciles"] and s["rows"]["return_lines"] == 1
    assert sum(seg["customers"] for seg in s["segments"]) == 10
    assert s["segments"][0] == {**s["segments"][0], "segment": "Champions", "customers": 1, "revenue": 10000.0}
    assert s["triggers"]["previous_as_of"] is None and s["triggers"]["tasks"] == 0
    assert s["clv"] == {"skipped": "clv.enabled is false"}
    assert s["health"]["parts"] == ["rfm", "support"]
    assert (tmp_path / "out" / "rfm.csv").read_text().startswith(",".join(OUTPUT_COLUMNS) + "\n")
    assert (tmp_path / "out" / "tasks.csv").read_text().count("\n") == 1  # the header only
    assert list(history_runs(workspace.parent / ".tierwise" / "rfm")) == [RUN1]


def test_champion_to_at_risk_becomes_a_high_priority_task(workspace, tmp_path):
    rfm(workspace, tmp_path / "run1", as_of=RUN1)
    result = rfm(workspace, tmp_path / "run2", as_of=RUN2)
    c9 = read(result.files["parquet"])["C9"]
    assert (c9["r_score"], c9["f_score"], c9["m_score"], c9["segment"]) == (1, 5, 5, "At-Risk")
    t = result.summary["triggers"]
    assert t["previous_as_of"] == RUN1.isoformat() and t["champions_to_at_risk"] == 1
    assert {"from": "Champions", "to": "At-Risk", "customers": 1} in t["transitions"]
    import csv

    with open(result.files["tasks"], newline="") as fh:
        tasks = list(csv.DictReader(fh))
    assert tasks[0]["account_id"] == "C9" and tasks[0]["priority"] == "High"
    assert tasks[0]["subject"].startswith("Champion slipping") and tasks[0]["due_date"] == "2026-11-03"
    assert tasks[0]["previous_segment"] == "Champions" and tasks[0]["segment"] == "At-Risk"
    assert len(tasks) == t["tasks"] == sum(t["by_trigger"].values())
    assert set(history_runs(workspace.parent / ".tierwise" / "rfm")) == {RUN1, RUN2}


def test_reruns_write_identical_files(workspace, tmp_path):
    rfm(workspace, tmp_path / "run1", as_of=RUN1)
    first = rfm(workspace, tmp_path / "a", as_of=RUN2)
    again = rfm(workspace, tmp_path / "b", as_of=RUN2)  # RUN2 is now stored too; the previous is still RUN1
    for name in ("rfm.csv", "tasks.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first.summary["triggers"]["tasks"] == again.summary["triggers"]["tasks"] > 0


def test_unknown_accounts_are_quarantined_in_spec_mode(make_workspace, tmp_path):
    accounts, transactions = champion_slips()
    spec = make_workspace(SPEC, {"accounts.csv": accounts,
                                 "transactions.csv": transactions + "T999,NOPE,o,2026-05-01,10\n"}, data=DATA)
    result = rfm(spec, tmp_path / "out", as_of=RUN1)
    assert result.summary["rows"]["quarantine_reasons"] == {"unknown account_id": 1}
    assert "NOPE" in (tmp_path / "out" / "quarantine" / "transactions.csv").read_text()


def test_a_spec_without_transactions_is_a_clear_error(make_workspace, tmp_path):
    spec = make_workspace("fit: {weight: 0}\nsignals: {weight: 60}\nengagement: {weight: 40}\n",
                          {"accounts.csv": "account_id\nA\n"}, data="data:\n  accounts: {path: accounts.csv}\n")
    with pytest.raises(DataError, match="RFM reads customer transactions: add data.transactions"):
        rfm(spec, tmp_path / "out", as_of=RUN1)


# --------------------------------------------------------------------------- the quick look and bad input

MESSY = """\
cust,day,total,order_no
A,2026-10-01,100,o1
A,2026-10-20,"$1,200.50",o2
A,2026-10-25,-20,o2
B,2026-10-05,80,o3
B,2026-12-01,40,o4
C,last tuesday,10,o5
,2026-10-01,10,o6
D,2026-10-02,n/a,o7
E,2026-10-03,,o8
F,2026-10-04,-15,o9
"""


def quick(tmp_path, text=MESSY, **kwargs):
    path = tmp_path / "tx.csv"
    path.write_text(text)
    options = {"customer": "cust", "date_column": "day", "amount": "total", "order": "order_no",
               "as_of": date(2026, 11, 1), **kwargs}
    return rfm_file(path, tmp_path / "out", **options)


def test_bad_rows_are_quarantined_or_counted_and_everything_reconciles(tmp_path):
    result = quick(tmp_path)
    rows = result.summary["rows"]
    assert rows["quarantine_reasons"] == {"missing account_id": 1, "unparsable date in occurred_at": 1,
                                          "unparsable float in amount": 1}
    assert (rows["read"], rows["quarantined"], rows["loaded"]) == (10, 3, 7)
    assert (rows["after_as_of"], rows["missing_amount"], rows["used"]) == (1, 1, 5)
    assert rows["read"] == rows["quarantined"] + rows["used"] + rows["after_as_of"] + rows["missing_amount"]
    assert rows["reconciles"] and rows["customers_with_returns_only"] == 1  # F: a credit only
    got = read(result.files["parquet"])
    assert set(got) == {"A", "B"}
    assert got["A"]["monetary"] == 1280.5  # "$1,200.50" parsed; the return lowers revenue
    assert got["A"]["recency_days"] == 12   # the return on 10-25 is not a purchase
    quarantine = (tmp_path / "out" / "quarantine" / "transactions.csv").read_text()
    assert "unparsable float in amount: 'n/a'" in quarantine and "last tuesday" in quarantine
    assert result.summary["source"]["columns"] == {"account_id": "cust", "occurred_at": "day", "amount": "total",
                                                   "order_id": "order_no"}
    assert "tasks" not in result.files  # no history folder, nothing to compare with


def test_an_as_of_before_every_transaction_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"as_of 2020-01-01 is before every transaction \(the first is on "
                                        r"2026-10-01\): nothing to score"):
        quick(tmp_path, as_of=date(2020, 1, 1))


def test_a_file_with_no_loadable_row_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="none of the 2 transactions could be loaded .unparsable date in occurred_at"):
        quick(tmp_path, text="cust,day,total,order_no\nA,19970101,10,o1\nB,19970102,5,o2\n")


def test_missing_columns_name_the_option(tmp_path):
    with pytest.raises(DataError, match="--amount: column 'price' not found in .*; columns: cust, day, total"):
        quick(tmp_path, amount="price")


def test_returns_only_everywhere_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no customer has a purchase"):
        quick(tmp_path, text="cust,day,total\nA,2026-10-01,-10\n", order=None)


def test_frequency_counts_rows_without_an_order_column(tmp_path):
    result = quick(tmp_path, order=None)
    assert result.summary["frequency_counts"] == "transactions"
    assert read(result.files["parquet"])["A"]["frequency"] == 2  # two purchase lines, the return is not one


def test_quick_look_history_gives_tasks_on_the_second_run(tmp_path):
    quick(tmp_path, as_of=date(2026, 10, 10), history=tmp_path / "hist")
    result = quick(tmp_path, history=tmp_path / "hist")
    assert result.summary["triggers"]["previous_as_of"] == "2026-10-10"
    # A's second order (10-20) moves A up and B down: both change segment
    assert result.summary["triggers"]["segment_changes"] == result.summary["triggers"]["tasks"] == 2
    assert (tmp_path / "out" / "tasks.csv").read_text().count("\n") == 3


# --------------------------------------------------------------------------- lifetime value in the job


def simulated_transactions(n: int = 400, seed: int = 1) -> str:
    """BG/NBD-like buyers over a year: Poisson purchases until a dropout after some purchase."""
    rng = np.random.default_rng(seed)
    lines = ["customer,day,amount"]
    start = date(2025, 11, 1)
    for c in range(n):
        rate, drop = rng.gamma(0.8, 1 / 40), rng.beta(1, 4)
        t = float(rng.integers(0, 300))
        while t < 365:
            lines.append(f"c{c},{(start + timedelta(days=int(t))).isoformat()},{rng.gamma(4, 10):.2f}")
            if rng.random() < drop:
                break
            t += rng.exponential(1 / rate)
    return "\n".join(lines) + "\n"


def test_lifetime_value_columns_and_summary(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text(simulated_transactions())
    result = rfm_file(path, tmp_path / "out", customer="customer", date_column="day", amount="amount",
                      as_of=date(2026, 11, 1), horizon_days=180)
    clv = result.summary["clv"]
    assert clv["bgnbd"]["converged"] and clv["gamma_gamma"]["converged"] and clv["horizon_days"] == 180
    assert clv["bgnbd"]["customers_fitted"] == result.summary["customers"] == 400
    rows = list(read(result.files["parquet"]).values())
    assert all(0 <= r["p_alive"] <= 1 and r["expected_purchases"] >= 0 and r["expected_spend"] > 0 for r in rows)
    assert sum(r["expected_value"] for r in rows) == pytest.approx(clv["expected_value_total"], abs=1.0)
    recent = [r for r in rows if r["recency_days"] < 30 and r["purchase_days"] >= 3]
    lapsed = [r for r in rows if r["recency_days"] > 200 and r["purchase_days"] >= 3]
    assert np.mean([r["p_alive"] for r in recent]) > np.mean([r["p_alive"] for r in lapsed])
    no_clv = rfm_file(path, tmp_path / "out2", customer="customer", date_column="day", amount="amount",
                      as_of=date(2026, 11, 1), clv=False)
    assert no_clv.summary["clv"]["skipped"] == "clv.enabled is false"


def test_too_few_customers_skip_lifetime_value_with_a_reason(tmp_path):
    result = quick(tmp_path)
    assert "CLV needs at least 50" in result.summary["clv"]["skipped"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["clv"] == result.summary["clv"]
    assert all(r["expected_value"] is None for r in read(result.files["parquet"]).values())


def test_lifetime_value_reruns_are_byte_identical(tmp_path):
    """The engine may return rows in any order; the fits do not depend on it."""
    path = tmp_path / "tx.csv"
    path.write_text(simulated_transactions(300, seed=4))
    for out in ("a", "b"):
        rfm_file(path, tmp_path / out, customer="customer", date_column="day", amount="amount",
                 as_of=date(2026, 11, 1))
    for name in ("rfm.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_large_populations_are_fitted_on_a_sample(make_workspace, tmp_path):
    lines = simulated_transactions(400, seed=2).splitlines()
    accounts = "account_id\n" + "\n".join(sorted({line.split(",")[0] for line in lines[1:]})) + "\n"
    transactions = "account_id,occurred_at,amount\n" + "\n".join(lines[1:]) + "\n"
    spec = make_workspace("fit: {weight: 0}\nsignals: {weight: 60}\nengagement: {weight: 40}\n"
                          "rfm: {clv: {max_fit_customers: 200}}\n",
                          {"accounts.csv": accounts, "transactions.csv": transactions})
    clv = rfm(spec, tmp_path / "out", as_of=date(2026, 11, 1)).summary["clv"]
    assert 150 <= clv["bgnbd"]["customers_fitted"] <= 250 and clv["customers"] == 400
    assert "a sample chosen by a hash of the customer id" in clv["note"]
