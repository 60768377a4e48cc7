"""Pytest fixtures for the GitLab simulator (loaded by tests/conftest.py)."""
