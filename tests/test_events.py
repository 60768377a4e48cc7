"""Payloads as GitLab sends them, old and new, parsed into typed events."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from hooks.events import (
    EventParseError,
    IssueEvent,
    MilestoneEvent,
    ReleaseEvent,
    parse_event,
)
from tests.conftest import fixture_bytes


def payload(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads(fixture_bytes(name))


def test_issue_event_reads_subject_labels_changes_and_health() -> None:
    event = parse_event("Issue Hook", fixture_bytes("issue_open.json"))
    assert isinstance(event, IssueEvent)
    assert (event.kind, event.action, event.subject) == ("issue", "open", "gitlabhq/gitlab-test#23")
    assert event.label_titles == ["API"]
    assert event.object_attributes.health_status == "at_risk"
    assert event.changed_labels() == (["Platform"], ["API"])
    assert event.user is not None and event.user.username == "root"
    assert event.assignees[0].username == "user1"


def test_legacy_issue_payload_without_state_id_or_user_id_is_read() -> None:
    event = parse_event("Issue Hook", fixture_bytes("issue_open_legacy.json"))
    assert isinstance(event, IssueEvent)
    assert event.object_attributes.state == "opened"
    assert event.object_attributes.state_id is None
    assert event.user is not None and event.user.id is None


def test_both_gitlab_timestamp_formats_are_read_as_utc() -> None:
    event = parse_event("Issue Hook", fixture_bytes("issue_open.json"))
    assert isinstance(event, IssueEvent)
    assert event.object_attributes.created_at == datetime(2013, 12, 3, 17, 15, 43, tzinfo=UTC)
    milestone = parse_event("Milestone Hook", fixture_bytes("milestone_create.json"))
    assert isinstance(milestone, MilestoneEvent)
    assert milestone.object_attributes.created_at == datetime(2025, 6, 16, 14, 10, 57, tzinfo=UTC)


def test_milestone_event_has_dates_and_no_user() -> None:
    event = parse_event("Milestone Hook", fixture_bytes("milestone_create.json"))
    assert isinstance(event, MilestoneEvent)
    assert event.user is None
    assert event.action == "create"
    assert event.object_attributes.start_date == date(2025, 6, 16)
    assert event.object_attributes.due_date == date(2025, 6, 30)


def test_release_event_has_tag_and_no_object_attributes() -> None:
    event = parse_event("Release Hook", fixture_bytes("release_create.json"))
    assert isinstance(event, ReleaseEvent)
    assert (event.tag, event.action, event.user) == ("v1.1", "create", None)
    assert event.released_at == datetime(2020, 11, 2, 12, 55, 12, tzinfo=UTC)


def test_a_work_item_sent_as_issue_hook_is_a_work_item_event() -> None:
    event = parse_event("Issue Hook", fixture_bytes("work_item_task_open.json"))
    assert event.kind == "work_item"


def test_an_issue_sent_as_a_work_item_by_gitlab_17_is_an_issue_event() -> None:
    # Before gitlab-org/gitlab!180959 an issue edited through the work item views came with
    # object_kind work_item; its type still says Issue, and issue rules must hear it.
    event = parse_event("Issue Hook", fixture_bytes("work_item_issue_update_labels.json"))
    assert event.kind == "issue"


def test_confidential_issue_hook_is_its_own_kind() -> None:
    event = parse_event("Confidential Issue Hook", fixture_bytes("issue_open.json"))
    assert event.kind == "confidential_issue"


def test_nulls_and_absent_fields_take_defaults() -> None:
    body = payload("issue_open.json")
    body["assignees"] = None
    body["labels"] = None
    del body["changes"]
    body["object_attributes"]["assignee_ids"] = None
    event = parse_event("Issue Hook", json.dumps(body))
    assert isinstance(event, IssueEvent)
    assert (event.assignees, event.labels, event.changes) == ([], [], {})


def test_unknown_fields_are_kept() -> None:
    body = {**payload("release_create.json"), "brand_new_field": {"x": 1}}
    event = parse_event("Release Hook", json.dumps(body))
    assert event.model_extra is not None
    assert event.model_extra["brand_new_field"] == {"x": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body is not JSON"),
        (b"[]", "body is a JSON list, not an object"),
        (b'{"labels": "API"}', "issue payload: labels: Input should be a valid list"),
        (
            b'{"project": {"path_with_namespace": "demo/product\\u0000"}}',
            "issue payload: project.path_with_namespace: Value error, holds a NUL character",
        ),
        (
            b'{"project": {"path_with_namespace": "demo/\\udc00"}}',
            "issue payload: project.path_with_namespace: Value error, holds a lone surrogate",
        ),
    ],
)
def test_unreadable_payloads_raise_a_parse_error_naming_the_problem(
    body: bytes, message: str
) -> None:
    with pytest.raises(EventParseError, match=message):
        parse_event("Issue Hook", body)


def test_two_groups_milestones_with_one_iid_are_different_subjects() -> None:
    # A group milestone's event has "project": null; the subject names the group instead.
    subjects = set()
    for group_id in (7, 8):
        body = payload("milestone_create.json")
        body["project"] = None
        body["object_attributes"].update(group_id=group_id, project_id=None, iid=1)
        subjects.add(parse_event("Milestone Hook", body).subject)

    assert subjects == {"group 7%1", "group 8%1"}
