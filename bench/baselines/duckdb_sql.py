"""Baseline (b): the starter spec as one hand-written DuckDB SQL query.

This is what an analyst fluent in SQL would write for the starter spec
(``src/tierwise/spec/starter.yaml``) by hand: the criteria, points, windows,
half-lives and caps are hard-coded, and the arithmetic follows
``docs/scoring.md``. It reads the same Parquet files as ``tierwise score``,
and writes ``scores.parquet`` and ``scores.csv`` with the same columns.

There is no validation or quarantine here (the benchmark workspace is
generated clean, and the harness checks that tierwise quarantined nothing).

Usage::

    python bench/baselines/duckdb_sql.py --accounts A.parquet --activities B.parquet \
        --out DIR --as-of 2026-11-01 [--spec-hash HASH]
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

# One query: CTEs for the fit criteria, the decayed event points (conditional
# aggregation per event type), the category scores, the top-3 reasons and the
# segment rules. {accounts}, {activities}, {as_of} and {spec_hash} are filled in.
SCORE_SQL = r"""
WITH
-- event rules in spec order (ord breaks ties between reasons: fit criteria are 1-5)
rules(ord, event_type, category, points, type_cap, window_days, half_life) AS (
    VALUES
        ( 6, 'leadership_change',  'signals',    25.0, NULL, 180, 45.0),
        ( 7, 'funding_round',      'signals',    30.0, NULL, 180, 45.0),
        ( 8, 'acquisition',        'signals',    25.0, NULL, 180, 45.0),
        ( 9, 'hiring_surge',       'signals',    15.0, NULL, 180, 45.0),
        (10, 'tech_adoption',      'signals',    15.0, NULL, 180, 45.0),
        (11, 'intent_surge',       'signals',    10.0, 30.0, 180, 45.0),
        (12, 'demo_request',       'engagement', 20.0, NULL,  90, 21.0),
        (13, 'pricing_page_visit', 'engagement',  8.0, 24.0,  90, 21.0),
        (14, 'content_download',   'engagement',  4.0, 12.0,  90, 21.0),
        (15, 'email_reply',        'engagement',  6.0, 18.0,  90, 21.0),
        (16, 'webinar_attended',   'engagement',  5.0, NULL,  90, 21.0),
        (17, 'champion_activity',  'engagement', 12.0, NULL,  90, 21.0),
        (18, 'unsubscribe',        'engagement', -10.0, NULL, 90, 21.0)
),
accounts AS (
    SELECT
        account_id, name AS account_name, owner_id,
        employees, annual_revenue, revenue_growth, business_units,
        lower(trim(industry)) AS industry,
        trim(country) AS country,
        list_sort(list_distinct(list_filter(list_transform(tech_stack, x -> lower(trim(x))), x -> x <> ''))) AS tech_stack
    FROM read_parquet('{accounts}')
),
fit AS (
    SELECT
        *,
        CASE WHEN employees >= 1000 THEN 10.0
             WHEN employees >= 200 THEN 8.0
             WHEN employees >= 50 THEN 5.0
             WHEN employees >= 10 THEN 2.0
             ELSE 0.0 END AS f_size,
        CASE industry WHEN 'software' THEN 10.0 WHEN 'financial services' THEN 9.0 WHEN 'healthcare' THEN 7.0
                      WHEN 'manufacturing' THEN 5.0 WHEN 'retail' THEN 4.0 ELSE 0.0 END AS f_industry,
        list_filter(tech_stack, x -> x IN ('salesforce', 'snowflake', 'segment', 'hubspot', 'marketo')) AS icp_tech,
        CASE WHEN lower(country) IN ('us', 'ca', 'gb', 'de', 'fr', 'nl', 'au') THEN 5.0 ELSE 0.0 END AS f_geo,
        CASE WHEN business_units >= 3 THEN 5.0 ELSE 0.0 END AS f_units
    FROM accounts
),
events AS (
    -- events in [as_of - 180 days, as_of]: the widest window; no look-ahead
    SELECT account_id, lower(trim(event_type)) AS event_type,
           date_diff('day', occurred_at::DATE, DATE '{as_of}') AS age
    FROM read_parquet('{activities}')
    WHERE occurred_at >= DATE '{as_of}' - INTERVAL 180 DAY
      AND occurred_at < DATE '{as_of}' + INTERVAL 1 DAY
),
per_type AS (
    SELECT e.account_id, e.event_type, r.ord, r.category,
           count(*) AS n,
           min(e.age) AS latest_age,
           CASE WHEN r.type_cap IS NOT NULL AND r.points > 0
                THEN least(r.type_cap, r.points * sum(power(0.5, e.age / r.half_life)))
                ELSE r.points * sum(power(0.5, e.age / r.half_life)) END AS type_points
    FROM events e JOIN rules r USING (event_type)
    WHERE e.age BETWEEN 0 AND r.window_days
    GROUP BY e.account_id, e.event_type, r.ord, r.category, r.points, r.type_cap
),
per_category AS (
    SELECT account_id,
           sum(type_points) FILTER (WHERE category = 'signals') AS sig_raw,
           sum(type_points) FILTER (WHERE category = 'engagement') AS eng_raw,
           -- the share of each category's raw points that survives its cap
           CASE WHEN sig_raw > 0 THEN least(sig_raw, 60.0) / sig_raw ELSE 0.0 END AS sig_factor,
           CASE WHEN eng_raw > 0 THEN least(eng_raw, 50.0) / eng_raw ELSE 0.0 END AS eng_factor
    FROM per_type
    GROUP BY account_id
),
scored AS (
    SELECT
        f.*,
        coalesce(c.sig_raw, 0.0) AS sig_raw,
        coalesce(c.eng_raw, 0.0) AS eng_raw,
        100.0 * (f_size + f_industry + least(len(icp_tech) / 3.0, 1.0) * 10.0 + f_geo + f_units) / 40.0 AS fit_u,
        100.0 * greatest(0.0, least(60.0, coalesce(c.sig_raw, 0.0))) / 60.0 AS sig_u,
        100.0 * greatest(0.0, least(50.0, coalesce(c.eng_raw, 0.0))) / 50.0 AS eng_u
    FROM fit f LEFT JOIN per_category c USING (account_id)
),
contributions AS (
    -- every candidate reason in score points: fit criteria (x 40/40) ...
    SELECT account_id, ord, pts, label FROM (
        SELECT account_id, 1 AS ord, f_size AS pts, 'employees = ' || employees AS label FROM scored
        UNION ALL SELECT account_id, 2, f_industry, 'industry = ' || industry FROM scored
        UNION ALL SELECT account_id, 3, least(len(icp_tech) / 3.0, 1.0) * 10.0,
                         'tech_stack has ' || array_to_string(icp_tech, ', ') FROM scored
        UNION ALL SELECT account_id, 4, f_geo, 'country = ' || country FROM scored
        UNION ALL SELECT account_id, 5, f_units, 'business_units = ' || business_units FROM scored
    ) WHERE pts > 0.05
    UNION ALL
    -- ... and event types, sharing their capped category in proportion
    SELECT t.account_id, t.ord,
           t.type_points * CASE t.category WHEN 'signals' THEN c.sig_factor * (35.0 / 60.0)
                                           ELSE c.eng_factor * (25.0 / 50.0) END AS pts,
           t.event_type || CASE WHEN t.n = 1 THEN ' ' ELSE ' x' || t.n || ', latest ' END
                        || CASE t.latest_age WHEN 0 THEN 'today' WHEN 1 THEN '1 day ago'
                                ELSE t.latest_age || ' days ago' END AS label
    FROM per_type t JOIN per_category c USING (account_id)
),
ranked AS (
    -- largest first; ties keep the spec's order
    SELECT account_id, label || ': +' || round(pts, 1)::DOUBLE AS reason,
           row_number() OVER (PARTITION BY account_id ORDER BY round(pts, 6) DESC, ord) AS rn
    FROM contributions
    WHERE round(pts, 6) > 0.05
    QUALIFY rn <= 3
),
reasons AS (
    SELECT account_id,
           max(reason) FILTER (WHERE rn = 1) AS reason_1,
           max(reason) FILTER (WHERE rn = 2) AS reason_2,
           max(reason) FILTER (WHERE rn = 3) AS reason_3
    FROM ranked
    GROUP BY account_id
),
final AS (
    SELECT
        s.account_id, s.account_name, s.owner_id,
        round(fit_u, 2) AS fit_score,
        round(sig_u, 2) AS signal_score,
        round(eng_u, 2) AS engagement_score,
        round((40 * fit_u + 35 * sig_u + 25 * eng_u) / 100.0, 2) AS score,
        CASE
            WHEN employees >= 5000 AND annual_revenue >= 500e6 THEN 0
            WHEN employees >= 1000 AND annual_revenue >= 100e6 THEN 1
            WHEN employees >= 500 AND annual_revenue >= 50e6 THEN 2
            WHEN employees >= 100 AND annual_revenue >= 10e6 THEN 3
            WHEN employees >= 50 AND annual_revenue >= 5e6 AND revenue_growth >= 0.2 THEN 4
            ELSE 5
        END AS seg,
        r.reason_1, r.reason_2, r.reason_3
    FROM scored s LEFT JOIN reasons r USING (account_id)
)
SELECT
    account_id, account_name, owner_id, fit_score, signal_score, engagement_score, score,
    CASE WHEN score >= 80 THEN 'A' WHEN score >= 60 THEN 'B' WHEN score >= 40 THEN 'C' ELSE 'D' END AS tier,
    ['Strategic Enterprise', 'Growth Enterprise', 'Established Mid-Market', 'Emerging Mid-Market',
     'SMB Growth', 'SMB Standard'][seg + 1] AS segment,
    'P' || seg AS priority,
    ['field_sales', 'field_sales', 'inside_sales', 'inside_sales', 'product_led', 'product_led'][seg + 1] AS motion,
    ['8-12', '6-8', '4-6', '3-4', '2-3', '1-2'][seg + 1] AS touches_per_month,
    reason_1, reason_2, reason_3,
    '{spec_hash}' AS spec_hash,
    DATE '{as_of}' AS as_of
