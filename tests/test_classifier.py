import pytorch_lightning as pl
import torch

from mnist_pipeline.classifier import Classifier
from mnist_pipeline.datamodule import batch_loader, to_model_input

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


def test_batch_loader_slices_whole_batches():
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    labels = torch.arange(10)
    batches = list(batch_loader(images, labels, 4, shuffle=False))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][1].tolist() == [0, 1, 2, 3]


def test_to_model_input_scaling():
    images = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    assert to_model_input(images).shape == (2, 1, 28, 28)
    assert to_model_input(images).max() == 1.0
    assert to_model_input(images, normalize=False).max() == 255.0
