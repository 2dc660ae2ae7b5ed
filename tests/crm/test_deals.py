"""Deals: defaults, money, stage moves with their events, won and lost, access, lists and
the forecast."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import httpx

from nexus.core.db import Database
from tests.crm.dealkit import (
    DEALS,
    crm_tenant,
    make_contact,
    make_deal,
    make_pipeline,
    new_id,
    outbox,
    stage_ids,
)
from tests.identity.factories import add_member
from tests.statements import counting

DEAL_PERMISSIONS = ["crm.deal.read", "crm.deal.create", "crm.deal.update", "crm.deal.delete"]


async def test_a_deal_starts_in_the_default_pipelines_first_open_stage(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)

    response = await client.post(
        DEALS,
        json={"title": "Uniforms", "amount": {"amount_minor": 4500000}},
        headers=tenant.headers,
    )

    assert response.status_code == 201, response.text
    deal = response.json()
    assert deal["pipeline_id"] == pipeline["id"]
    assert deal["stage_id"] == stage_ids(pipeline)["qualified"]
    assert deal["amount"] == {"amount_minor": 4500000, "currency": "NGN"}
    assert (deal["status"], deal["owner_id"], deal["closed_at"]) == (
        "open",
        str(tenant.owner.user_id),
        None,
    )
    assert await outbox(database, tenant, "crm.deal.stage_changed") == []


async def test_deal_input_errors_name_the_field(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    headers = tenant.headers
    no_pipeline = await client.post(DEALS, json={"title": "A"}, headers=headers)
    first = await make_pipeline(client, tenant)
    other = await make_pipeline(client, tenant)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"amount": {"amount_minor": 1, "currency": "XYZ"}}, "body.amount.currency"),
        ({"amount": {"amount_minor": -1}}, "body.amount.amount_minor"),
        ({"pipeline_id": first["id"], "stage_id": other["stages"][0]["id"]}, "body.stage_id"),
        ({"contact_id": new_id()}, "body.contact_id"),
        ({"company_id": new_id()}, "body.company_id"),
        ({"owner_id": new_id()}, "body.owner_id"),
        ({"stage_id": stage_ids(first)["lost"]}, "body.lost_reason"),
    ]

    fields = []
    for extra, _ in cases:
        response = await client.post(DEALS, json={"title": "A"} | extra, headers=headers)
        assert response.status_code == 422, response.text
        fields.append(response.json()["errors"][0]["field"])
    listed = await client.get(DEALS, headers=headers)

    assert no_pipeline.status_code == 422
    assert no_pipeline.json()["errors"][0]["field"] == "body.pipeline_id"
    assert fields == [field for _, field in cases]
    assert listed.json()["items"] == []


async def test_a_deal_links_to_a_contact_of_the_business(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    other = await crm_tenant(database)
    await make_pipeline(client, tenant)
    contact_id = await make_contact(database, tenant)
    foreign_contact = await make_contact(database, other)

    linked = await client.post(
        DEALS, json={"title": "A", "contact_id": contact_id}, headers=tenant.headers
    )
    refused = await client.post(
        DEALS, json={"title": "B", "contact_id": foreign_contact}, headers=tenant.headers
    )

    assert (linked.status_code, linked.json()["contact_id"]) == (201, contact_id)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.contact_id"


async def test_moving_a_deal_stamps_the_time_and_publishes_the_move(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    ids = stage_ids(pipeline)
    deal = await make_deal(client, tenant.headers, 1000)

    response = await client.patch(
        f"{DEALS}/{deal['id']}",
        json={"stage_id": ids["proposal"], "version": 1},
        headers=tenant.headers,
    )

    moved = response.json()
    assert response.status_code == 200, response.text
    assert (moved["stage_id"], moved["status"], moved["version"]) == (ids["proposal"], "open", 2)
    assert moved["stage_changed_at"] > deal["stage_changed_at"]
    assert await outbox(database, tenant, "crm.deal.stage_changed") == [
        {
            "deal_id": deal["id"],
            "pipeline_id": pipeline["id"],
            "from_stage_id": ids["qualified"],
            "to_stage_id": ids["proposal"],
            "status": "open",
        }
    ]
    assert await outbox(database, tenant, "crm.deal.won") == []


async def test_a_won_stage_closes_the_deal_and_publishes_the_win(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    ids = stage_ids(pipeline)
    deal = await make_deal(client, tenant.headers, 250000)

    response = await client.patch(
        f"{DEALS}/{deal['id']}", json={"stage_id": ids["won"], "version": 1}, headers=tenant.headers
    )

    won = response.json()
    assert (won["status"], won["lost_reason"]) == ("won", None)
    assert won["closed_at"] is not None
    assert await outbox(database, tenant, "crm.deal.won") == [
        {
            "deal_id": deal["id"],
            "pipeline_id": pipeline["id"],
            "stage_id": ids["won"],
            "amount_minor": 250000,
            "currency": "NGN",
            "owner_id": str(tenant.owner.user_id),
        }
    ]


async def test_a_lost_stage_needs_a_reason(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    ids = stage_ids(await make_pipeline(client, tenant))
    deal = await make_deal(client, tenant.headers, 1000)
    url = f"{DEALS}/{deal['id']}"

    refused = await client.patch(
        url, json={"stage_id": ids["lost"], "version": 1}, headers=tenant.headers
    )
    unchanged = await client.get(url, headers=tenant.headers)
    lost = await client.patch(
        url,
        json={"stage_id": ids["lost"], "lost_reason": "Chose a cheaper tailor", "version": 1},
        headers=tenant.headers,
    )
    cleared = await client.patch(
        url, json={"lost_reason": None, "version": 2}, headers=tenant.headers
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.lost_reason"
    assert unchanged.json() == deal
    assert (lost.json()["status"], lost.json()["lost_reason"]) == ("lost", "Chose a cheaper tailor")
    assert lost.json()["closed_at"] is not None
    assert cleared.status_code == 422
    assert len(await outbox(database, tenant, "crm.deal.stage_changed")) == 1


async def test_an_open_stage_reopens_a_closed_deal(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    ids = stage_ids(await make_pipeline(client, tenant))
    deal = await make_deal(
        client, tenant.headers, 1000, stage_id=ids["lost"], lost_reason="No budget"
    )

    response = await client.patch(
        f"{DEALS}/{deal['id']}",
        json={"stage_id": ids["negotiation"], "version": 1},
        headers=tenant.headers,
    )

    assert deal["status"] == "lost"
    reopened = response.json()
    assert (reopened["status"], reopened["closed_at"], reopened["lost_reason"]) == (
        "open",
        None,
        None,
    )


async def test_a_deal_moves_to_another_pipeline(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    other = await make_pipeline(
        client,
        tenant,
        stages=[
            {"name": "Booked"},
            {"name": "Paid", "kind": "won"},
            {"name": "Gone", "kind": "lost"},
        ],
    )
    deal = await make_deal(client, tenant.headers, 1000)

    response = await client.patch(
        f"{DEALS}/{deal['id']}",
        json={"pipeline_id": other["id"], "version": 1},
        headers=tenant.headers,
    )

    assert (response.json()["pipeline_id"], response.json()["stage_id"]) == (
        other["id"],
        stage_ids(other)["booked"],
    )


async def test_updates_need_the_current_version(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    deal = await make_deal(client, tenant.headers, 1000)
    url = f"{DEALS}/{deal['id']}"

    missing = await client.patch(url, json={"title": "New"}, headers=tenant.headers)
    by_header = await client.patch(
        url, json={"title": "New"}, headers=tenant.headers | {"If-Match": '"1"'}
    )
    stale = await client.patch(url, json={"title": "Newer", "version": 1}, headers=tenant.headers)

    assert (missing.status_code, by_header.status_code, stale.status_code) == (428, 200, 412)
    assert (await client.get(url, headers=tenant.headers)).json()["title"] == "New"


async def test_a_deleted_deal_is_gone_from_reads(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    deal = await make_deal(client, tenant.headers, 1000)

    deleted = await client.delete(f"{DEALS}/{deal['id']}", headers=tenant.headers)
    again = await client.get(f"{DEALS}/{deal['id']}", headers=tenant.headers)
    listed = await client.get(DEALS, headers=tenant.headers)

    assert (deleted.status_code, again.status_code) == (204, 404)
    assert again.json()["code"] == "deal_not_found"
    assert listed.json()["items"] == []


async def test_staff_see_and_change_only_their_own_deals(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    member = await add_member(database, tenant, permissions=DEAL_PERMISSIONS)
    manager = await add_member(database, tenant, permissions=[*DEAL_PERMISSIONS, "crm.record.all"])
    owners = await make_deal(client, tenant.headers, 100)
    own = await make_deal(client, member.headers, 200)

    listed = await client.get(DEALS, headers=member.headers)
    hidden = await client.get(f"{DEALS}/{owners['id']}", headers=member.headers)
    change = await client.patch(
        f"{DEALS}/{owners['id']}", json={"title": "Mine", "version": 1}, headers=member.headers
    )
    everything = await client.get(DEALS, headers=manager.headers)

    assert [d["id"] for d in listed.json()["items"]] == [own["id"]]
    assert own["owner_id"] == str(member.user_id)
    assert (hidden.status_code, change.status_code) == (404, 404)
    assert {d["id"] for d in everything.json()["items"]} == {owners["id"], own["id"]}


async def test_deals_are_filtered_and_sorted(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    ids = stage_ids(await make_pipeline(client, tenant))
    headers = tenant.headers
    a = await make_deal(client, headers, 300, expected_close="2026-03-01")
    b = await make_deal(client, headers, 100, stage_id=ids["proposal"])
    c = await make_deal(client, headers, 200, expected_close="2026-01-15")
    d = await make_deal(client, headers, 50, stage_id=ids["won"], expected_close="2026-02-01")

    async def titles(query: str) -> list[str]:
        found: list[str] = []
        cursor = ""
        while True:
            page = await client.get(f"{DEALS}?limit=1&{query}{cursor}", headers=headers)
            assert page.status_code == 200, page.text
            found += [deal["title"] for deal in page.json()["items"]]
            if page.json()["next_cursor"] is None:
                return found
            cursor = f"&cursor={page.json()['next_cursor']}"

    assert await titles("sort=amount") == [d["title"], b["title"], c["title"], a["title"]]
    assert await titles("sort=-amount") == [a["title"], c["title"], b["title"], d["title"]]
    assert await titles("sort=expected_close") == [c["title"], d["title"], a["title"], b["title"]]
    assert await titles("sort=-expected_close") == [a["title"], d["title"], c["title"], b["title"]]
    assert await titles("sort=created_at") == [a["title"], b["title"], c["title"], d["title"]]
    assert await titles("status=open&sort=created_at") == [a["title"], b["title"], c["title"]]
    assert await titles(f"stage_id={ids['proposal']}") == [b["title"]]


async def test_listing_deals_takes_the_same_queries_whatever_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    await make_deal(client, tenant.headers, 1)
    with counting(database) as small:
        one = await client.get(DEALS, headers=tenant.headers)
    for amount in range(5):
        await make_deal(client, tenant.headers, amount)
    with counting(database) as large:
        six = await client.get(DEALS, headers=tenant.headers)

    assert (len(one.json()["items"]), len(six.json()["items"])) == (1, 6)
    assert len(small) == len(large)


def _month(today: dt.date, ahead: int) -> dt.date:
    month = today.month - 1 + ahead
    return dt.date(today.year + month // 12, month % 12 + 1, 1)


def _bucket(bucket: dict[str, Any]) -> tuple[Any, ...]:
    return (
        bucket["month"],
        bucket["count"],
        bucket["value"]["amount_minor"],
        bucket["weighted_value"]["amount_minor"],
    )


async def test_the_forecast_sums_open_deals_by_month_and_currency(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    other = await crm_tenant(database)
    ids = stage_ids(await make_pipeline(client, tenant))
    await make_pipeline(client, other)
    today = dt.datetime.now(zoneinfo.ZoneInfo("Africa/Lagos")).date()
    this, next_ = _month(today, 0), _month(today, 1)
    h = tenant.headers
    # This month: 1,005 at 10 % (100.5) and 2,001 at 35 % (700.35): 800.85 → 801.
    await make_deal(client, h, 1005, expected_close=str(this), stage_id=ids["qualified"])
    await make_deal(
        client, h, 2001, expected_close=str(this + dt.timedelta(days=5)), stage_id=ids["proposal"]
    )
    # Next month: 999 at 75 % → 749.25 → 749. Overdue, later, no date.
    await make_deal(client, h, 999, expected_close=str(next_), stage_id=ids["negotiation"])
    await make_deal(client, h, 400, expected_close=str(this - dt.timedelta(days=1)))
    await make_deal(client, h, 800, expected_close=str(_month(today, 3)))
    await make_deal(client, h, 60, stage_id=ids["proposal"])
    # Another currency apart; closed and deleted deals and another business's deals left out.
    await make_deal(client, h, 5000, "USD", expected_close=str(next_), stage_id=ids["proposal"])
    await make_deal(client, h, 7000, expected_close=str(this), stage_id=ids["won"])
    gone = await make_deal(client, h, 9000, expected_close=str(this))
    await client.delete(f"{DEALS}/{gone['id']}", headers=h)
    await make_deal(client, other.headers, 3000, expected_close=str(this))

    response = await client.get(f"{DEALS}/forecast?months=3", headers=h)

    assert response.status_code == 200, response.text
    body = response.json()
    main = body["forecast"]
    assert (body["currency"], main["currency"]) == ("NGN", "NGN")
    assert [_bucket(b) for b in main["months"]] == [
        (this.strftime("%Y-%m"), 2, 3006, 801),
        (next_.strftime("%Y-%m"), 1, 999, 749),
        (_month(today, 2).strftime("%Y-%m"), 0, 0, 0),
    ]
    assert _bucket(main["overdue"]) == (None, 1, 400, 40)
    assert _bucket(main["later"]) == (None, 1, 800, 80)
    assert _bucket(main["no_date"]) == (None, 1, 60, 21)
    usd = body["other_currencies"]
    assert [u["currency"] for u in usd] == ["USD"]
    assert [_bucket(b) for b in usd[0]["months"]][1] == (next_.strftime("%Y-%m"), 1, 5000, 1750)
    assert usd[0]["months"][1]["value"]["currency"] == "USD"


async def test_custom_values_are_checked_against_the_deal_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    for field in (
        {"key": "source", "label": "Source", "kind": "choice", "choices": ["web", "referral"]},
        {"key": "seats", "label": "Seats", "kind": "number", "required": True},
        {"key": "secret", "label": "Secret", "kind": "text", "sensitive": True},
    ):
        made = await client.post(
            "/api/v1/crm/fields", json={"entity": "deal"} | field, headers=tenant.headers
        )
        assert made.status_code == 201, made.text

    async def create(custom: dict[str, Any]) -> httpx.Response:
        return await client.post(
            DEALS, json={"title": "Uniforms", "custom": custom}, headers=tenant.headers
        )

    unknown = await create({"seats": 3, "colour": "red"})
    wrong = await create({"seats": "three"})
    missing = await create({"source": "web"})
    sensitive = await create({"seats": 3, "secret": "x"})
    good = await create({"seats": 3, "source": "web"})

    def field_of(response: httpx.Response) -> tuple[int, str, str]:
        error = response.json()["errors"][0]
        return response.status_code, error["field"], error["code"]

    assert field_of(unknown) == (422, "body.custom.colour", "unknown_field")
    assert field_of(wrong) == (422, "body.custom.seats", "wrong_type")
    assert field_of(missing) == (422, "body.custom.seats", "required")
    assert field_of(sensitive) == (422, "body.custom.secret", "sensitive")
    assert good.status_code == 201, good.text
    deal = good.json()
    assert deal["custom"] == {"seats": 3, "source": "web"}

    url = f"{DEALS}/{deal['id']}"
    bad_choice = await client.patch(
        url, json={"custom": {"source": "fax"}, "version": deal["version"]}, headers=tenant.headers
    )
    cleared_required = await client.patch(
        url, json={"custom": {"seats": None}, "version": deal["version"]}, headers=tenant.headers
    )
    merged = await client.patch(
        url,
        json={"custom": {"source": None, "seats": 5}, "version": deal["version"]},
        headers=tenant.headers,
    )

    assert field_of(bad_choice) == (422, "body.custom.source", "not_a_choice")
    assert field_of(cleared_required) == (422, "body.custom.seats", "required")
    assert merged.status_code == 200, merged.text
    assert merged.json()["custom"] == {"seats": 5}
