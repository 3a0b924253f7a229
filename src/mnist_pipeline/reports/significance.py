"""Statistics on test accuracies: Wilson intervals, and McNemar's exact test of two models scored on
the same test images (the champion gate's evidence). SciPy does the arithmetic."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

CONFIDENCE = 0.95


def wilson_interval(correct: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of an accuracy of `correct` out of `total` (better than the normal
    approximation near 0 and 1, where MNIST accuracies live)."""
    if total <= 0:
        return float("nan"), float("nan")
    interval = binomtest(int(correct), int(total)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


@dataclass(frozen=True)
class GateResult:
    """McNemar's exact test of a challenger against the champion on the same test images.
    b: images only the challenger gets right; c: images only the champion gets right."""
    challenger_acc: float
    champion_acc: float
    b: int
    c: int
    p_value: float
    level: float

    @property
    def significantly_better(self) -> bool:
        return self.b > self.c and self.p_value < self.level

    def as_dict(self) -> dict:
        return {**asdict(self), "significantly_better": self.significantly_better}

    def reason(self) -> str:
        verdict = "significantly better" if self.significantly_better else "not significantly better"
        return (f"challenger {self.challenger_acc:.4f} vs champion {self.champion_acc:.4f} on the same "
                f"test images; only the challenger right on b={self.b}, only the champion on c={self.c}; "
                f"McNemar exact p={self.p_value:.4g} (level {self.level:g}): {verdict}")


def mcnemar_exact(challenger_correct: np.ndarray, champion_correct: np.ndarray, level: float) -> GateResult:
    """Two-sided exact McNemar test: under 'equally good', each disagreement is a fair coin, so b is
    Binomial(b + c, 1/2). No disagreement at all is no evidence (p = 1)."""
    new, old = np.asarray(challenger_correct, bool), np.asarray(champion_correct, bool)
    if new.shape != old.shape or new.ndim != 1:
        raise ValueError(f"the two models were not scored on the same images: {new.shape} vs {old.shape}")
    b, c = int((new & ~old).sum()), int((~new & old).sum())
    p = float(binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    return GateResult(float(new.mean()), float(old.mean()), b, c, p, float(level))
