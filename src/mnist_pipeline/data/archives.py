"""Mirrored archives: fetch each file from the first mirror that serves a verified copy.

Each archive is checked against the sha256 of its *decompressed* content, so a mirror that
recompresses the same bytes passes and a truncated or altered file never does. Files are written
to a temporary name and renamed into place only once verified.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import shutil
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

from ..core.atomic import atomic_path
from ..core.errors import PipelineError
from ..core.project import project_root

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


class DownloadError(PipelineError):
    """No mirror served a verified copy of a file."""


class ChecksumError(PipelineError):
    """A file on disk does not match its configured checksum."""


def content_sha256(path: Path) -> str:
    """sha256 of the gunzipped content; raises ChecksumError when the archive is damaged."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except (EOFError, OSError, zlib.error) as err:  # truncated or not gzip at all
        raise ChecksumError(f"{path.name} is not a complete gzip archive ({err})") from None
    return digest.hexdigest()


def verify(path: Path, sha256: str) -> None:
    """Raise ChecksumError naming the file unless its decompressed content has this sha256."""
    actual = content_sha256(path)
    if actual != sha256:
        raise ChecksumError(f"{path}: sha256 of decompressed content is {actual}, expected {sha256}")


def mirror_url(mirror: str, filename: str) -> str:
    """URL of `filename` on a mirror given as a URL (any scheme urllib knows) or a local folder."""
    if "://" in mirror:
        return mirror.rstrip("/") + "/" + filename
    folder = Path(mirror).expanduser()
    if not folder.is_absolute():
        folder = project_root() / folder
    return (folder / filename).resolve().as_uri()


def _fetch(url: str, dest: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-pipeline"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())


# What to do next when no mirror answers (README: "Offline, from a local mirror").
OFFLINE_HINT = ("Without internet, point data.mirrors at a local folder or file:// URL that holds the four "
                "archives, e.g. dvc exp run -S 'data.mirrors=[file:///path/to/mnist/]' or "
                "python -m mnist_pipeline.params 'data.mirrors=[/path/to/mnist]' then dvc repro "
                "(see the README's \"Offline, from a local mirror\").")


def download_file(filename: str, sha256: str, mirrors: Sequence[str], dest_dir: Path,
                  timeout: float = 60.0) -> Path:
    """Fetch one archive into dest_dir, trying mirrors in order; returns its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename
    if final.exists():
        try:
            verify(final, sha256)
            log.info("%s: already present and verified", final)
            return final
        except ChecksumError as err:
            log.warning("%s; fetching it again", err)
    failures = []
    for mirror in mirrors:
        url = mirror_url(mirror, filename)
        try:
            with atomic_path(final) as tmp:  # renamed into place only once verified
                _fetch(url, tmp, timeout)
                verify(tmp, sha256)
        except (OSError, ValueError, ChecksumError) as err:  # URLError is an OSError
            reason = re.sub(r"\S*\.part\b", filename, str(err))
            failures.append(f"{url}: {reason}")
            log.warning("%s: %s", url, reason)
            continue
        log.info("%s: fetched from %s and verified", final, url)
        return final
    tried = "\n".join(f"  - {line}" for line in failures)
    raise DownloadError(f"could not get a verified copy of {filename} from any of "
                        f"{len(mirrors)} mirror(s):\n{tried}\n{OFFLINE_HINT}")
