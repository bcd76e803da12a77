"""Scoring arithmetic (docs/scoring.md) checked against hand-computed values.

Each test scores a tiny workspace through ``tierwise.jobs.score.score`` with
``as_of = 2026-11-01`` and reads the written scores.parquet.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tierwise.spec import load_spec

AS_OF = date(2026, 11, 1)


def days_ago(n: int) -> str:
    return (AS_OF - timedelta(days=n)).isoformat()


def activities(*events: tuple[str, str, int | str]) -> str:
    """CSV of (account_id, event_type, age in days or a literal timestamp)."""
    lines = ["account_id,event_type,occurred_at"]
    for account, etype, when in events:
        lines.append(f"{account},{etype},{days_ago(when) if isinstance(when, int) else when}")
    return "\n".join(lines) + "\n"


def accounts(*ids: str, header: str = "account_id") -> str:
    return header + "\n" + "\n".join(ids) + "\n"


# Signals/engagement only: fit weight 0 needs no criteria.
EVENTS_ONLY = """\
fit: {weight: 0}
signals:
  weight: 50
  window_days: 30
  half_life_days: 30
  cap: 100
  events:
    funding_round: 10
    hiring_surge: {points: 10, window_days: 5}
    intent_surge: {points: 10, window_days: 60, half_life_days: 60}
engagement:
  weight: 50
  window_days: 90
  half_life_days: 10
  cap: 40
  events:
    demo_request: 20
    pricing_page_visit: {points: 8, cap: 12}
    webinar_attended: 5
    unsubscribe: -10
"""


# --------------------------------------------------------------------------- decay, caps, windows


def test_exponential_decay(score_rows):
    rows = score_rows(EVENTS_ONLY, accounts("H", "Q", "Z", "T", "N"), activities(
        ("H", "demo_request", 10),   # one half-life: 20 * 0.5 = 10 points -> 10/40 = 25
        ("Q", "demo_request", 5),    # 20 * 0.5 ** 0.5 = 14.1421 -> 35.36
        ("Z", "demo_request", 0),    # 20 -> 50
        ("T", "demo_request", 0), ("T", "demo_request", 10),  # 20 + 10 = 30 -> 75
    ))
    assert {k: r["engagement_score"] for k, r in rows.items()} == {
        "H": 25.0, "Q": 35.36, "Z": 50.0, "T": 75.0, "N": 0.0,
    }
    # score = (0 * fit + 50 * signals + 50 * engagement) / 100, from unrounded parts
    assert rows["H"]["score"] == 12.5
    assert rows["Q"]["score"] == 17.68  # 50 * 35.3553 / 100 = 17.6777
    assert rows["N"]["score"] == 0.0 and rows["N"]["tier"] == "D"


def test_per_type_cap(score_rows):
    rows = score_rows(EVENTS_ONLY, accounts("P", "P2"), activities(
        *[("P", "pricing_page_visit", 0)] * 3,       # 3 x 8 = 24, capped at 12 -> 12/40 = 30
        ("P2", "pricing_page_visit", 0),            # 8 -> 20
    ))
    assert rows["P"]["engagement_score"] == 30.0
    assert rows["P2"]["engagement_score"] == 20.0


def test_category_cap_shares_contributions_in_proportion(score_rows):
    """raw 30 > cap 20: both types keep 2/3 of their points; reasons sum to the score."""
    spec = """\
fit: {weight: 0}
signals:
  weight: 50
  cap: 20
  half_life_days: 10
  events: {funding_round: 20, hiring_surge: 10}
