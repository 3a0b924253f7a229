import gzip
import os

import pytest

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.archives import SOURCES_FILE, ChecksumError, DownloadError, download_file, mirror_url, verify

NAME = "train-labels-idx1-ubyte.gz"


@pytest.fixture
def good(tiny_mirror):
    mirror, sums = tiny_mirror
    return mirror, sums["train_labels"]


def test_good_file_is_fetched_and_verified(tmp_path, good):
    mirror, sha = good
    path = download_file(NAME, sha, [mirror.as_uri() + "/"], tmp_path / "raw")
    assert path.read_bytes() == (mirror / NAME).read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == [SOURCES_FILE, NAME]  # no temporary files left


def test_local_folder_mirror(tmp_path, good):
    mirror, sha = good
    assert download_file(NAME, sha, [str(mirror)], tmp_path).exists()


def test_recompressed_copy_verifies(tmp_path, good):
    """Debian recompresses Fashion-MNIST: different .gz bytes, same content, must pass."""
    mirror, sha = good
    other = tmp_path / "other"
    other.mkdir()
    original = (mirror / NAME).read_bytes()
    (other / NAME).write_bytes(gzip.compress(gzip.decompress(original), compresslevel=1, mtime=12345))
    assert (other / NAME).read_bytes() != original
    assert download_file(NAME, sha, [str(other)], tmp_path / "raw").exists()


def _bad_mirror(tmp_path, name, content: bytes):
    folder = tmp_path / name
    folder.mkdir()
    (folder / NAME).write_bytes(content)
    return str(folder)


def test_truncated_file_is_rejected_and_next_mirror_used(tmp_path, good):
    mirror, sha = good
    data = (mirror / NAME).read_bytes()
    truncated = _bad_mirror(tmp_path, "truncated", data[: len(data) // 2])
    path = download_file(NAME, sha, [truncated, str(mirror)], tmp_path / "raw")
    assert path.read_bytes() == data


def test_altered_file_never_lands(tmp_path, good):
    mirror, sha = good
    content = bytearray(gzip.decompress((mirror / NAME).read_bytes()))
    content[100] = (content[100] + 1) % 10  # one label changed, still a valid archive
    altered = _bad_mirror(tmp_path, "altered", gzip.compress(bytes(content)))
    with pytest.raises(DownloadError) as err:
        download_file(NAME, sha, [altered], tmp_path / "raw")
    assert "sha256 of decompressed content" in str(err.value) and NAME in str(err.value)
    assert list((tmp_path / "raw").iterdir()) == []  # nothing that passes for complete


def test_first_mirror_down(tmp_path, good):
    mirror, sha = good
    down = (tmp_path / "no-such-mirror").as_uri() + "/"
    assert download_file(NAME, sha, [down, "http://127.0.0.1:9/", str(mirror)], tmp_path / "raw").exists()


def test_all_mirrors_down_names_file_and_every_mirror(tmp_path, good):
    _, sha = good
    mirrors = [(tmp_path / "gone").as_uri(), "http://127.0.0.1:9/mnist/", _bad_mirror(tmp_path, "junk", b"not gzip")]
    with pytest.raises(DownloadError) as err:
        download_file(NAME, sha, mirrors, tmp_path / "raw", timeout=5)
    message = str(err.value)
    assert NAME in message and "3 mirror(s)" in message
    for mirror in mirrors:
        assert mirror_url(mirror, NAME) in message
    assert "not a complete gzip archive" in message
    assert message.splitlines()[-1].startswith("Without internet, set MNIST_PIPELINE_MIRROR to a local folder or "
                                               "file:// URL")
    assert isinstance(err.value, PipelineError)


def test_interrupted_download_leaves_no_file(tmp_path, good, monkeypatch):
    mirror, sha = good
    import mnist_pipeline.data.archives as download

    def interrupted(url, dest, timeout):
        dest.write_bytes((mirror / NAME).read_bytes()[:50])
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_fetch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download_file(NAME, sha, [str(mirror)], tmp_path / "raw")
    assert os.listdir(tmp_path / "raw") == []


def test_corrupt_existing_file_is_replaced(tmp_path, good):
    mirror, sha = good
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / NAME).write_bytes(b"corrupt")
    with pytest.raises(ChecksumError):
        verify(raw / NAME, sha)
    download_file(NAME, sha, [str(mirror)], raw)
    verify(raw / NAME, sha)
