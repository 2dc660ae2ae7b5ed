"""The console shell: sign-in, the session cookie, CSRF, security headers, errors as pages."""

from __future__ import annotations

from nexus.console.security import CSP
from nexus.core.db import Database
from tests.console.browser_client import Console
from tests.identity.factories import PASSWORD, add_member, make_tenant

COOKIE = "__Host-nexus_session"


async def test_signing_in_sets_a_host_only_http_only_session_cookie_and_opens_home(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await console.sign_in(tenant.owner.email)

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE))
    assert "HttpOnly" in cookie and "Secure" in cookie and "Path=/" in cookie
    assert "samesite=lax" in cookie.lower() and "Domain" not in cookie
    home = await console.get("/")
    assert home.status_code == 200
    assert f"Biz {tenant.slug}" in home.text
    assert 'data-testid="team-size">1<' in home.text


async def test_a_wrong_password_re_renders_the_form_with_the_problem(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await console.sign_in(tenant.owner.email, "not the password at all")

    assert response.status_code == 401
    assert 'data-testid="form-error"' in response.text
    assert tenant.owner.email in response.text  # the e-mail is kept, the password is not
    assert "not the password at all" not in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")


async def test_a_missing_email_is_named_next_to_its_field(console: Console) -> None:
    response = await console.sign_in("", PASSWORD)

    assert response.status_code == 422
    assert 'data-testid="error-email"' in response.text


async def test_pages_need_a_session_and_send_the_visitor_to_sign_in(console: Console) -> None:
    response = await console.get("/team?q=ada")

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fteam%3Fq%3Dada"


async def test_a_form_without_the_csrf_token_is_refused(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.http.post("/sign-out", data={"csrf_token": "0" * 64})

    assert response.status_code == 403
    assert (await console.get("/")).status_code == 200  # still signed in


async def test_an_htmx_request_may_carry_the_token_in_a_header(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    await console.get("/")

    response = await console.http.post(
        "/sign-out", headers={"X-CSRF-Token": console.csrf, "HX-Request": "true"}
    )

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/sign-in"
    assert (await console.get("/")).status_code == 303


async def test_signing_out_revokes_the_session_itself(
    console: Console, second_console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)
    stolen = console.http.cookies.get(COOKIE)

    await console.post("/sign-out")

    second_console.http.cookies.set(COOKIE, stolen or "", domain="nexus.test")
    response = await second_console.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"


async def test_a_bearer_token_does_not_open_console_pages(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)

    response = await console.get("/", headers=tenant.headers)

    assert response.status_code == 303


async def test_the_session_cookie_does_not_authenticate_the_api(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    await console.sign_in(tenant.owner.email)

    response = await console.http.get("/api/v1/me")

    assert response.status_code == 401


async def test_every_page_carries_the_strict_security_headers(console: Console) -> None:
    response = await console.get("/sign-in")

    assert response.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "<script>" not in response.text and "style=" not in response.text


async def test_docs_keep_their_own_policy(console: Console) -> None:
    response = await console.get("/docs")

    assert response.headers["content-security-policy"] != CSP


async def test_a_page_the_caller_may_not_see_is_a_403_page(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    viewer = await add_member(database, tenant, role="viewer")
    await console.sign_in(viewer.email)

    response = await console.get("/audit")

    assert response.status_code == 403
    assert 'data-testid="error-page"' in response.text


async def test_the_navigation_shows_only_what_the_role_may_open(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    staff = await add_member(database, tenant, role="staff")
    await console.sign_in(staff.email)

    home = await console.get("/")

    assert 'href="/team"' in home.text
    assert 'href="/audit"' not in home.text
    assert 'href="/api-keys"' not in home.text


async def test_a_second_locale_translates_the_shell(console: Console) -> None:
    response = await console.get("/sign-in", headers={"Accept-Language": "fr-FR,fr;q=0.9"})

    assert '<html lang="fr">' in response.text
    assert "Se connecter" in response.text


async def test_sign_in_redirects_only_to_this_site(console: Console, database: Database) -> None:
    tenant = await make_tenant(database)

    response = await console.sign_in(tenant.owner.email, next="https://evil.example/")

    assert response.headers["location"] == "/"
