"""The dashboard at /ui: who may see it, what each page shows, and that payload text stays text."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import update

from hooks.dashboard.session import COOKIE, Sessions
from hooks.service.app import create_app
from hooks.service.config import Settings
from hooks.service.context import SERVICE
from hooks.storage.records import NewDelivery
from hooks.storage.runs import RunLedger
from hooks.storage.store import Store
from hooks.storage.tables import deliveries
from hooks.testing.clock import FakeClock
from hooks.testing.waiting import eventually
from tests.conftest import SECRET, fixture_bytes

ADMIN = "admin-token-0123"
VIEWER = "viewer-token-4567"
RULES = """\
rules:
- name: triage-api-issues
  description: API issues are labelled triaged so the API team sees them.
  on: {issue: [open]}
  if: {labels: {any: [API]}}
  do: [{add_labels: [triaged]}]
- name: comment-on-bugs
  on: {issue: [open]}
  if: {labels: {any: [bug]}}
  do: [{comment: "A bug!"}]
- name: weekly-sweep
  on: {schedule: {cron: "0 9 * * 1", timezone: Europe/Berlin}}
  do: [{create_issue: {project: demo/marketing, title: Weekly}}]
"""
SUBJECT = "gitlabhq/gitlab-test#23"


@pytest.fixture
def ui_settings(settings: Settings) -> Settings:
    (settings.rules_dir / "rules.yaml").write_text(RULES)
    return settings.model_copy(
        update={"admin_token": SecretStr(ADMIN), "ui_token": SecretStr(VIEWER)}
    )


@pytest.fixture
async def client(aiohttp_client: Any, ui_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(ui_settings))


async def log_in(client: TestClient, token: str = ADMIN) -> None:
    response = await client.post(
        "/ui/login", data={"token": token, "next": "/ui/deliveries"}, allow_redirects=False
    )
    assert response.status == 303


async def deliver(client: TestClient, title: str | None = None) -> int:
    """POST the issue_open fixture (optionally retitled) and process it."""
    payload = json.loads(fixture_bytes("issue_open.json"))
    if title is not None:
        payload["object_attributes"]["title"] = title
    response = await client.post(
        "/webhook",
        data=json.dumps(payload),
        headers={"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": SECRET},
    )
    delivery: int = (await response.json())["delivery"]
    await processed(client, delivery)
    return delivery


async def processed(client: TestClient, delivery: int, runs: int = 1) -> None:
    """Wait until the running worker has finished the delivery's `runs`-th processing."""
    store = client.app[SERVICE].store

    async def finished() -> bool:
        found = await store.get_delivery(delivery)
        trail = await store.audit_for(delivery_id=delivery)
        done = sum(r["kind"] == "event" and r["outcome"] == "received" for r in trail)
        assert found is not None and found.status not in ("pending", "processing"), found
        assert done == runs, f"processed {done} time(s)"
        return True

    await eventually(finished, what=f"delivery {delivery} processed {runs} time(s)")


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


# -- who may look -----------------------------------------------------------------------


async def test_a_page_without_a_session_redirects_to_the_login_form(client: TestClient) -> None:
    response = await client.get("/ui/deliveries?kind=issue", allow_redirects=False)

    assert response.status == 303
    assert response.headers["Location"] == "/ui/login?next=/ui/deliveries%3Fkind%3Dissue"


async def test_a_wrong_token_is_refused_at_login_and_as_a_bearer(client: TestClient) -> None:
    login = await client.post("/ui/login", data={"token": "guess"}, allow_redirects=False)
    bearer = await client.get("/ui/rules", headers={"Authorization": "Bearer guess"})

    assert login.status == 401 and COOKIE not in login.cookies
    assert "That token is not accepted." in await login.text()
    assert bearer.status == 401


async def test_without_any_token_configured_the_dashboard_is_off(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))

    response = await client.post("/ui/login", data={"token": ""})

    assert response.status == 403
    assert "set HOOKS_ADMIN_TOKEN or HOOKS_UI_TOKEN" in await response.text()


