"""`hooks check`, `hooks schema`, `hooks plan` and `hooks test`: working on rules offline."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hooks.events import EventParseError, parse_event
from hooks.rules.engine import Plan, plan
from hooks.rules.examples import EXAMPLE_BOT, run_examples
from hooks.rules.loader import RuleError, RuleErrors, load_rules, rule_files
from hooks.rules.model import RuleFile, RuleSet
from hooks.rules.reader import Reader, StaticReader
from hooks.rules.status_checks import status_warnings
from hooks.service.config import Settings

# The X-Gitlab-Event header GitLab sends with a payload of each object_kind (an event_type
# of confidential_* takes the Confidential header): `hooks plan` without --event reads the
# payload as that delivery, so a kind the service does not handle is refused as it would be.
PLAN_HEADERS = {
    "issue": "Issue Hook",
    "work_item": "Work Item Hook",
    "release": "Release Hook",
    "milestone": "Milestone Hook",
    "note": "Note Hook",
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "wiki_page": "Wiki Page Hook",
    "pipeline": "Pipeline Hook",
    "build": "Job Hook",
    "deployment": "Deployment Hook",
    "feature_flag": "Feature Flag Hook",
    "emoji": "Emoji Hook",
}
CONFIDENTIAL_HEADERS = {
    "confidential_issue": "Confidential Issue Hook",
    "confidential_note": "Confidential Note Hook",
}


def plan_header(payload: Any) -> str:
    """The X-Gitlab-Event header a payload came with, told from its object_kind and
    event_type; raises ValueError when the payload does not say."""
    if not isinstance(payload, dict):
        raise ValueError(f"the payload is a JSON {type(payload).__name__}, not an object")
    kind, event_type = payload.get("object_kind"), payload.get("event_type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("the payload has no object_kind; name its event with --event")
    if kind in ("issue", "note") and event_type in CONFIDENTIAL_HEADERS:
        return CONFIDENTIAL_HEADERS[str(event_type)]
    # An object_kind GitLab does not send gets a header no service handles, so it is
    # refused like any unhandled event.
    return PLAN_HEADERS.get(kind, f"{kind} (object_kind)")


def _rules_dir(given: str | None) -> Path:
    return Path(given) if given else Settings().rules_dir


def _load(directory: Path) -> RuleSet | None:
    try:
        return load_rules(directory)
    except RuleErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"{len(exc.errors)} error(s)", file=sys.stderr)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    """Validate every rule file; exit 1 with every mistake, naming file and line."""
    directory = _rules_dir(args.dir)
    rules = _load(directory)
    if rules is None:
        return 1
    files = len(rule_files(directory))
    if not rules.rules:
        # A folder that holds no rule is a wrong path or a lost file, never a working setup.
        problem = (
            f"no rules in {files} file(s); a rule file holds a 'rules:' list"
            if files
            else "no rule files (*.yaml, *.yml) in this folder"
        )
        print(RuleError(str(directory), 0, None, problem), file=sys.stderr)
        print("1 error(s)", file=sys.stderr)
        return 1
    warnings = status_warnings(rules)
    for warning in warnings:
        print(warning, file=sys.stderr)
    said = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"{len(rules.rules)} rules in {files} file(s) OK{said}")
    return 0


def schema() -> dict[str, Any]:
    """The JSON Schema of a rule file."""
    document = RuleFile.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "gitlab-hooks rule file"
    return document


def cmd_schema(_args: argparse.Namespace) -> int:
    """Print the JSON Schema of rule files (for editors)."""
    print(json.dumps(schema(), indent=2, sort_keys=True))
    return 0


def _reader(settings: Settings) -> Reader:
    if settings.gitlab_token is None:
        return StaticReader(offline=True)
    import gitlab

    from hooks.gitlab.ops import GitlabOps
    from hooks.rules.gitlab_reader import GitlabReader

    gl = gitlab.Gitlab(
        settings.gitlab_url,
        private_token=settings.gitlab_token.get_secret_value(),
        timeout=settings.gitlab_timeout_s,
        retry_transient_errors=True,
    )
    return GitlabReader(GitlabOps(gl, max_retries=2))


def _bot_name(reader: Reader) -> str:
    """Whom commands address: the token's user, or the examples' bot without a token."""
    ops = getattr(reader, "ops", None)
    if ops is None:
        return EXAMPLE_BOT
    try:
        return str(ops.current_user()["username"])
    except Exception:  # GitLab unreachable: the plan's own reads will say so
        return EXAMPLE_BOT


def cmd_plan(args: argparse.Namespace) -> int:
    """Print what the rules would do for a payload file; nothing is written."""
    settings = Settings()
    rules = _load(_rules_dir(args.rules))
    if rules is None:
        return 1
    try:
        payload = json.loads(Path(args.event_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"hooks: cannot read {args.event_file}: {exc}", file=sys.stderr)
        return 1
    try:
        event = parse_event(args.event or plan_header(payload), payload)
    except (EventParseError, ValueError) as exc:
        print(f"hooks: {args.event_file}: {exc}", file=sys.stderr)
        return 1
    reader = _reader(settings)
    bot = settings.bot_username or _bot_name(reader)
    result = plan(event, rules, reader, now=datetime.now(UTC), bot=bot)
    if args.json:
        print(json.dumps([a.as_dict() for a in result.actions], indent=2, default=str))
    else:
        print(render_plan(result))
    return 1 if any(t.error for t in result.trace) else 0


def render_plan(result: Plan) -> str:
    """A plan as a readable table, then why each other rule did not act."""
    lines = []
    if result.actions:
        lines.append(f"{'RULE':<28} {'ACTION':<18} {'SUBJECT':<24} DETAILS")
        for a in result.actions:
            detail = a.text if a.text is not None else json.dumps(a.params, default=str)
            detail = detail.replace("\n", " / ")
            if len(detail) > 70:
                detail = detail[:67] + "..."
            mark = " (dry-run)" if a.dry_run else ""
            lines.append(f"{a.rule:<28} {a.action:<18} {a.subject or '-':<24} {detail}{mark}")
    else:
        errors = sum(1 for t in result.trace if t.error)
        lines.append(
            f"no action planned; {errors} rule(s) could not be evaluated (marked !)"
            if errors
            else "no action planned"
        )
    acting = {a.rule for a in result.actions}
    for t in result.trace:
        if t.error:
            lines.append(f"  ! {t.rule}: {t.error}")
        elif not t.matched:
            lines.append(f"  - {t.rule}: {t.reason}")
        elif t.rule not in acting:
            lines.append(f"  = {t.rule}: matched, does nothing: {t.reason or 'no action'}")
    return "\n".join(lines)


def cmd_test(args: argparse.Namespace) -> int:
    """Run every rule's examples; exit 1 if one fails."""
    rules = _load(_rules_dir(args.dir))
    if rules is None:
        return 1
    results = run_examples(rules)
    failed = [r for r in results if not r.ok]
    for r in results:
        print(f"{'ok  ' if r.ok else 'FAIL'} {r.rule}: {r.example}")
        for problem in r.problems:
            print(f"       {problem}")
    missing = [rule.name for rule in rules.rules if not rule.examples]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed", end="")
    print(f"; rules without examples: {', '.join(missing)}" if missing else "")
    return 1 if failed or not results else 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the rule commands to the `hooks` parser."""
    check = sub.add_parser("check", help="validate rule files (errors name file and line)")
    check.add_argument("dir", nargs="?", help="rules folder or file (default: HOOKS_RULES_DIR)")
    check.set_defaults(handler=cmd_check)

    schema_cmd = sub.add_parser("schema", help="print the JSON Schema of rule files")
    schema_cmd.set_defaults(handler=cmd_schema)

    plan_cmd = sub.add_parser("plan", help="what the rules would do for a payload (no writes)")
    plan_cmd.add_argument("event_file", metavar="EVENT.json")
    plan_cmd.add_argument(
        "--event", help="X-Gitlab-Event header (default: from object_kind and event_type)"
    )
    plan_cmd.add_argument("--json", action="store_true", help="print the actions as JSON")
    plan_cmd.add_argument("--rules", help="rules folder (default: HOOKS_RULES_DIR)")
    plan_cmd.set_defaults(handler=cmd_plan)

    test = sub.add_parser("test", help="run the examples inside rule files")
    test.add_argument("dir", nargs="?", help="rules folder or file (default: HOOKS_RULES_DIR)")
    test.set_defaults(handler=cmd_test)
