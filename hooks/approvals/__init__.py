"""Approval above a size, and limits per run and per hour (rule keys `approve_above`, `limits`)."""