engagement: {weight: 50}
"""
    rows = score_rows(spec, accounts("X"), activities(("X", "funding_round", 0), ("X", "hiring_surge", 0)))
    x = rows["X"]
    assert x["signal_score"] == 100.0 and x["score"] == 50.0
    # funding 20 * (20/30) * (50/20) = 33.33, hiring 10 * (20/30) * (50/20) = 16.67
    assert x["reason_1"] == "funding_round today: +33.3"
    assert x["reason_2"] == "hiring_surge today: +16.7"
    assert x["reason_3"] is None


def test_window_edges(score_rows):
    rows = score_rows(EVENTS_ONLY, accounts("W30", "W31", "FUT", "TODAY", "LATE"), activities(
        ("W30", "funding_round", 30),                     # age == window: counts, 10 * 0.5 = 5
        ("W31", "funding_round", 31),                     # window + 1: ignored
        ("FUT", "funding_round", "2026-11-02"),           # after as_of: ignored (no look-ahead)
        ("TODAY", "funding_round", "2026-11-01 00:00:00"),  # on as_of: age 0, full 10
        ("LATE", "funding_round", "2026-11-01 23:59:59"),   # later the same day is still age 0
    ))
    assert {k: r["signal_score"] for k, r in rows.items()} == {
        "W30": 5.0, "W31": 0.0, "FUT": 0.0, "TODAY": 10.0, "LATE": 10.0,
    }
    assert rows["W30"]["reason_1"] == "funding_round 30 days ago: +2.5"


def test_event_type_overrides_window_and_half_life(score_rows):
    rows = score_rows(EVENTS_ONLY, accounts("H5", "H6", "I45", "I61"), activities(
        ("H5", "hiring_surge", 5),    # type window 5: counts, 10 * 0.5 ** (5/30) = 8.909
        ("H6", "hiring_surge", 6),    # outside the type window although the category's is 30
        ("I45", "intent_surge", 45),  # type window 60 beyond the category's 30; 10 * 0.5 ** (45/60) = 5.946
        ("I61", "intent_surge", 61),
    ))
    assert rows["H5"]["signal_score"] == 8.91
    assert rows["H6"]["signal_score"] == 0.0
    assert rows["I45"]["signal_score"] == 5.95
    assert rows["I61"]["signal_score"] == 0.0


def test_event_types_match_trimmed_and_lower_cased(score_rows):
    rows = score_rows(EVENTS_ONLY, accounts("C"), activities(("C", " Demo_Request ", 0), ("C", "unknown_type", 0)))
    assert rows["C"]["engagement_score"] == 50.0


def test_negative_points_and_floor_at_zero(score_rows):
    rows = score_rows(EVENTS_ONLY, accounts("NEG", "MIX", "OLD"), activities(
        ("NEG", "webinar_attended", 0), ("NEG", "unsubscribe", 0),   # 5 - 10 = -5 -> floored at 0
        ("MIX", "demo_request", 0), ("MIX", "unsubscribe", 0),       # 20 - 10 = 10 -> 25
        ("OLD", "demo_request", 0), ("OLD", "unsubscribe", 10),      # 20 - 5 (decayed) = 15 -> 37.5
    ))
    assert rows["NEG"]["engagement_score"] == 0.0
    assert rows["NEG"]["reason_1"] is None  # nothing positive reaches the total
    assert rows["MIX"]["engagement_score"] == 25.0
    assert rows["OLD"]["engagement_score"] == 37.5
    # the demo contributes its points x f x weight/cap with f = 1 (raw below cap); negatives are not reasons
    assert rows["MIX"]["reason_1"] == "demo_request today: +25.0"
    assert rows["MIX"]["reason_2"] is None


def test_negative_points_are_never_capped(score_rows):
    spec = EVENTS_ONLY.replace("unsubscribe: -10", "unsubscribe: {points: -10, cap: 5}").replace("cap: 40", "cap: 100")
    rows = score_rows(spec, accounts("U"), activities(
        *[("U", "demo_request", 0)] * 3, *[("U", "unsubscribe", 0)] * 2,  # 60 - 20 = 40
    ))
    assert rows["U"]["engagement_score"] == 40.0


def test_no_activities_table_scores_events_as_zero(score_rows):
    rows = score_rows(EVENTS_ONLY, accounts("A"))
    assert (rows["A"]["signal_score"], rows["A"]["engagement_score"], rows["A"]["score"]) == (0.0, 0.0, 0.0)


# --------------------------------------------------------------------------- fit matchers

FIT_ONLY = "fit:\n  weight: 100\n  criteria:\n    - {crit}\nsignals: {{weight: 0}}\nengagement: {{weight: 0}}\n"


def fit_scores(score_rows, criterion: str, csv: str) -> dict[str, float]:
    rows = score_rows(FIT_ONLY.format(crit=criterion), csv)
    return {k: r["fit_score"] for k, r in rows.items()}


def test_bands_min_inclusive_max_exclusive(score_rows):
    crit = ("{name: size, field: employees, bands: [{max: 100, points: 2}, {min: 100, max: 500, points: 5}, "
            "{min: 500, points: 10}]}")
    csv = "account_id,employees\nA,99\nB,100\nC,499\nD,500\nE,\nF,0\n"
    assert fit_scores(score_rows, crit, csv) == {"A": 20.0, "B": 50.0, "C": 50.0, "D": 100.0, "E": 0.0, "F": 20.0}


def test_bands_first_match_wins(score_rows):
    crit = "{name: size, field: employees, points: 10, bands: [{min: 0, points: 3}, {min: 100, points: 10}]}"
    assert fit_scores(score_rows, crit, "account_id,employees\nA,200\n") == {"A": 30.0}


def test_values_case_insensitive(score_rows):
    crit = "{name: industry, field: industry, values: {Software: 10, financial services: 6}}"
    csv = "account_id,industry\nA,software\nB,FINANCIAL SERVICES\nC, Software \nD,Retail\nE,\n"
    assert fit_scores(score_rows, crit, csv) == {"A": 100.0, "B": 60.0, "C": 100.0, "D": 0.0, "E": 0.0}


def test_in_list(score_rows):
    crit = "{name: geo, field: country, in: [US, gb], points: 5}"
    csv = "account_id,country\nA,us\nB,GB\nC,FR\nD,\n"
    assert fit_scores(score_rows, crit, csv) == {"A": 100.0, "B": 100.0, "C": 0.0, "D": 0.0}


def test_share_of_with_full_at(score_rows):
    crit = "{name: tech, field: tech_stack, share_of: [salesforce, snowflake, segment, hubspot], full_at: 2, points: 10}"
    csv = ("account_id,tech_stack\nA,Salesforce\nB,salesforce;SNOWFLAKE\nC,salesforce;snowflake;segment\n"
           "D,marketo\nE,\nF,salesforce;salesforce\n")
    # F: duplicates collapse on load, so one item counts once
    assert fit_scores(score_rows, crit, csv) == {"A": 50.0, "B": 100.0, "C": 100.0, "D": 0.0, "E": 0.0, "F": 50.0}


def test_share_of_defaults_to_the_whole_list(score_rows):
    crit = "{name: tech, field: tech_stack, share_of: [salesforce, snowflake, segment, hubspot], points: 8}"
    assert fit_scores(score_rows, crit, "account_id,tech_stack\nA,snowflake\nB,hubspot;segment;snowflake\n") == {
        "A": 25.0, "B": 75.0,
    }


def test_at_least_and_at_most(score_rows):
    csv = "account_id,business_units,employees\nA,3,50\nB,2,51\nC,,\n"
    assert fit_scores(score_rows, "{name: bu, field: business_units, at_least: 3, points: 5}", csv) == {
        "A": 100.0, "B": 0.0, "C": 0.0,
    }
    assert fit_scores(score_rows, "{name: small, field: employees, at_most: 50, points: 5}", csv) == {
        "A": 100.0, "B": 0.0, "C": 0.0,
    }


def test_when_criterion(score_rows):
    crit = "{name: ideal, when: \"industry == 'software' and employees >= 100\", points: 7}"
    csv = "account_id,industry,employees\nA,Software,100\nB,Software,99\nC,,500\n"
    assert fit_scores(score_rows, crit, csv) == {"A": 100.0, "B": 0.0, "C": 0.0}


def test_fit_score_is_share_of_all_criteria_points(score_rows):
    spec = """\
