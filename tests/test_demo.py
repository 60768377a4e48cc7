"""`hooks demo` plays every process and says what the bot did."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
from pathlib import Path

import pytest

from hooks.service.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo() -> list[str]:
    """The lines `hooks demo` prints, run once from the repository (as `make demo` does)."""
    out = io.StringIO()
    before = Path.cwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out):
            assert main(["demo"]) == 0
    finally:
        os.chdir(before)
    return out.getvalue().splitlines()


def block(lines: list[str], title: str) -> list[str]:
    """The bot's lines of the step whose `== ` heading starts with `title`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"== {title}"))
    end = lines.index("", start)
    return lines[start + 1 : end]


def test_the_demo_plays_every_process_of_the_handbook_in_its_order(demo: list[str]) -> None:
    headings = [line.split(":")[0] for line in demo if line.startswith("== ")]

    assert headings == [
        "== Health, On Track",
        "== Health, Needs Attention",
        "== Health, At Risk",
        "== Roll-over",
        "== Sister issue",
        "== Release checklist",
        "== Task cascade",
        "== Retro reminder",
        "== Training",
        "== Case study",
        "== Work item status, In progress",
        "== Work item status, Done",
        "== Commands",
        "== Iterations",
    ]
    assert not [line for line in demo if "could not act" in line or "(no rule acted)" in line]


def test_health_goes_on_track_then_needs_attention_then_at_risk(demo: list[str]) -> None:
    assert block(demo, "Health, On Track") == [
        "   bot [sprint-item-starts-on-track] demo/product#8: health -> on_track"
    ]
    assert block(demo, "Health, Needs Attention")[0] == (
        "   bot [blocked-needs-attention] demo/product#1: health -> needs_attention"
    )
    [at_risk, why] = block(demo, "Health, At Risk")
    assert at_risk == "   bot [overdue-at-risk] demo/product#7: health -> at_risk"
    assert why.startswith(
        '   bot [overdue-at-risk] demo/product#7: comment "Health is now **At Risk**'
    )


def test_a_developers_command_in_a_comment_sets_health_and_is_answered(demo: list[str]) -> None:
    assert block(demo, "Commands") == [
        "   bot [command-health-at-risk] demo/product#2: health -> at_risk",
        '   bot [command-health-at-risk] demo/product#2: comment "@alice health is now'
        ' **At Risk**: waiting on legal."',
    ]


def test_roll_over_lists_each_item_in_a_stable_order(demo: list[str]) -> None:
    lines = block(demo, "Roll-over")
    subjects = [line.split("] ", 1)[1].split(": ", 1)[0] for line in lines]
    by_subject: dict[str, list[str]] = {}
    for subject, line in zip(subjects, lines, strict=True):
        by_subject.setdefault(subject, []).append(line.split(": ", 1)[1])

    # grouped per item, items in issue order (demo/product#2 before demo/product#10)
    assert subjects == sorted(subjects, key=lambda s: (s.split("#")[0], int(s.split("#")[1])))
    assert {"demo/product#2", "demo/product#3", "demo/product#4", "demo/product#8"} <= set(
        by_subject
    )
    # each item's actions in the rule's order
    assert by_subject["demo/product#2"] == [
        "milestone Sprint 42 -> Sprint 43",
        "labels +rolled-over::1",
        "health -> needs_attention",
        'comment "Rolled over from %"Sprint 42" to %"Sprint 43":'
        ' it was still open when the sprint closed…"',
    ]


def test_a_release_priority_feature_gets_its_sister_issue(demo: list[str]) -> None:
    assert block(demo, "Sister issue") == [
        "   bot [sister-issue-for-priority-feature] created demo/marketing#5"
        ' "Marketing: Refresh the competitive comparison" (assigned @carol, linked to demo/product#1)',
        "   bot [sister-issue-for-priority-feature] demo/product#1: comment"
        ' "@bob, product marketing opened a sister issue for this feature in demo/marketing. Please…"',
    ]


def test_a_release_milestone_gets_the_checklist_issue(demo: list[str]) -> None:
    assert block(demo, "Release checklist") == [
        '   bot [release-issue-and-checklist] created demo/marketing#6 "Release v18.6"'
        " (assigned nobody)"
    ]


def test_a_release_cascades_each_viable_feature_once(demo: list[str]) -> None:
    assert block(demo, "Task cascade")[0] == (
        "   bot [task-cascade-for-viable-features] created demo/marketing#7"
        ' "Cascade: Refresh the competitive comparison" (assigned nobody, linked to demo/product#1)'
    )
    assert not [line for line in block(demo, "Task cascade") if '"Release v18.6"' in line]


def test_rituals_and_requests_get_their_issues_and_questions(demo: list[str]) -> None:
    retro = block(demo, "Retro reminder")
    assert retro[0].startswith(
        '   bot [retro-reminder] created demo/marketing#8 "Sprint retrospective '
    )
    assert retro[1].startswith('   bot [retro-reminder] notify team-chat "Part of today')
    assert retro[-1] == "   team-chat (Slack) got: Sprint retrospective today"
    assert block(demo, "Training") == [
        "   bot [training-topic-request] demo/training#1: assigned @dave",
        "   bot [training-topic-request] demo/training#1: comment"
        ' "Thanks for the topic request! To plan the session, please answer:"',
    ]
    assert block(demo, "Case study") == [
        '   bot [case-study-checklist] demo/product#4: comment "Case study format:"'
    ]


def test_the_demo_ends_with_a_command_to_paste_as_is(demo: list[str]) -> None:
    program, *arguments = shlex.split(demo[-1])

    assert "..." not in demo[-1]
    assert Path(program).name == "hooks" and (REPO / program).is_file()
    assert arguments == [
        "simulate",
        "--port",
        "9000",
        "--hook-url",
        "http://127.0.0.1:8080/webhook",
        "--hook-secret",
        "s3cret",
    ]
    build_parser().parse_args(arguments)  # a command `hooks` takes as it is


def test_a_comment_preview_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    from hooks.service.demo import preview

    text = "Rolled over from one sprint to the next: it was still open.\n\nMore."

    assert preview(text, limit=30) == "Rolled over from one sprint…"
    assert preview(text, limit=80) == "Rolled over from one sprint to the next: it was still open."


def test_work_item_status_follows_the_doing_label_and_done_drops_it(demo: list[str]) -> None:
    assert "   bot [doing-label-starts-work] demo/product#5: status -> In progress" in block(
        demo, "Work item status, In progress"
    )
    assert block(demo, "Work item status, Done") == [
        "   bot [done-drops-doing-label] demo/product#5: labels -doing"
    ]


def test_a_team_on_iterations_rolls_over_an_item_and_its_child_task(demo: list[str]) -> None:
    moved = [line for line in block(demo, "Iterations") if "iteration -> Iteration 43" in line]
    assert moved == [
        "   bot [iteration-roll-over-first-time] demo/product#6: iteration -> Iteration 43",
        "   bot [iteration-roll-over-first-time] demo/product#9: iteration -> Iteration 43",
    ]
