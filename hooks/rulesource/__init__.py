"""Rules from a GitLab project: read at one commit, swapped live, checked on merge requests."""
