"""Plan-time rules a kind enforces on its own (without GitLab)."""

from __future__ import annotations

import pytest

from hooks.actions.base import PlanError
from hooks.actions.comment import leaks, parse_target


def test_a_comment_target_is_project_and_iid() -> None:
    assert parse_target("demo/marketing#12") == ("demo/marketing", 12)


def test_a_comment_target_without_iid_is_refused() -> None:
    with pytest.raises(PlanError, match="must look like"):
        parse_target("demo/marketing")


def test_a_comment_elsewhere_carries_a_confidential_subject_away() -> None:
    assert leaks(True, "demo/product#1", ("demo/marketing", 1))


def test_a_comment_on_the_confidential_subject_itself_does_not_leak() -> None:
    assert not leaks(True, "demo/product#1", ("demo/product", 1))


def test_a_comment_elsewhere_from_a_public_subject_does_not_leak() -> None:
    assert not leaks(False, "demo/product#1", ("demo/marketing", 1))
