"""Catching up on what GitLab did not deliver: the webhook watchdog and reconciliation."""
