"""The governance section: the seed's defaults, and every mistake reported at its key and line."""

from __future__ import annotations

import pytest

from tierwise.spec import SpecError, load_spec_text

BASE = "data:\n  accounts: {path: a.csv}\n  opportunities: {path: o.csv, attributes: {stall_reason: string}}\n" \
       "fit:\n  criteria:\n    - {name: size, field: employees, at_least: 10, points: 10}\n"


def problems(text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec_text(BASE + text, source="spec.yaml")
    return str(info.value)


def test_defaults_come_from_the_seeds():
    g = load_spec_text(BASE).spec.governance
    assert g.history == ".tierwise/history.duckdb" and g.record is True
    assert [(b.from_, b.to, b.rate) for b in g.funnel.benchmarks] == [
        ("lead", "mql", 0.39), ("mql", "sql", 0.38), ("sql", "opportunity", 0.42), ("sql", "closed_won", 0.37)]
    assert g.pipeline.velocity_days == 50
    z = g.pipeline.zombies
    assert (z.score, z.below, z.requalify_after_days, z.close_after_days) == ("fit_score", 65, 30, 45)
    gr = g.guardrails
    assert (gr.min_segment_share, gr.max_segment_share, gr.max_segments) == (0.15, 0.6, 8)
    assert gr.pooled_accounts_per_rep == {"C": 150}
    assert (g.icp.pipeline_target, g.icp.won_target, g.icp.min_fit_score) == (0.5, 0.7, 65)
    assert (g.drift.psi_warn, g.drift.psi_alert) == (0.1, 0.25)


def test_a_postgres_history_and_an_exclusion_load():
    sf = load_spec_text(BASE + "governance:\n  history: postgresql://revops@db:5432/tierwise\n"
                               "  pipeline: {exclude_when: \"stall_reason in ['legal review']\"}\n")
    assert sf.spec.governance.history.startswith("postgresql://")
    assert "governance.pipeline.exclude_when" in sf.conditions


@pytest.mark.parametrize(("text", "expected"), [
    ("governance:\n  pipline: {}\n", "spec.yaml:8: governance.pipline: unknown key 'pipline' (did you mean 'pipeline'?)"),
    ("governance:\n  funnel:\n    benchmarks: [{from: sql, to: mql, rate: 0.3}]\n",
     "spec.yaml:9: governance.funnel.benchmarks[0]: 'mql' must come after 'sql' in the funnel"),
    ("governance:\n  funnel:\n    benchmarks: [{from: lead, to: deal, rate: 0.3}]\n",
     "governance.funnel.benchmarks[0].to:"),
    ("governance:\n  funnel:\n    lead_statuses: {mql: [MQL], sql: [mql]}\n",
     "status 'mql' is listed under both 'mql' and 'sql'"),
    ("governance:\n  pipeline:\n    zombies: {requalify_after_days: 45, close_after_days: 30}\n",
     "close_after_days (30) must not be below requalify_after_days (45)"),
    ("governance:\n  pipeline:\n    age_buckets_days: [50, 25]\n", "bucket bounds must increase"),
    ("governance:\n  guardrails: {min_segment_share: 0.7}\n", "min_segment_share must be below max_segment_share"),
    ("governance:\n  guardrails: {pooled_accounts_per_rep: {E: 100}}\n",
     "governance.guardrails.pooled_accounts_per_rep: unknown tier 'E'; tiers: A, B, C, D"),
    ("governance:\n  icp: {segments: [Enterprise]}\n",
     "governance.icp.segments: unknown segment 'Enterprise'; segments: Unsegmented"),
    ("governance:\n  drift: {psi_warn: 0.3, psi_alert: 0.2}\n", "psi_alert (0.2) must not be below psi_warn (0.3)"),
    ("governance:\n  drift: {attributes: [tech_stack]}\n",
     "spec.yaml:8: governance.drift.attributes[0]: 'tech_stack' is a list column"),
    ("governance:\n  pipeline: {exclude_when: \"stall_reasn == 'x'\"}\n",
     "spec.yaml:8: governance.pipeline.exclude_when: unknown column 'stall_reasn' (did you mean 'stall_reason'?)"),
])
def test_mistakes_are_reported_at_their_key(text, expected):
    assert expected in problems(text)
