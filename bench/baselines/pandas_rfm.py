"""``tierwise rfm``'s RFM in idiomatic pandas: the baseline a data analyst would write in a notebook.

The same arithmetic as docs/rfm.md, for a transactions file with orders: purchases are lines with
``amount >= 0``, returns lower monetary only; an order is one purchase made on the date of its first
purchase line; transactions after as_of are ignored. Per customer: recency_days, frequency (orders),
monetary (to the cent), return lines and amount; scores
``min(5, 1 + floor(5 * (rank - 1) / (n - 1)))`` with the minimum rank of ties (SQL's PERCENT_RANK),
recency ranked from the oldest; the default segment map with ``np.select``. No input checks, no
health, no lifetime value. Writes rfm.parquet and rfm.csv sorted by customer.

    python bench/baselines/pandas_rfm.py --transactions tx.parquet --out out/pandas --as-of 2026-11-01
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

#: The default segment map (docs/rfm.md), first match wins.
SEGMENTS = [
    ("Champions", "referral asks and case studies", lambda r, f, m: (r == 5) & (f == 5) & (m == 5)),
    ("Loyal", "expansion and upsell", lambda r, f, m: (r >= 4) & (f >= 4) & (m >= 3)),
    ("At-Risk", "retention outreach and QBR", lambda r, f, m: (r <= 2) & (f >= 4) & (m >= 3)),
    ("New", "onboarding and adoption", lambda r, f, m: (r >= 4) & (f <= 2) & (m <= 2)),
    ("Lost", "win-back campaign", lambda r, f, m: (r <= 2) & (f <= 2) & (m <= 2)),
    ("Promising", "white-glove onboarding and an early expansion plan", lambda r, f, m: (r >= 4) & (f <= 2)),
    ("Potential Loyalists", "cross-sell and a loyalty or advocacy programme", lambda r, f, m: r >= 4),
    ("Needs Attention", "check-in call and a tailored offer before they lapse", lambda r, f, m: r == 3),
    ("Hibernating", "low-touch reactivation: automated nurture and product news", lambda r, f, m: r <= 2),
]


def quintile(values: pd.Series, ascending: bool = True) -> pd.Series:
    n = len(values)
    if n < 2:
        return pd.Series(1, index=values.index)
    rank0 = values.rank(method="min", ascending=ascending).astype("int64") - 1
    return np.minimum(5, 1 + (5 * rank0) // (n - 1))


def run(transactions: str, out: str, as_of: str) -> None:
    day = pd.Timestamp(as_of)
    df = pd.read_parquet(transactions, columns=["customer_id", "order_id", "order_date", "amount"])
    df["order_date"] = pd.to_datetime(df["order_date"])
    df = df[(df["order_date"] <= day) & df["amount"].notna()]
    bought = df["amount"] >= 0
    df = df.assign(purchase_date=df["order_date"].where(bought), return_line=~bought,
                   returned=(-df["amount"]).where(~bought, 0.0))
    orders = df.groupby(["customer_id", "order_id"], sort=False).agg(
        od=("purchase_date", "min"), net=("amount", "sum"), return_lines=("return_line", "sum"),
        returned=("returned", "sum"))
    c = orders.groupby("customer_id").agg(
        first_purchase=("od", "min"), last_purchase=("od", "max"), frequency=("od", "count"),
        monetary=("net", "sum"), return_lines=("return_lines", "sum"),
        returned_amount=("returned", "sum"))
    c = c[c["first_purchase"].notna()].copy()
    c["recency_days"] = (day - c["last_purchase"]).dt.days
    c["monetary"] = c["monetary"].round(2)
    c["returned_amount"] = c["returned_amount"].round(2)
    c["r_score"] = quintile(c["recency_days"], ascending=False)
    c["f_score"] = quintile(c["frequency"])
    c["m_score"] = quintile(c["monetary"])
    r, f, m = c["r_score"], c["f_score"], c["m_score"]
    c["segment"] = np.select([cond(r, f, m) for _, _, cond in SEGMENTS], [name for name, _, _ in SEGMENTS], default="")
    c["motion"] = c["segment"].map({name: motion for name, motion, _ in SEGMENTS})
    c["first_purchase"] = c["first_purchase"].dt.date
    c["last_purchase"] = c["last_purchase"].dt.date
    c = c.reset_index().rename(columns={"customer_id": "account_id"}).sort_values("account_id")
    c = c[["account_id", "first_purchase", "last_purchase", "recency_days", "frequency", "monetary", "return_lines", "returned_amount", "r_score", "f_score", "m_score", "segment", "motion"]]
    Path(out).mkdir(parents=True, exist_ok=True)
    c.to_parquet(Path(out) / "rfm.parquet", index=False)
    c.to_csv(Path(out) / "rfm.csv", index=False)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--transactions", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--as-of", required=True)
    a = p.parse_args(argv)
    run(a.transactions, a.out, a.as_of)


if __name__ == "__main__":
    main()
