"""Action kinds: one module per kind (planning, decision, GitLab call, wording), and
`hooks.actions.registry`, which maps a rule step's key to its kind."""
