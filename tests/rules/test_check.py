"""`hooks check`: every kind of mistake named with file, line, rule, what is wrong and allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hooks.service.cli import main


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(text).lstrip())
    status = main(["check", str(tmp_path)])
    captured = capsys.readouterr()
    return status, captured.err + captured.out


GOOD = """
rules:
- name: ok-rule
  on: {issue: [open]}
  do: [{add_labels: [x]}]
"""


def test_valid_rules_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = check(tmp_path, GOOD, capsys)
    assert (status, out.strip()) == (0, "1 rules in 1 file(s) OK")


def test_an_unknown_key_names_the_nearest_valid_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: typo
          on: {issue: [open]}
          if:
            lables: [x]
          do: [{add_labels: [x]}]
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:5: rule 'typo': unknown key 'lables' (did you mean 'labels'?); allowed: all, any, not, state, labels,"
        in out
    )


def test_a_bad_value_says_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: bad-action
          on: {issue: [opened]}
          do: [{add_labels: [x]}]
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:3: rule 'bad-action': on.issue.0: Input should be 'open', 'close', 'reopen' or 'update'"
        in out
    )


def test_a_bad_cron_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: bad-cron
          on: {schedule: {cron: "61 * * * *"}}
          do: [{create_issue: {project: a/b, title: t}}]
        """,
        capsys,
    )
    assert status == 1
    assert "rules.yaml:3: rule 'bad-cron': on.schedule.cron: bad cron '61 * * * *'" in out


def test_a_duplicate_name_points_at_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(tmp_path, GOOD + GOOD.replace("rules:\n", ""), capsys)
    assert status == 1
    assert "rules.yaml:6: rule 'ok-rule': duplicate name; first defined at" in out
    assert "rules.yaml:2" in out


def test_a_template_syntax_error_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: bad-template
          on: {issue: [open]}
          do:
            - comment: "Hello {{ issue.title "
        """,
        capsys,
    )
    assert status == 1
    assert "rules.yaml:5: rule 'bad-template': template syntax error" in out


def test_an_unknown_template_variable_names_the_scope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: bad-variable
          on: {issue: [open]}
          do:
            - comment: "Hello {{ isue.title }}"
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:5: rule 'bad-variable': unknown template variable 'isue' (did you mean 'issue'?); in scope: event, issue,"
        in out
    )


def test_an_unknown_rules_variable_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        vars: {team: "@a"}
        rules:
        - name: bad-var
          on: {issue: [open]}
          do: [{add_labels: ["${lable}"]}]
        """,
        capsys,
    )
    assert status == 1
    assert "rule 'bad-var': unknown variable ${lable}; vars: team" in out


def test_an_action_needs_exactly_one_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: two-actions
          on: {issue: [open]}
          do: [{add_labels: [x], close: true}]
        """,
        capsys,
    )
    assert status == 1
    assert "an action needs exactly one of add_labels" in out
    assert "found add_labels, close" in out


def test_broken_yaml_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = check(tmp_path, "rules:\n- name: x\n  on: {issue: [open]\n", capsys)
    assert status == 1
    assert "rules.yaml:4: YAML:" in out or "rules.yaml:3: YAML:" in out


def test_an_example_fixture_that_does_not_exist_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: with-example
          on: {issue: [open]}
          do: [{add_labels: [x]}]
          examples:
            - name: opening labels it
              event: {fixture: fixtures/missing.json}
              expect: [{add_labels: [x]}]
        """,
        capsys,
    )
    assert status == 1
    assert "rules.yaml:7: rule 'with-example': example fixture fixtures/missing.json" in out
    assert "cannot be read (No such file or directory)" in out


def test_an_empty_rules_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["check", str(tmp_path)])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{tmp_path}: no rule files (*.yaml, *.yml) in this folder",
        "1 error(s)",
    ]


def test_rule_files_without_a_single_rule_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "00-team.yaml").write_text("vars: {team: '@a'}\n")
    (tmp_path / "10-empty.yaml").write_text("rules: []\n")

    status = main(["check", str(tmp_path)])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.splitlines() == [
        f"{tmp_path}: no rules in 2 file(s); a rule file holds a 'rules:' list",
        "1 error(s)",
    ]


def test_a_rules_folder_that_does_not_exist_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["check", str(tmp_path / "rulez")])

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{tmp_path / 'rulez'}: no such rules file or folder",
        "1 error(s)",
    ]


SCHEDULED = """
rules:
- name: morning-sweep
  on: {schedule: {cron: "0 8 * * 1-5", timezone: "${timezone}"}}
  do: [{create_issue: {project: a/b, title: t}}]
- name: retro
  on: {schedule: {monthly: {weekday: wednesday, nth: [2, 4]}, timezone: "${timezone}"}}
  do: [{create_issue: {project: a/b, title: t}}]
"""


def test_a_time_zone_typo_in_vars_is_reported_once_where_it_was_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "00-team.yaml").write_text("vars:\n  team: '@a'\n  timezone: Europe/Berln\n")
    (tmp_path / "10-schedules.yaml").write_text(textwrap.dedent(SCHEDULED).lstrip())

    status = main(["check", str(tmp_path)])

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{tmp_path / '00-team.yaml'}:3: variable 'timezone': unknown time zone 'Europe/Berln'"
        " (did you mean 'Europe/Berlin'?); it is the time zone of 2 scheduled rule(s)",
        "1 error(s)",
    ]


