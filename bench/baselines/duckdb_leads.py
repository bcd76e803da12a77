"""Baseline: lead scoring, matching and routing for the starter spec, hand-written in DuckDB SQL.

This is what a RevOps analyst fluent in SQL would write by hand for the
starter spec's ``lead_scoring:`` and ``routing:`` sections
(``src/tierwise/spec/starter.yaml``, arithmetic in ``docs/lead-scoring.md``
and ``docs/routing.md``). Every number -- fit points, keywords, behaviour
points and caps, penalties, decay, the MQL share, the rules and their SLAs --
is hard-coded for that spec; only the SDR pool's rep ids are passed in
(``--pool``), because generated workspaces list their own SDRs in the spec.

What it does:

* **lead score**: fit (seniority, whole-word title keywords, the stored or
  title-derived persona, company size bands, industry), behaviour groups with
  per-type and per-group caps from ``lead_activities`` in the last 180 days,
  negatives (competitor and personal-email domains of well-formed emails, fewer
  than 10 employees), clipped to [0, 100], decayed 25% per whole idle month since
  the latest activity of any type (else ``created_at``); MQL = the top 20%
  (ties at the line left out); segment ``demo_invite`` / ``sdr_follow_up`` /
  ``nurture``;
* **account tier**: the hand-written account scoring of ``duckdb_sql.py``;
* **matching**: the lead's email domain equal to an account's ``domain``
  column -- exact only;
* **routing**: the rules as one ``CASE`` (first match wins), account owners
  when active (else the rule's fallback queue), and round-robin over the
  pool's active reps in lead-id order by ``row_number()`` over capacity slots
  (rep by rep, round by round, so a rep at capacity is skipped; leads beyond
  the pool's total capacity go to the fallback queue);
* writes ``decisions.parquet`` / ``decisions.csv`` (with each lead's score,
  MQL flag, segment, match, rule, target, fallback and SLA due) and
  ``matches.csv``.

What it does NOT do (tierwise does): no input checks or quarantine; no
subdomain, website or fuzzy company-name matching, no tie-breaking between
accounts sharing a domain beyond the lowest id; account domains come from the
``domain`` column only (no website fallback); no audit log, no idempotency
keys, no replay of leads already routed, no saved round-robin cursor or
per-rep counts between batches; no explanations (``why``) or score
breakdowns; no out-of-office list (the starter has none); no contact scoring.

Usage::

    python bench/baselines/duckdb_leads.py --accounts A.parquet --activities B.parquet \
        --leads L.parquet --lead-activities E.parquet --reps R.parquet --pool R0004,R0009 \
        --out DIR --as-of 2026-11-01 --now 2026-11-01T09:00
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import duckdb_sql  # noqa: E402  (the hand-written account scoring)

# Personal e-mail providers (the starter spec's default list for personal_email: -15).
PERSONAL_DOMAINS = (
    "126.com", "163.com", "aol.com", "comcast.net", "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com",
    "hotmail.co.uk", "hotmail.com", "hotmail.fr", "icloud.com", "live.com", "mac.com", "mail.com", "mail.ru", "me.com",
    "msn.com", "outlook.com", "proton.me", "protonmail.com", "qq.com", "web.de", "yahoo.co.uk", "yahoo.com",
    "yahoo.fr", "yandex.ru", "zoho.com",
)

# A whole word in lower-case text: the keyword with no letter or digit either side.
W = r"(^|[^a-z0-9])({})($|[^a-z0-9])"

LEADS_SQL = r"""
WITH
leads AS (
    SELECT lead_id,
           nullif(lower(trim(email)), '') AS email,
           lower(trim(title)) AS title,
           nullif(lower(trim(seniority)), '') AS seniority,
           nullif(lower(trim(persona)), '') AS persona,
           employees,
           nullif(lower(trim(industry)), '') AS industry,
           nullif(trim(lead_source), '') AS lead_source,
           created_at
    FROM read_parquet('{leads}')
),
events AS (
    -- every event up to the scoring day counts as activity; only scored types in 180 days earn points
    SELECT lead_id, lower(trim(event_type)) AS event_type,
           date_diff('day', occurred_at::DATE, DATE '{as_of}') AS age
    FROM read_parquet('{lead_activities}')
    WHERE occurred_at < DATE '{as_of}' + INTERVAL 1 DAY
),
per_lead AS (
    SELECT lead_id,
           min(age) AS last_age,
           count(*) FILTER (WHERE event_type = 'demo_request' AND age <= 180) AS n_demo,
           count(*) FILTER (WHERE event_type = 'pricing_page_visit' AND age <= 180) AS n_pricing,
           count(*) FILTER (WHERE event_type = 'content_download' AND age <= 180) AS n_content,
           count(*) FILTER (WHERE event_type = 'webinar_attended' AND age <= 180) AS n_webinar,
           count(*) FILTER (WHERE event_type = 'email_reply' AND age <= 180) AS n_reply,
           count(*) FILTER (WHERE event_type = 'unsubscribe' AND age <= 180) AS n_unsub,
           count(*) FILTER (WHERE event_type = 'pricing_page_visit' AND age <= 14) AS n_pricing_14d
    FROM events
    GROUP BY lead_id
),
parts AS (
    SELECT
        l.lead_id, l.email, l.lead_source, l.created_at,
        regexp_matches(coalesce(l.email, ''), '^[^@\s]+@[^@\s]+\.[^@\s]+$') AS email_valid,
        coalesce(e.n_pricing_14d, 0) AS n_pricing_14d,
        -- fit
        CASE l.seniority WHEN 'c_level' THEN 15.0 WHEN 'vp' THEN 15.0 WHEN 'director' THEN 10.0
                         WHEN 'manager' THEN 5.0 ELSE 0.0 END AS fit_seniority,
        CASE WHEN regexp_matches(l.title, '{w_revenue_operations}') THEN 10.0
             WHEN regexp_matches(l.title, '{w_sales_marketing}') THEN 8.0
             WHEN regexp_matches(l.title, '{w_technology_it}') THEN 5.0
             ELSE 0.0 END AS fit_function,
        CASE coalesce(l.persona,
                      CASE WHEN regexp_matches(l.title, '{w_technical_buyer}') THEN 'technical_buyer'
                           WHEN regexp_matches(l.title, '{w_champion}') THEN 'champion'
                           WHEN regexp_matches(l.title, '{w_procurement}') THEN 'procurement'
                           WHEN regexp_matches(l.title, '{w_economic_buyer}') THEN 'economic_buyer'
                           WHEN regexp_matches(l.title, '{w_user}') THEN 'user' END)
             WHEN 'economic_buyer' THEN 10.0 WHEN 'champion' THEN 10.0 WHEN 'technical_buyer' THEN 5.0
             ELSE 0.0 END AS fit_persona,
        CASE WHEN l.employees >= 1000 THEN 10.0 WHEN l.employees >= 200 THEN 8.0
             WHEN l.employees >= 50 THEN 5.0 WHEN l.employees >= 10 THEN 2.0 ELSE 0.0 END AS fit_size,
        CASE l.industry WHEN 'software' THEN 5.0 WHEN 'financial services' THEN 5.0 WHEN 'healthcare' THEN 4.0
                        WHEN 'manufacturing' THEN 3.0 WHEN 'retail' THEN 2.0 ELSE 0.0 END AS fit_industry,
        -- behaviour: per-type caps, then group caps
        least(40.0, 30.0 * coalesce(e.n_demo, 0) + least(20.0, 10.0 * coalesce(e.n_pricing, 0))) AS b_high_intent,
        least(15.0, least(10.0, 5.0 * coalesce(e.n_content, 0)) + 10.0 * coalesce(e.n_webinar, 0)) AS b_content,
        least(10.0, least(10.0, 5.0 * coalesce(e.n_reply, 0)) - 10.0 * coalesce(e.n_unsub, 0)) AS b_email,
        -- idle days: since the latest event, else since the lead was created
        coalesce(e.last_age,
                 CASE WHEN l.created_at::DATE <= DATE '{as_of}'
                      THEN date_diff('day', l.created_at::DATE, DATE '{as_of}') END) AS idle_days,
        l.employees
    FROM leads l LEFT JOIN per_lead e USING (lead_id)
),
scored AS (
    SELECT *,
           CASE WHEN email_valid THEN split_part(email, '@', 2) END AS email_domain,
           CASE WHEN email_valid AND split_part(email, '@', 2) IN ({competitors}) THEN -50.0 ELSE 0.0 END
           + CASE WHEN email_valid AND split_part(email, '@', 2) IN ({personal}) THEN -15.0 ELSE 0.0 END
           + CASE WHEN employees < 10 THEN -20.0 ELSE 0.0 END AS negative_points,
           fit_seniority + fit_function + fit_persona + fit_size + fit_industry AS fit_points,
           b_high_intent + b_content + b_email AS behaviour_points,
           power(0.75, coalesce(floor(idle_days / 30), 0)) AS decay_factor
    FROM parts
),
lead_scores AS (
    SELECT lead_id, email_domain, lead_source, created_at, n_pricing_14d,
           fit_points, behaviour_points, negative_points, idle_days AS days_since_activity, decay_factor,
           round(greatest(least(fit_points + behaviour_points + negative_points, 100.0), 0.0) * decay_factor, 2)
               AS lead_score
    FROM scored
),
mql AS (
    -- the top 20%: people scoring at least this score must fit in the share (ties all go below)
    SELECT *,
           count(*) OVER (ORDER BY lead_score DESC) <= 0.2 * count(*) OVER () AND lead_score > 0 AS is_mql
    FROM lead_scores
),
segmented AS (
    SELECT *,
           CASE WHEN n_pricing_14d >= 1 THEN 'demo_invite' WHEN is_mql THEN 'sdr_follow_up' ELSE 'nurture' END
               AS lead_segment
    FROM mql
),
accounts AS (
    SELECT a.account_id, lower(trim(a.domain)) AS domain, a.owner_id, s.tier
    FROM read_parquet('{accounts}') a JOIN account_scores s USING (account_id)
    WHERE nullif(trim(a.domain), '') IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY lower(trim(a.domain)) ORDER BY a.account_id) = 1
),
reps AS (
    SELECT rep_id, capacity FROM read_parquet('{reps}') WHERE active IS NOT FALSE
),
matched AS (
    SELECT l.*, a.account_id, a.owner_id AS account_owner_id, a.tier AS account_tier,
           a.owner_id IN (SELECT rep_id FROM reps) AS owner_ok
    FROM segmented l LEFT JOIN accounts a ON a.domain = l.email_domain
),
ruled AS (
    SELECT *,
           CASE WHEN account_tier = 'A' THEN 0                                  -- tier_a
                WHEN is_mql AND lead_segment = 'demo_invite' THEN 1             -- demo_invite (pool)
                WHEN account_id IS NOT NULL THEN 2                              -- known_account
                WHEN lead_source = 'web' AND lead_score >= 20 THEN 3            -- inbound_web (pool)
                ELSE 4 END AS rule_no                                           -- nurture
    FROM matched
),
pool(pos, rep_id) AS (VALUES {pool}),
pool_size AS (SELECT count(*) AS n FROM ruled WHERE rule_no IN (1, 3)),
slots AS (
    -- round-robin in lead order: round 1 gives each active rep one lead, round 2 the next, ...;
    -- a rep at capacity drops out of later rounds
    SELECT row_number() OVER (ORDER BY round, pos) AS slot, rep_id
    FROM (SELECT p.pos, p.rep_id,
                 unnest(range(1, least(coalesce(r.capacity, s.n), s.n) + 1)) AS round
          FROM pool p JOIN reps r USING (rep_id), pool_size s)
),
pool_leads AS (
    SELECT lead_id, row_number() OVER (ORDER BY lead_id) AS slot
    FROM ruled WHERE rule_no IN (1, 3)
)
SELECT
    r.lead_id, r.lead_score, r.is_mql, r.lead_segment, r.fit_points, r.behaviour_points, r.negative_points,
    r.days_since_activity, r.decay_factor,
    r.account_id, CASE WHEN r.account_id IS NULL THEN 'unmatched' ELSE 'matched' END AS match_status,
    CASE WHEN r.account_id IS NOT NULL THEN 'email_domain' END AS match_method,
    ['tier_a', 'demo_invite', 'known_account', 'inbound_web', 'nurture'][r.rule_no + 1] AS rule,
    CASE WHEN r.rule_no IN (0, 2) AND r.owner_ok IS NOT TRUE THEN 'queue'
         WHEN r.rule_no IN (1, 3) AND s.rep_id IS NULL THEN 'queue'
         ELSE ['account_owner', 'pool', 'account_owner', 'pool', 'queue'][r.rule_no + 1] END AS target_kind,
    CASE r.rule_no
        WHEN 0 THEN CASE WHEN r.owner_ok THEN r.account_owner_id ELSE 'enterprise_queue' END
        WHEN 2 THEN CASE WHEN r.owner_ok THEN r.account_owner_id ELSE 'sdr_queue' END
        WHEN 4 THEN 'nurture'
        ELSE coalesce(s.rep_id, 'sdr_queue') END AS target,
    CASE WHEN r.rule_no IN (0, 2) AND r.account_owner_id IS NULL THEN 'no_owner'
         WHEN r.rule_no IN (0, 2) AND r.owner_ok IS NOT TRUE THEN 'owner_unavailable'
         WHEN r.rule_no IN (1, 3) AND s.rep_id IS NULL THEN 'pool_unavailable' END AS fallback_used,
    coalesce(r.created_at, TIMESTAMP '{now}')
        + to_minutes([60, 60, 240, 240, NULL][r.rule_no + 1]::BIGINT) AS sla_due,
    TIMESTAMP '{now}' AS decided_at,
    '{spec_hash}' AS spec_hash,
    DATE '{as_of}' AS as_of
