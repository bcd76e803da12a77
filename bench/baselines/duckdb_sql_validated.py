"""Baseline (c): the hand-written DuckDB SQL of ``duckdb_sql.py`` plus the same input checks.

``tierwise score`` does more than score: every input row is typed and checked,
and the rows that fail are quarantined with their reasons. The plain SQL
baseline skips all of that, so it measures scoring alone. This contender is
what an analyst would write by hand to get the same guarantees on the starter
spec's two inputs — missing keys, repeated keys (the first row is kept),
negative amounts, events for unknown accounts, events without a type or a
time — before running the very same scoring query on the clean rows. It shows
how much of tierwise's time is the checking and how much is the engine.

Usage::

    python bench/baselines/duckdb_sql_validated.py --accounts A.parquet --activities B.parquet \
        --out DIR --as-of 2026-11-01 [--spec-hash HASH]
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from duckdb_sql import _quote, render, write_scores  # noqa: E402  (the same scoring query)

CHECK_SQL = r"""
CREATE TEMP TABLE acc AS
SELECT file_row_number + 1 AS _row,
       nullif(trim(account_id), '') AS account_id,
       nullif(trim(name), '') AS name, nullif(trim(industry), '') AS industry,
       employees, annual_revenue, revenue_growth, business_units,
       nullif(trim(country), '') AS country, nullif(trim(owner_id), '') AS owner_id, tech_stack
FROM read_parquet('{accounts}', file_row_number = true);

CREATE TEMP TABLE acc_bad AS
SELECT _row, concat_ws('; ',
         CASE WHEN account_id IS NULL THEN 'missing account_id' END,
         CASE WHEN _row <> first_row THEN 'duplicate account_id ''' || account_id || ''' (first at row ' || first_row || ')' END,
         CASE WHEN employees < 0 THEN 'negative employees: ' || employees END,
         CASE WHEN annual_revenue < 0 THEN 'negative annual_revenue: ' || annual_revenue END,
         CASE WHEN revenue_growth < -1 THEN 'below minimum revenue_growth: ' || revenue_growth END,
         CASE WHEN business_units < 0 THEN 'negative business_units: ' || business_units END) AS _reason
FROM (SELECT *, min(_row) OVER (PARTITION BY account_id) AS first_row FROM acc)
WHERE account_id IS NULL OR _row <> first_row OR employees < 0 OR annual_revenue < 0
   OR revenue_growth < -1 OR business_units < 0;

CREATE VIEW accounts_clean AS SELECT * FROM acc ANTI JOIN acc_bad USING (_row);

CREATE TEMP TABLE ev_bad AS
WITH ev AS (
    SELECT file_row_number + 1 AS _row, nullif(trim(activity_id), '') AS activity_id,
           nullif(trim(account_id), '') AS account_id, nullif(trim(event_type), '') AS event_type, occurred_at
    FROM read_parquet('{activities}', file_row_number = true)
),
repeated AS (
    SELECT activity_id, min(_row) AS first_row FROM ev WHERE activity_id IS NOT NULL
    GROUP BY activity_id HAVING count(*) > 1
)
SELECT _row, concat_ws('; ',
         CASE WHEN ev.account_id IS NULL THEN 'missing account_id' END,
         CASE WHEN event_type IS NULL THEN 'missing event_type' END,
         CASE WHEN occurred_at IS NULL THEN 'missing occurred_at' END,
         CASE WHEN r.first_row IS NOT NULL AND _row <> r.first_row
              THEN 'duplicate activity_id ''' || ev.activity_id || ''' (first at row ' || r.first_row || ')' END,
         CASE WHEN ev.account_id IS NOT NULL AND a.account_id IS NULL
              THEN 'unknown account_id ''' || ev.account_id || ''' (not in accounts)' END) AS _reason
FROM ev
LEFT JOIN repeated r USING (activity_id)
LEFT JOIN (SELECT account_id FROM accounts_clean) a ON ev.account_id = a.account_id
WHERE ev.account_id IS NULL OR event_type IS NULL OR occurred_at IS NULL
   OR (r.first_row IS NOT NULL AND _row <> r.first_row)
   OR (ev.account_id IS NOT NULL AND a.account_id IS NULL);

CREATE VIEW activities_clean AS
SELECT * EXCLUDE (file_row_number) FROM read_parquet('{activities}', file_row_number = true)
WHERE file_row_number + 1 NOT IN (SELECT _row FROM ev_bad);
"""


def run(accounts: str | Path, activities: str | Path, out_dir: str | Path, as_of: str, spec_hash: str = "") -> None:
    out = Path(out_dir)
    (out / "quarantine").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(CHECK_SQL.format(accounts=_quote(accounts), activities=_quote(activities)))
    for table, bad in (("accounts", "acc_bad"), ("activities", "ev_bad")):
        if con.execute(f"SELECT count(*) FROM {bad}").fetchone()[0]:
            con.execute(f"COPY (SELECT * FROM {bad} ORDER BY _row) TO "
                        f"'{_quote(out / 'quarantine' / (table + '.csv'))}' (FORMAT csv, HEADER true)")
    # the same scoring query as duckdb_sql.py, reading the clean rows instead of the files
    sql = render(accounts, activities, as_of, spec_hash)
    sql = sql.replace(f"read_parquet('{_quote(accounts)}')", "accounts_clean")
    sql = sql.replace(f"read_parquet('{_quote(activities)}')", "activities_clean")
    write_scores(con, sql, out)
    con.close()


def main(argv: list[str] | None = None) -> None:
    common.main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
