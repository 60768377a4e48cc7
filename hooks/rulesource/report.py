"""What the service writes on a commit and a merge request about a version of the rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from hooks.rules.examples import ExampleResult

# Hidden markers: the service finds its own note again by them (edited in place on each push).
MR_MARKER = "<!-- hooks/rules -->"
REFUSED_MARKER = "<!-- hooks/rules refused -->"
STATUS_NAME = "hooks/rules"


def _code_block(lines: list[str]) -> str:
    # A fence longer than any backtick run inside, so an error quoting YAML cannot close it.
    longest = max((len(run) for line in lines for run in line.split("`")[1::2]), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence, *lines, fence])


def refused_comment(sha: str, errors: list[str], live: str | None) -> str:
    """The comment on a commit whose rules do not validate."""
    staying = f"the rules of commit {live} stay in force" if live else "no rules are in force"
    return "\n".join(
        [
            REFUSED_MARKER,
            f"**hooks: the rules of this commit were not put live** ({len(errors)} error(s));"
            f" {staying}.",
            "",
            _code_block(errors),
            "",
            "Fix them and push again; `hooks check` shows the same errors locally.",
        ]
    )


@dataclass
class CheckReport:
    """The merge request check of one head commit."""

    sha: str
    live: str | None
    errors: list[str] = field(default_factory=list)
    examples: list[ExampleResult] = field(default_factory=list)
    rules: int = 0
    preview: str = ""  # the preview's markdown (live vs proposed)
    has_differences: bool = False

    @property
    def failed_examples(self) -> list[ExampleResult]:
        return [r for r in self.examples if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed_examples

    def status_description(self) -> str:
        """The commit status's one line (GitLab keeps 255 characters)."""
        if self.errors:
            return f"{len(self.errors)} error(s): the rules do not validate"
        if self.failed_examples:
            return f"{len(self.failed_examples)} of {len(self.examples)} examples fail"
        change = "changes actions" if self.has_differences else "no change to actions"
        return f"{self.rules} rules valid, {len(self.examples)} examples pass; preview: {change}"

    def markdown(self) -> str:
        """The note on the merge request, marker first."""
        lines = [MR_MARKER, f"### hooks/rules: check of {self.sha[:12]}", ""]
        if self.errors:
            lines += [
                f"**Validation failed** ({len(self.errors)} error(s)); this commit would be"
                " refused if merged and the rules in force would stay.",
                "",
                _code_block(self.errors),
            ]
            return "\n".join(lines)
        passed = len(self.examples) - len(self.failed_examples)
        lines.append(f"**Validation:** {self.rules} rules OK.  ")
        lines.append(f"**Examples:** {passed} passed, {len(self.failed_examples)} failed.")
        for result in self.failed_examples:
            lines.append(f"- `{result.rule}`: {result.example}")
            lines += [f"  - {problem}" for problem in result.problems]
        live = f"commit {self.live[:12]}" if self.live else "the rules in force"
        lines += ["", f"**Preview** ({live} vs. this merge request):", "", self.preview]
        return "\n".join(lines)
