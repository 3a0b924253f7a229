"""The model-agnostic LightningModule."""

import pytorch_lightning as pl
import torch

from mnist_pipeline.data.datamodule import batch_loader
from mnist_pipeline.data.inputs import to_model_input
from mnist_pipeline.training.classifier import Classifier

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