FROM ruled r
LEFT JOIN pool_leads p USING (lead_id)
LEFT JOIN slots s ON s.slot = p.slot
"""


def _quote(value: str | Path) -> str:
    return str(value).replace("'", "''")


def _words(*keywords: str) -> str:
    return W.format("|".join(k.replace(".", r"\.") for k in keywords))


def render(leads: str | Path, lead_activities: str | Path, accounts: str | Path, reps: str | Path,
           pool: list[str], as_of: str, now: str, spec_hash: str = "") -> str:
    """The query (it reads the temp table ``account_scores``) with paths, dates and the pool filled in."""
    if not pool:
        raise SystemExit("--pool needs at least one rep id")
    return LEADS_SQL.format(
        leads=_quote(leads), lead_activities=_quote(lead_activities), accounts=_quote(accounts), reps=_quote(reps),
        as_of=as_of, now=now.replace("T", " "), spec_hash=_quote(spec_hash),
        pool=", ".join(f"({i}, '{_quote(r)}')" for i, r in enumerate(pool)),
        competitors=", ".join(f"'{d}'" for d in ("segmently.io", "tierlytics.com", "scorestack.com")),
        personal=", ".join(f"'{d}'" for d in PERSONAL_DOMAINS),
        w_revenue_operations=_words("revenue", "operations"),
        w_sales_marketing=_words("sales", "marketing"),
        w_technology_it=_words("technology", "it"),
        w_technical_buyer=_words("cto", "technology", "it", "engineering"),
        w_champion=_words("operations", "revops", "demand generation"),
        w_procurement=_words("procurement", "purchasing"),
        w_economic_buyer=_words("chief", "ceo", "cro", "cfo", "vp", "president"),
        w_user=_words("manager", "analyst", "specialist", "representative", "executive"),
    )


def run(a: argparse.Namespace) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE account_scores AS "
                + duckdb_sql.render(a.accounts, a.activities, a.as_of, a.spec_hash))
    con.execute("CREATE TEMP TABLE decisions AS "
                + render(a.leads, a.lead_activities, a.accounts, a.reps, [p.strip() for p in a.pool.split(",")
                                                                           if p.strip()], a.as_of, a.now, a.spec_hash))
    con.execute(f"COPY (SELECT * FROM decisions ORDER BY lead_id) TO '{_quote(out / 'decisions.parquet')}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"COPY (SELECT * FROM decisions ORDER BY lead_id) TO '{_quote(out / 'decisions.csv')}' "
                "(FORMAT csv, HEADER true)")
    con.execute(f"COPY (SELECT lead_id, account_id, match_status AS status, match_method AS method FROM decisions "
                f"ORDER BY lead_id) TO '{_quote(out / 'matches.csv')}' (FORMAT csv, HEADER true)")
    con.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("accounts", "activities", "leads", "lead-activities", "reps", "out", "as-of", "now", "pool"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--spec-hash", default="")
    run(p.parse_args(argv))


if __name__ == "__main__":
    main()
