"""The GAN demo: digits drawn by the class-conditional GAN, a walk in its latent space, and a look inside."""
