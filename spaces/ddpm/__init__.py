"""The diffusion demo: digits denoised as you watch, and the forward and reverse processes seen from inside."""
