"""GitLab simulator and test helpers shared by tests, benchmarks and users."""
