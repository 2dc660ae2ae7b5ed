import pytest

from nexus.modules import load_modules


@pytest.fixture(autouse=True, scope="session")
def _registry_filled() -> None:
    load_modules()
