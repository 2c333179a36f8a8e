from __future__ import annotations

import sys
from pathlib import Path

# The fix tests share fixkit.py; tests/ is on the path, this folder is not.
sys.path.insert(0, str(Path(__file__).parent))
