from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def root(): return ROOT

from hypothesis import settings
# The same examples on every run: CI is reproducible and a failure can be replayed.
settings.register_profile("repro", derandomize=True, deadline=None)
settings.load_profile("repro")
