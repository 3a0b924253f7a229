"""Mirrored archives: fetch each file from the first mirror that serves a verified copy.

Each archive is checked against the sha256 of its *decompressed* content, so a mirror that
recompresses the same bytes passes and a truncated or altered file never does. Files are written
to a temporary name and renamed into place only once verified.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

from ..core.atomic import atomic_path, write_text
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


# A mirror of this machine's, tried before data.mirrors: kept out of params.yaml, so a local path is
# never committed and changing it is no param change to DVC (the archives' checksums stay the check).
MIRROR_ENV = "MNIST_PIPELINE_MIRROR"
# Where each archive in a raw folder was fetched from (listed in .dvcignore: no part of the data).
SOURCES_FILE = ".fetched_from.json"

# What to do next when no mirror answers (docs/offline.md).
OFFLINE_HINT = (f"Without internet, set {MIRROR_ENV} to a local folder or file:// URL that holds the four "
                f"archives, e.g. {MIRROR_ENV}=/path/to/mnist dvc repro (see docs/offline.md).")


def mirrors_to_try(configured: Sequence[str]) -> list[str]:
    """The configured mirrors, after the one MNIST_PIPELINE_MIRROR names (when it is set)."""
    local = os.environ.get(MIRROR_ENV, "").strip()
    return [local, *configured] if local else list(configured)


def fetched_from(dest_dir: Path) -> dict[str, str]:
    """{archive name: the URL it was fetched from} for the archives in dest_dir, as far as recorded."""
    try:
        record = json.loads((dest_dir / SOURCES_FILE).read_text())
    except (OSError, ValueError):  # none yet (archives restored by DVC, say), or unreadable: no record
        return {}
    return {str(k): str(v) for k, v in record.items()} if isinstance(record, dict) else {}


def mirrors_used(dest_dir: Path) -> list[str]:
    """The mirrors the archives in dest_dir came from (their URLs without the file name), in order."""
    return list(dict.fromkeys(url.rsplit("/", 1)[0] + "/" for url in fetched_from(dest_dir).values()))


def _record_source(dest_dir: Path, filename: str, url: str) -> None:
    write_text(dest_dir / SOURCES_FILE, json.dumps({**fetched_from(dest_dir), filename: url}, indent=2) + "\n")


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
        _record_source(dest_dir, filename, url)
        log.info("%s: fetched from %s and verified", final, url)
        return final
    tried = "\n".join(f"  - {line}" for line in failures)
    raise DownloadError(f"could not get a verified copy of {filename} from any of "
                        f"{len(mirrors)} mirror(s):\n{tried}\n{OFFLINE_HINT}")
