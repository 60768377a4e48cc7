"""Preview a rule change on the team's own recorded history (issue 19).

`run.preview()` plans every delivery of the window and every scheduled fire in it with the
live and the candidate rules and reports (`report.PreviewReport`) the actions the change adds,
removes or alters; `validate.validate_files()`/`validate_folder()` say whether a candidate
loads and its examples pass; `reading` has the readers (GitLab read once per subject).
"""
