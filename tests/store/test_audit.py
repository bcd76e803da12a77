"""The audit log: append-only batches, duplicates skipped, crash tails ignored, reload."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tierwise.errors import DataError
from tierwise.models.routing import Decision
from tierwise.store.audit import AuditLog

AT = datetime(2026, 3, 2, 9, tzinfo=timezone(timedelta(hours=1)))


def decision(i, **changes):
    d = Decision(f"L{i}", "tier_a", f"rule 'tier_a' matched: tier = \"A\"; owner R{i}", "owner", f"R{i}",
                 AT + timedelta(hours=1), AT, f"key{i}", None)
    return d._replace(**changes)


def test_record_and_reload_round_trip(tmp_path):
    path = tmp_path / "logs" / "audit.jsonl"
    log = AuditLog(path)
    batch = [decision(1), decision(2, sla_due=None, fallback_used="owner_inactive", target_kind="queue",
                                   target="triage"), decision(3, lead_id="Zoë \"Q\"\n", why="naïve ✓")]
    assert log.record(batch, state={"cursor": {"ae": "R2"}, "assigned": {"R1": 4}}) == (3, 0)
    again = AuditLog(path)
    assert len(again) == 3 and list(again) == batch
    assert again.seen("key3") == batch[2] and again.seen("nope") is None
    assert again.seen("key1").sla_due.utcoffset() == timedelta(hours=1)
    assert again.state == {"cursor": {"ae": "R2"}, "assigned": {"R1": 4}}
    assert again.seen_many(["key2", "x", "key1"], replay=True) == [batch[1]._replace(replay=True), None,
                                                                 batch[0]._replace(replay=True)]
    assert again.warnings == []
    assert path.read_text(encoding="utf-8").count("\n") == 4  # three decisions and one commit line


def test_duplicates_and_replays_are_not_written_twice(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.record([decision(1), decision(1), decision(2, replay=True)]) == (1, 2)
    assert log.record([decision(1, target="R9"), decision(3)]) == (1, 1)
    assert log.seen("key1").target == "R1"  # the first decision for a key stands
    assert log.record([]) == (0, 0)
    assert len(AuditLog(tmp_path / "audit.jsonl")) == 2


def test_two_writers_on_one_file_do_not_log_a_key_twice(tmp_path):
    a, b = AuditLog(tmp_path / "audit.jsonl"), AuditLog(tmp_path / "audit.jsonl")
    assert a.record([decision(1)]) == (1, 0)
    assert b.record([decision(1, target="R7"), decision(2)]) == (1, 1)  # b reads a's batch first
    assert b.seen("key1").target == "R1"
    assert len(AuditLog(tmp_path / "audit.jsonl")) == 2


def test_unfinished_batch_is_ignored_then_cut_off(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).record([decision(1)])
    good = path.read_bytes()
    # a crash mid-batch: one complete decision line, then half a line, no commit line
    path.write_bytes(good + b'{"idempotency_key":"key2","lead_id":"L2","rule":"x"}\n{"idempotency_key":"ke')
    with pytest.warns(UserWarning, match="ignored .* byte\\(s\\) of an unfinished batch"):
        log = AuditLog(path)
    assert len(log) == 1 and log.seen("key2") is None
    assert log.record([decision(3)]) == (1, 0)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(good.decode()) and "key2" not in text
    reread = AuditLog(path)
    assert [d.lead_id for d in reread] == ["L1", "L3"] and reread.warnings == []


def test_unreadable_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).record([decision(1), decision(2)])
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(lines[0] + "not json\n" + "".join(lines[1:]), encoding="utf-8")
    with pytest.warns(UserWarning, match="skipped unreadable line 2"):
        log = AuditLog(path)
    assert [d.lead_id for d in log] == ["L1", "L2"]


def test_folder_path_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        AuditLog(tmp_path)
