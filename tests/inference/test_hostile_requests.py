"""Generated hostile requests (Hypothesis) to the served model as MLflow loads it: arrays of random
shapes, dtypes and values, and nested lists as JSON would bring them. Each is answered (one row of
probabilities per image) or refused with the served model's one InputError, which the scoring
server turns into a 400 with that message; never another exception."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from mlflow.exceptions import MlflowException

from conftest import mlflow_client
from hostile import SETTINGS, TRIED, examples, peak_rss_gib, settings
from mnist_pipeline.inference.served_model import EXPECTED
from mnist_pipeline.models.small_cnn import SmallCNN
from mnist_pipeline.tracking import registry

CLASSES = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def served(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("hostile_served")
    mlflow_client(f"sqlite:///{folder}/mlflow.db")
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("hostile", artifact_location=folder.as_uri()))
    with mlflow.start_run():
        info = registry.log_model(SmallCNN(), CLASSES, normalize=True, example=torch.from_numpy(digits[0][:4]))
    return mlflow.pyfunc.load_model(info.model_uri)


def shapes() -> st.SearchStrategy[tuple]:
    """Mostly near [N, 28, 28] (so values get tested too), sometimes anything up to 5 axes."""
    side = st.sampled_from([28, 28, 28, 1, 0, 27, 29, 56])
    return st.one_of(st.tuples(st.integers(0, 5), side, side),
                     st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), side, side),
                     hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=30))


def arrays() -> st.SearchStrategy[np.ndarray]:
    dtypes = st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(),
                       hnp.boolean_dtypes(), hnp.complex_number_dtypes(), hnp.datetime64_dtypes(),
                       hnp.unicode_string_dtypes(max_len=3), hnp.byte_string_dtypes(max_len=3))
    return hnp.arrays(dtypes, shapes())


def pixels_like() -> st.SearchStrategy[np.ndarray]:
    """[N, 28, 28] whole numbers, some out of 0-255, some not whole, some NaN or inf."""
    values = st.one_of(st.integers(-300, 600), st.sampled_from([0.5, 255.5, -0.0, math.nan, math.inf, 1e300]))
    return st.integers(1, 4).flatmap(
        lambda n: hnp.arrays(st.sampled_from([np.uint8, np.int64, np.float32, np.float64]), (n, 28, 28),
                             elements=st.integers(0, 255))
    ).flatmap(lambda a: st.just(a) if a.dtype == np.uint8 else values.map(lambda v: _with(a, v)))


def _with(array: np.ndarray, value) -> np.ndarray:
    changed = array.copy()
    try:
        changed.flat[0] = value
    except (OverflowError, ValueError):  # NaN or too large for an integer dtype: left as it was
        pass
    return changed


def json_like() -> st.SearchStrategy:
    """What a JSON body can hold: ragged nested lists of numbers, strings, null and objects."""
    leaf = st.one_of(st.integers(-10, 300), st.floats(allow_nan=False), st.none(), st.text(max_size=3), st.booleans())
    return st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=30),
                                                      st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                        max_leaves=200)


def ask(model, request) -> None:
    """The property: an answer of one row per image, or an InputError naming what is expected."""
    TRIED["served model"] += 1
    try:
        out = model.predict(request)
    except MlflowException as err:  # the logged copy of served_model.InputError: a 400 from the server
        assert err.error_code == "INVALID_PARAMETER_VALUE", err
        assert EXPECTED in err.message and "\n" not in err.message
        TRIED["served model refused"] += 1
        return
    TRIED["served model answered"] += 1
    probabilities = np.stack(out["probabilities"])
    assert probabilities.shape == (len(out), 10) and np.allclose(probabilities.sum(axis=1), 1)
    assert set(out["label"]) <= set(CLASSES)


@examples(quick=150, many=1500)
def test_each_hostile_request_is_answered_or_refused_with_what_is_expected(served, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(st.one_of(arrays(), pixels_like(), json_like()))
    def check(request):
        ask(served, request)

    check()
    assert peak_rss_gib() < 4


def test_real_digits_are_answered_by_the_same_model(served, digits):
    """The property above could hold by refusing everything: real pixels must be answered."""
    out = served.predict(digits[0][:3])
    assert len(out) == 3 and set(out["label"]) <= set(CLASSES)
