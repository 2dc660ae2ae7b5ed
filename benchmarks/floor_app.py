"""The floor for `GET /api/v1/me`: a bare FastAPI app whose one endpoint reads one row (the
tenant, by id) through the same `Database` (engines, pool, SQLite pragmas) as NEXUS.

    NEXUS_DATABASE_URL=… NEXUS_BENCH_TENANT_ID=… \\
      uvicorn benchmarks.floor_app:create_app --factory --workers 2

Whatever `/me` costs above this is NEXUS's own work: middleware, the caller resolver, the
request transaction, permissions and the response model.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import select

from nexus.core.db import Database
from nexus.core.security import Keyring
from nexus.identity.models import Tenant
from nexus.modules import all_models


def create_app() -> FastAPI:
    all_models()
    database = Database(os.environ["NEXUS_DATABASE_URL"], keyring=Keyring(["floor-app-key"]))
    tenant_id = uuid.UUID(os.environ["NEXUS_BENCH_TENANT_ID"])

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await database.dispose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/tenant")
    async def tenant() -> JSONResponse:
        async with database.session(write=False) as session:
            row = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()
            return JSONResponse({"id": str(row.id), "slug": row.slug, "name": row.name})

    return app