def test_a_time_zone_typo_in_a_rule_names_the_nearest_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: morning-sweep
          on: {schedule: {cron: "0 8 * * 1-5", timezone: Amerca/New_York}}
          do: [{create_issue: {project: a/b, title: t}}]
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:3: rule 'morning-sweep': on.schedule.timezone: unknown time zone"
        " 'Amerca/New_York' (did you mean 'America/New_York'?)" in out
    )


def test_a_misspelt_issue_field_names_the_nearest_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: greet
          on: {issue: [open]}
          do:
            - comment: "Thanks for {{ issue.titel }}"
        """,
        capsys,
    )
    assert status == 1
    assert (
        f"{tmp_path / 'rules.yaml'}:5: rule 'greet': unknown template field 'issue.titel'"
        " (did you mean 'issue.title'?); issue has: assignees, author,"
    ) in out


def test_a_field_inside_a_block_template_is_reported_at_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: sister
          on: {issue: [open]}
          do:
            - create_issue:
                project: demo/marketing
                title: "Marketing: {{ issue.title }}"
                description: |
                  Sister issue of {{ issue.web_url }}.

                  Due {{ issue.milestone.due }}.
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:11: rule 'sister': unknown template field 'issue.milestone.due'"
        " (did you mean 'issue.milestone.due_date'?); issue.milestone has: cadence, cadence_id, due_date,"
    ) in out


def test_a_release_field_in_an_issue_rule_says_which_triggers_set_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: shipped
          on: {issue: [close]}
          do:
            - comment: "Shipped in {{ release.tag }}"
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:5: rule 'shipped': template field 'release.tag': 'release' is set only for"
        " release triggers; this rule runs on issue" in out
    )


def test_a_release_rule_has_no_issue_without_for_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: cascade
          on: {release: [create]}
          do:
            - create_issue: {project: demo/marketing, title: "Cascade: {{ issue.title }}"}
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:5: rule 'cascade': template field 'issue.title': 'issue' is set only for"
        " issue, confidential_issue and work_item triggers and for_each subjects;"
        " this rule runs on release" in out
    )


def test_for_each_gives_a_release_rule_its_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: cascade
          on: {release: [create]}
          for_each: {issues: {project: demo/product, labels: ["maturity::viable"]}}
          do:
            - create_issue:
                project: demo/marketing
                title: "Cascade: {{ issue.title }} ({{ milestone.title if milestone else '' }})"
                description: "Shipped in {{ release.tag }}"
        """,
        capsys,
    )
    assert (status, out.strip()) == (0, "1 rules in 1 file(s) OK")


def test_an_expr_condition_field_is_checked_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: epics
          on: {issue: [open]}
          if:
            state: opened
            any:
              - labels: [epic]
              - expr: "issue.tilte.startswith('Epic')"
          do: [{add_labels: [epic]}]
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:8: rule 'epics': expr: unknown template field 'issue.tilte'"
        " (did you mean 'issue.title'?)" in out
    )


def test_an_event_field_is_checked_against_the_triggers_payload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: note-due
          on: {issue: [update]}
          do:
            - comment: "Due {{ event.object_attributes.due }}"
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:5: rule 'note-due': unknown template field 'event.object_attributes.due'"
        " (did you mean 'event.object_attributes.due_date'?)" in out
    )
    assert (
        "for a field GitLab sends beyond these: event.object_attributes.due | default(...)" in out
    )


def test_a_vars_entry_is_checked_against_the_vars_defined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        vars: {team: "@alice @bob", pmm_default: alice}
        rules:
        - name: retro
          on: {schedule: {cron: "0 10 * * 3"}}
          do:
            - create_issue: {project: demo/marketing, title: "Retro", description: "{{ vars.tem }}"}
        """,
        capsys,
    )
    assert status == 1
    assert (
        "rules.yaml:6: rule 'retro': unknown template field 'vars.tem' (did you mean 'vars.team'?);"
        " vars has: pmm_default, team" in out
    )


def test_a_loop_variable_has_the_fields_of_the_items_it_walks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        rules:
        - name: summary
          on: {milestone: [close]}
          do:
            - create_issue:
                project: demo/product
                title: "Left in {{ milestone.title }}"
                description: "{% for i in milestone_issues | selectattr('labels') %}{{ i.web_ur }}{% endfor %}"
        """,
        capsys,
    )
    assert status == 1
    assert "rule 'summary': unknown template field 'i.web_ur' (did you mean 'i.web_url'?)" in out


def test_open_ended_and_guarded_fields_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(
        tmp_path,
        """
        vars: {pmm_by_area: {"area::ci": alice}}
        rules:
        - name: open-ended
          on: {issue: [update], release: [create]}
          do:
            - comment: >-
                {{ event.changes.title.previous }} {{ event.changes.anything.current }}
                {{ vars.pmm_by_area[issue.labels[0]] }} {{ vars.pmm_by_area.items() | list }}
                {{ event.object_attributes.time_estimate | default(0) }}
                {% if event.repository is defined %}{{ event.repository.name }}{% endif %}
                {{ release.tag if release else issue.title }} {{ today.year }} {{ now.isoformat() }}
                {% set first = issue.labels | first %}{{ first.upper() }}
        """,
        capsys,
    )
    assert (status, out.strip()) == (0, "1 rules in 1 file(s) OK")
