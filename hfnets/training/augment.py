"""Random affine augmentation of image batches, on the device that holds them.

Small random rotations, shifts and scalings are the classic way to make an MNIST classifier generalize to digits
written a little differently (LeCun et al. 1998 used the same distortions). The whole batch is warped with one
`affine_grid` + `grid_sample`, drawing from torch's global RNG, which Accelerate seeds and checkpoints, so a resumed
run draws the same distortions as an uninterrupted one.
"""

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class RandomAffine:
    """Per-image random rotation (up to +-`degrees`), shift (up to +-`translate` of the side) and scaling (by a
    factor in [1 - `scale`, 1 + `scale`]), then, with `flip`, a left-right mirror of half the images (right for
    photos, wrong for digits). Pixels moved in from outside repeat the border (the background)."""

    degrees: float = 0.0
    translate: float = 0.0
    scale: float = 0.0
    flip: bool = False

    def __post_init__(self):
        if not 0.0 <= self.degrees <= 180.0:
            raise ValueError(f"The rotation must be in [0, 180] degrees, got {self.degrees}.")
        if not 0.0 <= self.translate < 1.0:
            raise ValueError(f"The shift must be a fraction of the image side in [0, 1), got {self.translate}.")
        if not 0.0 <= self.scale < 1.0:
            raise ValueError(f"The scaling must be a fraction in [0, 1), got {self.scale}.")

    @property
    def enabled(self) -> bool:
        """Whether the affine distortions are on (any range above 0)."""
        return self.degrees > 0 or self.translate > 0 or self.scale > 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Warp (and, with `flip`, mirror) a float batch (N, C, H, W); unchanged when every range is 0 and no flip."""
        if self.enabled:
            images = self.warp(images)
        if self.flip:  # drawn on the CPU from the global generator, as the distortions are
            mirrored = (torch.rand(len(images)) < 0.5).to(images.device)[:, None, None, None]
            images = torch.where(mirrored, images.flip(-1), images)
        return images

    def warp(self, images: torch.Tensor) -> torch.Tensor:
        n = images.shape[0]

        def uniform(bound: float) -> torch.Tensor:
            # drawn on the CPU from the global generator: the same draws on every device type
            return (torch.rand(n, dtype=torch.float32) * 2 - 1) * bound

        angle = uniform(math.radians(self.degrees))
        zoom = 1 + uniform(self.scale)
        shift = torch.stack([uniform(2 * self.translate), uniform(2 * self.translate)], dim=1)  # grid units: [-1, 1]
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        # The sampling grid maps output pixels to input pixels: the inverse of rotating, scaling, then shifting.
        theta = torch.stack(
            [
                torch.stack([cos, -sin, -(cos * shift[:, 0] - sin * shift[:, 1])], dim=1),
                torch.stack([sin, cos, -(sin * shift[:, 0] + cos * shift[:, 1])], dim=1),
            ],
            dim=1,
        ).to(device=images.device, dtype=images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