fit:
  weight: 40
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 4}]}
    - {name: geo, field: country, in: [US], points: 5}
"""
    rows = score_rows(spec, "account_id,employees,country\nA,150,US\n")
    # (4 + 5) / 15 = 60 -> score 40 * 60 / 100 = 24
    assert (rows["A"]["fit_score"], rows["A"]["score"]) == (60.0, 24.0)


# --------------------------------------------------------------------------- tiers and rounding

TIERS = ("fit:\n  weight: 100\n  criteria:\n    - {name: grade, field: industry, points: 100, values: "
         "{a: 40, b: 60, c: 80, d: 39.99, e: 79.99, f: 79.996, g: 0.125}}\n"
         "signals: {weight: 0}\nengagement: {weight: 0}\n")


def test_scores_on_tier_boundaries(score_rows):
    rows = score_rows(TIERS, "account_id,industry\nA,a\nB,b\nC,c\nD,d\nE,e\nF,f\nN,none\n")
    assert {k: (r["score"], r["tier"]) for k, r in rows.items()} == {
        "A": (40.0, "C"), "B": (60.0, "B"), "C": (80.0, "A"), "D": (39.99, "D"), "E": (79.99, "B"),
        "F": (80.0, "A"),  # 79.996 rounds to 80.00, and the tier is read from the rounded score
        "N": (0.0, "D"),
    }


def test_rounding_uses_the_engine_round(score_rows):
    """DuckDB's ROUND takes an exact tie away from zero (Python's round() would give 0.12)."""
    rows = score_rows(TIERS, "account_id,industry\nG,g\n")
    assert rows["G"]["score"] == 0.13  # 0.125 is exact in binary


def test_total_is_computed_from_unrounded_parts(score_rows):
    spec = TIERS.replace("weight: 100", "weight: 50").replace("engagement: {weight: 0}", "engagement: {weight: 50}")
    rows = score_rows(spec, "account_id,industry\nG,g\n")
    assert rows["G"]["fit_score"] == 0.13
    assert rows["G"]["score"] == 0.06  # 50 * 0.125 / 100 = 0.0625; from the rounded 0.13 it would be 0.07


def test_custom_tiers(score_rows):
    spec = TIERS + "tiers:\n  - {name: Hot, min_score: 50}\n  - {name: Cold, min_score: 0}\n"
    rows = score_rows(spec, "account_id,industry\nA,a\nB,b\n")
    assert (rows["A"]["tier"], rows["B"]["tier"]) == ("Cold", "Hot")


# --------------------------------------------------------------------------- reasons

REASONS = """\
fit:
  weight: 40
  criteria:
    - {name: industry, field: industry, values: {software: 10, retail: 4}}
    - {name: geo, field: country, in: [US], points: 10}
