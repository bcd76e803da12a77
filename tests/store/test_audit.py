"""The audit log: append-only batches, duplicates skipped, crash tails ignored, reload."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
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


# a batch written by the line-by-line writer of earlier versions: logs like it must keep loading
OLD_LOG = (
    b'{"idempotency_key":"key1","lead_id":"L1","rule":"tier_a","why":"rule \'tier_a\' matched: tier = \\"A\\"; '
    b'owner R1","target_kind":"owner","target":"R1","sla_due":"2026-03-02T10:00:00+01:00",'
    b'"decided_at":"2026-03-02T09:00:00+01:00","fallback_used":null}\n'
    b'{"idempotency_key":"key2","lead_id":"Zo\xc3\xab \\"Q\\"\\n\\\\","rule":"default",'
    b'"why":"na\xc3\xafve \xe2\x9c\x93\\t\\u0001","target_kind":"queue","target":"triage","sla_due":null,'
    b'"decided_at":"2026-03-02T09:00:00.123456","fallback_used":"owner_inactive"}\n'
    b'{"_commit":2,"state":{"assigned":{"R1":1},"cursor":{"ae":"R1"}},"written_at":"2026-11-23T14:40:48.308793+00:00"}\n'
)
OLD_DECISIONS = [
    decision(1),
    Decision("Zoë \"Q\"\n\\", "default", "naïve ✓\t\x01", "queue", "triage", None,
             datetime(2026, 3, 2, 9, 0, 0, 123456), "key2", "owner_inactive"),
]


def test_log_written_by_earlier_versions_loads_and_is_rewritten_byte_for_byte(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(OLD_LOG)
    log = AuditLog(path)
    assert list(log) == OLD_DECISIONS and log.state == {"cursor": {"ae": "R1"}, "assigned": {"R1": 1}}
    assert log.seen_many(["key2", "key1"]) == OLD_DECISIONS[::-1]
    fresh = AuditLog(tmp_path / "again.jsonl")
    fresh.record(OLD_DECISIONS, state={"cursor": {"ae": "R1"}, "assigned": {"R1": 1}})
    written = (tmp_path / "again.jsonl").read_bytes()
    assert written[:written.rindex(b'"written_at"')] == OLD_LOG[:OLD_LOG.rindex(b'"written_at"')]


TRICKY = ["", "plain", 'quote " and \\ backslash', "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f", "naïve ✓ 😀",
          "\u2028\u2029", "</script>", "'single'"]


def tricky_decisions(n, tz=None):
    out = []
    for i in range(n):
        text = TRICKY[i % len(TRICKY)]
        at = datetime(2026, 3, 2, 9, tzinfo=tz) if i % 50 else datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=tz)
        due = None if i % 7 == 0 else at + timedelta(minutes=i, microseconds=i % 3)
        out.append(Decision(f"L{i}{text if i % 3 == 0 else ''}", f"rule {text}", f"why {i % 11} {text}",
                            ("owner", "queue", "pool")[i % 3], None if i % 5 == 0 else f"R{i % 4}{text}", due, at,
                            f"{i:032x}", None if i % 4 else f"code {text}"))
    return out


@pytest.mark.parametrize("tz", [None, timezone.utc, timezone(timedelta(hours=-5, minutes=-30))])
def test_big_batches_are_encoded_by_columns_into_the_same_bytes(tz):
    import tierwise.store.audit as audit

    batch = tricky_decisions(3 * audit._SMALL, tz)
    by_lines = audit._encode_lines(batch)
    assert b"".join(bytes(piece) for piece in audit._encode_columns(batch, None)) == by_lines
    # the router hands over due times as wall-clock microseconds (and rule names as codes)
    epoch = datetime(1970, 1, 1)
    micros = np.array([0 if d.sla_due is None else (d.sla_due.replace(tzinfo=None) - epoch) // timedelta(microseconds=1)
                       for d in batch], dtype=np.int64)
    has = np.array([d.sla_due is not None for d in batch])
    suffix = "" if tz is None else datetime(2000, 1, 1, tzinfo=tz).isoformat()[19:]
    names = sorted({d.rule for d in batch})
    columns = {"sla_due_text": (micros, has, suffix),
               "rule": (np.array([names.index(d.rule) for d in batch]), names)}
    assert b"".join(bytes(piece) for piece in audit._encode_columns(batch, columns)) == by_lines


def test_big_batch_round_trip_replays_and_skips(tmp_path, monkeypatch):
    import tierwise.store.audit as audit

    monkeypatch.setattr(audit, "_CHUNK", 100)  # several pieces per batch, several per read
    monkeypatch.setattr(audit, "_BIG", 10)  # look keys up by a hash join
    path = tmp_path / "audit.jsonl"
    batch = tricky_decisions(1000, timezone.utc)
    log = AuditLog(path)
    with monkeypatch.context() as columns_only:  # a batch this big is written a column at a time
        columns_only.setattr(audit, "_encode_lines", None)
        assert log.record(batch, state={"cursor": {}, "assigned": {}}) == (1000, 0)
    assert path.read_bytes().startswith(audit._encode_lines(batch))
    again = AuditLog(path)
    assert list(again) == batch and len(again) == 1000
    keys = [d.idempotency_key for d in batch]
    asked = keys[::-1][:600] + ["missing"] + keys[:10]
    expected = [d._replace(replay=True) for d in batch[::-1][:600]] + [None] + \
               [d._replace(replay=True) for d in batch[:10]]
    assert again.seen_many(asked, replay=True) == expected
    more = tricky_decisions(1300, timezone.utc)[700:]  # 300 logged already, 300 new
    assert again.record(more + more[:5]) == (300, 305)
    assert AuditLog(path).seen_many([d.idempotency_key for d in more]) == batch[700:] + more[300:]
    assert log.record(more) == (0, 600)  # the first writer reads the second one's batch first
