"""The running service: settings, assembly of the app and its parts, admin, metrics, logs, CLI."""