signals: {weight: 35}
engagement:
  weight: 25
  window_days: 90
  half_life_days: 21
  cap: 50
  events:
    demo_request: 20
    pricing_page_visit: {points: 8, cap: 24}
"""


def test_reasons_text_and_order(score_rows):
    rows = score_rows(REASONS, "account_id,industry,country\nA,Software,FR\nB,,\n", activities(
        ("A", "demo_request", 6),
        ("A", "pricing_page_visit", 3), ("A", "pricing_page_visit", 2),
        ("B", "demo_request", 1), *[("B", "pricing_page_visit", 0)] * 3,
    ))
    a = rows["A"]
    # fit: 10 of 20 points -> 10 * 40 / 20 = 20.0 score points
    assert a["reason_1"] == "industry = software: +20.0"
    # 20 * 0.5 ** (6/21) = 16.407 points -> 16.407 * 25 / 50 = 8.2
    assert a["reason_2"] == "demo_request 6 days ago: +8.2"
    # 8 * (0.5 ** (2/21) + 0.5 ** (3/21)) = 14.734 -> 7.4
    assert a["reason_3"] == "pricing_page_visit x2, latest 2 days ago: +7.4"
    assert a["fit_score"] == 50.0
    assert a["engagement_score"] == 62.28  # (16.407 + 14.734) / 50
    assert a["score"] == 35.57             # 40 * 50 / 100 + 25 * 62.282 / 100
    b = rows["B"]
    # 3 x 8 = 24 (the type cap) -> 12.0; 20 * 0.5 ** (1/21) = 19.35 -> 9.7
    assert (b["reason_1"], b["reason_2"], b["reason_3"]) == (
        "pricing_page_visit x3, latest today: +12.0", "demo_request 1 day ago: +9.7", None,
    )


def test_reason_ties_keep_the_spec_order(score_rows):
    rows = score_rows(REASONS, "account_id,industry,country\nA,Software,US\nB,Retail,\n")
    assert (rows["A"]["reason_1"], rows["A"]["reason_2"], rows["A"]["reason_3"]) == (
        "industry = software: +20.0", "country = US: +20.0", None,
    )
    assert rows["B"]["reason_1"] == "industry = retail: +8.0"


def test_fit_reason_labels_per_matcher(score_rows):
    spec = """\
fit:
  weight: 100
  criteria:
    - {name: size, field: employees, bands: [{min: 100, points: 10}]}
    - {name: tech, field: tech_stack, share_of: [salesforce, snowflake], points: 10}
    - {name: ideal, when: "employees > 1", points: 10}
