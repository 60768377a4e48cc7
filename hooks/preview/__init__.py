"""Preview a rule change on the team's own recorded history (issue 19).

`preview()` plans every delivery of the window and every scheduled fire in it with the live
and the candidate rules and reports the actions the change adds, removes or alters;
`validate_files()`/`validate_folder()` say whether a candidate loads and its examples pass.
"""

from hooks.preview.reading import CachingReader, offline_reader
from hooks.preview.report import PreviewReport
from hooks.preview.run import preview
from hooks.preview.validate import (
    MAX_FILE_BYTES,
    MAX_FILES,
    FileRefusal,
    Validation,
    file_refusals,
    validate_files,
    validate_folder,
)

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "CachingReader",
    "FileRefusal",
    "PreviewReport",
    "Validation",
    "file_refusals",
    "offline_reader",
    "preview",
    "validate_files",
    "validate_folder",
]
