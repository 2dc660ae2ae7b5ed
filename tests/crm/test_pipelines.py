"""Pipelines and their stages, and the per-stage summary."""

from __future__ import annotations

import httpx

from nexus.core.db import Database
from tests.crm.dealkit import (
    DEALS,
    PIPELINES,
    STAGES,
    crm_tenant,
    make_deal,
    make_pipeline,
    stage_ids,
)
from tests.identity.factories import add_member
from tests.statements import counting


async def test_a_pipeline_is_created_with_its_stages_in_order(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)

    pipeline = await make_pipeline(client, tenant)

    stages = [(s["key"], s["position"], s["probability"], s["kind"]) for s in pipeline["stages"]]
    assert stages == [
        ("qualified", 0, 10, "open"),
        ("proposal", 1, 35, "open"),
        ("negotiation", 2, 75, "open"),
        ("won", 3, 100, "won"),
        ("lost", 4, 0, "lost"),
    ]
    assert (pipeline["is_default"], pipeline["version"]) == (True, 1)


async def test_a_pipeline_needs_an_open_a_won_and_a_lost_stage(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    stages = [{"name": "New"}, {"name": "Won", "kind": "won"}]

    response = await client.post(
        PIPELINES, json={"name": "Sales", "stages": stages}, headers=tenant.headers
    )
    listed = await client.get(PIPELINES, headers=tenant.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.stages"
    assert "lost" in response.json()["errors"][0]["reason"]
    assert listed.json()["items"] == []


async def test_stage_rules_name_the_field(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    twice = [{"name": "New"}, {"name": "new"}, {"name": "W", "kind": "won"}]
    twice.append({"name": "L", "kind": "lost"})
    too_likely = [{"name": "New", "probability": 101}, *STAGES[3:]]

    duplicate = await client.post(
        PIPELINES, json={"name": "A", "stages": twice}, headers=tenant.headers
    )
    over = await client.post(
        PIPELINES, json={"name": "B", "stages": too_likely}, headers=tenant.headers
    )

    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["field"] == "body.stages.1.key"
    assert over.status_code == 422
    assert over.json()["errors"][0]["field"] == "body.stages.0.probability"


async def test_one_pipeline_is_the_default(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    first = await make_pipeline(client, tenant)
    second = await make_pipeline(client, tenant)
    third = await make_pipeline(client, tenant, is_default=True)

    listed = (await client.get(PIPELINES, headers=tenant.headers)).json()["items"]

    defaults = {p["id"]: p["is_default"] for p in listed}
    assert defaults == {first["id"]: False, second["id"]: False, third["id"]: True}
    assert [p["stages"][0]["key"] for p in listed] == ["qualified"] * 3


async def test_stages_are_renamed_moved_added_and_removed(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    ids = stage_ids(pipeline)
    stages = [
        {"id": ids["proposal"], "name": "Quote sent", "probability": 40},
        {"id": ids["qualified"], "key": "qualified", "name": "Qualified"},
        {"name": "Demo", "probability": 50},
        {"id": ids["won"], "name": "Won", "kind": "won"},
        {"id": ids["lost"], "name": "Lost", "kind": "lost"},
    ]

    response = await client.patch(
        f"{PIPELINES}/{pipeline['id']}",
        json={"name": "Sales 2", "stages": stages, "version": 1},
        headers=tenant.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["version"]) == ("Sales 2", 2)
    assert [(s["key"], s["name"], s["probability"]) for s in body["stages"]] == [
        ("quote_sent", "Quote sent", 40),
        ("qualified", "Qualified", 0),
        ("demo", "Demo", 50),
        ("won", "Won", 100),
        ("lost", "Lost", 0),
    ]
    assert body["stages"][0]["id"] == ids["proposal"]
    assert ids["negotiation"] not in {s["id"] for s in body["stages"]}


async def test_a_stale_version_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    url = f"{PIPELINES}/{pipeline['id']}"
    await client.patch(url, json={"name": "One", "version": 1}, headers=tenant.headers)

    stale = await client.patch(url, json={"name": "Two", "version": 1}, headers=tenant.headers)
    missing = await client.patch(url, json={"name": "Two"}, headers=tenant.headers)

    assert (stale.status_code, missing.status_code) == (412, 428)
    assert (await client.get(url, headers=tenant.headers)).json()["name"] == "One"


async def test_a_stage_with_deals_cannot_be_removed(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    await make_deal(client, tenant.headers, 100)
    kept = [{"id": s["id"], "name": s["name"], "kind": s["kind"]} for s in pipeline["stages"][1:]]

    response = await client.patch(
        f"{PIPELINES}/{pipeline['id']}",
        json={"stages": kept, "version": 1},
        headers=tenant.headers,
    )
    after = await client.get(f"{PIPELINES}/{pipeline['id']}", headers=tenant.headers)

    assert response.status_code == 409
    assert response.json()["code"] == "stage_in_use"
    assert response.json()["deal_count"] == 1
    assert after.json() == pipeline


async def test_only_a_pipeline_without_deals_is_deleted(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    used = await make_pipeline(client, tenant)
    unused = await make_pipeline(client, tenant)
    await make_deal(client, tenant.headers, 100, pipeline_id=used["id"])

    refused = await client.delete(f"{PIPELINES}/{used['id']}", headers=tenant.headers)
    deleted = await client.delete(f"{PIPELINES}/{unused['id']}", headers=tenant.headers)
    gone = await client.get(f"{PIPELINES}/{unused['id']}", headers=tenant.headers)

    assert (refused.status_code, refused.json()["code"]) == (409, "pipeline_in_use")
    assert (deleted.status_code, gone.status_code) == (204, 404)


async def test_deleting_the_default_hands_it_on(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    first = await make_pipeline(client, tenant)
    second = await make_pipeline(client, tenant)

    await client.delete(f"{PIPELINES}/{first['id']}", headers=tenant.headers)

    listed = (await client.get(PIPELINES, headers=tenant.headers)).json()["items"]
    assert [(p["id"], p["is_default"]) for p in listed] == [(second["id"], True)]


async def test_the_summary_counts_and_weighs_each_stage(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    ids = stage_ids(pipeline)
    headers = tenant.headers
    # Qualified (10 %): 1,005 + 2,000 = 3,005 → 300.5 → 301 (half up).
    await make_deal(client, headers, 1005, stage_id=ids["qualified"])
    await make_deal(client, headers, 2000, stage_id=ids["qualified"])
    # Proposal (35 %): 999 → 349.65 → 350; and 10,000 USD apart → 3,500.
    await make_deal(client, headers, 999, stage_id=ids["proposal"])
    await make_deal(client, headers, 10000, "USD", stage_id=ids["proposal"])
    # Won (100 %): 5,000. A deleted deal counts nowhere.
    await make_deal(client, headers, 5000, stage_id=ids["won"])
    deleted = await make_deal(client, headers, 7777, stage_id=ids["won"])
    await client.delete(f"{DEALS}/{deleted['id']}", headers=headers)

    response = await client.get(f"{PIPELINES}/{pipeline['id']}/summary", headers=headers)

    assert response.status_code == 200, response.text
    summary = response.json()
    rows = [
        (
            s["stage"]["key"],
            s["count"],
            s["value"]["amount_minor"],
            s["weighted_value"]["amount_minor"],
            [
                (o["value"]["currency"], o["count"], o["weighted_value"]["amount_minor"])
                for o in s["other_currencies"]
            ],
        )
        for s in summary["stages"]
    ]
    assert summary["currency"] == "NGN"
    assert rows == [
        ("qualified", 2, 3005, 301, []),
        ("proposal", 2, 999, 350, [("USD", 1, 3500)]),
        ("negotiation", 0, 0, 0, []),
        ("won", 1, 5000, 5000, []),
        ("lost", 0, 0, 0, []),
    ]


async def test_the_summary_shows_only_the_deals_one_may_see(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    pipeline = await make_pipeline(client, tenant)
    member = await add_member(database, tenant, permissions=["crm.deal.read", "crm.deal.create"])
    await make_deal(client, tenant.headers, 1000)
    await make_deal(client, member.headers, 300)

    mine = await client.get(f"{PIPELINES}/{pipeline['id']}/summary", headers=member.headers)
    everyone = await client.get(f"{PIPELINES}/{pipeline['id']}/summary", headers=tenant.headers)

    assert mine.json()["stages"][0]["value"]["amount_minor"] == 300
    assert everyone.json()["stages"][0]["value"]["amount_minor"] == 1300


async def test_listing_pipelines_takes_the_same_queries_whatever_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await crm_tenant(database)
    await make_pipeline(client, tenant)
    with counting(database) as small:
        one = await client.get(PIPELINES, headers=tenant.headers)
    for _ in range(4):
        await make_pipeline(client, tenant)
    with counting(database) as large:
        five = await client.get(PIPELINES, headers=tenant.headers)

    assert (len(one.json()["items"]), len(five.json()["items"])) == (1, 5)
    assert len(small) == len(large)
