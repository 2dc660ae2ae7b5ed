from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.core.db import bind_tenant
from nexus.core.integrations import (
    IntegrationSetting,
    IntegrationView,
    get_integration,
    integration_secrets,
    list_integrations,
    put_integration,
)
from nexus.core.security import Keyring
from tests.core.conftest import add_tenant

OLD_KEY = "integration-old-key-0123456789abcdef0123"
NEW_KEY = "integration-new-key-0123456789abcdef0123"
SECRET = "sk_live_7f3a9c2e5b1d4f60"


async def _configure(session: AsyncSession, keyring: Keyring) -> None:
    tenant = await add_tenant(session)
    await bind_tenant(session, tenant.id)
    await put_integration(
        session,
        RequestContext.system(tenant.id),
        keyring,
        provider="paystack",
        category="payments",
        options={"public_key": "pk_test_42"},
        secrets={"secret_key": SECRET},
    )


async def test_secrets_are_encrypted_at_rest(session: AsyncSession) -> None:
    await _configure(session, Keyring([NEW_KEY]))

    raw = await session.scalar(select(IntegrationSetting.secrets_encrypted))

    assert raw is not None
    assert SECRET.encode() not in raw
    assert b"secret_key" not in raw


async def test_views_name_secrets_but_never_carry_them(session: AsyncSession) -> None:
    await _configure(session, Keyring([NEW_KEY]))

    listed = await list_integrations(session)
    got = await get_integration(session, "paystack")

    expected = IntegrationView(
        provider="paystack",
        category="payments",
        options={"public_key": "pk_test_42"},
        secret_names=["secret_key"],
        is_enabled=True,
    )
    assert listed == [expected]
    assert got == expected
    assert SECRET not in repr(dataclasses.asdict(expected))


async def test_the_owning_module_reads_the_decrypted_secrets(session: AsyncSession) -> None:
    keyring = Keyring([NEW_KEY])
    await _configure(session, keyring)

    secrets = await integration_secrets(session, keyring, "paystack")

    assert secrets == {"secret_key": SECRET}


async def test_an_unconfigured_provider_has_no_secrets(session: AsyncSession) -> None:
    keyring = Keyring([NEW_KEY])
    await _configure(session, keyring)

    assert await integration_secrets(session, keyring, "flutterwave") == {}
    assert await get_integration(session, "flutterwave") is None


async def test_a_rotated_keyring_still_reads_secrets_written_under_the_old_key(
    session: AsyncSession,
) -> None:
    await _configure(session, Keyring([OLD_KEY]))

    secrets = await integration_secrets(session, Keyring([NEW_KEY, OLD_KEY]), "paystack")

    assert secrets == {"secret_key": SECRET}


async def test_a_keyring_without_the_old_key_cannot_read_its_secrets(
    session: AsyncSession,
) -> None:
    await _configure(session, Keyring([OLD_KEY]))

    with pytest.raises(ValueError, match="cannot decrypt"):
        await integration_secrets(session, Keyring([NEW_KEY]), "paystack")
