# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/registry.md is generated from schemas/registry.schema.json, which stays canonical."""

import gen_docs  # noqa: E402  (tests/unit/engine is on sys.path via conftest)


def test_docs_and_schema_file_are_current():
    assert gen_docs.stale() == [], "run: python tests/unit/engine/gen_docs.py --write"


def test_docs_cover_every_key_and_code():
    text = open(gen_docs.DOC).read()
    for key in ("ai_backend_providers.<id>.gpu_memory_utilization", "ai_backend_routing.fallbacks",
                "ai_backend_providers.<id>.models[].name", "ai_backend_gateway.master_key_env"):
        assert "`%s`" % key in text
    for code in gen_docs.problems.SEVERITY:
        assert "`%s`" % code in text
