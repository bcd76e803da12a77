"""The audit log: append-only batches, duplicates skipped, crash tails ignored, reload."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tierwise.errors import DataError
from tierwise.models.routing import Decision
from tierwise.store.audit import AuditLog, GroupCommit

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


# --------------------------------------------------------------------------- state patches (format version 2)


def _commits(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith('{"_commit"')]


def test_commit_lines_carry_state_patches_and_read_back_the_full_state(tmp_path, monkeypatch):
    import tierwise.store.audit as audit

    monkeypatch.setattr(audit, "_FULL_EVERY", 3)
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    state = {"cursor": {"ae": "R1"}, "assigned": {f"R{i}": 0 for i in range(200)}}
    states = []
    for i in range(8):
        state["assigned"][f"R{i % 5}"] += 1
        state["cursor"]["ae"] = f"R{i % 5}"
        if i == 5:
            state["cursor"]["sdr"] = "R9"
        if i == 6:
            del state["cursor"]["sdr"]
        log.record([decision(i)], state=state)
        states.append(json.loads(json.dumps(state)))
        assert log.state == states[-1] and AuditLog(path).state == states[-1]
    commits = _commits(path)
    # the first commit holds the full state, then patches: what changed only; a full state every 3 patches
    assert ["state" in c for c in commits] == [True, False, False, False, True, False, False, False]
    assert commits[1] == {"_commit": 1, "v": 2, "written_at": commits[1]["written_at"],
                          "state_patch": {"assigned": {"R1": 1}, "cursor": {"ae": "R1"}}}
    assert commits[6]["state_patch"] == {"assigned": {"R1": 2}, "cursor": {"ae": "R1", "sdr": None}}
    assert len(json.dumps(commits[1])) < 150 < len(json.dumps(commits[0]))
    # a reader that saw part of the log picks up the patches written after
    lines = path.read_bytes().splitlines(keepends=True)
    partial = tmp_path / "partial.jsonl"
    partial.write_bytes(b"".join(lines[:12]))
    reader = AuditLog(partial)
    assert reader.state == states[5]
    with open(partial, "ab") as f:
        f.write(b"".join(lines[12:]))
    reader.record([decision(99)], state=states[-1])  # reads the new batches first
    assert reader.state == states[-1] and AuditLog(partial).state == states[-1]
    reader.record([decision(98)], state=states[-1])
    assert [sorted(c) for c in _commits(partial)[-2:]] == [  # a writer's first commit holds the full state
        ["_commit", "state", "written_at"], ["_commit", "state_patch", "v", "written_at"]]
    assert _commits(partial)[-1]["state_patch"] == {} and AuditLog(partial).state == states[-1]


def test_a_version_1_log_goes_on_with_patches(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(OLD_LOG)  # full state in every commit line, no version field
    log = AuditLog(path)
    assert log.state == {"cursor": {"ae": "R1"}, "assigned": {"R1": 1}}
    log.record([decision(3)], state={"cursor": {"ae": "R3"}, "assigned": {"R1": 1, "R3": 1}})
    log.record([decision(4)], state={"cursor": {"ae": "R4"}, "assigned": {"R1": 1, "R3": 1, "R4": 1}})
    assert path.read_bytes().startswith(OLD_LOG)
    assert [("state" in c, c.get("v")) for c in _commits(path)] == [(True, None), (True, None), (False, 2)]
    again = AuditLog(path)
    assert again.state == {"cursor": {"ae": "R4"}, "assigned": {"R1": 1, "R3": 1, "R4": 1}}
    assert [d.lead_id for d in again][-2:] == ["L3", "L4"] and again.warnings == []


def test_states_a_patch_cannot_say_are_written_in_full(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.record([decision(1)], state={"cursor": {}, "assigned": {"R1": 1}})
    log.record([decision(2)], state={"cursor": {"ae": None}, "assigned": {"R1": 1}})  # null means "remove" in a patch
    log.record([decision(3)], state=None)
    log.record([decision(4)], state={"assigned": {"R1": 2}})
    log.record([decision(5)], state={"assigned": {"R1": 2}, "when": datetime(2026, 3, 2, 9)})  # written as text
    assert [("state" in c) for c in _commits(path)] == [True, True, True, True, False]
    assert AuditLog(path).state == log.state == {"assigned": {"R1": 2}, "when": "2026-03-02 09:00:00"}


def test_a_log_of_a_newer_format_is_refused(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).record([decision(1)], state={"cursor": {}})
    with open(path, "ab") as f:
        f.write(b'{"_commit":0,"state_delta":{},"v":3,"written_at":"2027-01-01T00:00:00+00:00"}\n')
    with pytest.raises(DataError, match="format version 3"):
        AuditLog(path)


def test_a_crash_after_patches_keeps_the_last_committed_state(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.record([decision(1)], state={"assigned": {"R1": 1}})
    log.record([decision(2)], state={"assigned": {"R1": 1, "R2": 1}})
    path.write_bytes(path.read_bytes() + b'{"idempotency_key":"key3","lead_id":"L3"}\n{"_commit":1,"state_pa')
    with pytest.warns(UserWarning, match="unfinished batch"):
        again = AuditLog(path)
    assert again.state == {"assigned": {"R1": 1, "R2": 1}} and len(again) == 2
    again.record([decision(4)], state={"assigned": {"R1": 1, "R2": 1, "R4": 1}})
    assert AuditLog(path).state == {"assigned": {"R1": 1, "R2": 1, "R4": 1}}
    assert [d.lead_id for d in AuditLog(path)] == ["L1", "L2", "L4"]


# --------------------------------------------------------------------------- group commit


class _GatedWrites:
    """Holds the writer thread at the door until let in, and counts the syncs."""

    def __init__(self, monkeypatch):
        import tierwise.store.audit as audit

        self.gate = threading.Event()
        self.gate.set()
        self.syncs = 0
        self.fail: BaseException | None = None
        real_fsync = os.fsync

        def fsync(fd):
            self.gate.wait(10)
            if self.fail is not None:
                raise self.fail
            self.syncs += 1
            real_fsync(fd)

        monkeypatch.setattr(audit.os, "fsync", fsync)


def test_group_commit_shares_one_sync_and_answers_only_once_on_disk(tmp_path, monkeypatch):
    gated = _GatedWrites(monkeypatch)
    path = tmp_path / "audit.jsonl"
    state = {"cursor": {}, "assigned": {}}

    async def main():
        commit = GroupCommit(AuditLog(path))
        gated.gate.clear()  # the first write waits at the door
        state["assigned"]["R1"] = 1
        commit.record([decision(1)], state=state)
        first = asyncio.ensure_future(commit.durable(["key1"]))
        await asyncio.sleep(0.05)
        for i in (2, 3, 4):  # arrive while the first write is under way: one group
            state["assigned"][f"R{i}"] = 1
            assert commit.record([decision(i)], state=state) == (1, 0)
        assert commit.record([decision(2), decision(5, replay=True)], state=state) == (0, 2)
        assert commit.seen_many(["key3", "key9"], replay=True) == [decision(3, replay=True), None]
        assert len(commit) == 4 and commit.seen("key4") == decision(4)
        waits = [asyncio.ensure_future(commit.durable([f"key{i}"])) for i in (2, 3, 4)]
        await asyncio.sleep(0.05)
        assert not first.done() and not any(w.done() for w in waits)
        assert gated.syncs == 0  # written, not synced yet: nobody is answered
        gated.gate.set()
        assert await first == {}
        assert await asyncio.gather(*waits) == [{}, {}, {}]
        assert await commit.durable(["key1", "key9"]) == {}  # on disk already
        await commit.aclose()
        return commit

    commit = asyncio.run(main())
    assert gated.syncs == 2 and len(commit.log) == 4
    again = AuditLog(path)
    assert list(again) == [decision(i) for i in (1, 2, 3, 4)]
    assert again.state == {"cursor": {}, "assigned": {"R1": 1, "R2": 1, "R3": 1, "R4": 1}}
    assert [c["_commit"] for c in _commits(path)] == [1, 3]


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_group_commit_failed_write_fails_its_waiters_then_goes_on(where, tmp_path, monkeypatch):
    gated = _GatedWrites(monkeypatch)
    path = tmp_path / "audit.jsonl"
    full = OSError(28, "No space left on device")
    if where == "write":
        real = AuditLog._begin_append

        def append(self, data):
            if gated.fail is not None:
                raise gated.fail
            return real(self, data)

        monkeypatch.setattr(AuditLog, "_begin_append", append)

    async def main():
        commit = GroupCommit(AuditLog(path))
        gated.fail = full
        commit.record([decision(1)], state={"n": 1})
        with pytest.raises(OSError, match="No space left"):
            await commit.durable(["key1"])
        assert commit.seen("key1") is None  # nobody was answered: the lead is routed afresh when sent again
        gated.fail = None
        commit.record([decision(1, target="R7")], state={"n": 2})
        stood = await commit.durable(["key1"])
        await commit.aclose()
        return stood

    stood = asyncio.run(main())
    again = AuditLog(path)
    if where == "write":  # nothing reached the file
        assert stood == {} and [(d.lead_id, d.target) for d in again] == [("L1", "R7")] and again.state == {"n": 2}
    else:  # written, then the sync failed: the batch is in the file, and the retry is its replay
        assert stood == {"key1": decision(1)} and list(again) == [decision(1)] and again.state == {"n": 1}


def test_group_commit_yields_to_a_decision_another_process_logged_first(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).record([decision(1)], state={"n": 0})

    async def main():
        commit = GroupCommit(AuditLog(path))
        AuditLog(path).record([decision(2, target="R9")], state={"n": 1})  # another process, meanwhile
        commit.record([decision(2), decision(3)], state={"n": 5})
        stood = await commit.durable(["key2", "key3"])
        await commit.aclose()
        return stood

    stood = asyncio.run(main())
    assert stood == {"key2": decision(2, target="R9")}
    again = AuditLog(path)
    assert [(d.lead_id, d.target) for d in again] == [("L1", "R1"), ("L2", "R9"), ("L3", "R3")]
    assert again.state == {"n": 5}


def test_group_commit_with_a_router_survives_a_restart(tmp_path):
    from tierwise.models.routing import Rep, Route, Router

    routes = [Route("default", None, "pool", target="ae", pool=("R1", "R2", "R3"), fallback="triage")]
    leads = [{"lead_id": f"L{i}"} for i in range(12)]
    path = tmp_path / "audit.jsonl"

    async def serve(log, batch):
        router = Router(routes, {r: Rep(r) for r in ("R1", "R2", "R3")}, state=log.state)
        commit = GroupCommit(log)

        async def one(lead):
            d = router.route_one(lead, AT, audit=commit)
            await commit.durable([d.idempotency_key])
            return d

        out = await asyncio.gather(*(one(lead) for lead in batch))
        await commit.aclose()
        return out, router.state_

    first, state = asyncio.run(serve(AuditLog(path), leads[:8] + leads[:2]))
    assert [d.target for d in first] == ["R1", "R2", "R3"] * 2 + ["R1", "R2", "R1", "R2"]
    assert [d.replay for d in first] == [False] * 8 + [True] * 2
    log = AuditLog(path)
    assert log.state == state and len(log) == 8
    second, _ = asyncio.run(serve(log, leads))
    assert [d.replay for d in second] == [True] * 8 + [False] * 4
    assert [d.target for d in second] == [d.target for d in first[:8]] + ["R3", "R1", "R2", "R3"]
    assert len(AuditLog(path)) == 12
