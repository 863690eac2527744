"""The check that every number of the results JSON survives a change (tests/json_survival.py),
on hand-made files: a value kept, renamed, moved with its subtree, changed in its last bit, lost."""
from __future__ import annotations

import json

import pytest
from json_survival import compare, leaves, main, renamed, same_bits

OLD = {"a": {"n": 3, "x": 0.1, "words": "prose may leave"}, "rows": [{"v": 1.5}, {"v": -0.0}], "ok": True}


def test_leaves_are_written_as_paths():
    assert dict(leaves(OLD)) == {"a.n": 3, "a.x": 0.1, "a.words": "prose may leave", "rows[0].v": 1.5,
                                 "rows[1].v": -0.0, "ok": True}


def test_a_renamed_subtree_and_the_longest_prefix():
    assert renamed("rows[1].v", {"rows": "table"}) == "table[1].v"
    assert renamed("a.n", {"a": "b", "a.n": "count"}) == "count"
    assert renamed("ab.n", {"a": "b"}) is None


def test_floats_compare_bit_for_bit():
    assert same_bits(0.1, 0.1) and not same_bits(0.1, 0.1 + 2 ** -56) and not same_bits(0.0, -0.0)
    assert not same_bits(1, 1.0) and not same_bits(True, 1)


def test_kept_and_renamed_values_pass_and_prose_may_leave():
    new = {"a": {"n": 3}, "count_x": 0.1, "table": [{"v": 1.5}, {"v": -0.0}]}
    assert compare(OLD, new, {"a.x": "count_x", "rows": "table"}) == (4, 3, [])


@pytest.mark.parametrize("new, why", [
    ({"a": {"n": 3, "x": 0.1}, "rows": [{"v": 1.5}]}, "rows[1].v: missing"),
    ({"a": {"n": 3, "x": 0.1000000001}, "rows": [{"v": 1.5}, {"v": -0.0}]}, "a.x: 0.1 became"),
    ({"a": {"n": 4, "x": 0.1}, "rows": [{"v": 1.5}, {"v": 0.0}]}, "a.n: 3 became 4"),
])
def test_a_lost_or_changed_number_is_reported(new, why):
    lost = compare(OLD, new, {})[2]
    assert any(line.startswith(why) for line in lost), lost


def test_the_command_counts_and_fails_on_a_loss(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    (old / "p3_results.json").write_text(json.dumps(OLD))
    (new / "p3_results.json").write_text(json.dumps({**OLD, "a": {"n": 3}}))
    renames = tmp_path / "renames.json"
    renames.write_text(json.dumps({"p3_results.json": {}}))
    assert main([str(old), str(new), "--renames", str(renames)]) == 1
    assert "4 numbers compared, 0 through a rename, 1 lost" in capsys.readouterr().out
    renames.write_text(json.dumps({"p3_results.json": {"a.x": "a.n"}}))
    assert main([str(old), str(new), "--renames", str(renames)]) == 1  # 0.1 is not 3
