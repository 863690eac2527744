"""The results JSON is data, not prose: no string in figures/*_results.json or answer_key.json has
more than 8 words, with P5's default biases and with biases shared by two gates (whose equal
pre-activations the results record)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from json_survival import leaves

import p5_lstm

MAX_WORDS = 8


def sentences(folder: Path) -> list[str]:
    """Every string of more than MAX_WORDS words in the folder's results, as 'file: path'."""
    return [f"{f.name}: {path}" for f in sorted(folder.glob("*.json"))
            for path, text in leaves(json.loads(f.read_text()))
            if isinstance(text, str) and len(text.split()) > MAX_WORDS]


def test_a_sentence_is_found_where_planted(tmp_path):
    (tmp_path / "p9_results.json").write_text(json.dumps({"a": [{"b": "one two three four five six seven "
                                                                       "eight nine"}], "c": "short words"}))
    assert sentences(tmp_path) == ["p9_results.json: a[0].b"]


def test_no_results_value_is_a_sentence(every_result):
    assert sorted(f.name for f in every_result.glob("*.json")) == [
        "answer_key.json", *(f"p{n}_results.json" for n in range(1, 6))]
    assert sentences(every_result) == []


@pytest.mark.parametrize("flags", [["--b-g", "1", "1"], ["--b", "1", "1", "--b-o", "1", "1"]])
def test_no_p5_value_is_a_sentence_when_gates_share_a_bias(tmp_path, flags):
    results = p5_lstm.main([*flags, "--out", str(tmp_path)])
    assert results["equal_preactivations"]  # the shared bias is recorded, as data
    assert sentences(tmp_path) == []