async def test_login_sets_a_signed_httponly_strict_cookie_that_opens_the_pages(
    client: TestClient,
) -> None:
    response = await client.post(
        "/ui/login", data={"token": ADMIN, "next": "/ui/rules"}, allow_redirects=False
    )

    assert (response.status, response.headers["Location"]) == (303, "/ui/rules")
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/ui"
    assert ADMIN not in cookie.value
    for page in ("/ui/deliveries", "/ui/subjects", "/ui/schedules", "/ui/sprints", "/ui/rules"):
        answer = await client.get(page)
        assert answer.status == 200, page
        assert "script-src" not in answer.headers["Content-Security-Policy"]
        assert ADMIN not in await answer.text() and VIEWER not in await answer.text()


async def test_scripts_may_read_with_a_bearer_token_and_only_the_admin_token_replays(
    client: TestClient,
) -> None:
    delivery = await deliver(client)

    read = await client.get("/ui/deliveries", headers={"Authorization": f"Bearer {VIEWER}"})
    refused = await client.post(
        f"/ui/deliveries/{delivery}/replay", headers={"Authorization": f"Bearer {VIEWER}"}
    )
    replayed = await client.post(
        f"/ui/deliveries/{delivery}/replay",
        headers={"Authorization": f"Bearer {ADMIN}"},
        allow_redirects=False,
    )

    assert read.status == 200 and f'href="/ui/deliveries/{delivery}"' in await read.text()
    assert refused.status == 403
    assert replayed.status == 303


async def test_login_never_redirects_to_another_site(client: TestClient) -> None:
    response = await client.post(
        "/ui/login", data={"token": ADMIN, "next": "//evil.example/ui"}, allow_redirects=False
    )

    assert response.headers["Location"] == "/ui/deliveries"


async def test_a_tampered_cookie_is_no_session(client: TestClient) -> None:
    forged = Sessions(SecretStr("other"), SecretStr(VIEWER)).issue("admin")
    client.session.cookie_jar.update_cookies({COOKIE: forged})

    response = await client.get("/ui/rules", allow_redirects=False)

    assert response.status == 303


def test_a_cookie_issued_by_one_replica_is_accepted_by_another_with_the_same_tokens() -> None:
    cookie = Sessions(SecretStr(ADMIN), SecretStr(VIEWER)).issue("viewer")

    other_replica = Sessions(SecretStr(ADMIN), SecretStr(VIEWER)).read(cookie)
    after_rotation = Sessions(SecretStr(ADMIN), SecretStr("rotated")).read(cookie)

    assert other_replica is not None and other_replica.role == "viewer"
    assert after_rotation is None


def test_a_session_expires_after_twelve_hours() -> None:
    clock = FakeClock(datetime.fromtimestamp(1_000_000, UTC))
    sessions = Sessions(SecretStr(ADMIN), None, clock=clock.timestamp)
    cookie = sessions.issue("admin")

    clock.advance(12 * 3600 - 1)
    still = sessions.read(cookie)
    clock.advance(1)

    assert still is not None and sessions.read(cookie) is None


# -- deliveries and their traces ---------------------------------------------------------


async def test_the_trace_shows_every_rule_with_why_and_the_actions_in_dry_run(
    client: TestClient,
) -> None:
    delivery = await deliver(client)
    await log_in(client)

    page = await (await client.get(f"/ui/deliveries/{delivery}")).text()

    assert "New API: create/update/delete file" in page
    assert re.search(r"triage-api-issues</td><td class=\"matched\">matched", page)
    assert re.search(
        r"comment-on-bugs</td><td class=\"not_matched\">not matched</td>\s*<td>labels", page
    )
    assert "Rules (1 of 3 matched)" in page
    assert "add_labels" in page and "triaged" in page
    assert 'class="dry_run">dry-run' in page
    assert 'href="/ui/subjects?subject=gitlabhq%2Fgitlab-test%2323"' in page


