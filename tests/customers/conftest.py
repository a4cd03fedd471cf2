from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _import_dir(settings, tmp_path: Path) -> Path:  # noqa: ANN001
    """Each test keeps its uploads apart, so what one leaves behind another can tell."""
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR
