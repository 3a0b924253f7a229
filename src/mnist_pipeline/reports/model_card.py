"""The model card of an evaluated version: Markdown for reports/model_card.md and the registry."""

from __future__ import annotations

import pandas as pd

MODEL_DESCRIPTION = (
    "Handwritten-digit classifier trained by the MNIST pipeline. Takes uint8 images [N, 28, 28] "
    "(white digit on black, MNIST-style centring) and returns class names and probabilities. The alias "
    "`champion` marks the version McNemar's test found significantly better than the one before; "
    "`challenger` the latest that was not. Each version's description is its model card.")


def model_card(*, name: str, version: str, lineage: dict[str, str], trained: dict, metrics: dict,
               per_class: dict[str, dict[str, float]], robustness: pd.DataFrame, decision: str, reason: str) -> str:
    """Data, recipe, test accuracy with its interval, per-class table, calibration, robustness, the
    gate's decision and limitations, as Markdown."""
    data = trained["data"]
    per_class_rows = "\n".join(f"| {cls} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} |"
                               for cls, v in per_class.items())
    robust_rows = "\n".join(f"| {row.corruption} | {row.accuracy:.4f} [{row.ci_low:.4f}, {row.ci_high:.4f}] |"
                            for row in robustness.itertuples())
    return f"""# Model card: {name} version {version}

**Gate decision:** {decision}. {reason}.

## Data
Dataset `{data['name']}` (digest `{lineage.get('dataset_sha256', 'unknown')[:16]}…`), {data['sizes']['train']:,} \
training images of which {data['val_size']:,} held out for validation; classes {', '.join(data['classes'])}; \
inputs {'scaled to [0, 1]' if data['normalize'] else 'raw 0-255'}.

## Recipe
Recipe `{lineage.get('recipe', trained.get('recipe'))}`, model `{trained['model']['_target_']}`, seed \
{trained.get('seed')}; git commit `{lineage.get('git_commit', 'unknown')}`; run `{lineage.get('run_id', '')}`.

## Test accuracy
{metrics['test_acc']:.4f} on {metrics['test_n']:,} test images, 95% Wilson interval \
[{metrics['test_acc_ci_low']:.4f}, {metrics['test_acc_ci_high']:.4f}]; test loss {metrics['test_loss']:.4f}.

| class | precision | recall | F1 |
|---|---|---|---|
{per_class_rows}

## Calibration
Expected calibration error {metrics['test_ece']:.4f} (15 bins; reliability diagram: plots/reliability.png).

## Robustness
Accuracy under fixed corruptions of the test digits (plots/robustness.png):

| test images | accuracy [95% interval] |
|---|---|
{robust_rows}

## Limitations
Trained only on centred, white-on-black, 28x28 handwritten digits of this dataset: not on inverted,
rotated, shifted or rescaled digits (see the robustness table), other scripts, letters, or photos. Its
confidence is not calibrated by temperature scaling.
"""