async def test_a_script_in_a_title_is_shown_as_text(client: TestClient) -> None:
    delivery = await deliver(client, title="<script>alert('owned')</script> Fix it")
    await log_in(client)

    for path in (
        f"/ui/deliveries/{delivery}",
        f"/ui/subjects?subject={SUBJECT.replace('#', '%23')}",
    ):
        page = await (await client.get(path)).text()
        assert "<script>alert" not in page
    trace = await (await client.get(f"/ui/deliveries/{delivery}")).text()
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; Fix it" in trace


async def test_the_list_filters_by_kind_project_and_outcome(client: TestClient) -> None:
    done = await deliver(client)
    await log_in(client)

    shown = await (
        await client.get("/ui/deliveries?kind=issue&project=gitlabhq/gitlab-test&outcome=done")
    ).text()
    other_project = await (await client.get("/ui/deliveries?project=demo/product")).text()
    failed = await (await client.get("/ui/deliveries?outcome=failed")).text()

    assert f'href="/ui/deliveries/{done}"' in shown
    assert f'href="/ui/deliveries/{done}"' not in other_project
    assert "No deliveries match these filters." in failed


async def test_replay_from_the_trace_runs_the_delivery_again(client: TestClient) -> None:
    delivery = await deliver(client)
    await log_in(client)
    trace = await (await client.get(f"/ui/deliveries/{delivery}")).text()

    response = await client.post(
        f"/ui/deliveries/{delivery}/replay", data={"csrf": csrf_of(trace)}, allow_redirects=False
    )

    assert response.status == 303
    assert response.headers["Location"] == f"/ui/deliveries/{delivery}?message=Replay+queued"
    await processed(client, delivery, runs=2)
    page = await (await client.get(response.headers["Location"])).text()
    assert "Replay queued" in page and 'id="run-2"' in page and "replay queued" in page


async def test_replay_without_the_csrf_token_is_refused_and_queues_nothing(
    client: TestClient,
) -> None:
    delivery = await deliver(client)
    await log_in(client)

    missing = await client.post(f"/ui/deliveries/{delivery}/replay", data={})
    wrong = await client.post(f"/ui/deliveries/{delivery}/replay", data={"csrf": "0" * 64})

    assert missing.status == 403 and wrong.status == 403
    assert "CSRF" in await missing.text()
    stored = await client.app[SERVICE].store.get_delivery(delivery)
    assert stored is not None and stored.status == "done"


async def test_a_read_only_session_sees_no_replay_button_and_may_not_replay(
    client: TestClient,
) -> None:
    delivery = await deliver(client)
    await log_in(client, VIEWER)
    trace = await (await client.get(f"/ui/deliveries/{delivery}")).text()

    response = await client.post(f"/ui/deliveries/{delivery}/replay", data={"csrf": csrf_of(trace)})

    assert 'id="replay"' not in trace and "read-only" in trace
    assert response.status == 403
    assert "Only an admin session may do this." in await response.text()


async def test_replaying_an_unknown_delivery_answers_404(client: TestClient) -> None:
    await log_in(client)
    page = await (await client.get("/ui/deliveries")).text()

    response = await client.post("/ui/deliveries/999/replay", data={"csrf": csrf_of(page)})

    assert response.status == 404 and "no delivery 999" in await response.text()


# -- subjects, schedules, rules ----------------------------------------------------------


async def test_a_subjects_history_lists_what_the_bot_did_and_the_events_seen(
    client: TestClient,
) -> None:
    delivery = await deliver(client)
    await log_in(client)

    page = await (await client.get("/ui/subjects", params={"subject": SUBJECT})).text()
    nothing = await (await client.get("/ui/subjects", params={"subject": "demo/product#9"})).text()

    actions = page.split('id="actions"')[1].split("</table>")[0]
    assert "triage-api-issues" in actions and "add_labels" in actions and "dry-run" in actions
    assert f'<a href="/ui/deliveries/{delivery}">delivery {delivery}</a>' in actions
    assert "issue open received" in page.split('id="events"')[1]
    assert "The bot has done nothing to demo/product#9." in nothing


