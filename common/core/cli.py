"""Command-line plumbing shared by the problem scripts: one-line errors with the command that fixes
them, output folders checked before any work, atomic writes, versions."""
from __future__ import annotations

import argparse
import errno
import io
import json
import os
import platform
import re
import shlex
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]  # common/core/cli.py -> the repository root
FIGURES = ROOT / "figures"
PYTHON = ".venv/bin/python"  # the interpreter that `make` installs, as the README's commands name it


class UserError(ValueError):
    """Bad input from the user: reported as one line, exit status 2, never a traceback.

    A message about a file that a command can repair names that command in backticks (see
    `command`), for example "...; run `.venv/bin/python -m common.nets.models ... --retrain seed1` to
    replace it"; tests/test_advice.py lists every such message and follows its advice.
    """


def command(*args: str) -> str:
    """A shell command line, ready to paste, that runs the project's Python with `args` from the
    repository root: `.venv/bin/python ARGS`, with `cd ROOT && ` in front when the current folder
    is another."""
    line = " ".join(shlex.quote(a) for a in (PYTHON, *args))
    return line if Path.cwd().resolve() == ROOT else f"cd {shlex.quote(str(ROOT))} && {line}"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose help shows defaults and whose errors are one line with exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0 (the parser turns the error into one line)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """argparse type: any finite float (the parser turns the error into one line)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if value != value or abs(value) == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def out_folder(script: str, changed: dict[str, Any]) -> Path:
    """Where a problem script writes when --out is not given: FIGURES for the assignment's own
    reading (the report is built from it), figures/readings/<script>_<flag>=<value>_... for any run
    that changes a flag of that reading, so that such a run never overwrites the reference results."""
    if not changed:
        return FIGURES

    def text(v: Any) -> str:
        return ",".join(map(text, v)) if isinstance(v, (list, tuple)) else f"{v:g}" if isinstance(v, float) else str(v)

    slug = "_".join(f"{flag.replace('_', '-')}={text(v)}" for flag, v in changed.items())
    return FIGURES / "readings" / f"{script}_{re.sub(r'[^A-Za-z0-9._,=+-]', '', slug)}"


def changed_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The flags among `names` whose value differs from the parser's default, in that order."""
    return {n: getattr(args, n) for n in names if getattr(args, n) != parser.get_default(n)}


def add_reading_out_argument(parser: argparse.ArgumentParser, script: str) -> None:
    """--out of a script whose flags choose a reading of the assignment (P3, P5): by default figures/
    for the assignment's own reading, figures/readings/<script>_<changed flags>/ for any other."""
    parser.add_argument("--out", type=writable_dir,
                        help="folder for the JSON and the figure (default: figures/ with the assignment's "
                             f"flags, figures/readings/{script}_<changed flags>/ otherwise, so that another "
                             "reading never overwrites the results the report is built from)")


def reading_folder(parser: argparse.ArgumentParser, args: argparse.Namespace, script: str,
                   names: tuple[str, ...]) -> Path:
    """--out when given (its type, `writable_dir`, checked it), else `out_folder` for the flags among
    `names` that differ from their defaults, checked the same way: a parser error if it cannot be written."""
    if args.out is not None:
        return args.out
    try:
        return writable_dir(str(out_folder(script, changed_flags(parser, args, names))))
    except argparse.ArgumentTypeError as exc:
        parser.error(f"argument --out: {exc}")


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value
def writable_dir(text: str) -> Path:
    """argparse type of an output folder (--out): created if missing, then checked by writing a
    temporary file in it, so that a folder that cannot be written is one parser error (one line,
    exit status 2) before any work starts."""
    path = Path(text)
    try:
        if path.exists() and not path.is_dir():  # mkdir would say "File exists"
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write to folder {text} ({exc.strerror or exc})") from None
    return path


def writable_file(text: str) -> Path:
    """argparse type of an output file (grade.py's --out): its folder is created and checked as by
    `writable_dir`, and the path itself must not be a folder."""
    path = Path(text)
    writable_dir(str(path.parent))
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    return path


def add_out_argument(parser: argparse.ArgumentParser, help: str, flag: str = "--out",
                     default: Path = FIGURES) -> None:
    """Add the output-folder flag, checked by `writable_dir` whether it is given or defaulted
    (argparse applies a type to a default only when the default is a string)."""
    parser.add_argument(flag, type=writable_dir, default=str(default), help=help)


def run(main: Callable[[], Any]) -> int:
    """Run a script's main(); a UserError becomes one line on stderr and exit status 2."""
    try:
        main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to `path` through a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON, atomically."""
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure atomically (dpi 150, tight bounding box), then close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix[1:], dpi=150, bbox_inches="tight")
    plt.close(fig)
    write_atomic(Path(path), buf.getvalue())


def versions(*packages: str) -> dict[str, str]:
    """Python's version and each installed package's, as the results JSON records them."""
    return {"python": platform.python_version(), **{name: version(name) for name in packages}}

