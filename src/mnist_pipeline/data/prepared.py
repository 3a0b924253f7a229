"""The prepared tensors: a seeded train/validation split, saved and loaded as
{"images": uint8 [N, 28, 28], "labels": int64 [N]} per split."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..core.atomic import atomic_path
from ..core.errors import PipelineError

SPLITS = ("train", "val", "test")


def split_train_val(images: torch.Tensor, labels: torch.Tensor, val_size: int, seed: int):
    """A seeded random split: the same seed always gives the same validation images."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    val, train = order[:val_size], order[val_size:]
    return (images[train], labels[train]), (images[val], labels[val])


def save_tensors(obj: dict[str, torch.Tensor], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


class PreparedError(PipelineError):
    """A prepared split is missing, unreadable or does not hold what the prepare stage writes."""


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {list(value.shape)}"
    return f"a dict with keys {sorted(map(str, value))}" if isinstance(value, dict) else type(value).__name__


def load_prepared(folder: Path, split: str, num_classes: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 [N, 28, 28] and labels int64 [N] of one split, checked here so that a damaged
    file is named now rather than surfacing as an index or shape error mid-training. Labels are
    checked against 0..num_classes-1 when num_classes is given."""
    path = Path(folder) / f"{split}.pt"
    if not path.is_file():
        raise PreparedError(f"{path} not found: run the prepare stage first")
    try:
        with warnings.catch_warnings():  # torch's remarks on foreign pickles: the error below says it all
            warnings.simplefilter("ignore")
            data = torch.load(path, weights_only=True)
    except Exception as err:
        # Not torch's text: it calls the file a corrupt "checkpoint" or suggests weights_only=False.
        raise PreparedError(f"{path} cannot be read ({type(err).__name__}): it is damaged or not "
                            "written by the prepare stage; re-run the prepare stage") from None
    if not isinstance(data, dict) or not {"images", "labels"} <= data.keys():
        raise PreparedError(f"{path} holds {_describe(data)}, not a dict with 'images' and 'labels': "
                            "re-run the prepare stage")
    images, labels = data["images"], data["labels"]
    if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.ndim == 3
            and images.shape[1:] == (28, 28)):
        raise PreparedError(f"{path}: images are {_describe(images)}, expected torch.uint8 [N, 28, 28]: "
                            "re-run the prepare stage")
    if not (isinstance(labels, torch.Tensor) and labels.dtype == torch.int64 and labels.shape == (len(images),)):
        raise PreparedError(f"{path}: labels are {_describe(labels)}, expected torch.int64 [{len(images)}] "
                            "(one per image): re-run the prepare stage")
    if num_classes is not None and len(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise PreparedError(f"{path}: label {low if low < 0 else high} is out of range 0..{num_classes - 1} "
                                f"for {num_classes} classes: re-run the prepare stage")
    return images, labels
