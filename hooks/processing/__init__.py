"""Where a stored delivery is processed: the worker claims it, the processor plans it against
the rules and has the actions carried out, the dispatcher ties the two together."""
