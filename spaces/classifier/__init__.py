"""The classifier demo: draw or upload a digit and see an MLP or a CNN read it, and look inside the CNN."""
