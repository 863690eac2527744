"""`python -m report`: build figures/solution.md, evidence.md, key.md and solution.pdf (see report/build.py)."""
import sys

from common.core.cli import run
from report.build import main

sys.exit(run(main))
