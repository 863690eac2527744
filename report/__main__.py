"""`python -m report`: build figures/report.md (see report/build.py)."""
import sys

from common.core.cli import run
from report.build import main

sys.exit(run(main))
