"""Image files as MNIST digits: read with Pillow as a viewer shows them (or, for a stroke on a
transparent canvas, its opacity as the ink), then prepared the way
MNIST's digits were (light digit on dark; its bounding box fitted into 20x20 keeping the aspect
ratio, then centred by its centre of mass in 28x28).

Image files come from users, so each one is checked before it is decoded, and anything Pillow
cannot read becomes one PipelineError naming the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn.functional import interpolate

from ..core.errors import PipelineError

# Refused before decoding: a PNG of a few hundred KB can declare 30000x30000 pixels (900 MB as
# grayscale, several GB while decoding). A photo or scan of a digit needs far fewer.
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE
# Pillow opens 16-bit grayscale as one of these integer modes, values 0..65535.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
# MNIST's layout: the digit's box fitted into BOX x BOX, its centre of mass at the centre of SIDE x SIDE.
SIDE, BOX = 28, 20
INK = 0.15  # a pixel belongs to the digit's box above this fraction of the brightest ink


class ImageError(PipelineError):
    """An image file is missing, too large, or not an image Pillow can decode."""


def _grayscale(image: Image.Image) -> np.ndarray:
    """uint8 [H, W]: the gray a viewer shows (this is where the pixels are decoded)."""
    if image.mode in SIXTEEN_BIT_MODES:
        return (np.asarray(image, dtype=np.float32) / 257).round().clip(0, 255).astype(np.uint8)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.array(rgba.getchannel("A"))
        if np.median(_border(alpha)) < 128:
            # A stroke on a transparent canvas: its opacity is the ink, whatever its colour (a
            # light stroke over a viewer's white background would vanish), light on dark as in MNIST.
            return alpha
        # Transparency elsewhere (rounded corners, a cut-out): as a viewer shows it, over white.
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), rgba)
    return np.array(image.convert("L"))


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def read_gray(path: Path) -> np.ndarray:
    """One image file as uint8 [H, W], its size checked from the header before any pixel is decoded."""
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    if path.is_file() and path.stat().st_size == 0:  # not a pipe: those report size 0 too
        raise ImageError(f"{path}: empty file (0 bytes)")
    with warnings.catch_warnings():
        # Pillow's own, looser limit warns past 89M pixels (an error here) and raises past twice that.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)  # reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ImageError(f"{path}: {err}") from None
        except Exception as err:  # a hostile file can make a decoder raise anything: name the file
            raise ImageError(f"{path}: not an image file Pillow can read ({err})") from None
        with image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"{path}: {width}x{height} = {width * height} pixels, over the limit of "
                                 f"{MAX_PIXELS} ({MAX_SIDE}x{MAX_SIDE}); refusing to decode it")
            try:
                return _grayscale(image)
            except Exception as err:
                raise ImageError(f"{path}: corrupt or truncated image ({err})") from None


def has_light_background(gray: np.ndarray) -> bool:
    """Dark ink on light paper: the image's border is mostly light."""
    return bool(np.median(_border(gray)) > 127)


def mnist_style(gray: np.ndarray) -> torch.Tensor:
    """A light digit on a dark background (uint8 [H, W]) laid out as MNIST's: background taken
    away and contrast stretched, the digit's bounding box fitted into 20x20 with its aspect ratio
    kept, then placed so that its centre of mass is the centre of a 28x28 image. Returns uint8 [28, 28]."""
    ink = np.clip(gray.astype(np.float32) - np.median(_border(gray)), 0, None)
    if ink.max() == 0:
        raise ImageError("no digit found: nothing is lighter than the background (after --invert, if given)")
    ink *= 255 / ink.max()
    rows, cols = np.nonzero(ink > INK * 255)
    box = torch.from_numpy(ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1])
    scale = BOX / max(box.shape)
    size = [max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))]
    # torchvision's resize for tensors, without importing torchvision (seconds: it pulls in torch._dynamo)
    digit = interpolate(box[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0]
    digit = digit.clamp(0, 255)
    total = digit.sum()
    centre_y = float((digit.sum(dim=1) * torch.arange(size[0])).sum() / total)
    centre_x = float((digit.sum(dim=0) * torch.arange(size[1])).sum() / total)
    # Shift the centre of mass to (14, 14), where MNIST's digits have it (measured: mean 13.99, 14.00),
    # keeping the whole box inside.
    top = min(max(round(SIDE / 2 - centre_y), 0), SIDE - size[0])
    left = min(max(round(SIDE / 2 - centre_x), 0), SIDE - size[1])
    image = torch.zeros(SIDE, SIDE)
    image[top:top + size[0], left:left + size[1]] = digit
    return image.round().to(torch.uint8)


def image_files(paths: list[Path]) -> list[Path]:
    """The files named, with each folder replaced by its image files (sorted by name)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ImageError(f"{path}: folder holds no image files ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        else:
            files.append(path)
    return files


def read_images(paths: list[Path], invert: bool | None = None) -> tuple[torch.Tensor, list[bool]]:
    """Image files as MNIST digits, uint8 [N, 28, 28], and whether each was inverted. invert=None
    inverts the images with a light background (dark ink on paper); True or False forces it."""
    images, inverted = [], []
    for path in paths:
        gray = read_gray(Path(path))  # its errors name the file already
        try:
            image, flip = as_digit(gray, invert)
        except ImageError as err:
            raise ImageError(f"{path}: {err}") from None
        images.append(image)
        inverted.append(flip)
    return torch.stack(images), inverted


def as_digit(gray: np.ndarray, invert: bool | None = None) -> tuple[torch.Tensor, bool]:
    """One grayscale image (uint8 [H, W]) as an MNIST digit, uint8 [28, 28], and whether it was
    inverted (invert=None: when its background is light)."""
    flip = has_light_background(gray) if invert is None else invert
    return mnist_style(255 - gray if flip else gray), flip


def digit_from_image(image: Image.Image, invert: bool | None = None) -> tuple[torch.Tensor, bool]:
    """An image already in memory (a drawing, an upload) prepared exactly as an image file is."""
    if image.width * image.height > MAX_PIXELS:
        raise ImageError(f"{image.width}x{image.height} pixels, over the limit of {MAX_PIXELS} ({MAX_SIDE}x{MAX_SIDE})")
    return as_digit(_grayscale(image), invert)
