# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A realistic catalogue (bench/import_bench.py's sources): the import stays linear and the report small."""
import gc
import os
import sys
import time

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench"))
import import_bench  # noqa: E402  pylint: disable=wrong-import-position


def cpu_seconds(docs):
    gc.collect()
    start = time.process_time()
    result = importer.import_documents(*docs)
    importer.render_report(result["report"])
    return time.process_time() - start, result


@pytest.fixture(scope="module")
def large():
    docs = import_bench.sources(2400)
    return docs, cpu_seconds(docs)


def test_import_is_linear(large):
    small_time = min(cpu_seconds(import_bench.sources(600))[0] for dummy in range(2))
    large_time = min(large[1][0], cpu_seconds(large[0])[0])
    # Four times the models: about four times the work. A quadratic step would make it sixteen.
    assert large_time / small_time < 8, (small_time, large_time)


def test_report_summarises_repetitive_entries(large):
    dummy, result = large[1]
    report = result["report"]
    left = dict((item["shape"], item) for item in report["summary"]["left_out"])
    pulled = left["providers.yaml: providers.*.models.*.pulled_at (informational)"]
    assert pulled["count"] > 1500 and pulled["shown"] == 20
    shown = [e for e in report["not_carried"] if e["from"].endswith(".pulled_at")]
    assert len(shown) == 20
    assert report["summary"]["not_carried"] == sum(report["summary"]["not_carried_by_reason"].values())
    assert len(importer.render_report(report)) < 400 * 1024


def test_full_report_keeps_every_entry(large):
    docs = large[0]
    result = importer.import_documents(*docs, full_report=True)
    report = result["report"]
    assert "left_out" not in report["summary"]
    assert len(report["carried"]) == report["summary"]["carried"]
    assert len(report["not_carried"]) == report["summary"]["not_carried"]


def test_bench_sources_import_cleanly(large):
    dummy, result = large[1]
    assert "accepted_corrections" not in result["report"]["summary"]
    assert sum(len(p["models"]) for p in result["registry"]["ai_backend_providers"].values()) == 2400
