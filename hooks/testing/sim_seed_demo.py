"""The built-in demo seed (`hooks simulate` without `--seed`, `hooks demo`)."""

from __future__ import annotations

from datetime import date
from typing import Any


def demo_seed(today: date) -> dict[str, Any]:
    """The built-in demo: a small team planning in two-week sprints."""
    sprint = [
        ("Sprint 41", -21, -8, "closed"),
        ("Sprint 42", -7, 6, "active"),
        ("Sprint 43", 7, 20, "active"),
    ]
    labels = [
        ("health::on track", "#009966"),
        ("health::needs attention", "#f0ad4e"),
        ("health::at risk", "#d9534f"),
        ("blocked", "#cc0033"),
        ("in review", "#428bca"),
        ("release-priority", "#6699cc"),
        ("maturity::viable", "#8fbc8f"),
        ("release", "#5843ad"),
        ("case-study", "#ad4363"),
        ("deprioritized", "#999999"),
        ("superseded", "#999999"),
        ("feature", "#69d100"),
        ("area::ci", "#7f8c8d"),
        ("area::plan", "#7f8c8d"),
        ("automation::approved", "#1f75cb"),
    ]
    issue_specs = [
        (
            "Write the CI/CD feature overview",
            ["feature", "area::ci"],
            "Sprint 42",
            ["alice"],
            "+4d",
        ),
        ("Refresh the competitive comparison", ["area::plan"], "Sprint 42", ["bob"], "+2d"),
        ("Pricing page copy", ["blocked"], "Sprint 42", ["carol"], "+5d"),
        ("Analyst briefing deck", [], "Sprint 42", [], "-1d"),
        ("Webinar follow-up email", ["in review"], "Sprint 42", ["dave"], "+1d"),
        ("Customer quote approvals", [], "Sprint 42", ["alice"], "+6d"),
        ("Sales enablement session", ["area::ci"], "Sprint 42", ["bob"], None),
        ("Launch blog post draft", ["feature"], "Sprint 43", ["carol"], "+10d"),
        ("Update /direction page", [], "Sprint 43", [], "+12d"),
        ("Old campaign cleanup", ["deprioritized"], "Sprint 41", ["dave"], "-9d"),
        ("Value drivers refresh", [], "Sprint 41", ["alice"], "-10d"),
        ("Handbook page for the new feature", [], None, [], None),
    ]
    return {
        "users": [
            {"username": "hooks-bot", "name": "Hooks Bot", "token": "sim-token"},
            {"username": "alice", "name": "Alice PMM", "token": "alice-token"},
            {"username": "bob", "name": "Bob Developer", "token": "bob-token"},
            {"username": "carol", "name": "Carol PMM", "token": "carol-token"},
            {"username": "dave", "name": "Dave Organiser", "token": "dave-token"},
        ],
        "groups": [{"path": "demo"}],
        "projects": [
            {"path": "demo/product"},
            {"path": "demo/marketing"},
            {"path": "demo/training"},
        ],
        "labels": [{"group": "demo", "title": t, "color": c} for t, c in labels],
        "milestones": [
            {
                "group": "demo",
                "title": title,
                "start_date": f"{start:+d}d",
                "due_date": f"{due:+d}d",
                "state": state,
            }
            for title, start, due, state in sprint
        ],
        "iterations": [
            {
                "group": "demo",
                "cadence": "Team A",
                "title": f"Iteration {n}",
                "start_date": start,
                "due_date": due,
            }
            for n, start, due in ((42, "-7d", "+6d"), (43, "+7d", "+20d"))
        ],
        "issues": [
            {
                "project": "demo/product" if i % 3 else "demo/marketing",
                "title": title,
                "labels": lbls,
                "milestone": ms,
                "assignees": who,
                "author": "bob",
                "due_date": due,
                "state": "opened",
                # For the demo's scene of a team on iterations: one item in Iteration 42.
                **({"iteration": 1} if title == "Update /direction page" else {}),
            }
            for i, (title, lbls, ms, who, due) in enumerate(issue_specs)
        ]
        + [
            {
                "project": "demo/product",
                "title": "Collect the direction page's links",
                "type": "task",
                "parent": 6,  # demo/product#6, Update /direction page
                "author": "bob",
            }
        ],
        "releases": [],
        # Roles in the group (doc/api/members.md): commands in comments need Developer; a big
        # roll-over (approve_above) needs a Maintainer of demo/marketing to approve it.
        "members": [
            {"group": "demo", "user": "hooks-bot", "access_level": "maintainer"},
            {"group": "demo", "user": "alice", "access_level": "maintainer"},
            {"group": "demo", "user": "bob", "access_level": "developer"},
            {"group": "demo", "user": "carol", "access_level": "developer"},
            {"group": "demo", "user": "dave", "access_level": "reporter"},
        ],
    }
