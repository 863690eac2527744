"""Helpers shared by several test modules: a random CNN of the Problem 1 architecture, the
8-significant-digit formatting that the report's expected strings are built with, a copy of the
results with one field deleted, and the word counts that hold the report to its length budgets."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import torch

from common.nets.cnn import CNN

ANSWER_WORDS = 120  # a sub-question's opening, before its first table, figure or <details>
DETAILS = re.compile(r"<details>.*?</details>", re.S)


def random_cnn(seed: int = 0, bn_affine: bool = False) -> CNN:
    """The Problem 1 architecture with random weights and non-trivial batch-norm statistics, in
    eval mode; `bn_affine` also randomises the batch norms' scale and shift."""
    torch.manual_seed(seed)
    model = CNN()
    for bn in (model.bn1, model.bn2, model.bn3):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        if bn_affine:
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def sig(v: float) -> str:
    return f"{float(v) + 0.0:#.8g}"


def vec(v: list) -> str:
    return "[" + ", ".join(sig(e) for e in v) + "]"


def without_field(source: Path, folder: Path, n: int, path: tuple) -> None:
    """Copy every JSON file of `source` into `folder`, with the field at `path` (keys and indices)
    deleted from pN_results.json."""
    for f in source.glob("*.json"):
        (folder / f.name).write_text(f.read_text())
    data = json.loads((folder / f"p{n}_results.json").read_text())
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    (folder / f"p{n}_results.json").write_text(json.dumps(data))


def words(text: str) -> int:
    """Tokens that start with a letter or a digit (tables included)."""
    return sum(1 for token in text.split() if token[0].isalnum())


def main_body_words(text: str) -> int:
    """Words outside <details> blocks."""
    return words(DETAILS.sub(" ", text))


def opening_words(lines: Sequence[str]) -> int:
    """Words of a section before its first table, figure, <details> block or the next heading."""
    count = 0
    for line in lines:
        if line.startswith(("|", "![", "<details", "_`", "#")):
            break
        count += words(line)
    return count


def numbers_masked(text: str) -> str:
    """A sentence with its numbers replaced by '#': two items must not share the rest."""
    return re.sub(r"[+−-]?\d+(?:\.\d+)?", "#", text)
