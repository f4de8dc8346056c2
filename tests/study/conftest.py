"""Make the study test helpers importable (pytest runs with --import-mode=importlib)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_helpers import shards  # noqa: E402,F401  (fixture)
