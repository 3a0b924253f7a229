"""A fixed, seeded set of corruptions of uint8 digit images [N, 28, 28], for robustness checks: what
a digit looks like rotated, shifted, smaller, bolder, noisier, blurred or inverted. Torch ops only
(torchvision's transforms would import it, and torch._dynamo, into the evaluate stage)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SEED = 0  # the noise is the same on every run, so two models face the same images


def _as_float(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32).unsqueeze(1) / 255.0  # [N, 1, 28, 28] in [0, 1]


def _as_uint8(images: torch.Tensor) -> torch.Tensor:
    return (images.squeeze(1).clamp(0, 1) * 255.0).round().to(torch.uint8)


def _affine(images: torch.Tensor, matrix: list[list[float]]) -> torch.Tensor:
    """Resample every image through the same 2x3 affine map of normalised coordinates (output to input);
    pixels from outside the image are background (0)."""
    x = _as_float(images)
    theta = torch.tensor(matrix, dtype=torch.float32).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return _as_uint8(F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False))


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Counter-clockwise by `degrees` about the centre."""
    a = math.radians(degrees)
    # The grid maps output to input coordinates: the inverse rotation (y points down in images).
    return _affine(images, [[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]])


def shift(images: torch.Tensor, right: int, down: int) -> torch.Tensor:
    """Moved by whole pixels (28 pixels span 2 normalised units)."""
    size = images.shape[-1]
    return _affine(images, [[1.0, 0.0, -2.0 * right / size], [0.0, 1.0, -2.0 * down / size]])


def scale(images: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoomed about the centre: a factor under 1 makes the digit smaller."""
    return _affine(images, [[1.0 / factor, 0.0, 0.0], [0.0, 1.0 / factor, 0.0]])


def thicken(images: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    """Bolder strokes: grey-level dilation (max over a (2*pixels+1) square)."""
    return F.max_pool2d(images.unsqueeze(1).float(), 2 * pixels + 1, stride=1, padding=pixels).squeeze(1).to(
        torch.uint8)


def gaussian_noise(images: torch.Tensor, std: float, seed: int = SEED) -> torch.Tensor:
    """Independent Gaussian noise of `std` (on the [0, 1] scale) added to every pixel, clipped."""
    x = _as_float(images)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)) * std
    return _as_uint8(x + noise)


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur (a separable kernel of radius 3 sigma, zero padding)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = _as_float(images)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1), padding=(0, radius))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    return _as_uint8(x)


def invert(images: torch.Tensor) -> torch.Tensor:
    """Dark digits on a light background."""
    return 255 - images


# Name -> corruption, in the order tables and plots show them.
CORRUPTIONS = {
    "rotate 20°": lambda x: rotate(x, 20),
    "rotate -20°": lambda x: rotate(x, -20),
    "shift 3 px": lambda x: shift(x, 3, 3),
    "scale 0.7": lambda x: scale(x, 0.7),
    "thicker strokes": lambda x: thicken(x, 1),
    "gaussian noise 0.3": lambda x: gaussian_noise(x, 0.3),
    "blur σ=1": lambda x: blur(x, 1.0),
    "inverted": invert,
}
