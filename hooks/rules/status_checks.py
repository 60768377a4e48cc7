"""`hooks check` warnings about work item status names a rule uses.

The statuses a namespace allows live in GitLab, not in the rule files; a rule's examples
say which ones their GitLab has (`gitlab.statuses`, default GitLab's five). A name the rule
uses (`set_status`, `status`, `status_changed`) or an example issue shows that is not among
them is reported as a warning: it would be a planning error against that GitLab.
"""

from __future__ import annotations

from collections.abc import Iterator

from hooks.rules.errors import RuleError
from hooks.rules.examples import example_statuses
from hooks.rules.model import Condition, Rule, RuleSet
from hooks.rules.reader import find_status


def _condition_names(cond: Condition | None) -> Iterator[str]:
    if cond is None:
        return
    if cond.status is not None:
        yield from cond.status.any
        yield from cond.status.none
    if cond.status_changed is not None:
        for value in (cond.status_changed.to, cond.status_changed.from_):
            if value is not None:
                yield from [value] if isinstance(value, str) else value
    for sub in [*(cond.all or []), *(cond.any or [])]:
        yield from _condition_names(sub)
    yield from _condition_names(cond.not_)


def used_status_names(rule: Rule) -> list[str]:
    """Every status name the rule's conditions and `set_status` steps name, in order."""
    names = list(_condition_names(rule.if_))
    names += [str(step.value) for step in rule.do if step.kind == "set_status"]
    return list(dict.fromkeys(names))


def status_warnings(rules: RuleSet) -> list[RuleError]:
    warnings = []
    for rule in rules.rules:
        source = rules.sources.get(rule.name)
        file, line = (source.file, source.line) if source else ("", 0)
        used = used_status_names(rule)
        reported: set[str] = set()  # each name once per rule, at the first example showing it
        for example in rule.examples:
            allowed = example_statuses(example)
            shown = [str(i["status"]) for i in example.gitlab.issues if i.get("status")]
            for name in dict.fromkeys([*used, *shown]):
                if find_status(allowed, name) is None and name not in reported:
                    reported.add(name)
                    names = ", ".join(repr(s.name) for s in allowed)
                    where = "an issue of its GitLab shows" if name in shown else "the rule uses"
                    warnings.append(
                        RuleError(
                            file,
                            line,
                            rule.name,
                            f"warning: example '{example.name}': {where} status {name!r},"
                            f" which its GitLab does not allow ({names})",
                        )
                    )
    return warnings
