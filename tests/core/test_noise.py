"""The filters for library warnings and notices a user cannot act on: each silences its own message
and nothing else."""

import logging
import warnings

import pytest

from mnist_pipeline.core.noise import UNACTIONABLE_NOTICES, UNACTIONABLE_WARNINGS, _DropNotices, quiet_unactionable

SAMPLES = {  # a message each filter is for, as the library words it
    "srun": "The `srun` command is available on your system but is not used. HINT: If your intention is ...",
    "set_vital": "'set_vital' is deprecated, please do not call",
    "LeafSpec": "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec)` instead.",
}


def warned(message: str, category: type[Warning]) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_unactionable()
        warnings.warn(message, category, stacklevel=1)
    return caught


@pytest.mark.parametrize(("sample", "category"), [("srun", UserWarning), ("set_vital", UserWarning),
                                                  ("LeafSpec", FutureWarning)])
def test_each_unactionable_warning_is_silenced(sample, category):
    assert warned(SAMPLES[sample], category) == []


def test_every_filter_has_a_sample_and_a_reason():
    assert len(UNACTIONABLE_WARNINGS) == len(SAMPLES)
    assert all(why for *_, why in (*UNACTIONABLE_WARNINGS, *UNACTIONABLE_NOTICES))


def test_other_warnings_and_the_same_words_in_another_category_still_show():
    assert len(warned("The number of training batches (20) is smaller than the logging interval", UserWarning)) == 1
    assert len(warned(SAMPLES["set_vital"], RuntimeWarning)) == 1  # the filter names its category
    assert len(warned("something 'set_vital' is deprecated", UserWarning)) == 1  # and where the message starts


def test_the_lightning_advert_is_dropped_and_its_other_notices_kept(caplog):
    name, prefix, _ = UNACTIONABLE_NOTICES[0]
    logger = logging.getLogger(name)
    try:
        quiet_unactionable()
        quiet_unactionable()  # twice: still one filter
        assert sum(isinstance(f, _DropNotices) for f in logger.filters) == 1
        with caplog.at_level(logging.INFO, logger=name):
            logger.info(prefix + " For seamless cloud logging, try installing litlogger")
            logger.info("GPU available: False, used: False")
        assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]
    finally:
        for installed in [f for f in logger.filters if isinstance(f, _DropNotices)]:
            logger.removeFilter(installed)
