"""Rule engine."""
