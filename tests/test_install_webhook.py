"""`hooks install-webhook` registers the webhook once and leaves a correct one alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gitlab
import pytest
import structlog

from hooks.gitlab.install import WANTED_EVENTS, TargetNotFound, ensure_webhook
from hooks.service.cli import main
from hooks.service.config import Settings
from hooks.testing.simulator import Simulator

URL = "https://hooks.example.com/webhook"
SECRET = "first-secret-0123456789"


def hooks_on(sim: Simulator, path: str) -> list[dict[str, Any]]:
    with sim.lock:
        project = sim.state.project(path)
        assert project is not None
        owner_id = project["id"]
        return [h for h in sim.state.hooks.values() if h.get("project_id") == owner_id]


def writes(sim: Simulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.recorded() if r.method not in ("GET", "HEAD")]


@pytest.fixture(autouse=True)
def _unconfigured_logging() -> Iterator[None]:
    """The command configures logging onto the captured stderr; undo it after each test."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def env(gitlab_sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Simulator:
    """The command's environment: the simulator's URL, the bot's token, two rotating secrets."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"HOOKS_{name.upper()}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    monkeypatch.setenv("HOOKS_GITLAB_URL", gitlab_sim.url)
    monkeypatch.setenv("HOOKS_GITLAB_TOKEN", gitlab_sim.bot_token)
    monkeypatch.setenv("HOOKS_WEBHOOK_SECRET", f"{SECRET},older-secret")
    return gitlab_sim


def test_creates_the_hook_with_the_wanted_events_and_the_first_secret(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install-webhook", "demo/product", "--url", URL]) == 0
    [hook] = hooks_on(env, "demo/product")
    assert capsys.readouterr().out == f"created hook {hook['id']} on demo/product\n"
    assert hook["url"] == URL and hook["token"] == SECRET
    assert hook["issues_events"] and hook["confidential_issues_events"]
    assert hook["releases_events"] and hook["milestone_events"]
    # comments and reactions carry commands to the bot and trigger note and emoji rules
    assert not hook["push_events"] and hook["note_events"] and hook["emoji_events"]
    assert hook["confidential_note_events"]
    assert hook["enable_ssl_verification"]


def test_second_run_makes_no_write(env: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    main(["install-webhook", "demo/product", "--url", URL])
    env.clear_requests()
    capsys.readouterr()
    assert main(["install-webhook", "demo/product", "--url", URL]) == 0
    [hook] = hooks_on(env, "demo/product")
    assert capsys.readouterr().out == f"hook {hook['id']} on demo/product already up to date\n"
    assert writes(env) == []


def test_hook_with_wrong_events_is_corrected_in_place(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_id = env.add_hook(
        URL, "stale", project="demo/product", push_events=True, note_events=False
    )
    assert main(["install-webhook", "demo/product", "--url", URL]) == 0
    [hook] = hooks_on(env, "demo/product")
    assert hook["id"] == hook_id
    assert not hook["push_events"] and hook["note_events"]
    assert hook["token"] == SECRET
    assert capsys.readouterr().out == (
        f"updated hook {hook_id} on demo/product: confidential_note_events, emoji_events,"
        " note_events, push_events\n"
    )
    assert [w.split()[0] for w in writes(env)] == ["PUT"]


def test_correct_hook_keeps_its_token_unless_asked_to_update_it(env: Simulator) -> None:
    env.add_hook(
        URL,
        "old-token",
        project="demo/product",
        push_events=False,
        note_events=True,
        confidential_note_events=True,
        emoji_events=True,
    )
    main(["install-webhook", "demo/product", "--url", URL])
    assert hooks_on(env, "demo/product")[0]["token"] == "old-token"  # GitLab hides tokens
    main(["install-webhook", "demo/product", "--url", URL, "--update-token"])
    assert hooks_on(env, "demo/product")[0]["token"] == SECRET


def test_a_hook_gitlab_disabled_is_reported(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hook_id = env.add_hook(
        URL,
        SECRET,
        project="demo/product",
        push_events=False,
        note_events=True,
        confidential_note_events=True,
        emoji_events=True,
    )
    with env.lock:
        env.state.hooks[hook_id]["alert_status"] = "temporarily_disabled"
    assert main(["install-webhook", "demo/product", "--url", URL]) == 0
    err = capsys.readouterr().err
    assert f"hook {hook_id} on demo/product is temporarily disabled by GitLab" in err


def test_hooks_with_other_urls_are_left_alone(env: Simulator) -> None:
    other = env.add_hook("https://ci.example.com/hook", "x", project="demo/product")
    main(["install-webhook", "demo/product", "--url", URL])
    hooks = {h["id"]: h for h in hooks_on(env, "demo/product")}
    assert len(hooks) == 2
    assert hooks[other]["url"] == "https://ci.example.com/hook" and hooks[other]["token"] == "x"


def test_a_group_path_gets_a_group_hook(env: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-webhook", "demo", "--url", URL]) == 0
    with env.lock:
        group = env.state.group("demo")
        assert group is not None
        group_id = group["id"]
        group_hooks = [h for h in env.state.hooks.values() if h.get("group_id") == group_id]
    assert [h["url"] for h in group_hooks] == [URL]
    assert capsys.readouterr().out == f"created hook {group_hooks[0]['id']} on demo\n"


def test_secret_can_come_from_another_variable(
    env: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODUCT_HOOK_SECRET", "product-only")
    main(["install-webhook", "demo/product", "--url", URL, "--secret-env", "PRODUCT_HOOK_SECRET"])
    assert hooks_on(env, "demo/product")[0]["token"] == "product-only"


def test_without_a_token_it_fails_clearly_and_calls_nothing(
    env: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HOOKS_GITLAB_TOKEN")
    env.clear_requests()
    assert main(["install-webhook", "demo/product", "--url", URL]) == 1
    assert "HOOKS_GITLAB_TOKEN is not set" in capsys.readouterr().err
    assert env.recorded() == []


def test_without_a_secret_it_fails_clearly(
    env: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HOOKS_WEBHOOK_SECRET")
    assert main(["install-webhook", "demo/product", "--url", URL]) == 1
    assert "HOOKS_WEBHOOK_SECRET is not set" in capsys.readouterr().err
    assert hooks_on(env, "demo/product") == []


def test_unknown_path_fails_with_its_name(
    env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install-webhook", "nobody/nothing", "--url", URL]) == 1
    assert "no project or group 'nobody/nothing'" in capsys.readouterr().err


def test_tokens_never_reach_the_output(env: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    main(["install-webhook", "demo/product", "--url", URL])
    main(["install-webhook", "demo/product", "--url", URL, "--update-token"])
    main(["install-webhook", "nobody/nothing", "--url", URL])
    out = capsys.readouterr()
    for value in (env.bot_token, SECRET):
        assert value not in out.out + out.err


def test_ensure_webhook_is_callable_with_a_client(
    gitlab_sim: Simulator, gitlab_api: gitlab.Gitlab
) -> None:
    first = ensure_webhook(gitlab_api, "demo/product", URL, SECRET)
    again = ensure_webhook(gitlab_api, "demo/product", URL, SECRET)
    assert (first.action, again.action) == ("created", "unchanged")
    assert first.hook_id == again.hook_id and first.target == "demo/product"
    with pytest.raises(TargetNotFound):
        ensure_webhook(gitlab_api, "nobody/nothing", URL, SECRET)


def test_wanted_events_are_issues_releases_milestones_comments_and_reactions() -> None:
    enabled = {k for k, v in WANTED_EVENTS.items() if v}
    assert enabled == {
        "issues_events",
        "confidential_issues_events",
        "releases_events",
        "milestone_events",
        "note_events",
        "confidential_note_events",
        "emoji_events",
        "enable_ssl_verification",
    }


def test_the_registered_hook_is_recorded_for_the_watchdog(
    env: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    import asyncio

    from hooks.storage.store import Store
    from hooks.storage.watch import WatchStore

    assert main(["install-webhook", "demo", "--url", URL]) == 0
    assert main(["install-webhook", "demo", "--url", URL]) == 0  # twice: still one record

    async def recorded() -> list[tuple[str, str | None, int, str | None]]:
        store = Store.open(f"sqlite:///{tmp_path}/var/hooks.db")
        try:
            return [
                (h.scope, h.scope_kind, h.hook_id, h.url) for h in await WatchStore(store).hooks()
            ]
        finally:
            await store.close()

    [hook] = [h for h in env.state.hooks.values() if h.get("group_id")]
    assert asyncio.run(recorded()) == [("demo", "group", hook["id"], URL)]


def test_the_rules_project_also_sends_pushes_and_merge_requests(
    env: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKS_RULES_PROJECT", "demo/product")

    assert main(["install-webhook", "demo/product", "--url", URL]) == 0

    [hook] = hooks_on(env, "demo/product")
    assert hook["push_events"] and hook["merge_requests_events"]
    assert hook["issues_events"] and hook["milestone_events"]


def test_the_rules_project_named_by_id_is_recognised(
    env: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id = env.state.project("demo/product")
    assert project_id is not None
    monkeypatch.setenv("HOOKS_RULES_PROJECT", str(project_id["id"]))

    assert main(["install-webhook", "demo/product", "--url", URL]) == 0

    [hook] = hooks_on(env, "demo/product")
    assert hook["push_events"] and hook["merge_requests_events"]


def test_an_existing_hook_of_the_rules_project_gets_pushes_and_merge_requests_added(
    env: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["install-webhook", "demo/product", "--url", URL])
    capsys.readouterr()
    monkeypatch.setenv("HOOKS_RULES_PROJECT", "demo/product")

    assert main(["install-webhook", "demo/product", "--url", URL]) == 0

    [hook] = hooks_on(env, "demo/product")
    out = capsys.readouterr().out
    assert out == f"updated hook {hook['id']} on demo/product: merge_requests_events, push_events\n"
    assert hook["push_events"] and hook["merge_requests_events"]


def test_other_projects_keep_pushes_and_merge_requests_off(
    env: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKS_RULES_PROJECT", "demo/marketing")

    assert main(["install-webhook", "demo/product", "--url", URL]) == 0

    [hook] = hooks_on(env, "demo/product")
    assert not hook["push_events"] and not hook["merge_requests_events"]
