"""Hypothesis strategies that turn a real checkpoint or config into a hostile one, and the one
property every reader must keep: success, or one line and a non-zero exit (never a traceback,
never code named by the file run).

Shared by tests/test_hostile_checkpoints.py, test_hostile_params.py and
inference/test_hostile_requests.py; conftest.py prints TRIED at the end of the session."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import resource
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# reader -> examples tried, and reader + " refused" / " answered" -> how each ended.
TRIED: Counter = Counter()

# Hypothesis runs each test's examples in one test call: no per-example deadline (a training or an
# evaluation takes seconds), no example database left in the working tree.
SETTINGS = dict(deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def examples(quick: int, many: int):
    """A test parametrised to run `quick` examples in the quick loop, and `many` under -m slow."""
    import pytest

    return pytest.mark.parametrize("examples", [pytest.param(quick, id="quick"),
                                                pytest.param(many, id="many", marks=pytest.mark.slow)])


def touch_marker(path: str) -> None:
    """What a forbidden `_target_` would run: if this file appears, a file ran code."""
    Path(path).write_text("a file ran code\n")


def forbidden_specs(marker: Path) -> st.SearchStrategy[dict]:
    """Specs naming something that must never be built, each of which would create `marker`."""
    command = f"touch {marker}"
    return st.sampled_from([
        {"_target_": "os.system", "_args_": [command]},
        {"_target_": "os.system", "command": command},
        {"_target_": "subprocess.run", "args": ["touch", str(marker)]},
        {"_target_": "builtins.exec", "_args_": [f"open({str(marker)!r}, 'w')"]},
        {"_target_": "pathlib.Path.touch", "_args_": [str(marker)]},
        {"_target_": "hostile.touch_marker", "path": str(marker)},
        {"_target_": "hydra.utils.call", "_args_": ["hostile.touch_marker", str(marker)]},
        # Near misses of registered names: an attribute walk, another case, a trailing space, a prefix.
        {"_target_": "mnist_pipeline.models.small_cnn.nn.Identity"},
        {"_target_": "mnist_pipeline.models.smallcnn"},
        {"_target_": "mnist_pipeline.models.SmallCNN "},
        {"_target_": "mnist_pipeline.models"},
        {"_target_": "torch.nn.Identity"},
        {"_target_": ["os.system"]},
    ])


def hostile_values(tensors: bool = True) -> st.SearchStrategy[Any]:
    """Values of the wrong type or out of any sensible range (tensors too, where a file can hold them)."""
    plain = [
        st.sampled_from([None, True, False, 0, -1, 1, 2, 5, 10**11, -(10**11), 2**63, 2**1000, 0.5, -0.0, 1e308,
                         math.nan, math.inf, -math.inf, "", "ten", "${missing}", "${oc.env:HOME}", "../../etc/passwd",
                         "\x00", "a" * 100_000, [], {}, [1, 2], {"a": 1}, ["0"] * 5000]),
        st.integers(), st.floats(), st.text(max_size=20),
        st.lists(st.integers(-3, 3), max_size=4),
    ]
    if tensors:
        plain.append(st.sampled_from([torch.zeros(3), torch.zeros(0), torch.tensor(math.nan),
                                      torch.zeros(2, 2, dtype=torch.int8), torch.full((10,), math.inf)]))
    return st.one_of(*plain)


def out_of_range() -> st.SearchStrategy[Any]:
    """Numbers a setting of a checkpoint or config could hold but should not."""
    return st.sampled_from([-1, 0, 2, 5, 10**3 + 1, 10**11, -(10**11), 2**64, -0.5, 1.0, 1.5, 1e300, math.nan,
                            math.inf, -math.inf])


def paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and list indices) to a node of a tree of dicts and lists; tensors are leaves."""
    found = [prefix] if prefix else []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            found += paths(value, (*prefix, i))
    return found


def _parent(tree: Any, path: tuple) -> Any:
    for key in path[:-1]:
        tree = tree[key]
    return tree


def _get(tree: Any, path: tuple) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def mutated(draw, original: dict, marker: Path, forbidden_only: bool = False,
            tensors: bool = True) -> tuple[str, dict]:
    """A deep copy of `original` with one to three mutations (keys removed, types swapped, values out
    of range, forbidden targets at random depths); and the kinds applied, for the test's records.
    forbidden_only: every mutation names a forbidden target (what must always be refused); tensors:
    whether swapped-in values may be tensors (not in a YAML file)."""
    tree = copy.deepcopy(original)
    kinds = []
    for _ in range(1 if forbidden_only else draw(st.integers(1, 3))):
        kind = "target" if forbidden_only else draw(st.sampled_from(["remove", "swap", "range", "target"]))
        where = paths(tree)
        if kind == "target":
            spec = copy.deepcopy(draw(forbidden_specs(marker)))
            dicts = [()] + [p for p in where if isinstance(_get(tree, p), dict)]
            path = draw(st.sampled_from(dicts))
            how = draw(st.sampled_from(["merge", "replace", "nest"]))
            node = _get(tree, path)
            if how == "merge" or not path:  # the node itself names it (a spec's _target_ replaced)
                node.update(spec)
            elif how == "replace":
                _parent(tree, path)[path[-1]] = spec
            else:
                node[draw(st.sampled_from(["extra", "_args_", "model"]))] = [[spec]]
        elif not where:
            continue
        else:
            path = draw(st.sampled_from(where))
            parent = _parent(tree, path)
            if kind == "remove":
                if isinstance(parent, list):
                    parent.pop(path[-1])
                else:
                    del parent[path[-1]]
            elif kind == "swap":
                parent[path[-1]] = draw(hostile_values(tensors))
            else:
                numbers = [p for p in where if isinstance(_get(tree, p), (int, float))]
                if numbers:
                    path = draw(st.sampled_from(numbers))
                _parent(tree, path)[path[-1]] = draw(out_of_range())
        kinds.append(kind)
    return "+".join(kinds), tree


def damaged_bytes(data: bytes) -> st.SearchStrategy[bytes]:
    """data truncated anywhere (empty included), or with a run of bytes overwritten."""
    truncated = st.integers(0, len(data) - 1).map(lambda n: data[:n])

    @st.composite
    def overwritten(draw) -> bytes:
        start = draw(st.integers(0, len(data) - 1))
        junk = draw(st.binary(min_size=1, max_size=64))
        return data[:start] + junk + data[start + len(junk):]

    return st.one_of(truncated, overwritten())


def run_command(command: Callable[[], Any]) -> tuple[int, str, str]:
    """command run as a CLI runs it (core.cli.run_stage): exit code, stdout and stderr. Anything but
    a PipelineError propagates, so a traceback fails the test with the example that caused it."""
    from mnist_pipeline.core.cli import run_stage

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_stage(command)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def assert_success_or_one_line(reader: str, code: int, stderr: str) -> bool:
    """The property: exit 0, or a non-zero exit with exactly one line 'error: ...'. True when refused."""
    TRIED[reader] += 1
    if code == 0:
        TRIED[f"{reader} answered"] += 1
        return False
    lines = stderr.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error: "), stderr[-3000:]
    assert "Traceback" not in stderr
    TRIED[f"{reader} refused"] += 1
    return True


def peak_rss_gib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def save(tree: dict, path: Path) -> bytes:
    torch.save(tree, path)
    return path.read_bytes()


__all__ = ["SETTINGS", "TRIED", "assert_success_or_one_line", "damaged_bytes", "examples", "forbidden_specs",
           "hostile_values", "mutated", "out_of_range", "peak_rss_gib", "run_command", "save", "settings"]
