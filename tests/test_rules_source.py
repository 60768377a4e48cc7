"""Rules read from a GitLab project (HOOKS_RULES_PROJECT): at start and on every push to the
rules ref, validated whole and swapped, or refused with the old rules kept and the errors on
the commit; each case of bad input ends in a defined state. The simulator plays GitLab."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from markupsafe import escape

from hooks.testing.serve_process import serve_environment
from hooks.testing.sim_faults import Fault
from hooks.testing.simulator import Simulator
from hooks.testing.waiting import eventually
from tests.conftest import SECRET, fixture_bytes
from tests.e2e import (
    RULE_PACK,
    as_user,
    marked_notes,
    service_settings,
    settle,
    start_service,
    store_of,
)
from tests.preview_history import PROPOSED_SENTENCE, ROLLOVER_SENTENCE
from tests.rules_repo import (
    ADMIN_TOKEN,
    RULES_PROJECT,
    commit_rule_pack,
    get,
    gitlab_seed,
    in_force,
    live_at,
    pack_file,
    post_admin,
    runtime_of,
    serve_rules_project,
    service,
)

HEALTH = "rules/10-health.yaml"
ROLLOVER = "rules/20-rollover.yaml"
BLOCKED_TEXT = "this item was labelled"


__all__ = ["gitlab_seed", "service"]  # the fixtures, used below


def label_blocked(sim: Simulator, iid: int) -> None:
    issue = as_user(sim, "alice").projects.get("demo/product", lazy=True).issues.get(iid)
    issue.labels = [*issue.labels, "blocked"]
    issue.save()


def broken_rollover() -> str:
    """The roll-over file with a typo in a key (line 13 of the shipped file is `on:`)."""
    text = pack_file("20-rollover.yaml")
    return text.replace("  on: {milestone: [close]}", "  onn: {milestone: [close]}", 1)


def check_output(tmp_path: Path, files: dict[str, str]) -> list[str]:
    """What `hooks check rules` prints for the pack with `files` changed (paths as committed)."""
    checkout = tmp_path / "checkout"
    shutil.copytree(RULE_PACK, checkout / "rules")
    for path, text in files.items():
        (checkout / path).write_text(text)
    env = serve_environment()
    shown = subprocess.run(
        [sys.executable, "-m", "hooks", "check", "rules"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    return [line for line in shown.stderr.splitlines() if line.startswith("rules/")]


async def test_at_start_the_refs_head_is_in_force_named_by_its_commit(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    head = gitlab_sim.branch_head(RULES_PROJECT)

    rules = in_force(service)

    assert (rules.origin, rules.version) == ("gitlab", head)
    assert {r.name for r in rules.rules} >= {"blocked-needs-attention", "roll-over-first-time"}
    assert rules.sources["roll-over-first-time"].file == ROLLOVER


async def test_a_delivery_planned_with_rules_from_gitlab_names_their_commit(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    label_blocked(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))

    [delivery] = await store_of(service).list_deliveries(kind="issue")
    trail = await store_of(service).audit_for(delivery_id=delivery.id)
    assert {line["rules_version"] for line in trail} == {gitlab_sim.branch_head(RULES_PROJECT)}


async def test_a_push_to_the_rules_ref_puts_its_rules_live(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    changed = pack_file("10-health.yaml").replace(BLOCKED_TEXT, "someone marked it blocked")
    sha = gitlab_sim.seed_repository(RULES_PROJECT, {HEALTH: changed}, user="alice")

    await live_at(service, sha)
    label_blocked(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))

    [note] = marked_notes(gitlab_sim, "demo/product", 1)
    assert "someone marked it blocked" in note["body"]


async def test_the_metrics_name_the_live_commit(gitlab_sim: Simulator, service: TestServer) -> None:
    sha = gitlab_sim.seed_repository(RULES_PROJECT, {"rules/50-empty.yaml": "rules: []\n"})
    await live_at(service, sha)

    body = await (await get(service, "/metrics")).text()

    assert f'hooks_rules_version_info{{source="gitlab",version="{sha}"}} 1.0' in body
    assert body.count("hooks_rules_version_info{") == 1


# -- a version that does not validate ---------------------------------------------------


async def refused(sim: Simulator, server: TestServer, sha: str) -> None:
    """Wait until the push of `sha` is processed, and check it was refused."""
    await settle(sim, store_of(server))
    source = runtime_of(server).rules_source
    assert source is not None and source.refused_sha == sha, source and source.refused_sha


async def test_a_push_that_does_not_validate_keeps_the_rules_in_force(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    good = gitlab_sim.branch_head(RULES_PROJECT)
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()}, user="bob")
    await refused(gitlab_sim, service, bad)

    label_blocked(gitlab_sim, 1)
    await settle(gitlab_sim, store_of(service))

    assert in_force(service).version == good
    [note] = marked_notes(gitlab_sim, "demo/product", 1)
    assert BLOCKED_TEXT in note["body"]


async def test_the_errors_of_a_refused_commit_are_commented_on_it_as_hooks_check_prints_them(
    gitlab_sim: Simulator, service: TestServer, tmp_path: Path
) -> None:
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()}, user="bob")
    await refused(gitlab_sim, service, bad)
    expected = check_output(tmp_path, {ROLLOVER: broken_rollover()})

    [comment] = gitlab_sim.commit_comments(RULES_PROJECT, bad)

    assert expected and all(line in comment["note"] for line in expected)
    assert f"the rules of commit {gitlab_sim.branch_head(RULES_PROJECT)}" not in comment["note"]
    assert "were not put live" in comment["note"]


async def test_a_refused_commit_is_in_readyz_the_metrics_and_the_dashboard(
    gitlab_sim: Simulator, service: TestServer, tmp_path: Path
) -> None:
    good = gitlab_sim.branch_head(RULES_PROJECT)
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
    await refused(gitlab_sim, service, bad)
    [first_error] = check_output(tmp_path, {ROLLOVER: broken_rollover()})[:1]

    ready = await (await get(service, "/readyz")).json()
    metrics = await (await get(service, "/metrics")).text()

    detail = ready["checks"]["rules"]["detail"]
    assert ready["checks"]["rules"]["ok"] is True  # the rules before it stay in force
    assert f"commit {good}" in detail and f"commit {bad[:12]} refused" in detail
    assert first_error in detail
    assert "hooks_rules_refused_errors 0.0" not in metrics
    assert f'version="{good}"' in metrics


async def test_the_same_refused_commit_is_commented_once(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
    await refused(gitlab_sim, service, bad)
    reloaded = await post_admin(service, "/admin/rules/reload")
    await settle(gitlab_sim, store_of(service))

    assert reloaded.status == 422
    assert len(gitlab_sim.commit_comments(RULES_PROJECT, bad)) == 1


async def test_a_fixed_push_after_a_refused_one_goes_live(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
    await refused(gitlab_sim, service, bad)
    fixed = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: pack_file("20-rollover.yaml")})

    await live_at(service, fixed)
    ready = await (await get(service, "/readyz")).json()
    assert "refused" not in ready["checks"]["rules"]["detail"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"rules/big.json": "x" * (1024 * 1024 + 1)},
            "rules/big.json: 1048577 bytes, over the 1 MiB",
        ),
        (
            {f"rules/fixtures/f{n:03}.json": "{}" for n in range(200)},
            "rules: more than 200 files",
        ),
        ({"rules/60-broken.yaml": "rules: [ {name: x\n"}, "rules/60-broken.yaml:2: YAML"),
    ],
    ids=["file-over-1-MiB", "over-200-files", "not-YAML"],
)
async def test_bad_input_in_the_rules_folder_is_refused_with_a_message_naming_it(
    gitlab_sim: Simulator, service: TestServer, files: dict[str, str], message: str
) -> None:
    good = gitlab_sim.branch_head(RULES_PROJECT)
    bad = gitlab_sim.seed_repository(RULES_PROJECT, dict(files))
    await refused(gitlab_sim, service, bad)

    [comment] = gitlab_sim.commit_comments(RULES_PROJECT, bad)
    assert message in comment["note"]
    assert in_force(service).version == good


async def test_files_outside_the_rules_folder_are_not_read(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    gitlab_sim.clear_requests()
    outside = {"README.md": "# Automation\n", "docs/rules/90-draft.yaml": "not: [rules"}
    sha = gitlab_sim.seed_repository(RULES_PROJECT, outside)

    await live_at(service, sha)

    read = [r.path for r in gitlab_sim.recorded("GET") if "/repository/files/" in r.path]
    assert read and all("rules%2F" in p or "/rules/" in p for p in read), read
    assert not [p for p in read if "README" in p or "docs" in p]


# -- how the ref moves ------------------------------------------------------------------


async def test_a_force_push_to_an_older_commit_makes_that_commit_live_and_says_so(
    gitlab_sim: Simulator, service: TestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    older = gitlab_sim.branch_head(RULES_PROJECT)
    newer = gitlab_sim.seed_repository(RULES_PROJECT, {"rules/50-empty.yaml": "rules: []\n"})
    await live_at(service, newer)

    gitlab_sim.force_push(RULES_PROJECT, "main", older, user="alice")

    await live_at(service, older)
    assert "moved back to an older commit" in capsys.readouterr().out


async def test_pushes_arriving_while_a_read_runs_end_with_the_latest_commit_live(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    gitlab_sim.faults.add(Fault(path="/api/v4/projects/*/repository/files/*", latency_s=0.05))
    shas = [
        gitlab_sim.seed_repository(RULES_PROJECT, {"rules/50-extra.yaml": extra_rule(n)})
        for n in range(4)
    ]
    await settle(gitlab_sim, store_of(service))

    await live_at(service, shas[-1])
    pushes = await store_of(service).list_deliveries(kind="push")
    went_live = []
    for delivery in pushes:
        trail = await store_of(service).audit_for(delivery_id=delivery.id)
        went_live += [t["detail"]["commit"] for t in trail if t["outcome"] == "live"]
    # Each version put live was a whole commit's, and never an older one after a newer.
    assert went_live == sorted(went_live, key=shas.index) and went_live[-1] == shas[-1]


def extra_rule(n: int) -> str:
    return (
        "rules:\n"
        f"  - name: extra-{n}\n"
        "    on: {issue: [open]}\n"
        f"    do: [{{comment: 'extra {n}'}}]\n"
    )


# -- GitLab unreachable, or the token without access ------------------------------------


async def test_the_rules_project_unreachable_keeps_the_rules_and_says_why(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    good = gitlab_sim.branch_head(RULES_PROJECT)
    outage = gitlab_sim.faults.add(
        Fault(path="/api/v4/projects/*/repository/*", error_rate=1.0, statuses=(503,))
    )
    newer = gitlab_sim.seed_repository(RULES_PROJECT, {"rules/50-empty.yaml": "rules: []\n"})

    async def said() -> bool:
        ready = await (await get(service, "/readyz")).json()
        assert "unreadable: 503" in ready["checks"]["rules"]["detail"], ready
        return True

    await eventually(said, what="readyz naming the unreadable rules project")
    assert in_force(service).version == good
    gitlab_sim.faults.remove(outage)
    await live_at(service, newer)


async def test_a_token_that_cannot_read_the_rules_project_is_named_and_nothing_loads(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    server = await serve_rules_project(gitlab_sim, tmp_path, rules_project="ops/secret")
    try:
        ready = await get(server, "/readyz")
        detail = (await ready.json())["checks"]["rules"]["detail"]
    finally:
        await server.close()

    assert ready.status == 503
    assert "404 Project Not Found" in detail and "the token must read project ops/secret" in detail


# -- several replicas -------------------------------------------------------------------


async def test_a_replica_that_got_no_push_converges_on_the_live_commit(
    gitlab_sim: Simulator, tmp_path: Path, postgres_url: str
) -> None:
    commit_rule_pack(gitlab_sim)
    first = await serve_rules_project(gitlab_sim, tmp_path, database_url=postgres_url)
    # The second replica gets no webhook at all: only the database tells it.
    second = await start_service(
        service_settings(
            gitlab_sim,
            tmp_path,
            tmp_path / "unused-rules",
            database_url=postgres_url,
            rules_project=RULES_PROJECT,
            rules_check_interval_s=0.2,
        )
    )
    try:
        sha = gitlab_sim.seed_repository(RULES_PROJECT, {"rules/50-empty.yaml": "rules: []\n"})
        await live_at(first, sha)
        await live_at(second, sha, within_s=5)

        bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
        await settle(gitlab_sim, store_of(first))

        async def told() -> bool:
            source = runtime_of(second).rules_source
            assert source is not None and source.refused_sha == bad
            return True

        await eventually(told, within_s=5, what="the second replica knowing the refusal")
        assert in_force(second).version == sha
    finally:
        await first.close()
        await second.close()


async def test_a_restart_while_the_refs_head_is_refused_starts_on_the_last_live_commit(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    good = commit_rule_pack(gitlab_sim)
    first = await serve_rules_project(gitlab_sim, tmp_path)
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
    await refused(gitlab_sim, first, bad)
    await first.close()

    again = await serve_rules_project(gitlab_sim, tmp_path)
    try:
        assert in_force(again).version == good
        ready = await (await get(again, "/readyz")).json()
    finally:
        await again.close()
    assert (
        ready["ready"] is True
        and f"commit {bad[:12]} refused" in ready["checks"]["rules"]["detail"]
    )
    assert len(gitlab_sim.commit_comments(RULES_PROJECT, bad)) == 1


async def test_the_dashboard_shows_the_live_commit_and_the_refused_one_with_its_errors(
    gitlab_sim: Simulator, service: TestServer, tmp_path: Path
) -> None:
    good = gitlab_sim.branch_head(RULES_PROJECT)
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
    await refused(gitlab_sim, service, bad)
    errors = check_output(tmp_path, {ROLLOVER: broken_rollover()})

    # The session cookie is for 127.0.0.1: a jar that keeps cookies of IP addresses.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        login = {"token": ADMIN_TOKEN, "next": "/ui/rules"}
        async with session.post(service.make_url("/ui/login"), data=login) as response:
            page = await response.text()

    assert f"Commit <code>{bad}</code> was refused" in page
    assert all(str(escape(line)) in page for line in errors)
    assert f"from {RULES_PROJECT}@main" in page and f"<code>{good}</code>" in page


async def test_in_dry_run_nothing_is_written_to_the_rules_project(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    commit_rule_pack(gitlab_sim)
    server = await serve_rules_project(gitlab_sim, tmp_path, dry_run=True)
    try:
        bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
        await refused(gitlab_sim, server, bad)
    finally:
        await server.close()

    assert gitlab_sim.commit_comments(RULES_PROJECT, bad) == []
    assert not [r for r in gitlab_sim.recorded(user="hooks-bot") if r.method != "GET"]


# -- hooks preview beside the service ---------------------------------------------------


async def test_hooks_preview_compares_with_the_live_commit_of_the_rules_project(
    gitlab_sim: Simulator, service: TestServer, tmp_path: Path
) -> None:
    live = in_force(service).version
    # The repository's default branch moves on, but the database names the live commit.
    gitlab_sim.faults.add(Fault(path="/api/v4/projects/*/repository/branches/*", error_rate=1.0))
    same = tmp_path / "same"
    shutil.copytree(RULE_PACK, same)
    changed = tmp_path / "changed"
    shutil.copytree(RULE_PACK, changed)
    rollover = changed / "20-rollover.yaml"
    rollover.write_text(rollover.read_text().replace(ROLLOVER_SENTENCE, PROPOSED_SENTENCE))
    env = serve_environment()
    settings = runtime_of(service).settings
    env.update(
        HOOKS_DATABASE_URL=settings.database_url,
        HOOKS_GITLAB_URL=gitlab_sim.url,
        HOOKS_GITLAB_TOKEN=gitlab_sim.bot_token,
        HOOKS_RULES_PROJECT=RULES_PROJECT,
        HOOKS_RULES_DIR=str(tmp_path / "no-such-folder"),
    )

    def preview(folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hooks", "preview", str(folder), "--format", "markdown"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    unchanged, different = await asyncio.gather(
        asyncio.to_thread(preview, same), asyncio.to_thread(preview, changed)
    )

    assert live and unchanged.returncode == 0, unchanged.stderr
    assert different.returncode == 1, different.stderr
    assert "roll-over-first-time" in different.stdout and PROPOSED_SENTENCE in different.stdout


async def test_admin_preview_gives_the_candidate_the_live_commits_fixtures(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    changed = pack_file("20-rollover.yaml").replace(ROLLOVER_SENTENCE, PROPOSED_SENTENCE)
    files = {name: pack_file(name) for name in ("00-team.yaml", "10-health.yaml")}
    files |= {"20-rollover.yaml": changed, "30-release.yaml": pack_file("30-release.yaml")}
    files |= {"40-rituals.yaml": pack_file("40-rituals.yaml")}

    async with aiohttp.ClientSession() as session:
        response = await session.post(
            service.make_url("/admin/preview"),
            json={"files": files},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        report = await response.json()

    assert response.status == 200, report
    assert report["valid"] and report["examples_passed"] > 0
    assert [r["rule"] for r in report["rules"]] == ["roll-over-first-time"]


async def test_gitlab_down_at_start_leaves_the_service_not_ready_until_it_reads_the_rules(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    head = commit_rule_pack(gitlab_sim)
    outage = gitlab_sim.faults.add(
        Fault(path="/api/v4/projects/*/repository/*", error_rate=1.0, statuses=(502,))
    )
    server = await serve_rules_project(gitlab_sim, tmp_path)
    try:
        ready = await get(server, "/readyz")
        detail = (await ready.json())["checks"]["rules"]["detail"]
        gitlab_sim.faults.remove(outage)
        await live_at(server, head)
        after = await get(server, "/readyz")
    finally:
        await server.close()

    assert ready.status == 503 and "no rules loaded" in detail and "unreadable: 502" in detail
    assert after.status == 200


async def test_a_push_payload_without_its_commits_fails_naming_the_missing_field(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    payload = json.loads(fixture_bytes("push.json"))
    payload["project"].update(path_with_namespace=RULES_PROJECT, default_branch="main")
    payload["ref"] = "refs/heads/main"
    del payload["after"]
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            service.make_url("/webhook"),
            data=json.dumps(payload),
            headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET},
        )
        delivery_id = (await response.json())["delivery"]
    await settle(gitlab_sim, store_of(service))

    delivery = await store_of(service).get_delivery(delivery_id)
    assert delivery is not None and delivery.status == "failed"
    assert delivery.last_error == "not a PushEvent payload: after: Field required"


async def test_a_commit_without_the_rules_folder_is_refused_naming_it(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    good = gitlab_sim.branch_head(RULES_PROJECT)
    gone = gitlab_sim.seed_repository(RULES_PROJECT, {"README.md": "moved"}, exact=True)
    await refused(gitlab_sim, service, gone)

    [comment] = gitlab_sim.commit_comments(RULES_PROJECT, gone)
    assert f"rules: no such folder at commit {gone[:12]}" in comment["note"]
    assert in_force(service).version == good


async def test_a_refusal_comment_that_failed_is_made_on_the_next_read_of_that_commit(
    gitlab_sim: Simulator, service: TestServer
) -> None:
    failing = gitlab_sim.faults.add(
        Fault(
            method="POST", path="*/repository/commits/*/comments", error_rate=1.0, statuses=(500,)
        )
    )
    bad = gitlab_sim.seed_repository(RULES_PROJECT, {ROLLOVER: broken_rollover()})
    await refused(gitlab_sim, service, bad)
    assert gitlab_sim.commit_comments(RULES_PROJECT, bad) == []
    gitlab_sim.faults.remove(failing)

    reloaded = await post_admin(service, "/admin/rules/reload")
    again = await post_admin(service, "/admin/rules/reload")

    assert reloaded.status == again.status == 422
    assert len(gitlab_sim.commit_comments(RULES_PROJECT, bad)) == 1


async def test_the_approval_project_setting_holds_for_rules_read_from_gitlab(
    gitlab_sim: Simulator, tmp_path: Path
) -> None:
    # The pack's roll-over asks for approval above 50 items, so its rules need an approval
    # project: here only the service's setting names one (read from .env as much as the
    # environment), not the rules' vars.
    team = pack_file("00-team.yaml").splitlines()
    without_var = [line for line in team if not line.lstrip().startswith("approval_project:")]
    commit_rule_pack(gitlab_sim, user="alice")
    sha = gitlab_sim.seed_repository(
        RULES_PROJECT, {"rules/00-team.yaml": "\n".join(without_var) + "\n"}, user="alice"
    )

    server = await serve_rules_project(gitlab_sim, tmp_path, approval_project="demo/marketing")
    try:
        rules = in_force(server)
    finally:
        await server.close()

    assert (rules.version, rules.approval_project) == (sha, "demo/marketing")
