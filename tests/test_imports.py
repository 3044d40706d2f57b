"""What ``import millrace`` costs: a module that only declares assets loads no runtime."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("asyncio", "sqlite3", "aiosqlite", "polars", "pyarrow", "pandas", "pydantic", "textual")


def test_import_millrace_loads_no_runtime_and_no_frame_library() -> None:
    probe = (
        "import json, sys, millrace\n"
        "from millrace import asset, AssetIn, Definitions, AssetSelection\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    )
    assert json.loads(done.stdout) == []
