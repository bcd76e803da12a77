"""Baseline (c): the starter spec in idiomatic pandas.

What a good analyst writes in a notebook for the starter spec
(``src/tierwise/spec/starter.yaml``), following ``docs/scoring.md``:
``read_parquet``, vectorised column arithmetic, ``merge``/``groupby`` for the
event points, ``np.select`` for bands, tiers and segments, and
melt + sort + ``groupby.head(3)`` for the top-3 reasons. No per-row Python
loops. It writes ``scores.parquet`` and ``scores.csv`` with the same columns as
``tierwise score``.

Usage::

    python bench/baselines/pandas_score.py --accounts A.parquet --activities B.parquet \
        --out DIR --as-of 2026-11-01 [--spec-hash HASH]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

# ---- the starter spec, by hand
FIT_WEIGHT, SIG_WEIGHT, ENG_WEIGHT = 40, 35, 25
FIT_MAX = 40.0
INDUSTRY_POINTS = {"software": 10.0, "financial services": 9.0, "healthcare": 7.0, "manufacturing": 5.0, "retail": 4.0}
ICP_TECH = ["salesforce", "snowflake", "segment", "hubspot", "marketo"]
ICP_COUNTRIES = ["us", "ca", "gb", "de", "fr", "nl", "au"]
RULES = pd.DataFrame(
    [
        # event_type, category, points, type_cap, window_days, half_life
        ("leadership_change", "signals", 25.0, np.nan, 180, 45.0),
        ("funding_round", "signals", 30.0, np.nan, 180, 45.0),
        ("acquisition", "signals", 25.0, np.nan, 180, 45.0),
        ("hiring_surge", "signals", 15.0, np.nan, 180, 45.0),
        ("tech_adoption", "signals", 15.0, np.nan, 180, 45.0),
        ("intent_surge", "signals", 10.0, 30.0, 180, 45.0),
        ("demo_request", "engagement", 20.0, np.nan, 90, 21.0),
        ("pricing_page_visit", "engagement", 8.0, 24.0, 90, 21.0),
        ("content_download", "engagement", 4.0, 12.0, 90, 21.0),
        ("email_reply", "engagement", 6.0, 18.0, 90, 21.0),
        ("webinar_attended", "engagement", 5.0, np.nan, 90, 21.0),
        ("champion_activity", "engagement", 12.0, np.nan, 90, 21.0),
        ("unsubscribe", "engagement", -10.0, np.nan, 90, 21.0),
    ],
    columns=["event_type", "category", "points", "type_cap", "window_days", "half_life"],
)
RULES["ord"] = np.arange(len(RULES)) + 5  # spec order, after the five fit criteria: breaks ties between reasons
CATEGORY_CAP = {"signals": 60.0, "engagement": 50.0}
CATEGORY_WEIGHT = {"signals": SIG_WEIGHT, "engagement": ENG_WEIGHT}
TIERS = [(80, "A"), (60, "B"), (40, "C")]
SEGMENTS = [
    # name, priority, motion, touches
    ("Strategic Enterprise", "P0", "field_sales", "8-12"),
    ("Growth Enterprise", "P1", "field_sales", "6-8"),
    ("Established Mid-Market", "P2", "inside_sales", "4-6"),
    ("Emerging Mid-Market", "P3", "inside_sales", "3-4"),
    ("SMB Growth", "P4", "product_led", "2-3"),
    ("SMB Standard", "P5", "product_led", "1-2"),
]


def round2(x: pd.Series, decimals: int = 2) -> pd.Series:
    """Round half away from zero (numpy's round is half-to-even)."""
    m = 10.0 ** decimals
    return np.sign(x) * np.floor(np.abs(x) * m + 0.5) / m


def fit_points(acc: pd.DataFrame) -> pd.DataFrame:
    emp = acc["employees"]
    size = np.select([emp >= 1000, emp >= 200, emp >= 50, emp >= 10], [10.0, 8.0, 5.0, 2.0], 0.0)
    industry = acc["industry"].str.strip().str.lower()
    # tech stack: explode the list, normalise, keep the distinct ICP tools in alphabetical order
    tech = acc["tech_stack"].explode().str.strip().str.lower().rename("tool")
    tech = tech[tech.isin(ICP_TECH)].rename_axis("row").reset_index().drop_duplicates()
    tech = tech.sort_values(["row", "tool"]).groupby("row")["tool"]
    tech_n = tech.size().reindex(acc.index, fill_value=0)
    tech_label = tech.agg(", ".join).reindex(acc.index)
    country = acc["country"].str.strip()
    return pd.DataFrame({
        "f_size": size,
        "f_industry": industry.map(INDUSTRY_POINTS).fillna(0.0),
        "f_tech": np.minimum(tech_n / 3, 1.0) * 10.0,
        "f_geo": np.where(country.str.lower().isin(ICP_COUNTRIES), 5.0, 0.0),
        "f_units": np.where(acc["business_units"] >= 3, 5.0, 0.0),
        "l_size": "employees = " + emp.astype("Int64").astype(str),
        "l_industry": "industry = " + industry,
        "l_tech": "tech_stack has " + tech_label,
        "l_geo": "country = " + country,
        "l_units": "business_units = " + acc["business_units"].astype("Int64").astype(str),
    }, index=acc.index)


def event_points(act: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per account and event type: count, latest age, capped decayed points."""
    act = act.assign(
        event_type=act["event_type"].str.strip().str.lower(),
        age=(as_of - act["occurred_at"].dt.normalize()).dt.days,
    )
    act = act[(act["age"] >= 0) & (act["age"] <= RULES["window_days"].max())]
    ev = act.merge(RULES, on="event_type")
    ev = ev[ev["age"] <= ev["window_days"]]
    ev["decay"] = 0.5 ** (ev["age"] / ev["half_life"])
    per_type = ev.groupby(["account_id", "event_type"], as_index=False, sort=False).agg(
        n=("age", "size"), latest_age=("age", "min"), decay=("decay", "sum"))
    per_type = per_type.merge(RULES[["event_type", "ord", "category", "points", "type_cap"]], on="event_type")
    pts = per_type["points"] * per_type["decay"]
    capped = (per_type["points"] > 0) & per_type["type_cap"].notna()
    per_type["type_points"] = pts.where(~capped, np.minimum(pts, per_type["type_cap"]))
    return per_type


def score(accounts: pd.DataFrame, activities: pd.DataFrame, as_of: str, spec_hash: str = "") -> pd.DataFrame:
    day = pd.Timestamp(as_of)
    acc = accounts.reset_index(drop=True)
    fit = fit_points(acc)
    fit_raw = fit["f_size"] + fit["f_industry"] + fit["f_tech"] + fit["f_geo"] + fit["f_units"]
    fit_u = 100.0 * fit_raw / FIT_MAX

    per_type = event_points(activities, day)
    raw = per_type.pivot_table(index="account_id", columns="category", values="type_points", aggfunc="sum")
    raw = raw.reindex(columns=["signals", "engagement"]).reindex(acc["account_id"]).fillna(0.0).set_axis(acc.index)
    sig_u = 100.0 * raw["signals"].clip(0.0, 60.0) / 60.0
    eng_u = 100.0 * raw["engagement"].clip(0.0, 50.0) / 50.0
    total = (FIT_WEIGHT * fit_u + SIG_WEIGHT * sig_u + ENG_WEIGHT * eng_u) / 100.0

    out = pd.DataFrame({
        "account_id": acc["account_id"],
        "account_name": acc["name"],
        "owner_id": acc["owner_id"],
        "fit_score": round2(fit_u),
        "signal_score": round2(sig_u),
        "engagement_score": round2(eng_u),
        "score": round2(total),
    })
    out["tier"] = np.select([out["score"] >= m for m, _ in TIERS], [name for _, name in TIERS], "D")

    # ---- reasons: fit criteria and event types in score points, long format, top 3
    fit_long = pd.DataFrame({
        "account_id": np.tile(acc["account_id"].to_numpy(), 5),
        "ord": np.repeat(np.arange(5), len(acc)),
        "pts": np.concatenate([fit[c].to_numpy(dtype=float) * (FIT_WEIGHT / FIT_MAX)
                               for c in ("f_size", "f_industry", "f_tech", "f_geo", "f_units")]),
        "label": np.concatenate([fit[c].to_numpy(dtype=object)
                                 for c in ("l_size", "l_industry", "l_tech", "l_geo", "l_units")]),
    })
    cat_raw = per_type.groupby(["account_id", "category"])["type_points"].transform("sum")
    cap = per_type["category"].map(CATEGORY_CAP)
    factor = np.where(cat_raw > 0, np.minimum(cat_raw, cap) / cat_raw.where(cat_raw > 0, 1.0), 0.0)
    weight_per_cap = per_type["category"].map(CATEGORY_WEIGHT) / cap
    age = per_type["latest_age"]
    ago = pd.Series(np.select([age == 0, age == 1], ["today", "1 day ago"], ""), index=per_type.index)
    ago = ago.where(age <= 1, age.astype(str) + " days ago")
    when = np.where(per_type["n"] == 1, " " + ago, " x" + per_type["n"].astype(str) + ", latest " + ago)
    ev_long = pd.DataFrame({
        "account_id": per_type["account_id"],
        "ord": per_type["ord"],
        "pts": per_type["type_points"] * factor * weight_per_cap,
        "label": per_type["event_type"] + when,
    })
    long = pd.concat([fit_long, ev_long], ignore_index=True)
    long["key"] = round2(long["pts"], 6)
    long = long[long["key"] > 0.05]
    # largest first; ties keep the spec's order
    top = long.sort_values(["account_id", "key", "ord"], ascending=[True, False, True]).groupby("account_id").head(3)
    top = top.assign(
        reason=top["label"] + ": +" + round2(top["pts"], 1).astype(str),
        rank="reason_" + (top.groupby("account_id").cumcount() + 1).astype(str),
    )
    reasons = top.pivot(index="account_id", columns="rank", values="reason")
    reasons = reasons.reindex(columns=["reason_1", "reason_2", "reason_3"])

    # ---- segments: first matching rule wins
    emp, rev, growth = acc["employees"], acc["annual_revenue"], acc["revenue_growth"]
    seg = np.select(
        [(emp >= 5000) & (rev >= 500e6), (emp >= 1000) & (rev >= 100e6), (emp >= 500) & (rev >= 50e6),
         (emp >= 100) & (rev >= 10e6), (emp >= 50) & (rev >= 5e6) & (growth >= 0.2)],
        [0, 1, 2, 3, 4], 5,
    )
    segs = pd.DataFrame(SEGMENTS, columns=["segment", "priority", "motion", "touches_per_month"])
    out = pd.concat([out, segs.iloc[seg].reset_index(drop=True)], axis=1)
    out = out.merge(reasons, left_on="account_id", right_index=True, how="left")
    out["spec_hash"] = spec_hash
    out["as_of"] = day.date()
    return out.sort_values("account_id", ignore_index=True)


def run(accounts: str | Path, activities: str | Path, out_dir: str | Path, as_of: str, spec_hash: str = "") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    acc = pd.read_parquet(accounts, columns=["account_id", "name", "owner_id", "industry", "employees",
                                             "annual_revenue", "revenue_growth", "country", "business_units",
                                             "tech_stack"])
    act = pd.read_parquet(activities, columns=["account_id", "event_type", "occurred_at"])
    scores = score(acc, act, as_of, spec_hash)
    scores.to_parquet(out / "scores.parquet", index=False, compression="zstd")
    scores.to_csv(out / "scores.csv", index=False)


def main(argv: list[str] | None = None) -> None:
    common.main(run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
