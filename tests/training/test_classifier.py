"""The model-agnostic LightningModule."""

import pytorch_lightning as pl
import torch

from mnist_pipeline.data.inputs import to_model_input
from mnist_pipeline.training.classifier import Classifier
from mnist_pipeline.training.datamodule import batch_loader

MODEL = {"_target_": "mnist_pipeline.models.SmallCNN", "dropout": 0.0}


ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 3e-3}


class Scaled(pl.LightningDataModule):
    def __init__(self, images, labels):
        super().__init__()
        self.images, self.labels = images, labels

    def train_dataloader(self):
        return batch_loader(self.images, self.labels, 32, shuffle=True)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        return to_model_input(batch[0]), batch[1]


def test_overfits_a_tiny_batch(digits):
    pl.seed_everything(0)
    images, labels = (torch.from_numpy(a[:32]) for a in digits)
    module = Classifier(model=MODEL, optimizer=ADAM)
    trainer = pl.Trainer(max_epochs=60, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=Scaled(images, labels))
    module.eval()
    with torch.no_grad():
        predicted = module(to_model_input(images)).argmax(dim=1)
    assert (predicted == labels).all()
    assert trainer.callback_metrics["train_loss"] < 0.05


def test_hyperparameters_are_plain_and_rebuild_the_model():
    module = Classifier(model=MODEL, optimizer=ADAM, num_classes=10)
    assert type(module.hparams["model"]) is dict
    rebuilt = Classifier(**module.hparams)
    rebuilt.load_state_dict(module.state_dict())
    x = torch.rand(2, 1, 28, 28)
    module.eval(), rebuilt.eval()
    assert torch.equal(module(x), rebuilt(x))
    assert isinstance(module.configure_optimizers(), torch.optim.Adam)


def test_epoch_means_cover_every_image(digits):
    """train_/val_ loss and accuracy are means over all the images of the epoch, the short last batch
    weighted by its size: with lr 0 the model stays fixed, so they equal one pass over the data."""
    pl.seed_everything(0)
    images, labels = (torch.from_numpy(a[:100]) for a in digits)  # batches of 32, 32, 32 and 4
    module = Classifier(model=MODEL, optimizer={**ADAM, "lr": 0.0})

    class WithVal(Scaled):
        def val_dataloader(self):
            return batch_loader(self.images, self.labels, 32, shuffle=False)

    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, num_sanity_val_steps=0,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=WithVal(images, labels))
    module.eval()
    with torch.no_grad():
        logits = module(to_model_input(images))
    loss = torch.nn.functional.cross_entropy(logits, labels)
    accuracy = (logits.argmax(dim=1) == labels).double().mean()
    for stage in ("train", "val"):  # dropout is 0, so training and validation passes agree
        assert torch.isclose(trainer.callback_metrics[f"{stage}_loss"].double(), loss.double(), rtol=1e-5)
        assert trainer.callback_metrics[f"{stage}_acc"] == accuracy


def test_a_one_cycle_schedule_spans_the_run(digits):
    """A scheduler that takes total_steps gets the run's optimizer steps and is stepped after each."""
    pl.seed_everything(0)
    images, labels = (torch.from_numpy(a[:100]) for a in digits)  # 4 batches an epoch
    one_cycle = {"_target_": "torch.optim.lr_scheduler.OneCycleLR", "_partial_": True, "max_lr": 1e-2}
    module = Classifier(model=MODEL, optimizer=ADAM, scheduler=one_cycle)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=Scaled(images, labels))
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert (scheduler.total_steps, scheduler.last_epoch) == (8, 8)  # one more step would raise
