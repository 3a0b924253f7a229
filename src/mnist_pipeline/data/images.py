"""Image files as model-sized grayscale tensors, read with Pillow as a viewer shows them.

Image files come from users, so each one is checked before it is decoded, and anything Pillow
cannot read becomes one PipelineError naming the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2.functional import resize

from ..core.errors import PipelineError

# Refused before decoding: a PNG of a few hundred KB can declare 30000x30000 pixels (900 MB as
# grayscale, several GB while decoding). A photo or scan of a digit needs far fewer.
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE
# Pillow opens 16-bit grayscale as one of these integer modes, values 0..65535.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")


class ImageError(PipelineError):
    """An image file is missing, too large, or not an image Pillow can decode."""


def _grayscale(image: Image.Image) -> np.ndarray:
    """uint8 [H, W]: the gray a viewer shows (this is where the pixels are decoded)."""
    if image.mode in SIXTEEN_BIT_MODES:
        return (np.asarray(image, dtype=np.float32) / 257).round().clip(0, 255).astype(np.uint8)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Viewers show transparency over a light background; dropping alpha instead would lose
        # a digit drawn only in the alpha channel.
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    return np.array(image.convert("L"))


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


def read_images(paths: list[Path], invert: bool = False) -> torch.Tensor:
    """Image files as uint8 [N, 28, 28] grayscale, resized as they are; invert for dark ink on light paper."""
    images = []
    for path in paths:
        pixels = torch.from_numpy(read_gray(Path(path)))
        image = resize(pixels.unsqueeze(0), [28, 28], antialias=True)[0]
        images.append(255 - image if invert else image)
    return torch.stack(images)
