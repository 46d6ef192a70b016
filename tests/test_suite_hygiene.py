"""The test suite itself: the same tests, under the same ids, in every process (pytest -n needs that)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collected(hash_seed: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_two_processes_collect_the_same_ids_in_the_same_order():
    # another hash seed reorders sets and changes object ids: what differs between xdist workers
    first, second = _collected("1"), _collected("2")
    assert len(first) > 500
    assert first == second, sorted(set(first) ^ set(second))[:10]
