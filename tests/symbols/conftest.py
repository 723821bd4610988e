from __future__ import annotations

import pytest

from tests.symbols.build import Built, build


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    try:
        return build(tmp_path_factory.mktemp("wasm"))
    except RuntimeError as exc:
        pytest.fail(str(exc))

