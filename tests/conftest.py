"""Shared fixtures: the simulator's come from hooks.testing.fixtures."""

pytest_plugins = ["hooks.testing.fixtures"]
