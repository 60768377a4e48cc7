"""The engine's reader over the GitLab API (used in a gateway thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hooks.gitlab import work_items
from hooks.gitlab.ops import GitlabOps
from hooks.rules.iterations import iteration_info
from hooks.rules.reader import IssueInfo, MilestoneInfo, StatusInfo


class StatusCache:
    """The allowed work item statuses per top-level namespace, kept `ttl_s` seconds.

    Statuses are set per top-level group and change rarely; one process shares one cache, so
    a burst of events reads them once, and an edited list is seen within `ttl_s`.
    """

    def __init__(self, ttl_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, list[StatusInfo]]] = {}

    def get(self, root: str, read: Callable[[], list[StatusInfo]]) -> list[StatusInfo]:
        with self._lock:
            kept = self._kept.get(root)
            if kept is not None and self.clock() < kept[0]:
                return list(kept[1])
        found = read()  # outside the lock: a slow read must not hold up other namespaces
        with self._lock:
            self._kept[root] = (self.clock() + self.ttl_s, found)
        return list(found)


class AccessCache:
    """Members' access levels by (project, user), kept `ttl_s` seconds and shared by every
    plan of a process: a busy thread of comments costs one members request per author, not
    one per comment. A role changed on GitLab is seen when its entry expires."""

    def __init__(
        self, ttl_s: float = 300.0, clock: Callable[[], float] = time.monotonic, size: int = 4096
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.size = size
        self._lock = threading.Lock()  # plans run in the gateway's threads
        self._entries: dict[tuple[str, int], tuple[float, int | None]] = {}

    def get(self, key: tuple[str, int], read: Callable[[], int | None]) -> int | None:
        now = self.clock()
        with self._lock:
            found = self._entries.get(key)
        if found is not None and now - found[0] < self.ttl_s:
            return found[1]
        level = read()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()  # rare, and a cold cache only costs reads
            self._entries[key] = (now, level)
        return level


class GitlabReader:
    """Reads milestones and issues through python-gitlab; errors propagate to the caller."""

    def __init__(
        self,
        ops: GitlabOps,
        status_cache: StatusCache | None = None,
        access: AccessCache | None = None,
    ) -> None:
        self.ops = ops
        self.status_cache = status_cache or StatusCache()
        self._subject_status: dict[str, StatusInfo | None] = {}
        self.access = access or AccessCache(ttl_s=0)

    def member_access(self, project: str, user_id: int) -> int | None:
        return self.access.get(
            (project, user_id), lambda: self.ops.member_access_level(project, user_id)
        )

    def milestones(self, project: str) -> list[MilestoneInfo]:
        # include_ancestors: the group's sprint milestones are the project's too.
        found = self.ops.project_milestones(project, include_ancestors="true")
        return [MilestoneInfo.from_rest(m) for m in found]

    def group_milestones(self, group: str) -> list[MilestoneInfo]:
        found = self.ops.group_milestones(group, include_ancestors="true")
        return [MilestoneInfo.from_rest(m) for m in found]

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        # GitLab filters issues by milestone *title* only, and another team's milestone may
        # share it: the title narrows the list, the id decides.
        query = {"milestone": milestone.title, "state": state}
        if milestone.group:  # a group sprint's items are in every project of the group
            found = self.ops.group_issues(milestone.group, **query)
        elif project or milestone.project:
            found = self.ops.issues(project or str(milestone.project), **query)
        else:
            return []
        issues = [IssueInfo.from_rest(i) for i in found]
        return [i for i in issues if i.milestone is not None and i.milestone.id == milestone.id]

    def issue(self, project: str, iid: int) -> IssueInfo:
        return IssueInfo.from_rest(self.ops.issue(project, iid), project)

    def issues(self, project: str, query: dict[str, Any]) -> list[IssueInfo]:
        cleaned = {k: v for k, v in query.items() if v not in (None, "")}
        return [IssueInfo.from_rest(i, project) for i in self.ops.issues(project, **cleaned)]

    def iterations(self, project: str) -> list[MilestoneInfo]:
        return [iteration_info(i) for i in work_items.iterations(self.ops, project)]

    def children(self, item: IssueInfo) -> list[IssueInfo]:
        found = []
        for child in work_items.children(self.ops, item.project_path, item.iid):
            path = (child.get("namespace") or {}).get("fullPath") or item.project_path
            read = IssueInfo.from_rest(self.ops.issue(path, int(child["iid"])), path)
            found.append(read.model_copy(update={"parent": item.subject}))
        return found

    def statuses(self, project: str) -> list[StatusInfo]:
        root = project.split("/", 1)[0]

        def read() -> list[StatusInfo]:
            return [StatusInfo.from_graphql(s) for s in self.ops.allowed_statuses(project)]

        return self.status_cache.get(root, read)

    def status(self, project: str, iid: int) -> StatusInfo | None:
        # Webhooks carry no status: read once per subject for this plan.
        key = f"{project}#{iid}"
        if key not in self._subject_status:
            _gid, found = self.ops.work_item_status(project, iid)
            self._subject_status[key] = StatusInfo.from_graphql(found) if found else None
        return self._subject_status[key]
