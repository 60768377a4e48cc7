"""Guard rails around the rules: a rule whose actions keep failing pauses itself."""
