"""Training with Lightning: the model-agnostic LightningModule, inference helpers, callbacks,
atomic and safe checkpoint I/O, and the model summary."""
