"""The dashboard at /ui: what the bot did and why, for team members and operators.

`routes.py` adds the pages and their session guard to the app; `views.py` renders them.
"""
