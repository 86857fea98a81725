"""The GPT demo: a character-level transformer writing Shakespeare, and its attention seen from inside."""
