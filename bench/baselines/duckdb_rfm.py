"""``tierwise rfm``'s RFM hand-written as one DuckDB SQL query: the baseline for the engine's own speed.

The same arithmetic as docs/rfm.md and ``pandas_rfm.py`` (orders, returns, as_of, PERCENT_RANK
quintiles from the integer rank, the default segment map as a CASE), on the same Parquet file,
written with COPY to Parquet and CSV. No input checks, no health, no lifetime value.

    python bench/baselines/duckdb_rfm.py --transactions tx.parquet --out out/sql --as-of 2026-11-01
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

QUERY = """
CREATE TEMP TABLE rfm AS
WITH t AS (
    SELECT customer_id, order_id, order_date, amount
    FROM read_parquet($transactions)
    WHERE order_date <= $as_of::DATE AND amount IS NOT NULL
), o AS (
    SELECT customer_id, order_id,
           min(order_date) FILTER (WHERE amount >= 0) AS od,
           sum(amount) AS net,
           count(*) FILTER (WHERE amount < 0) AS return_lines,
           sum(-amount) FILTER (WHERE amount < 0) AS returned
    FROM t GROUP BY customer_id, order_id
), c AS (
    SELECT customer_id AS account_id, min(od) AS first_purchase, max(od) AS last_purchase,
           count(od) AS frequency, round(sum(net), 2) AS monetary,
           sum(return_lines) AS return_lines, round(coalesce(sum(returned), 0), 2) AS returned_amount
    FROM o GROUP BY customer_id HAVING min(od) IS NOT NULL
), s AS (
    SELECT *, date_diff('day', last_purchase, $as_of::DATE) AS recency_days, count(*) OVER () AS n FROM c
), q AS (
    SELECT *,
        least(5, 1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) // greatest(n - 1, 1)) AS r_score,
        least(5, 1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // greatest(n - 1, 1)) AS f_score,
        least(5, 1 + (5 * (rank() OVER (ORDER BY monetary) - 1)) // greatest(n - 1, 1)) AS m_score
    FROM s
)
SELECT account_id, first_purchase, last_purchase, recency_days, frequency, monetary, return_lines,
       returned_amount, r_score, f_score, m_score,
       CASE
           WHEN r_score = 5 AND f_score = 5 AND m_score = 5 THEN 'Champions'
           WHEN r_score >= 4 AND f_score >= 4 AND m_score >= 3 THEN 'Loyal'
           WHEN r_score <= 2 AND f_score >= 4 AND m_score >= 3 THEN 'At-Risk'
           WHEN r_score >= 4 AND f_score <= 2 AND m_score <= 2 THEN 'New'
           WHEN r_score <= 2 AND f_score <= 2 AND m_score <= 2 THEN 'Lost'
           WHEN r_score >= 4 AND f_score <= 2 THEN 'Promising'
           WHEN r_score >= 4 THEN 'Potential Loyalists'
           WHEN r_score = 3 THEN 'Needs Attention'
           ELSE 'Hibernating'
       END AS segment
FROM q
"""

MOTIONS = {
    "Champions": "referral asks and case studies", "Loyal": "expansion and upsell",
    "At-Risk": "retention outreach and QBR", "New": "onboarding and adoption", "Lost": "win-back campaign",
    "Promising": "white-glove onboarding and an early expansion plan",
    "Potential Loyalists": "cross-sell and a loyalty or advocacy programme",
    "Needs Attention": "check-in call and a tailored offer before they lapse",
    "Hibernating": "low-touch reactivation: automated nurture and product news",
}


def run(transactions: str, out: str, as_of: str) -> None:
    con = duckdb.connect()
    con.execute(QUERY, {"transactions": transactions, "as_of": as_of})
    motion = "CASE segment " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in MOTIONS.items()) + " END"
    Path(out).mkdir(parents=True, exist_ok=True)
    select = f"SELECT *, {motion} AS motion FROM rfm ORDER BY account_id"
    con.execute(f"COPY ({select}) TO '{Path(out) / 'rfm.parquet'}' (FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"COPY ({select}) TO '{Path(out) / 'rfm.csv'}' (HEADER)")
    con.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--transactions", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--as-of", required=True)
    a = p.parse_args(argv)
    run(a.transactions, a.out, a.as_of)


if __name__ == "__main__":
    main()
