import sys
from pathlib import Path

# The toy models and loaders (tests/toy.py) are imported by the test configs as `toy.*`.
sys.path.insert(0, str(Path(__file__).resolve().parent))
