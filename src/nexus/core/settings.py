"""Settings, read from `NEXUS_*` environment variables."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_KEY_FILE = Path(".nexus-dev-key")


class Settings(BaseSettings):
    """Everything NEXUS reads from its environment.

    `secret_keys` lists keys newest first: the first signs and encrypts, all of them verify and
    decrypt, so a key is rotated by putting a new one in front.
    """

    model_config = SettingsConfigDict(env_prefix="NEXUS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./nexus.db"
    secret_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    smtp_url: str | None = None
    mail_from: str = "NEXUS <no-reply@nexus.localhost>"
    public_base_url: str = "http://127.0.0.1:8080"
    dev: bool = False
    open_signup: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    log_format: Literal["console", "json"] = "json"
    log_level: str = "INFO"
    run_worker_in_server: bool = True
    worker_poll_seconds: float = 0.5
    access_token_minutes: int = Field(default=15, ge=1, le=15)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    #: How long a console sign-in lasts.
    console_session_hours: int = Field(default=12, ge=1, le=720)
    idempotency_hours: int = 24
    outbox_retention_days: int = 7

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def ensure_secret_keys(settings: Settings) -> Settings:
    """Without `NEXUS_SECRET_KEYS`, use the local dev key file (creating it in dev mode), so
    `make run` restarts and CLI commands in the same folder share sessions and secrets."""
    if settings.secret_keys:
        return settings
    if not DEV_KEY_FILE.exists():
        if not settings.dev:
            raise RuntimeError("NEXUS_SECRET_KEYS is not set (comma-separated, newest first)")
        DEV_KEY_FILE.write_text(secrets.token_urlsafe(48) + "\n")
        DEV_KEY_FILE.chmod(0o600)
    settings.secret_keys = [DEV_KEY_FILE.read_text().strip()]
    return settings


@lru_cache
def get_settings() -> Settings:
    return ensure_secret_keys(Settings())
