"""Messages to the team's chat and mail: the `notify` action's targets and their senders."""
