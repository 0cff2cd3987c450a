"""Golden files: rendered wording compared byte for byte with a reviewed file in tests/render/golden/.

`GITDEPLOY_UPDATE_GOLDEN=1` rewrites the files (review the diff before committing); without it a
missing or different file fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
UPDATE = "GITDEPLOY_UPDATE_GOLDEN"


def check_golden(name: str, text: str) -> None:
    """Compare `text` (a final newline is added when it lacks one) with golden/`name`."""
    text = text if text.endswith("\n") else text + "\n"
    path = GOLDEN / name
    if os.environ.get(UPDATE):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if not path.is_file():
        pytest.fail(f"no golden file {path.relative_to(GOLDEN.parents[2])}: review the output, "
                    f"then create it with {UPDATE}=1")
    assert text == path.read_text(), f"{name} differs ({UPDATE}=1 rewrites it after review)"
