"""Today's GitLab state, minus what the bot itself did in the window.

A preview reads GitLab as it is today, but a sprint closed a week ago whose items the live
rules rolled over holds none of them any more: replayed, the close would find nothing to
roll over with either rule set. The action ledger knows which items the bot moved out of
which milestone, and which labels it added or removed in that same run; this reader shows
those items in the milestone again, with those labels undone, so both rule sets plan the
close as it was.
"""

from __future__ import annotations

from collections import defaultdict

from hooks.rules.reader import IssueInfo, MilestoneInfo, Reader, ReaderError
from hooks.rules.reads import ReaderWrapper
from hooks.storage.history import BotEdit


class RestoringReader(ReaderWrapper):
    """Delegates every read; a milestone's issues also hold the items the bot moved out."""

    def __init__(self, inner: Reader, edits: list[BotEdit]) -> None:
        super().__init__(inner)
        self.reader = inner
        self.restored: set[str] = set()
        self._moved_out: dict[int, list[tuple[str, str]]] = defaultdict(list)
        self._labels: dict[tuple[str, str], tuple[set[str], set[str]]] = defaultdict(
            lambda: (set(), set())
        )
        for edit in edits:
            if edit.action == "move_to_milestone" and edit.params.get("from_id") is not None:
                self._moved_out[int(edit.params["from_id"])].append((edit.subject, edit.run))
            elif edit.action in ("add_labels", "remove_labels"):
                added, removed = self._labels[edit.subject, edit.run]
                labels = set(edit.params.get("labels") or [])
                (added if edit.action == "add_labels" else removed).update(labels)

    def milestone_issues(
        self, project: str, milestone: MilestoneInfo, state: str = "opened"
    ) -> list[IssueInfo]:
        found = list(self.reader.milestone_issues(project, milestone, state))
        present = {i.subject for i in found}
        for subject, run in self._moved_out.get(milestone.id, []):
            if subject in present:
                continue
            path, _, iid = subject.rpartition("#")
            try:
                issue = self.reader.issue(path, int(iid))
            except (ReaderError, ValueError):
                continue  # deleted or out of reach since: nothing to restore
            if state != "all" and issue.state != state:
                continue
            added, removed = self._labels.get((subject, run), (set(), set()))
            labels = [x for x in issue.labels if x not in added]
            labels += sorted(removed - set(labels))
            found.append(issue.model_copy(update={"milestone": milestone, "labels": labels}))
            present.add(subject)
            self.restored.add(subject)
        return found
