"""Spec validation: every problem is reported with file:line, key path and a plain message.

The expected texts are golden: a change in wording or location is a visible
change for users and should be made on purpose.
"""

from __future__ import annotations

import json
import textwrap
from importlib import resources
from pathlib import Path

import pytest

from tierwise.spec import SpecError, load_spec, load_spec_text
from tierwise.spec.reference import json_schema, markdown_reference

REPO_ROOT = Path(__file__).resolve().parents[2]


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")

#: A minimal valid spec; broken variants add or change a few lines.
DATA = "data:\n  accounts: {path: a.csv}\n"
FIT = "fit:\n  criteria:\n    - {name: size, field: employees, at_least: 10, points: 10}\n"


def problems(text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec_text(dedent(text), source="spec.yaml")
    return str(info.value)


def one_problem(line: str) -> str:
    return f"spec.yaml has 1 problem:\n  {line}"


def test_minimal_spec_loads_with_defaults():
    spec = load_spec_text(DATA + FIT).spec
    assert [t.name for t in spec.tiers] == ["A", "B", "C", "D"]
    assert (spec.fit.weight, spec.signals.weight, spec.engagement.weight) == (40, 35, 25)
    assert spec.segments.default.name == "Unsegmented"


def test_unknown_key_suggests_the_close_one():
    text = DATA + "fit:\n  weigth: 40\n  criteria:\n    - {name: size, field: employees, at_least: 10, points: 10}\n"
    assert problems(text) == one_problem(
        "spec.yaml:4: fit.weigth: unknown key 'weigth' (did you mean 'weight'?); allowed keys: criteria, weight"
    )


def test_unknown_top_level_key():
    assert problems(DATA + FIT + "tires: []\n") == one_problem(
        "spec.yaml:6: tires: unknown key 'tires' (did you mean 'tiers'?); allowed keys: as_of, data, engagement, "
        "engine, export, fit, governance, lead_scoring, lookalike, name, propensity, rfm, routing, segments, signals, "
        "territories, tiers, version"
    )


def test_weights_must_sum_to_100():
    assert problems(DATA + FIT + "signals: {weight: 30}\n") == one_problem(
        "spec.yaml:3: fit.weight: category weights must add up to 100: fit 40 + signals 30 + engagement 25 = 95"
    )


def test_learned_components_count_in_the_weights():
    assert problems(DATA + FIT + "propensity: {weight: 10}\n") == one_problem(
        "spec.yaml:3: fit.weight: category weights must add up to 100: fit 40 + signals 35 + engagement 25 + "
        "propensity 10 = 110"
    )
    spec = load_spec_text(DATA + FIT + "signals: {weight: 25}\npropensity: {weight: 5}\nlookalike: {weight: 5}\n").spec
    assert spec.uses_propensity and spec.lookalike.weight == 5


def test_propensity_can_replace_the_fit_criteria():
    spec = load_spec_text(DATA + "propensity: {replaces_fit: true}\n").spec
    assert spec.uses_propensity and not spec.fit.criteria
    assert "set propensity.weight to 0" in problems(
        DATA + "signals: {weight: 25}\npropensity: {replaces_fit: true, weight: 10}\n")
    assert "windows_days must be positive" in problems(DATA + FIT + "propensity: {windows_days: [0, 30]}\n")
    assert load_spec_text(DATA + FIT + "propensity: {windows_days: [90, 30, 90]}\n").spec.propensity.windows_days == [
        30, 90]


def test_tiers_must_decrease():
    text = DATA + FIT + "tiers:\n  - {name: A, min_score: 60}\n  - {name: B, min_score: 80}\n  - {name: C, min_score: 0}\n"
    assert problems(text) == one_problem(
        "spec.yaml:6: tiers: min_score must strictly decrease from the first tier to the last"
    )


def test_last_tier_must_be_zero():
    text = DATA + FIT + "tiers:\n  - {name: A, min_score: 80}\n  - {name: B, min_score: 10}\n"
    assert problems(text) == one_problem(
        "spec.yaml:6: tiers: the last tier must have min_score 0 so every score has a tier (got 10)"
    )


def test_criterion_with_two_matchers():
    text = DATA + """\
fit:
  criteria:
    - name: size
      field: employees
      at_least: 10
      at_most: 20
      points: 10
"""
    assert problems(text) == one_problem(
        "spec.yaml:5: fit.criteria[0]: a fit criterion needs exactly one of bands, values, in, contains, share_of, "
        "at_least, at_most, when (got at_least, at_most)"
    )


def test_band_min_must_be_below_max():
    text = DATA + """\
fit:
  criteria:
    - name: size
      field: employees
      bands:
        - {min: 10, max: 100, points: 2}
        - {min: 100, max: 100, points: 5}
"""
    assert problems(text) == one_problem(
        "spec.yaml:9: fit.criteria[0].bands[1]: band min (100) must be below max (100)"
    )


SEGMENT = DATA + FIT + "segments:\n  rules:\n    - name: Big\n      when: WHEN\n  default: {name: Rest}\n"


def test_unknown_column_in_segment_rule():
    assert problems(SEGMENT.replace("WHEN", "employes >= 10")) == one_problem(
        "spec.yaml:9: segments.rules[0].when: unknown column 'employes' (did you mean 'employees'?)"
    )


def test_unparsable_condition():
    assert problems(SEGMENT.replace("WHEN", '"employees >= and 5"')) == one_problem(
        "spec.yaml:9: segments.rules[0].when: cannot parse condition at column 14: invalid syntax "
        "in 'employees >= and 5'"
    )


def test_forbidden_function():
    assert problems(SEGMENT.replace("WHEN", "\"__import__('os')\"")) == one_problem(
        "spec.yaml:9: segments.rules[0].when: function '__import__' is not allowed; use one of: "
        "days_since, event_count, is_null, not_null in \"__import__('os')\""
    )


def test_fit_condition_cannot_read_scores():
    text = DATA + "fit:\n  criteria:\n    - {name: hot, when: 'score > 50', points: 5}\n"
    assert problems(text) == one_problem(
        "spec.yaml:5: fit.criteria[0].when: unknown column 'score' (scores are not available inside fit criteria)"
    )


def test_duplicate_yaml_key():
    text = DATA + "fit:\n  weight: 40\n  weight: 40\n  criteria:\n    - {name: size, field: employees, at_least: 1, points: 1}\n"
    assert problems(text) == one_problem("spec.yaml:5: fit.weight: key 'weight' appears twice")


def test_default_segment_takes_no_when():
    text = DATA + FIT + "segments:\n  default: {name: Rest, when: employees > 1}\n"
    assert problems(text) == one_problem(
        "spec.yaml:6: segments: the default segment takes no 'when': it catches every account no rule matched"
    )


def test_columns_mapping_to_unknown_canonical_column():
    text = "data:\n  accounts:\n    path: a.csv\n    columns: {employes: Staff}\n" + FIT
    assert problems(text) == one_problem(
        "spec.yaml:4: data.accounts.columns.employes: 'employes' is not a column of accounts "
        "(did you mean 'employees'?); columns: account_id, annual_revenue, business_units, city, country, "
        "created_at, domain, employees, funding_stage, industry, is_customer, name, owner_id, parent_account_id, "
        "region, revenue_growth, state, tech_stack, updated_at, website"
    )


def test_share_of_needs_a_list_column():
    text = DATA + "fit:\n  criteria:\n    - {name: ind, field: industry, share_of: [a, b], points: 10}\n"
    assert problems(text) == one_problem(
        "spec.yaml:5: fit.criteria[0].field: 'share_of' needs a list column, but 'industry' is string"
    )


def test_invalid_yaml_reports_its_line():
    assert problems("data:\n  accounts: [\n") == one_problem(
        "spec.yaml:3: invalid YAML: expected the node content, but found '<stream end>'"
    )


def test_every_problem_is_reported_sorted_by_line():
    """Problems in different sections are all collected, not just the first."""
    text = DATA + """\
fit:
  weigth: 40
  criteria:
    - {name: size, field: zzz, at_least: 10, points: 10}
segments:
  rules:
    - {name: Big, when: "employees >> 2"}
  default: {name: Rest}
"""
    message = problems(text)
    assert message.splitlines() == [
        "spec.yaml has 3 problems:",
        "  spec.yaml:4: fit.weigth: unknown key 'weigth' (did you mean 'weight'?); allowed keys: criteria, weight",
        "  spec.yaml:6: fit.criteria[0].field: unknown column 'zzz'",
        "  spec.yaml:9: segments.rules[0].when: operator 'employees >> 2' is not allowed; use + - * / "
        "in 'employees >> 2'",
    ]


def test_load_spec_names_the_missing_file(tmp_path):
    with pytest.raises(Exception, match=r"spec file not found: .*nope\.yaml \(create one with `tierwise init`\)"):
        load_spec(tmp_path / "nope.yaml")


def test_starter_spec_loads():
    text = resources.files("tierwise.spec").joinpath("starter.yaml").read_text(encoding="utf-8")
    spec = load_spec_text(text, source="starter.yaml").spec
    assert spec.fit.max_points == 40
    assert spec.signals.cap == 60 and spec.engagement.events["unsubscribe"].points == -10
    assert spec.segments.rules[0].touches_per_month == (8, 12)


def test_fingerprint_ignores_comments_and_layout():
    compact = DATA + FIT
    verbose = dedent("""
        # a comment
        data:
          accounts:
            path: a.csv     # inline comment
        fit:
          criteria:
            - name: size
              field: employees
              at_least: 10
              points: 10
        """)
    changed = compact.replace("points: 10", "points: 11")
    fingerprint = load_spec_text(compact).spec.fingerprint()
    assert load_spec_text(verbose).spec.fingerprint() == fingerprint
    assert load_spec_text(changed).spec.fingerprint() != fingerprint
    assert len(fingerprint) == 12


def test_json_schema_forbids_unknown_keys_in_every_section():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    for name in ("DataSpec", "SourceSpec", "FitSpec", "FitCriterion", "Band", "SignalsSpec", "EngagementSpec",
                 "EventRule", "Tier", "SegmentRule", "SegmentsSpec"):
        assert schema["$defs"][name]["additionalProperties"] is False, name
    assert "in" in schema["$defs"]["FitCriterion"]["properties"]  # the YAML key, not the Python name
    json.dumps(schema)  # serialisable


def test_committed_spec_reference_is_current():
    """docs/spec-reference.md is generated; regenerate with `make docs` when this fails."""
    committed = (REPO_ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    assert committed == markdown_reference() + "\n"


@pytest.mark.parametrize(("when", "message"), [
    ("\"employees == 'big'\"",
     "types do not fit: Arguments employees:int64 and Literal(big):string are not comparable "
     "in \"employees == 'big'\""),
    ("\"industry + 1 > 2\"",
     "types do not fit: an operator or function is applied to the wrong kind of value in 'industry + 1 > 2'"),
    ("\"employees * 2\"",
     "a condition must be true or false, but this gives a value of type int64 in 'employees * 2'"),
])
def test_condition_types_are_checked_when_the_spec_loads(when, message):
    """A type mismatch is a located spec problem, not an engine failure at scoring time."""
    assert problems(SEGMENT.replace("WHEN", when)) == one_problem(f"spec.yaml:9: segments.rules[0].when: {message}")


def test_well_typed_conditions_load():
    rules = ["event_count('demo', 3) >= 1 and days_since('x') < 5", "tier == 'A' and score > 3", "is_customer",
             "'snowflake' in tech_stack", "updated_at >= '2026-01-01'"]
    text = DATA + FIT + "segments:\n  rules:\n" + "".join(
        f"    - {{name: r{i}, when: \"{r}\"}}\n" for i, r in enumerate(rules)) + "  default: {name: Rest}\n"
    spec_file = load_spec_text(text)
    assert len(spec_file.spec.segments.rules) == 5
    assert len(spec_file.conditions) == 5  # every condition parsed once, kept for compiling


def test_a_category_section_keeps_its_seed_defaults_when_only_events_are_given():
    spec_file = load_spec_text(
        "data: {accounts: {path: a.csv}}\n"
        "fit: {criteria: [{name: size, field: employees, at_least: 100, points: 10}]}\n"
        "signals: {events: {funding_round: 30}}\n"
        "engagement: {events: {demo_request: 20}}\n"
    )
    spec = spec_file.spec
    assert (spec.signals.weight, spec.signals.window_days, spec.signals.half_life_days) == (35.0, 180, 45)
    assert (spec.engagement.weight, spec.engagement.window_days, spec.engagement.half_life_days) == (25.0, 90, 14)


def test_in_on_a_text_column_is_rejected_instead_of_matching_substrings():
    with pytest.raises(SpecError) as err:
        load_spec_text(
            "data: {accounts: {path: a.csv}}\n"
            "fit: {criteria: [{name: size, field: employees, at_least: 100, points: 10}]}\n"
            "segments:\n"
            "  rules: [{name: X, when: \"'soft' in industry\"}]\n"
            "  default: {name: D}\n",
            source="spec.yaml",
        )
    assert "needs a multi-valued (list) column, and industry is string" in str(err.value)


def test_routing_rules_are_checked():
    base = DATA + FIT + "routing:\n  rules:\n"
    default = "  default: {name: nurture, to: queue, target: nurture}\n"
    assert "'to: pool' needs 'pool'" in problems(base + "    - {name: a, when: \"employees > 5\", to: pool}\n" + default)
    assert "routing.rules[0].when: unknown column 'account_teir' (did you mean 'account_tier'?)" in problems(
        base + "    - {name: a, when: \"account_teir == 'A'\", to: queue, target: q}\n" + default)
    assert "the default route needs 'fallback'" in problems(
        base + "    - {name: a, when: \"account_tier == 'A'\", to: queue, target: q}\n"
        "  default: {name: d, to: account_owner}\n")
    spec = load_spec_text(DATA + FIT + "routing:\n  rules:\n    - {name: a, when: \"account_tier == 'A' and "
                          "lead_source == 'web'\", to: account_owner, fallback: q}\n" + default).spec
    assert spec.routing.rules[0].to == "account_owner"


def test_lead_scoring_defaults_and_mistakes():
    from tierwise.spec.model import Spec

    base = {"data": {"accounts": {"path": "a.csv"}},
            "fit": {"criteria": [{"name": "s", "field": "employees", "at_least": 1, "points": 1}]}}
    spec = Spec.model_validate({**base, "lead_scoring": {"behaviour": [{"name": "g", "events": {"demo": 5}}]}})
    ls = spec.lead_scoring
    assert (ls.mql.top_share, ls.mql.threshold, ls.decay.monthly_rate, ls.negatives.personal_email.points,
            ls.negatives.competitor.points, ls.negatives.wrong_size.points) == (0.2, None, 0.25, -15, -50, -20)
    assert Spec.model_validate({**base, "lead_scoring": {"mql": {"threshold": 60}}}).lead_scoring.mql.top_share is None
    for section, message in (
        ({"mql": {"threshold": 60, "top_share": 0.2}}, "give 'threshold' or 'top_share', not both"),
        ({"behaviour": [{"name": "g", "events": {"Demo": 5}}]}, "event type 'Demo' must be lower case"),
        ({"behaviour": [{"name": "g"}]}, "needs 'events' or 'criteria'"),
        ({"behaviour": [{"name": "a", "events": {"x": 1}}, {"name": "b", "events": {"x": 2}}]},
         "event type 'x' is in behaviour groups 'a' and 'b'"),
        ({"negatives": {"wrong_size": {"min": 500, "max": 50}}}, "min \\(500\\) must be below max \\(50\\)"),
    ):
        with pytest.raises(ValueError, match=message):
            Spec.model_validate({**base, "lead_scoring": section})
