"""Scoring a trained network outside the training loop: checkpoints read back as data, logits batch by
batch, the served model's pixels-in rule and ONNX export. Nothing here imports Lightning, torchvision or
torchmetrics (tests/test_layout.py holds it), so evaluate, predict and serving start quickly."""
