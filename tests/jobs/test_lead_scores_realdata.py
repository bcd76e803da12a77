"""Rule-based lead scoring (``tierwise leads score``) on Leads X Education (../shared/data).

9,240 leads of an online-course company, ``Converted`` = 1 for 38.5% of them. The spec below is
written the way a RevOps person writes one from the seed article's advice (5-7 core criteria:
job fit, high-intent behaviour, negatives; MQL at the top 20%, 50-75 points on a 100-point
scale), with points chosen a priori and never searched against ``Converted``:

* fit (35 at most): occupation (working professional 25, businessman 15, unemployed 10,
  student 5), a specialization given on the form (5; "Select" is an unanswered field),
  in the company's market, India (5);
* behaviour ``web_engagement`` (cap 35): time on the website (900 s+ 25, 300-900 s 15,
  60-300 s 5) and visits (5+ 10, 2-4 5);
* behaviour ``hand_raise`` (cap 30): lead origin (Lead Add Form 25, Quick Add Form 15, Landing
  Page Submission 10) and source (Reference 15, Referral Sites 10, Olark Chat 5);
* negatives: "Do Not Email" = Yes -20, "Do Not Call" = Yes -20.

The dataset has no event rows (behaviour is already summed in columns) and no creation date
(no decay). The columns sales fills in after contact (Tags, Lead Quality, Lead Profile,
Asymmetrique*) and the post-contact activity records (Last Activity, Last Notable Activity)
are never loaded. Measured: ROC AUC 0.770; top 20% -> threshold 60 points, 18.0% MQL,
80.8% of them converted (base 38.5%, lift 2.10). Figures: docs/_leadsx_figures.md.

Skipped when the data folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from tierwise.jobs.lead_scores import LeadScoreResult, score_leads

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

LEADS_FILE = ("leads_x_education", "Leads.csv")
LEAKY = ["Tags", "Lead Quality", "Lead Profile", "Asymmetrique Activity Index", "Asymmetrique Profile Index",
         "Asymmetrique Activity Score", "Asymmetrique Profile Score", "Last Activity", "Last Notable Activity"]
BASE_RATE = (0.38, 0.39)  # 3,561 of 9,240 converted


def _data(*parts: str) -> Path:
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor.joinpath("shared", "data", *parts)
        if candidate.is_file():
            return candidate
    pytest.skip(f"public dataset {'/'.join(parts)} not found under ../shared/data")


def leads_x_spec(leads_csv: Path, mql: str) -> str:
    """The spec: Leads.csv as the ``leads`` table, the form's columns as attributes, a priori points.

    The spec format requires an accounts table and account fit criteria; this dataset has no
    accounts, so they are an empty file and a placeholder criterion that nothing here reads.
    """
    return f"""\
name: leads_x_education
as_of: 2026-01-01            # no created_at and no events: nothing decays
data:
  accounts: {{path: accounts.csv}}
  leads:
    path: {leads_csv}
    columns:
      lead_id: Prospect ID
      lead_source: Lead Source
      country: Country
      occupation: What is your current occupation
      specialization: Specialization
      lead_origin: Lead Origin
      total_visits: TotalVisits
      time_on_site: Total Time Spent on Website
      do_not_email: Do Not Email
      do_not_call: Do Not Call
    attributes:
      occupation: string
      specialization: string
      lead_origin: string
      total_visits: float
      time_on_site: float
      do_not_email: bool
      do_not_call: bool
fit: {{criteria: [{{name: size, field: employees, at_least: 1, points: 10}}]}}
lead_scoring:
  fit:
    - name: occupation       # the job-title criterion of a consumer course: who buys upskilling
      field: occupation
      values: {{working professional: 25, businessman: 15, unemployed: 10, student: 5}}
    - name: specialization_given
      when: "not_null(specialization) and specialization != 'Select'"
      points: 5
    - {{name: in_market, field: country, in: [India], points: 5}}
  behaviour:
    - name: web_engagement   # high intent: time on the website and return visits
      cap: 35
      criteria:
        - name: time_on_site
          field: time_on_site
          bands: [{{min: 900, points: 25}}, {{min: 300, max: 900, points: 15}}, {{min: 60, max: 300, points: 5}}]
        - name: visits
          field: total_visits
          bands: [{{min: 5, points: 10}}, {{min: 2, max: 5, points: 5}}]
    - name: hand_raise       # filled in a form, came by referral, started a chat
      cap: 30
      criteria:
        - name: form
          field: lead_origin
          values: {{lead add form: 25, quick add form: 15, landing page submission: 10}}
        - name: referral
          field: lead_source
          values: {{reference: 15, referral sites: 10, olark chat: 5}}
  negatives:
    rules:
      - {{name: do_not_email, when: "do_not_email == true", points: -20}}
      - {{name: do_not_call, when: "do_not_call == true", points: -20}}
  mql: {mql}
