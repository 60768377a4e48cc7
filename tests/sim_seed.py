"""A seed with subgroups, same-titled sprint milestones on several owners, project milestones,
closed and confidential issues, iterations in every state and a release; shared by the
simulator's route and filter tests."""

from __future__ import annotations

from typing import Any

TEAM_SEED: dict[str, Any] = {
    "users": [
        {"username": "hooks-bot", "name": "Hooks Bot", "token": "sim-token"},
        {"username": "alice", "token": "alice-token"},
        {"username": "bob", "token": "bob-token"},
    ],
    "groups": [
        {"path": "acme", "description": "The company"},
        {"path": "acme/web"},
        {"path": "acme/mobile"},
    ],
    "projects": [{"path": "acme/api"}, {"path": "acme/web/site"}, {"path": "acme/mobile/app"}],
    "labels": [
        {"group": "acme", "title": "bug", "color": "#d9534f"},
        {"group": "acme", "title": "feature", "color": "#f0f0f0", "description": "New things"},
        {"project": "acme/api", "title": "api-only", "color": "#428bca", "priority": 1},
    ],
    "milestones": [
        {"group": "acme", "title": "Sprint 3", "start_date": "-7d", "due_date": "+7d"},
        {"group": "acme/web", "title": "Sprint 3", "start_date": "-7d", "due_date": "+7d"},
        {"project": "acme/mobile/app", "title": "Sprint 3", "start_date": "-7d", "due_date": "+7d"},
        {
            "project": "acme/api",
            "title": "v1.0",
            "description": "First stable",
            "due_date": "-30d",
            "state": "closed",
        },
    ],
    "iterations": [
        {"group": "acme", "title": "It 1", "start_date": "-20d", "due_date": "-8d"},
        {"group": "acme", "title": "It 2", "start_date": "-7d", "due_date": "+6d"},
        {"group": "acme", "title": "It 3", "start_date": "+7d", "due_date": "+20d"},
        {"group": "acme/web", "title": "Web It", "start_date": "-7d", "due_date": "+6d"},
    ],
    "issues": [
        {
            "project": "acme/api",
            "title": "Login fails",
            "labels": ["bug", "api-only"],
            "milestone": "Sprint 3",
            "assignees": ["alice"],
            "author": "bob",
            "due_date": "+1d",
        },
        {
            "project": "acme/api",
            "title": "Dark mode",
            "labels": ["feature"],
            "milestone": "v1.0",
            "author": "alice",
            "state": "closed",
        },
        {
            "project": "acme/api",
            "title": "Docs",
            "description": "- [x] one\n- [ ] two",
            "author": "bob",
            "confidential": True,
        },
        {
            "project": "acme/web/site",
            "title": "Landing",
            "labels": ["bug", "feature"],
            "milestone": "Sprint 3",
            "assignees": ["bob"],
        },
        {
            "project": "acme/mobile/app",
            "title": "Crash",
            "labels": ["bug"],
            "milestone": "Sprint 3",
        },
    ],
    "releases": [{"project": "acme/api", "tag": "v1.0", "milestones": ["v1.0"]}],
}
