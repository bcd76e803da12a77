"""The spec's ``rfm:`` section: score sets, a map that covers every combination, triggers, health columns —
each problem reported with its line."""

from __future__ import annotations

import textwrap

import pytest

from tierwise.spec import SpecError, load_spec_text
from tierwise.spec.model import RfmSegment, RfmSpec

DATA = "data:\n  accounts: {path: a.csv}\n  transactions: {path: t.csv}\nfit: {weight: 0}\nsignals: {weight: 60}\n" \
       "engagement: {weight: 40}\n"


def problems(text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec_text(DATA + textwrap.dedent(text).lstrip("\n"), source="spec.yaml")
    return str(info.value)


def test_the_seed_map_is_the_default_and_a_section_is_optional():
    spec = load_spec_text(DATA).spec
    assert spec.rfm is None  # the job uses RfmSpec(): the seed's map
    rfm = load_spec_text(DATA + "rfm: {clv: {horizon_days: 90}}\n").spec.rfm
    assert rfm is not None and rfm.clv.horizon_days == 90 and rfm.segments == RfmSpec().segments


@pytest.mark.parametrize(("written", "scores"), [(5, [5]), ("4-5", [4, 5]), ("1–2", [1, 2]), ([3, 1], [1, 3]),
                                                 (None, None)])
def test_score_sets_are_written_as_a_score_a_range_or_a_list(written, scores):
    assert RfmSegment(name="x", r=written).r == scores


def test_bad_score_sets_are_located():
    text = """
    rfm:
      segments:
        - {name: Top, r: 6}
        - {name: Rest}
    """
    assert "spec.yaml:9: rfm.segments[0].r: scores run from 1 to 5, got 6" in problems(text)
    assert "'5-4'" not in problems(text.replace("r: 6", "r: '4-5'"))  # valid
    assert "the range '5-4' is empty" in problems(text.replace("r: 6", "r: '5-4'"))


def test_a_map_with_gaps_is_refused_with_the_missing_combinations():
    text = """
    rfm:
      segments:
        - {name: Champions, r: 5, f: 5, m: 5}
        - {name: Recent, r: 4-5}
    """
    message = problems(text)
    assert "spec.yaml:7: rfm: segments leave 75 of the 125 R/F/M combinations without a segment (R1F1M1," in message
    assert "add a segment for them" in message


def test_a_segment_that_never_matches_is_refused():
    text = """
    rfm:
      segments:
        - {name: Everyone}
        - {name: Champions, r: 5, f: 5, m: 5}
    """
    assert "segment 'Champions' (R5 F5 M5) never matches: every combination it covers is taken by an earlier " \
           "segment" in problems(text)


def test_triggers_name_known_segments():
    text = """
    rfm:
      segments:
        - {name: Top, r: 5}
        - {name: Rest}
      triggers:
        - {from: Top, to: Gone, play: call them}
    """
    assert "triggers[0].to: unknown segment 'Gone'; segments: Top, Rest" in problems(text)


def test_duplicate_segment_names_are_refused():
    text = """
    rfm:
      segments:
        - {name: Top, r: 5}
        - {name: Top}
      triggers: []
    """
    assert "duplicate segment name 'Top'" in problems(text)


def test_health_reads_numeric_account_columns():
    text = """
    rfm:
      health:
        support: {field: open_tikets}
        usage: {field: industry}
    """
    message = problems(text)
    assert "spec.yaml:9: rfm.health.support.field: unknown column 'open_tikets'" in message
    assert "spec.yaml:10: rfm.health.usage.field: 'industry' is string; health usage needs a number" in message
    ok = DATA.replace("accounts: {path: a.csv}", "accounts: {path: a.csv, attributes: {open_tickets: int}}")
    spec = load_spec_text(ok + "rfm: {health: {support: {field: open_tickets}}}\n").spec
    assert spec.rfm is not None and spec.rfm.health.support is not None


def test_usage_events_need_the_activities_table():
    text = """
    rfm:
      health:
        usage: {events: [login]}
    """
    assert "rfm.health.usage.events: usage events are read from the activities table: add data.activities" \
        in problems(text)
    both = "rfm:\n  health:\n    usage: {events: [login], field: trend}\n"
    assert "usage needs 'events' (activity types) or 'field' (an account column), not both" in problems(both)


def test_health_bands_must_be_ordered():
    assert "watch (80) must be below healthy (70)" in problems("rfm: {health: {bands: {watch: 80}}}\n")


def test_unknown_keys_in_the_section_are_refused():
    assert "rfm.segmnets: unknown key 'segmnets' (did you mean 'segments'?)" in problems("rfm: {segmnets: []}\n")