"""


def write_workspace(folder: Path, leads_csv: Path, mql: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounts.csv").write_text("account_id\n", encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(leads_x_spec(leads_csv, mql), encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def leads_csv() -> Path:
    return _data(*LEADS_FILE)


@pytest.fixture(scope="module")
def converted(leads_csv) -> pd.DataFrame:
    return pd.read_csv(leads_csv, usecols=["Prospect ID", "Converted"]).rename(columns={"Prospect ID": "lead_id"})


def _run(tmp_path_factory, leads_csv: Path, converted: pd.DataFrame,
         mql: str) -> tuple[LeadScoreResult, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("leadsx")
    result = score_leads(write_workspace(folder, leads_csv, mql), folder / "out")
    scores = pd.read_csv(folder / "out" / "leads.csv")
    return result, scores.merge(converted, on="lead_id", how="left", validate="1:1")


@pytest.fixture(scope="module")
def top_share_run(tmp_path_factory, leads_csv, converted):
    return _run(tmp_path_factory, leads_csv, converted, "{top_share: 0.2}")


@pytest.fixture(scope="module")
def threshold_run(tmp_path_factory, leads_csv, converted):
    return _run(tmp_path_factory, leads_csv, converted, "{threshold: 50}")


def test_spec_reads_no_column_filled_in_after_contact(leads_csv):
    data = yaml.safe_load(leads_x_spec(leads_csv, "{top_share: 0.2}"))["data"]["leads"]
    assert not set(data["columns"].values()) & set(LEAKY)
    assert set(data["attributes"]) <= set(data["columns"])  # every attribute is read from a named header


def test_scores_rank_conversions_and_the_top_fifth_converts_twice_the_base_rate(top_share_run):
    result, d = top_share_run
    assert d.Converted.notna().all()
    base = d.Converted.mean()
    assert BASE_RATE[0] < base < BASE_RATE[1]
    assert d.lead_score.between(0, 100).all()
    auc = roc_auc_score(d.Converted, d.lead_score)
    assert auc >= 0.75, auc  # measured 0.770

    s = result.summary["leads"]
    threshold = s["mql_threshold"]
    assert 50 <= threshold <= 75, threshold  # the seed's typical range on a 100-point scale; measured 60
    mql = d[d.is_mql]
    assert (d.is_mql == (d.lead_score >= threshold)).all()  # ties at the line go below, none straddle it
    assert s["mql"] == len(mql) and 0.15 <= s["mql_share"] <= 0.20, s["mql_share"]  # measured 18.0%
    rate = mql.Converted.mean()
    assert rate >= 0.70, rate  # measured 80.8%
    assert rate / base >= 1.8  # measured lift 2.10
    assert d[~d.is_mql].Converted.mean() < base


def test_fixed_threshold_scores_every_row(threshold_run, leads_csv):
    result, d = threshold_run
    rows = len(pd.read_csv(leads_csv, usecols=["Prospect ID"]))
    inputs = result.summary["inputs"]["leads"]
    assert inputs["read"] == rows == 9240
    assert len(d) + inputs["quarantined"] == rows and len(d) == inputs["loaded"]
    assert d.lead_id.is_unique and d.Converted.notna().all()

    s = result.summary["leads"]
    assert s["people"] == len(d) and s["mql_threshold"] == 50.0
    assert (d.is_mql == (d.lead_score >= 50)).all() and s["mql"] == int(d.is_mql.sum())
    assert d[d.is_mql].Converted.mean() >= 0.60  # measured 67.3% of 32.1% of leads
    # the parts add up: fit + behaviour + negatives, clipped to [0, 100], no decay
    assert (d.decay_factor == 1.0).all()
    total = (d.fit_points + d.behaviour_points + d.negative_points).clip(0, 100)
    assert (total - d.lead_score).abs().max() < 0.01