signals: {weight: 0}
engagement: {weight: 0}
"""
    rows = score_rows(spec, "account_id,employees,tech_stack\nA,6000,Snowflake;Salesforce;Marketo\n")
    # equal contributions keep the spec's order
    assert [rows["A"][f"reason_{i}"] for i in (1, 2, 3)] == [
        "employees = 6000: +33.3", "tech_stack has salesforce, snowflake: +33.3", "ideal: +33.3",
    ]


# --------------------------------------------------------------------------- segments and output columns

SEGMENTS = """\
fit:
  weight: 100
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 5}]}
signals: {weight: 0}
engagement: {weight: 0}
segments:
  rules:
    - {name: Big, when: "employees >= 1000", priority: P0, motion: field_sales, touches_per_month: [8, 12]}
    - {name: Mid, when: "employees >= 100", priority: P2, motion: inside_sales, touches_per_month: 4}
    - {name: Scored, when: "tier == 'D' and score == 0 and fit_score < 1", priority: P4}
  default: {name: Rest, priority: P5, motion: product_led}
"""


def test_segments_first_match_wins_then_default(score_rows):
    rows = score_rows(SEGMENTS, "account_id,employees\nBIG,5000\nMID,500\nZERO,5\nNONE,\n")
    assert {k: (r["segment"], r["priority"], r["motion"], r["touches_per_month"]) for k, r in rows.items()} == {
        "BIG": ("Big", "P0", "field_sales", "8-12"),     # also matches Mid: the first rule wins
        "MID": ("Mid", "P2", "inside_sales", "4-4"),
        "ZERO": ("Scored", "P4", "", ""),                # rules can read scores and the tier
        "NONE": ("Scored", "P4", "", ""),
    }


def test_segment_default_catches_the_rest(score_rows):
    spec = SEGMENTS.replace("fit_score < 1", "fit_score < 0")
    rows = score_rows(spec, "account_id,employees\nZERO,5\nNONE,\n")
    assert {r["segment"] for r in rows.values()} == {"Rest"}
    assert rows["NONE"]["motion"] == "product_led" and rows["NONE"]["touches_per_month"] == ""


def test_event_count_and_days_since_in_segment_rules(score_rows):
    spec = """\
fit: {weight: 0}
signals: {weight: 50, events: {funding_round: 10}}
engagement: {weight: 50, events: {demo_request: 10}}
segments:
  rules:
    - {name: Hot, when: "event_count('demo_request', 14) >= 2"}
    - {name: Funded, when: "days_since('funding_round') <= 30"}
    - {name: Webinar, when: "event_count('webinar', 7) >= 1"}
  default: {name: Cold}
"""
    rows = score_rows(spec, accounts("H", "H2", "F30", "F31", "FUT", "W", "N"), activities(
        ("H", "demo_request", 3), ("H", "Demo_Request", 14),     # both within 14 days
        ("H2", "demo_request", 3), ("H2", "demo_request", 15),   # the second is 15 days old
        ("F30", "funding_round", 30), ("F30", "funding_round", 90),  # the latest counts
        ("F31", "funding_round", 31),
        ("FUT", "funding_round", "2026-11-05"), ("FUT", "demo_request", "2026-11-02"),  # after as_of
        ("W", "webinar", 7),  # an event type the scoring ignores can still drive a segment
    ))
    assert {k: r["segment"] for k, r in rows.items()} == {
        "H": "Hot", "H2": "Cold", "F30": "Funded", "F31": "Cold", "FUT": "Cold", "W": "Webinar", "N": "Cold",
    }


def test_output_columns_spec_hash_and_as_of(score_rows, make_workspace):
    from tierwise.compile.scoring import OUTPUT_COLUMNS
    from tierwise.jobs.score import score

    spec_path = make_workspace(SEGMENTS, {"accounts.csv": "account_id,name,owner_id,employees\nA,Acme,R1,5000\n"})
    result = score(spec_path, spec_path.parent / "out", as_of=AS_OF)
    import pyarrow.parquet as pq

    table = pq.read_table(result.files["parquet"])
    assert tuple(table.column_names) == OUTPUT_COLUMNS
    # the score columns are DOUBLE, also for categories without criteria or events
    for name in ("fit_score", "signal_score", "engagement_score", "score"):
        assert str(table.schema.field(name).type) == "double", name
    assert str(table.schema.field("as_of").type) == "date32[day]"
    row = table.to_pylist()[0]
    assert row["spec_hash"] == load_spec(spec_path).spec.fingerprint() == result.summary["spec_hash"]
    assert row["as_of"] == AS_OF and result.summary["as_of"] == "2026-11-01"
    assert (row["account_name"], row["owner_id"]) == ("Acme", "R1")
    assert result.summary["tiers"]["A"]["accounts"] == 1
    assert result.summary["segments"] == [
        {"segment": "Big", "priority": "P0", "motion": "field_sales", "accounts": 1, "share": 1.0},
    ]


def test_as_of_comes_from_the_spec_when_not_given(make_workspace):
    from tierwise.jobs.score import score

    spec_path = make_workspace("as_of: 2026-01-15\n" + SEGMENTS, {"accounts.csv": "account_id,employees\nA,5\n"})
    result = score(spec_path, spec_path.parent / "out")
    assert result.as_of == date(2026, 1, 15)


@pytest.mark.parametrize("as_of", [date(2026, 11, 1), date(2026, 10, 22)])
def test_scores_move_with_as_of(score_rows, as_of):
    rows = score_rows(EVENTS_ONLY, accounts("A"), activities(("A", "demo_request", 0)), as_of=as_of)
    # the event happened on 2026-11-01: full points on that day, not yet happened ten days before
    assert rows["A"]["engagement_score"] == (50.0 if as_of == AS_OF else 0.0)


# --------------------------------------------------------------------------- learned components


def test_learned_components_weigh_in_with_their_reasons(engine):
    import ibis

    from tierwise.compile.scoring import compile_scores
    from tierwise.spec.loader import load_spec_text

    spec_file = load_spec_text("""
