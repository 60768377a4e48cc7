"""The filters and sorts of GitLab's issue lists (doc/api/issues.md "List issues"), each doing
what the documentation says; `not[...]` negates labels (none of them), milestone, author,
assignee, iteration, weight, health status and reactions.

The simulator models no reactions, weights or epics: every issue has none, so those filters
answer exactly what GitLab would for such issues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from hooks.testing.sim_http import bad_request, between, label_names
from hooks.testing.sim_milestones import special_milestones

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

Issue = dict[str, Any]
HEALTH = ("on_track", "needs_attention", "at_risk")
ORDERS = (
    "created_at",
    "updated_at",
    "priority",
    "due_date",
    "relative_position",
    "label_priority",
    "milestone_due",
    "popularity",
    "weight",
    "title",
)
NEGATABLE = (
    "labels",
    "milestone",
    "milestone_id",
    "author_id",
    "author_username",
    "assignee_id",
    "assignee_username",
    "my_reaction_emoji",
    "iteration_id",
    "iteration_title",
    "weight",
    "health_status",
)
NOT_KEYS = {*NEGATABLE, "search", "in", "iids"}


def _choice(q: Mapping[str, str], name: str, values: tuple[str, ...]) -> str | None:
    value = q.get(name)
    if value in (None, ""):
        return None
    if value not in values:
        raise bad_request(f"{name} does not have a valid value")
    return value


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name} is invalid") from None


def _none_any(value: str) -> str | None:
    low = value.lower()
    return low if low in ("none", "any") else None


class IssueFilter:
    """Applies one request's filters; `not[...]` reuses the positive filter and subtracts."""

    def __init__(self, sim: SimCore, uid: int) -> None:
        self.sim = sim
        self.uid = uid

    def apply(
        self, q: Mapping[str, str], issues: list[Issue], *, default_scope: str = "all"
    ) -> list[Issue]:
        scope = q.get("scope") or default_scope
        if scope not in ("created_by_me", "assigned_to_me", "all"):
            raise bad_request("scope does not have a valid value")
        if scope == "created_by_me":
            issues = [i for i in issues if i["author_id"] == self.uid]
        elif scope == "assigned_to_me":
            issues = [i for i in issues if self.uid in i["assignee_ids"]]
        state = _choice(q, "state", ("opened", "closed", "all"))
        if state in ("opened", "closed"):
            issues = [i for i in issues if i["state"] == state]
        for test in self._tests(q).values():
            issues = [i for i in issues if test(i)]
        for key in q:
            if key.startswith("not[") and key[4:].split("]", 1)[0] not in NOT_KEYS:
                raise bad_request(f"{key} is a filter this simulator does not model")
        if q.get("not[search]"):
            term = q["not[search]"].lower()
            fields = q.get("not[in]", "title,description").split(",")
            issues = [
                i for i in issues if not any(term in (i.get(f) or "").lower() for f in fields)
            ]
        if q.get("not[iids][]"):
            unwanted_iids = {_int(v, "iids") for v in q.getall("not[iids][]")}  # type: ignore[attr-defined]
            issues = [i for i in issues if i["iid"] not in unwanted_iids]
        for name in NEGATABLE:
            value = q.get(f"not[{name}]")
            if value in (None, ""):
                continue
            if name == "labels":  # none of the given labels
                unwanted = set(label_names(value))
                issues = [i for i in issues if not unwanted & set(i["labels"])]
                continue
            test = self._tests({name: value})[name]
            issues = [i for i in issues if not test(i)]
        if q.get("iids[]"):
            wanted = {_int(v, "iids") for v in q.getall("iids[]")}  # type: ignore[attr-defined]
            issues = [i for i in issues if i["iid"] in wanted]
        issues = between(q, issues, "created_at")
        issues = between(q, issues, "updated_at")
        if q.get("search"):
            term = q["search"].lower()
            fields = q.get("in", "title,description").split(",")
            if not set(fields) <= {"title", "description"}:
                raise bad_request("in does not have a valid value")
            issues = [i for i in issues if any(term in (i.get(f) or "").lower() for f in fields)]
        return self.sort(q, issues)

    def _tests(self, q: Mapping[str, str]) -> dict[str, Callable[[Issue], bool]]:
        """One predicate per positive filter present in `q`."""
        s, sim = self.sim.state, self.sim
        tests: dict[str, Callable[[Issue], bool]] = {}
        if q.get("labels"):
            wanted = label_names(q["labels"])
            # Predefined names are case-insensitive; `No Label` is the deprecated `None`.
            first = "none" if wanted and wanted[0].lower() == "no label" else wanted[0]
            special = _none_any(first) if len(wanted) == 1 else None
            if special == "none":
                tests["labels"] = lambda i: not i["labels"]
            elif special == "any":
                tests["labels"] = lambda i: bool(i["labels"])
            else:
                tests["labels"] = lambda i: all(w in i["labels"] for w in wanted)
        for name in ("milestone", "milestone_id"):
            if q.get(name):
                tests[name] = self._milestone(name, q[name])
        if q.get("iteration_id"):
            tests["iteration_id"] = self._iteration(q["iteration_id"])
        if q.get("iteration_title"):
            title = q["iteration_title"]
            tests["iteration_title"] = lambda i: bool(
                i["iteration_id"] and s.iterations[i["iteration_id"]]["title"] == title
            )
        for who, field in (("author", "author_id"), ("assignee", "assignee_ids")):
            tests.update(self._people(q, who, field))
        if q.get("confidential"):
            wanted_conf = q["confidential"].lower() in ("true", "1")
            tests["confidential"] = lambda i: i["confidential"] == wanted_conf
        if q.get("health_status"):
            value = q["health_status"]
            special = _none_any(value)
            if special is None and value not in HEALTH:
                raise bad_request("health_status does not have a valid value")
            tests["health_status"] = lambda i: (
                i["health_status"] is None
                if special == "none"
                else i["health_status"] is not None
                if special == "any"
                else i["health_status"] == value
            )
        for name in ("my_reaction_emoji", "weight", "epic_id"):
            if q.get(name):  # no issue has reactions, a weight or an epic in the simulator
                tests[name] = _everyone if q[name].lower() == "none" else _no_one
        if q.get("issue_type"):
            types = ("issue", "incident", "test_case", "task")
            kind = _choice(q, "issue_type", types)
            tests["issue_type"] = lambda i: i.get("issue_type", "issue") == kind
        if q.get("due_date"):
            tests["due_date"] = self._due(q["due_date"], sim.today)
        return tests

    def _milestone(self, name: str, value: str) -> Callable[[Issue], bool]:
        s = self.sim.state
        special = _none_any(value)
        if special == "none":
            return lambda i: not i["milestone_id"]
        if special == "any":
            return lambda i: bool(i["milestone_id"])
        if value in ("Upcoming", "Started"):
            ok = special_milestones(list(s.milestones.values()), value, self.sim.today)
            return lambda i: i["milestone_id"] in ok
        if name == "milestone_id":  # only timebox values: None, Any, Upcoming, Started
            raise bad_request("milestone_id does not have a valid value")
        # By title: a same-titled milestone of another owner matches too, as in GitLab.
        ids = {m["id"] for m in s.milestones.values() if m["title"] == value}
        return lambda i: i["milestone_id"] in ids

    def _iteration(self, value: str) -> Callable[[Issue], bool]:
        s, today = self.sim.state, self.sim.today.isoformat()
        special = _none_any(value)
        if special == "none":
            return lambda i: not i["iteration_id"]
        if special == "any":
            return lambda i: bool(i["iteration_id"])
        if value.lower() == "current":
            current = {
                it["id"]
                for it in s.iterations.values()
                if (it["start_date"] or "") <= today <= (it["due_date"] or "")
            }
            return lambda i: i["iteration_id"] in current
        wanted = _int(value, "iteration_id")
        return lambda i: i["iteration_id"] == wanted

    def _people(self, q: Mapping[str, str], who: str, field: str) -> dict[str, Any]:
        s = self.sim.state
        tests: dict[str, Callable[[Issue], bool]] = {}

        def holds(i: Issue, uid: int) -> bool:
            value = i[field]
            return uid in value if isinstance(value, list) else value == uid

        raw_id = q.get(f"{who}_id")
        if raw_id:
            special = _none_any(raw_id)
            if special == "none":
                tests[f"{who}_id"] = lambda i: not i[field]
            elif special == "any":
                tests[f"{who}_id"] = lambda i: bool(i[field])
            else:
                uid = _int(raw_id, f"{who}_id")
                tests[f"{who}_id"] = lambda i: holds(i, uid)
        getall = getattr(q, "getall", None)
        names = [
            *(getall(f"{who}_username[]", []) if getall else []),
            *([q[f"{who}_username"]] if q.get(f"{who}_username") else []),
        ]
        if names:
            users = [s.user_by_name(n) for n in names]
            found = {u["id"] for u in users if u}
            tests[f"{who}_username"] = lambda i: bool(found) and all(holds(i, u) for u in found)
        return tests

    @staticmethod
    def _due(value: str, today: date) -> Callable[[Issue], bool]:
        monday = today - timedelta(days=today.weekday())
        first = today.replace(day=1)
        next_month = (first + timedelta(days=32)).replace(day=1)
        spans = {
            "today": (today, today),
            "tomorrow": (today + timedelta(days=1), today + timedelta(days=1)),
            "week": (monday, monday + timedelta(days=6)),
            "month": (first, next_month - timedelta(days=1)),
            "next_month_and_previous_two_weeks": (
                today - timedelta(days=14),
                today + timedelta(days=30),
            ),
        }
        if value == "0":
            return lambda i: not i["due_date"]
        if value == "any":
            return lambda i: bool(i["due_date"])
        if value == "overdue":
            return lambda i: bool(i["due_date"]) and i["due_date"] < today.isoformat()
        if value not in spans:
            raise bad_request("due_date does not have a valid value")
        low, high = (d.isoformat() for d in spans[value])
        return lambda i: bool(i["due_date"]) and low <= i["due_date"] <= high

    def sort(self, q: Mapping[str, str], issues: list[Issue]) -> list[Issue]:
        order = _choice(q, "order_by", ORDERS) or "created_at"
        descending = (_choice(q, "sort", ("asc", "desc")) or "desc") == "desc"
        s = self.sim.state

        def due(i: Issue) -> str:
            m = s.milestones.get(i["milestone_id"]) if i["milestone_id"] else None
            return (m or {}).get("due_date") or ""

        keys: dict[str, Callable[[Issue], Any]] = {
            "created_at": lambda i: i["id"],
            "updated_at": lambda i: i["updated_at"],
            "due_date": lambda i: i["due_date"] or "",
            "title": lambda i: i["title"].lower(),
            "milestone_due": due,
        }
        # priority, popularity, weight, relative_position...: equal for every simulated issue
        key: Callable[[Issue], Any] = keys.get(order, _equal)
        return sorted(issues, key=lambda i: (key(i), i["id"]), reverse=descending)


def _equal(_issue: Issue) -> int:
    return 0


def _everyone(_issue: Issue) -> bool:
    return True


def _no_one(_issue: Issue) -> bool:
    return False
