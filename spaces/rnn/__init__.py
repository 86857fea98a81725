"""The RNN demo: a character-level recurrent network writing Shakespeare, and its hidden units seen from inside."""
