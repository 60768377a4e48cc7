"""The live rules of a GitLab project for a command run beside the service (`hooks preview`):
the commit the database names live, else the ref's head, read and validated as the service
reads it."""

from __future__ import annotations

import asyncio

import gitlab

from hooks.gitlab.repository import RepositoryOps
from hooks.rules.model import RuleSet
from hooks.rulesource.fetch import read_commit, validate
from hooks.service.config import Settings
from hooks.storage.rules_live import RulesLiveStore
from hooks.storage.store import open_store


async def _live_sha(settings: Settings) -> str | None:
    store = open_store(settings.database_url)
    try:
        await store.migrate()
        key = f"{settings.rules_project}@{settings.rules_ref or '(default branch)'}"
        row = await RulesLiveStore(store).read(key)
    finally:
        await store.close()
    return row.sha if row is not None else None


def live_rules(settings: Settings) -> RuleSet:
    """Raises RulesRefused (the commit does not validate) or GitLab's error (unreadable)."""
    if settings.gitlab_token is None:
        raise ValueError("HOOKS_RULES_PROJECT is set: HOOKS_GITLAB_TOKEN is needed to read it")
    project = settings.rules_project
    sha = asyncio.run(_live_sha(settings))
    with gitlab.Gitlab(
        settings.gitlab_url,
        private_token=settings.gitlab_token.get_secret_value(),
        timeout=settings.gitlab_timeout_s,
    ) as gl:
        ops = RepositoryOps(gl, max_retries=settings.gitlab_max_retries)
        if sha is None:
            ref = settings.rules_ref or str(ops.project(project).get("default_branch") or "main")
            sha = ops.branch_head(project, ref)
        return validate(
            read_commit(ops, project, sha, settings.rules_path), settings.approval_project
        )
