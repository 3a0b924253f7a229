"""Every stage and command, given a bad input, prints one line naming the problem and exits non-zero:
never a traceback."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # each case starts a Python process


def run(folder, *args):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([sys.executable, "-m", *args], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize(("args", "expected"), [
    (["mnist_pipeline.download"], "error: params.yaml not found"),
    (["mnist_pipeline.evaluate"], "error: params.yaml not found"),
    (["mnist_pipeline.predict", "--checkpoint", "nowhere.ckpt"], "error: checkpoint nowhere.ckpt not found"),
    (["mnist_pipeline.compare", "--tracking-uri", "sqlite:///store.db", "--experiment", "none"],
     "error: no experiment 'none'"),
    (["mnist_pipeline.params", "optimizer.lr=-1"], "error: params.yaml: 'optimizer.lr' must be a positive number"),
    (["mnist_pipeline.train", f"--config-dir={ROOT / 'conf'}", "optimizer.lr=-1"],
     "error: conf/: 'optimizer.lr' must be a positive number"),
    (["mnist_pipeline.train", f"--config-dir={ROOT / 'conf'}", "resume_from=broken.ckpt"],
     "error: broken.ckpt is not a readable checkpoint"),
    (["mnist_pipeline.mirror_mnist_5k", "/proc/mirror"], "error: /proc/mirror: cannot write the mirror"),
])
def test_bad_input_gives_one_line(tmp_path, args, expected):
    (tmp_path / "broken.ckpt").write_bytes(b"not a checkpoint")
    (tmp_path / "conf").symlink_to(ROOT / "conf")  # a project without params.yaml
    result = run(tmp_path, *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr[-2000:]
    assert not (tmp_path / "params.yaml").exists()  # nothing half-written
