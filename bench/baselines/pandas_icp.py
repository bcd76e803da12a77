"""The notebook a data scientist would write for ICP discovery + a propensity model, in idiomatic pandas.

Same work as ``tierwise icp discover`` + ``tierwise model train`` on the demo
workspace: closed deals joined to account attributes; per attribute value
(categories, quintiles of numbers, tech-stack items) support, win rate with a
Wilson interval, lift, mean amount, median cycle, a 2x2 test and a Holm
correction; then point-in-time event counts (30/90/180 days before each
deal's creation) and earlier-deal history, a LightGBM model evaluated on the
latest 20% of deals by creation date, and a refit on all deals.

No input checks, no reports, no model file: the baseline is the analysis only.

    python bench/baselines/pandas_icp.py --workspace WS --out OUT
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

CATEGORICAL = ["industry", "country", "region", "state", "funding_stage"]
NUMERIC = ["employees", "annual_revenue", "revenue_growth", "business_units"]
WINDOWS = (30, 90, 180)


def discover(deals: pd.DataFrame) -> pd.DataFrame:
    base = deals["won"].mean()
    parts = []
    for col in CATEGORICAL + NUMERIC + ["tech_stack"]:
        d = deals[["won", "amount", "cycle_days"]].copy()
        if col in NUMERIC:
            d["value"] = pd.qcut(deals[col], 5, duplicates="drop").astype(str)
        elif col == "tech_stack":
            d = d.join(deals[col].explode().rename("value")).dropna(subset=["value"])
            d = d.reset_index().drop_duplicates(["index", "value"])  # an item counts once per deal
        else:
            d["value"] = deals[col].fillna("(missing)")
        g = d.groupby("value").agg(support=("won", "size"), won=("won", "sum"), mean_acv=("amount", "mean"),
                                   median_cycle_days=("cycle_days", "median")).reset_index()
        g.insert(0, "attribute", col)
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    out["win_rate"] = out["won"] / out["support"]
    out["ci_low"], out["ci_high"] = proportion_confint(out["won"], out["support"], method="wilson")
    out["lift"] = out["win_rate"] / base
    n, w = len(deals), int(deals["won"].sum())
    out["p_value"] = [chi2_contingency([[a, s - a], [w - a, n - w - s + a]])[1] if 0 < s < n else np.nan
                      for a, s in zip(out["won"], out["support"], strict=True)]
    ok = out["p_value"].notna()
    out.loc[ok, "p_adjusted"] = multipletests(out.loc[ok, "p_value"], method="holm")[1]
    out["significant"] = out["p_adjusted"] < 0.05
    return out


def features(deals: pd.DataFrame, activities: pd.DataFrame, opps: pd.DataFrame) -> pd.DataFrame:
    cut = deals[["opportunity_id", "account_id", "created_at"]]
    ev = cut.merge(activities, on="account_id")
    ev = ev[(ev["occurred_day"] < ev["created_at"]) & (ev["occurred_day"] >= ev["created_at"] - pd.Timedelta(days=180))]
    ev["age"] = (ev["created_at"] - ev["occurred_day"]).dt.days
    cols = []
    for w in WINDOWS:
        c = ev[ev["age"] <= w].pivot_table(index="opportunity_id", columns="event_type", values="age",
                                          aggfunc="size", fill_value=0)
        cols.append(c.add_suffix(f"_{w}d"))
    cols.append(ev.pivot_table(index="opportunity_id", columns="event_type", values="age", aggfunc="min")
                .add_prefix("days_since_"))
    feats = pd.concat(cols, axis=1)
    prior = cut.merge(opps[["account_id", "created_at", "closed_at", "is_won"]], on="account_id", suffixes=("", "_p"))
    prior = prior[prior["created_at_p"] < prior["created_at"]]
    known = prior["closed_at"] < prior["created_at"]
    hist = pd.DataFrame({"opportunity_id": prior["opportunity_id"], "prior_deals": 1,
                         "prior_wins": (known & (prior["is_won"] == True)).astype(int),  # noqa: E712
                         "prior_losses": (known & (prior["is_won"] == False)).astype(int)})  # noqa: E712
    hist = hist.groupby("opportunity_id").sum()
    out = deals.set_index("opportunity_id").join(feats).join(hist)
    count_cols = [c for c in feats.columns if not c.startswith("days_since_")] + list(hist.columns)
    out[count_cols] = out[count_cols].fillna(0)
    return out


def model(table: pd.DataFrame) -> dict:
    table = table.sort_values("created_at")
    stacks = table["tech_stack"].explode()
    top = stacks.value_counts()
    top = top[top >= 0.01 * len(table)].index
    dummies = pd.crosstab(stacks.index, stacks).reindex(columns=top, fill_value=0).add_prefix("tech_stack=")
    X = table.drop(columns=["account_id", "won", "amount", "cycle_days", "created_at", "closed_at", "tech_stack",
                            "is_won", "is_closed"], errors="ignore")
    X = X.join(dummies).fillna({c: 0 for c in dummies.columns})
    for c in CATEGORICAL:
        X[c] = X[c].astype("category")
    X = X.select_dtypes(exclude=["object", "datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"])
    y = table["won"].astype(int).to_numpy()
    split = int(len(X) * 0.8)
    # train on deals decided before the first held-out deal was created, as tierwise does
    start = table["created_at"].iloc[split]
    known = (table["closed_at"].iloc[:split] < start).to_numpy()
    params = dict(n_estimators=600, learning_rate=0.03, num_leaves=31, min_child_samples=50, verbose=-1, n_jobs=2)
    held = lgb.LGBMClassifier(**params).fit(X.iloc[:split][known], y[:split][known])
    auc = roc_auc_score(y[split:], held.predict_proba(X.iloc[split:])[:, 1])
    lgb.LGBMClassifier(**params).fit(X, y)
    return {"holdout_auc": round(float(auc), 4), "features": X.shape[1], "deals": len(X)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workspace", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--as-of", default="2026-11-01", help="only deals decided before this date count")
    a = p.parse_args(argv)
    data, out = Path(a.workspace) / "data", Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    accounts = pd.read_parquet(data / "accounts.parquet",
                               columns=["account_id", *CATEGORICAL, *NUMERIC, "tech_stack"])
    opps = pd.read_parquet(data / "opportunities.parquet")
    opps["created_at"] = pd.to_datetime(opps["created_at"])
    opps["closed_at"] = pd.to_datetime(opps["closed_at"])
    decided = (opps["is_closed"] == True) & opps["is_won"].notna() & (opps["closed_at"] < a.as_of)  # noqa: E712
    deals = opps[decided].copy()
    deals["won"] = deals["is_won"].astype(bool)
    deals["cycle_days"] = (deals["closed_at"] - deals["created_at"]).dt.days
    deals = deals.merge(accounts, on="account_id", how="left")
    attributes = discover(deals)
    attributes.to_csv(out / "attributes.csv", index=False)
    t1 = time.perf_counter()
    activities = pd.read_parquet(data / "activities.parquet", columns=["account_id", "event_type", "occurred_at"])
    activities["event_type"] = activities["event_type"].str.lower()
    activities["occurred_day"] = activities["occurred_at"].dt.normalize()
    activities = activities.drop(columns="occurred_at")
    keep = ["opportunity_id", "account_id", "created_at", "closed_at", "won", "amount", "cycle_days",
            *CATEGORICAL, *NUMERIC, "tech_stack"]
    table = features(deals[keep], activities, opps)
    result = model(table)
    t2 = time.perf_counter()
    (out / "result.json").write_text(json.dumps({**result, "discovery_s": round(t1 - t0, 2),
                                                 "model_s": round(t2 - t1, 2)}, indent=2))


if __name__ == "__main__":
    main()