FROM final
ORDER BY account_id
"""


def _quote(path: str | Path) -> str:
    return str(path).replace("'", "''")


def render(accounts: str | Path, activities: str | Path, as_of: str, spec_hash: str = "") -> str:
    """The query with the input paths, scoring date and spec hash filled in."""
    return SCORE_SQL.format(accounts=_quote(accounts), activities=_quote(activities), as_of=as_of,
                            spec_hash=spec_hash.replace("'", "''"))


def run(accounts: str | Path, activities: str | Path, out_dir: str | Path, as_of: str, spec_hash: str = "") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    write_scores(con, render(accounts, activities, as_of, spec_hash), out)
    con.close()


def write_scores(con: duckdb.DuckDBPyConnection, sql: str, out: Path) -> None:
    """Compute the scores once, then write them twice (Parquet and CSV), as tierwise does."""
    con.execute(f"CREATE TEMP TABLE scores AS {sql}")
    con.execute(f"COPY (SELECT * FROM scores ORDER BY account_id) TO '{_quote(out / 'scores.parquet')}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"COPY (SELECT * FROM scores ORDER BY account_id) TO '{_quote(out / 'scores.csv')}' "
                "(FORMAT csv, HEADER true)")


def main(argv: list[str] | None = None) -> None:
    common.main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
