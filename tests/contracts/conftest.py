from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.checkout import make_account  # noqa: F401 (fixtures for this package)


@pytest.fixture
async def role_tokens(make_account: Any) -> dict[str, str]:  # noqa: F811
    """A user's and an admin's bearer tokens (accounts made after the tables were emptied)."""
    return {role: (await make_account(role)).token for role in ("user", "admin")}