data: {accounts: {path: a.csv}}
fit: {weight: 50, criteria: [{name: size, field: employees, at_least: 100, points: 10}]}
signals: {weight: 0}
engagement: {weight: 0}
propensity: {weight: 30}
lookalike: {weight: 20}
""")
    accounts = engine.register(ibis.memtable({"account_id": ["A1", "A2"], "employees": [500, 5]}))
    propensity = engine.register(ibis.memtable({"account_id": ["A1", "A2"], "score": [80.0, 10.0],
                                                "reason": ["industry is software: raises the odds (+0.4)", None]}))
    lookalike = engine.register(ibis.memtable({"account_id": ["A1"], "score": [50.0], "reason": ["x"]}))
    expr = compile_scores(spec_file, accounts, None, as_of=AS_OF,
                          components={"propensity": propensity, "lookalike": lookalike})
    rows = {r["account_id"]: r for r in engine.to_arrow(expr).to_pylist()}
    # A1: 0.5*100 + 0.3*80 + 0.2*50 = 84; A2: 0.3*10 = 3, no lookalike row counts as 0
    assert (rows["A1"]["score"], rows["A1"]["propensity_score"], rows["A1"]["lookalike_score"]) == (84.0, 80.0, 50.0)
    assert (rows["A2"]["score"], rows["A2"]["lookalike_score"]) == (3.0, 0.0)
    assert rows["A1"]["reason_1"] == "employees = 500: +50.0"
    assert rows["A1"]["reason_2"] == "propensity 80.0 (industry is software: raises the odds (+0.4)): +24.0"
    assert rows["A1"]["reason_3"] == "lookalike 50.0 (x): +10.0"
    assert rows["A2"]["reason_1"] == "propensity 10.0: +3.0"
    assert list(expr.columns).index("propensity_score") == list(expr.columns).index("engagement_score") + 1
    with pytest.raises(ValueError, match="the spec uses lookalike but no lookalike scores were given"):
        compile_scores(spec_file, accounts, None, as_of=AS_OF, components={"propensity": propensity})


def test_propensity_replaces_fit(engine):
    import ibis

    from tierwise.compile.scoring import compile_scores
    from tierwise.spec.loader import load_spec_text

    spec_file = load_spec_text("data: {accounts: {path: a.csv}}\npropensity: {replaces_fit: true}\n")
    accounts = engine.register(ibis.memtable({"account_id": ["A1"]}))
    propensity = engine.register(ibis.memtable({"account_id": ["A1"], "score": [90.0], "reason": ["r"]}))
    row = engine.to_arrow(compile_scores(spec_file, accounts, None, as_of=AS_OF,
                                         components={"propensity": propensity})).to_pylist()[0]
    assert (row["fit_score"], row["propensity_score"], row["score"]) == (90.0, 90.0, 36.0)  # 40% of 90
    assert row["reason_1"] == "propensity 90.0 (r): +36.0"
