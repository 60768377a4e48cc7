"""Scheduled rules: their triggers and fire times, the scheduler, a fired run, `hooks schedule`."""
