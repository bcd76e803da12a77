"""``tierwise rfm`` on CDNOW (../shared/data/cdnow; skipped when absent).

* The whole file (69,659 transactions, 23,570 customers, 1997-01 to 1998-06) through the quick look
  agrees with ``lifetimes.utils.summary_data_from_transaction_data``, an independent implementation:
  its ``T - recency`` is our ``recency_days``, its ``frequency + 1`` our ``purchase_days`` and, with
  the first transaction included, ``frequency x monetary_value`` our ``monetary``.
* The 1/10 sample through the job, with as-of 1997-09-30 (the 39-week calibration period), gives
  the published BG/NBD parameters within 1%: the job's summary, not only the model, is right.

The data files are converted to ISO dates in a temporary folder (the loader reads ISO dates).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tierwise.jobs.rfm import rfm_file

pytestmark = pytest.mark.realdata

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _data(*parts: str) -> Path:
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor.joinpath("shared", "data", *parts)
        if candidate.is_file():
            return candidate
    pytest.skip(f"public dataset {'/'.join(parts)} not found under ../shared/data")


def test_cdnow_summary_agrees_with_lifetimes(tmp_path):
    lifetimes_utils = pytest.importorskip("lifetimes.utils")
    raw = pd.read_csv(_data("cdnow", "cdnow_master.csv"), dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    path = tmp_path / "cdnow.csv"
    raw.assign(date=raw["date"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)

    result = rfm_file(path, tmp_path / "out", customer="customer_id", date_column="date", amount="dollar_value",
                      as_of=date(1998, 6, 30), clv=False)
    assert result.summary["rows"] == {**result.summary["rows"], "read": 69659, "quarantined": 0, "used": 69659}
    ours = pq.read_table(result.files["parquet"]).to_pandas().set_index("account_id").sort_index()

    ref = lifetimes_utils.summary_data_from_transaction_data(
        raw, "customer_id", "date", monetary_value_col="dollar_value", observation_period_end="1998-06-30")
    ref_all = lifetimes_utils.summary_data_from_transaction_data(
        raw, "customer_id", "date", monetary_value_col="dollar_value", observation_period_end="1998-06-30",
        include_first_transaction=True)
    ref = ref.sort_index()
    ref_all = ref_all.loc[ref.index]
    assert len(ours) == len(ref) == 23570 and (ours.index == ref.index).all()
    assert (ours["recency_days"].to_numpy() == (ref["T"] - ref["recency"]).to_numpy()).all()
    assert (ours["purchase_days"].to_numpy() == ref["frequency"].to_numpy() + 1).all()
    assert np.allclose(ours["monetary"], ref_all["frequency"] * ref_all["monetary_value"], atol=0.01)
    # frequency counts rows (no order column): at least one per purchase day
    assert (ours["frequency"] >= ours["purchase_days"]).all() and ours["frequency"].sum() == 69659


def test_cdnow_sample_through_the_job_reproduces_the_published_bgnbd_fit(tmp_path):
    sample = pd.read_csv(_data("cdnow", "CDNOW_sample.txt"), sep=r"\s+", header=None,
                         names=["master_id", "customer", "date", "cds", "dollars"], dtype={"customer": str, "date": str})
    sample["date"] = pd.to_datetime(sample["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    path = tmp_path / "sample.csv"
    sample[["customer", "date", "dollars"]].to_csv(path, index=False)

    result = rfm_file(path, tmp_path / "out", customer="customer", date_column="date", amount="dollars",
                      as_of=date(1997, 9, 30), horizon_days=273)
    assert result.summary["customers"] == 2357
    bg = result.summary["clv"]["bgnbd"]
    errors = {k: abs(bg[k] - v) / v for k, v in PUBLISHED.items()}
    assert all(e <= 0.01 for e in errors.values()), (bg, errors)
    assert bg["log_likelihood"] == pytest.approx(-9582.4, abs=0.5)
    # the summary the model saw is the published one (weeks): x, t_x and T per customer
    published = pd.read_csv(_data("cdnow", "cdnow_customers_summary.csv")).set_index("ID")
    ours = pq.read_table(result.files["parquet"]).to_pandas()
    ours.index = ours["account_id"].astype(int)
    ours = ours.loc[published.index]
    assert (ours["purchase_days"] - 1 == published["frequency"]).all()
    first, last = pd.to_datetime(ours["first_purchase"]), pd.to_datetime(ours["last_purchase"])
    T = (pd.Timestamp("1997-09-30") - first).dt.days / 7
    t_x = (last - first).dt.days / 7
    assert np.allclose(T, published["T"], atol=0.005) and np.allclose(t_x, published["recency"], atol=0.005)