async def test_a_subjects_history_says_why_with_each_rules_description(
    client: TestClient,
) -> None:
    await deliver(client)
    await log_in(client)

    page = await (await client.get("/ui/subjects", params={"subject": SUBJECT})).text()

    actions = page.split('id="actions"')[1].split("</table>")[0]
    assert (
        '<td>triage-api-issues<div class="muted">'
        "API issues are labelled triaged so the API team sees them.</div></td>"
    ) in actions


async def test_schedules_show_next_fire_times_in_the_rules_zone_and_the_last_runs(
    client: TestClient,
) -> None:
    service = client.app[SERVICE]
    last_monday = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    ledger = RunLedger(service.store)
    await ledger.claim(
        "weekly-sweep", last_monday, owner="t", lease=timedelta(minutes=1), now=last_monday
    )
    await ledger.finish(
        "weekly-sweep", last_monday, status="failed", now=last_monday, error="GitLab said 403"
    )
    await log_in(client)

    page = await (await client.get("/ui/schedules")).text()

    section = page.split('id="schedule-weekly-sweep"')[1]
    assert "(Europe/Berlin)" in section
    assert len(re.findall(r"<li>Mon \d{4}-\d\d-\d\d 09:00 CES?T</li>", section)) == 5
    assert "2026-11-16 09:00 CET" in section and 'class="failed">failed' in section
    assert "GitLab said 403" in section


async def test_schedules_list_the_watched_webhooks_and_which_gitlab_disabled(
    client: TestClient,
) -> None:
    from hooks.storage.watch import WatchStore

    service = client.app[SERVICE]
    watch = WatchStore(service.store)
    now = service.now()
    await watch.record_hook("demo/product", 12, now, kind="project", url="https://svc/webhook")
    [hook] = await watch.hooks()
    until = now + timedelta(minutes=30)
    await watch.update_hook(
        hook.id, alert_status="temporarily_disabled", disabled_until=until, recent_failures=4
    )
    await log_in(client)

    page = await (await client.get("/ui/schedules")).text()

    section = page.split('id="webhooks"')[1]
    assert (
        "demo/product:12" in section
        and f"temporarily_disabled until {until.isoformat()}" in section
    )
    assert "<td>4</td>" in section


async def test_rules_show_triggers_last_match_and_the_refused_reloads_errors(
    client: TestClient, ui_settings: Settings
) -> None:
    await deliver(client)
    (ui_settings.rules_dir / "rules.yaml").write_text(RULES.replace("add_labels", "add_lables"))
    await log_in(client)
    reload = await client.post("/admin/rules/reload", headers={"Authorization": f"Bearer {ADMIN}"})

    page = await (await client.get("/ui/rules")).text()

    assert reload.status == 422
    errors = page.split('id="reload-errors"')[1].split("</section>")[0]
    assert "unknown key &#39;add_lables&#39;" in errors
    table = page.split('id="rules"')[1]
    row = table.split("triage-api-issues")[1].split("</tr>")[0]
    assert "{&#34;issue&#34;: [&#34;open&#34;]}" in row and "rules.yaml:2" in row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", row)
    bugs = table.split("comment-on-bugs")[1].split("</tr>")[0]
    assert "never" in bugs


async def test_rules_show_each_trigger_as_written_without_unused_defaults(
    client: TestClient,
) -> None:
    await log_in(client)

    page = await (await client.get("/ui/rules")).text()

    row = page.split('id="rules"')[1].split("weekly-sweep")[1].split("</tr>")[0]
    written = '{"schedule": {"cron": "0 9 * * 1", "timezone": "Europe/Berlin"}}'
    assert written.replace('"', "&#34;") in row  # no unused "at" or "grace"


# -- filters and paging on both databases ------------------------------------------------


async def _stored(store: Store, kind: str, project: str, n: int) -> NewDelivery:
    now = datetime.now(UTC)
    return NewDelivery(
        dedup_key=f"key:{kind}-{project}-{n}",
        event_header="Issue Hook" if kind == "issue" else "Release Hook",
        kind=kind,
        project=project,
        event_uuid=None,
        headers={},
        body=b"{}",
        received_at=now,
    )


async def test_filters_and_paging_on_sqlite_and_postgresql(
    aiohttp_client: Any, ui_settings: Settings, database_url: str
) -> None:
    store = Store.open(database_url)
    await store.migrate()
    batch = [await _stored(store, "issue", "team/app", n) for n in range(53)]
    batch += [
        await _stored(store, "release", "team/app", 0),
        await _stored(store, "issue", "team/web", 0),
    ]
    ids = [i for i, _ in await asyncio.gather(*(store.add_delivery(d) for d in batch))]
    async with store.engine.begin() as conn:
        await conn.execute(update(deliveries).values(status="done"))
        await conn.execute(
            update(deliveries).where(deliveries.c.id == ids[0]).values(status="failed")
        )
    client = await aiohttp_client(create_app(ui_settings, store=store))
    await log_in(client)

    first = await (await client.get("/ui/deliveries?kind=issue&project=team/app")).text()
    shown = [int(i) for i in re.findall(r'<td><a href="/ui/deliveries/(\d+)">', first)]
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older is not None
    second = await (await client.get(older.group(1).replace("&amp;", "&"))).text()
    rest = [int(i) for i in re.findall(r'<td><a href="/ui/deliveries/(\d+)">', second)]
    failed = await (await client.get("/ui/deliveries?outcome=failed")).text()

    issue_app = sorted(ids[:53], reverse=True)
    assert shown == issue_app[:50] and rest == issue_app[50:]
    assert 'rel="next"' not in second
    assert re.findall(r'<td><a href="/ui/deliveries/(\d+)">', failed) == [str(ids[0])]


# -- addresses ----------------------------------------------------------------------------


async def test_ui_with_a_trailing_slash_leads_to_the_dashboard_like_ui(client: TestClient) -> None:
    await log_in(client)

    without = await client.get("/ui")
    with_slash = await client.get("/ui/")

    assert (with_slash.status, with_slash.url.path) == (200, "/ui/deliveries")
    assert (without.status, without.url.path) == (200, "/ui/deliveries")


async def test_ui_with_a_trailing_slash_before_logging_in_leads_to_the_dashboard_after_it(
    client: TestClient,
) -> None:
    form = await client.get("/ui/")
    assert (form.status, form.url.path_qs) == (200, "/ui/login?next=/ui")

    after = await client.post("/ui/login", data={"token": ADMIN, "next": "/ui"})

    assert (after.status, after.url.path) == (200, "/ui/deliveries")


async def test_every_dashboard_page_with_a_trailing_slash_is_that_page(client: TestClient) -> None:
    delivery = await deliver(client)
    await log_in(client)

    for page in (
        "/ui/deliveries",
        f"/ui/deliveries/{delivery}",
        f"/ui/subjects?subject={SUBJECT.replace('#', '%23')}",
        "/ui/schedules",
        "/ui/sprints",
        "/ui/rules",
    ):
        path, _, query = page.partition("?")
        answer = await client.get(f"{path}/" + (f"?{query}" if query else ""))
        assert (answer.status, answer.url.raw_path_qs) == (200, page), page


async def test_an_unknown_dashboard_page_with_a_trailing_slash_is_still_not_found(
    client: TestClient,
) -> None:
    await log_in(client)

    assert (await client.get("/ui/nothing-here/")).status == 404
