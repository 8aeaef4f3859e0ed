# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Malformed sources: a clear error naming the file and key path, nothing written, no traceback.

Checked twice: through the module_utils API and through the real module, run as
Ansible runs it (a subprocess reading its JSON arguments).
"""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from importer_paths import original_paths

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODULE = os.path.join(REPO, "plugins", "modules", "registry_import.py")
COLLECTIONS = os.path.join(REPO, ".build", "collections")

GOOD_PROVIDERS = """\
providers:
  ollama:
    type: ollama
    base_url: http://127.0.0.1:11434
    models:
      - name: llama3.1:latest
"""
GOOD_MAPPINGS = """\
exact_matches:
  "llama3.1:latest":
    provider: ollama
fallback_chains: {}
"""

# (case id, which file is broken, its text, file named in the error, key path named, words in the message)
CASES = [
    ("broken-yaml", "providers", "providers:\n  ollama: {type: ollama\n", "providers.yaml", None,
     "not valid YAML at line"),
    ("tab-indent", "mappings", "exact_matches:\n\t'x': 1\n", "model-mappings.yaml", None, "not valid YAML"),
    ("duplicate-key", "providers", GOOD_PROVIDERS + "  ollama:\n    type: vllm\n", "providers.yaml", None,
     "duplicate key 'ollama'"),
    ("not-a-mapping-list", "providers", "- ollama\n- vllm\n", "providers.yaml", None,
     "top level must be a mapping (key: value), got a list"),
    ("not-a-mapping-scalar", "mappings", "just some text\n", "model-mappings.yaml", None,
     "top level must be a mapping"),
    ("empty-file", "mappings", "", "model-mappings.yaml", None, "the file is empty"),
    ("missing-providers", "providers", "metadata: {version: '1'}\n", "providers.yaml", "providers",
     "required section 'providers' is missing"),
    ("missing-exact-matches", "mappings", "fallback_chains: {}\n", "model-mappings.yaml", "exact_matches",
     "required section 'exact_matches' is missing"),
    ("providers-is-a-list", "providers", "providers: [ollama]\n", "providers.yaml", "providers",
     "expected a mapping, got a list"),
    ("models-is-a-string", "providers",
     GOOD_PROVIDERS.replace("    models:\n      - name: llama3.1:latest\n", "    models: llama3.1:latest\n"),
     "providers.yaml", "providers.ollama.models", "expected a list, got a string"),
    ("model-without-name", "providers", GOOD_PROVIDERS.replace("- name: llama3.1:latest", "- size: 8B"),
     "providers.yaml", "providers.ollama.models[0].name", "required key 'name' is missing"),
    ("context-length-string", "providers", GOOD_PROVIDERS + "        context_length: lots\n", "providers.yaml",
     "providers.ollama.models[0].context_length", "expected an integer, got a string"),
    ("unknown-provider-type", "providers", GOOD_PROVIDERS.replace("type: ollama", "type: llamafile"),
     "providers.yaml", "providers.ollama.type", "unknown provider type 'llamafile'"),
    ("unknown-status", "providers", GOOD_PROVIDERS + "    status: maybe\n", "providers.yaml",
     "providers.ollama.status", "unknown status 'maybe'"),
    ("missing-type", "providers", GOOD_PROVIDERS.replace("    type: ollama\n", ""), "providers.yaml",
     "providers.ollama.type", "required key 'type' is missing"),
    ("placeholder-port", "providers", GOOD_PROVIDERS.replace("11434", "OLLAMA_PORT"), "providers.yaml",
     "providers.ollama.base_url", "the port 'OLLAMA_PORT' in 'http://127.0.0.1:OLLAMA_PORT' is not a number"),
    ("chain-not-a-list", "mappings",
     GOOD_MAPPINGS.replace("fallback_chains: {}", "fallback_chains:\n  x:\n    chain: llama3.1:latest"),
     "model-mappings.yaml", "fallback_chains.x.chain", "expected a list, got a string"),
    ("chain-entry-not-a-string", "mappings",
     GOOD_MAPPINGS.replace("fallback_chains: {}", "fallback_chains:\n  'llama3.1:latest':\n    chain: [[a]]"),
     "model-mappings.yaml", 'fallback_chains["llama3.1:latest"].chain[0]', "expected a string"),
    ("exact-match-not-a-mapping", "mappings", "exact_matches:\n  foo: ollama\n", "model-mappings.yaml",
     "exact_matches.foo", "expected a mapping"),
    ("ports-port-string", "ports", "ollama:\n  port: '11434x'\n", "ports.yaml", "ollama.port",
     "expected an integer, got a string"),
    ("ports-out-of-range", "ports", "redis:\n  port: 70000\n", "ports.yaml", "redis.port",
     "port 70000 is out of range 1-65535"),
    ("url-port-out-of-range", "providers", GOOD_PROVIDERS.replace("11434", "99999"), "providers.yaml",
     "providers.ollama.base_url", "the port 99999 in 'http://127.0.0.1:99999' is out of range 1-65535"),
    ("url-port-zero", "providers", GOOD_PROVIDERS.replace("11434", "0"), "providers.yaml",
     "providers.ollama.base_url", "the port 0 in 'http://127.0.0.1:0' is out of range 1-65535"),
    ("wrong-type-shows-value", "providers", GOOD_PROVIDERS + "        context_length: 8k\n", "providers.yaml",
     "providers.ollama.models[0].context_length", "expected an integer, got a string ('8k')"),
]


@pytest.fixture(scope="module")
def original():
    return original_paths()


def _texts(which, text):
    texts = {"providers": GOOD_PROVIDERS, "mappings": GOOD_MAPPINGS, "ports": None}
    texts[which] = text
    return texts


def test_the_good_sources_import():
    result = importer.import_texts(GOOD_PROVIDERS, GOOD_MAPPINGS)
    assert result["registry"]["ai_backend_providers"]["ollama"]["models"] == [{"name": "llama3.1:latest"}]


@pytest.mark.parametrize("case, which, text, file, path, words", CASES, ids=[c[0] for c in CASES])
def test_api_names_file_and_path(case, which, text, file, path, words):
    texts = _texts(which, text)
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_texts(texts["providers"], texts["mappings"], texts["ports"])
    error = caught.value.errors[0]
    assert error.file == file
    if path is not None:
        assert error.path == path
    message = str(caught.value)
    assert words in message, message
    assert "%s: %s" % (file, path) in message if path else file in message
    assert "fix:" in message and "Traceback" not in message


def test_every_broken_file_is_reported_at_once():
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_texts("- a\n", "key: [\n", "7\n")
    assert [e.file for e in caught.value.errors] == ["providers.yaml", "model-mappings.yaml", "ports.yaml"]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_files(str(tmp_path / "nope.yaml"), str(tmp_path / "also-nope.yaml"))
    assert [e.file for e in caught.value.errors] == ["nope.yaml", "also-nope.yaml"]
    assert "file not found" in str(caught.value)


# ---------------------------------------------------------------- the module, as Ansible runs it
def run_module(tmp_path, args, check=False, diff=False):
    payload = dict(args)
    payload["_ansible_check_mode"] = check
    payload["_ansible_diff"] = diff
    payload["_ansible_tmpdir"] = str(tmp_path)
    payload["_ansible_remote_tmp"] = str(tmp_path)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, MODULE, str(args_file)], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=120, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _write_sources(tmp_path, which=None, text=None):
    texts = _texts(which, text) if which else _texts("providers", GOOD_PROVIDERS)
    paths = {}
    for key, name in (("providers", "providers.yaml"), ("mappings", "model-mappings.yaml"), ("ports", "ports.yaml")):
        if texts[key] is not None:
            path = tmp_path / "src" / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(texts[key])
            paths[key] = str(path)
    return paths


MODULE_CASE_IDS = ("broken-yaml", "not-a-mapping-list", "missing-exact-matches", "models-is-a-string",
                   "unknown-provider-type", "ports-port-string", "url-port-out-of-range")
MODULE_CASES = [c for c in CASES if c[0] in MODULE_CASE_IDS]


@pytest.mark.parametrize("case, which, text, file, path, words", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_module_fails_cleanly_and_writes_nothing(tmp_path, case, which, text, file, path, words):
    sources = _write_sources(tmp_path, which, text)
    dest = tmp_path / "inv" / "group_vars" / "all" / "ai_backend.yml"
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest), report=str(tmp_path / "report.yml"),
                                        secrets_dest=str(tmp_path / "secrets.yml")))
    assert rc != 0 and out["failed"] is True
    assert words in out["msg"] and file in out["msg"]
    if path:
        assert "%s: %s" % (file, path) in out["msg"]
    assert out["errors"][0]["file"] == file
    assert not (tmp_path / "inv").exists() and not (tmp_path / "report.yml").exists()
    assert not (tmp_path / "secrets.yml").exists()


def test_module_writes_then_is_idempotent(tmp_path, original):
    dest = tmp_path / "inv" / "group_vars" / "all" / "ai_backend.yml"
    args = dict(providers=original["providers"], mappings=original["mappings"], ports=original["ports"],
                dest=str(dest), report=str(tmp_path / "report.yml"),
                secrets_dest=str(dest.parent / "ai_backend_secrets.yml"))
    # Check mode first: reports the change, writes nothing.
    rc, out = run_module(tmp_path, args, check=True, diff=True)
    assert rc == 0 and out["changed"] is True
    assert not dest.exists() and not (tmp_path / "report.yml").exists()
    expected = [str(dest), str(dest.parent / "ai_backend_secrets.yml"), str(tmp_path / "inv" / "hosts.yml")]
    assert [d["after_header"] for d in out["diff"]] == expected
    rc, out = run_module(tmp_path, args)
    assert rc == 0 and out["changed"] is True
    assert out["model_groups"][0] == "deepseek-v3.1:671b-cloud" and len(out["model_groups"]) == 12
    assert out["summary"][0].startswith("import: ")
    assert oct(os.stat(str(dest.parent / "ai_backend_secrets.yml")).st_mode & 0o777) == "0o600"
    with open(os.path.join(REPO, "tests", "golden", "import-registry.yml")) as handle:
        assert dest.read_text() == handle.read()
    # Second run: nothing changes, no backup appears.
    rc, out = run_module(tmp_path, args, check=False, diff=True)
    assert rc == 0 and out["changed"] is False and "diff" not in out
    assert sorted(os.listdir(str(dest.parent))) == ["ai_backend.yml", "ai_backend_secrets.yml"]
    # A hand-edited secrets file is left alone.
    (dest.parent / "ai_backend_secrets.yml").write_text("litellm_master_key: '{{ vault_mine }}'\n")
    rc, out = run_module(tmp_path, args)
    assert rc == 0 and out["changed"] is False and out["files"]["secrets"]["kept_existing"] is True
    assert "vault_mine" in (dest.parent / "ai_backend_secrets.yml").read_text()
    # A changed source rewrites the registry and keeps a backup of the old one.
    edited = tmp_path / "providers.yaml"
    edited.write_text(open(original["providers"]).read().replace("max_model_len: 4096", "max_model_len: 2048", 1))
    rc, out = run_module(tmp_path, dict(args, providers=str(edited)))
    assert rc == 0 and out["changed"] is True and out["files"]["registry"]["backup_file"].endswith("~")
    assert "max_model_len: 2048" in dest.read_text()


def test_module_refuses_one_path_for_two_files(tmp_path):
    sources = _write_sources(tmp_path)
    dest = tmp_path / "same.yml"
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest), report=str(dest)))
    assert rc != 0 and "must be different files" in out["msg"] and not dest.exists()


# ---------------------------------------------------------------- a disabled provider never breaks the import
@pytest.mark.parametrize("source_type", ["openai", "openai_compatible", "ollama", "vllm", "llama_cpp", "anthropic",
                                         "llamafile", None])
@pytest.mark.parametrize("missing", [(), ("base_url",), ("models",), ("type",), ("env_var",), ("base_url", "models"),
                                     ("type", "base_url", "models", "env_var")])
def test_disabled_provider_never_breaks_the_import(source_type, missing):
    body = {"type": source_type, "status": "disabled", "base_url": "https://api.example.com/v1",
            "env_var": "EXAMPLE_KEY", "models": ["remote-model"], "description": "kept for later"}
    for key in missing:
        body.pop(key)
    if body.get("type") is None:
        body.pop("type", None)
    providers = GOOD_PROVIDERS + "  spare:\n" + "".join(
        "    %s: %s\n" % (key, value if not isinstance(value, list) else "[%s]" % ", ".join(value))
        for key, value in body.items())
    result = importer.import_texts(providers, GOOD_MAPPINGS)
    registry = result["registry"]["ai_backend_providers"]
    assert registry["ollama"]["enabled"] is True
    if "spare" in registry:
        assert registry["spare"]["enabled"] is False
    else:
        entry = [e for e in result["report"]["not_carried"] if e["from"] == "providers.yaml: providers.spare"]
        assert len(entry) == 1 and entry[0]["reason"] == "not_deployable"
        if source_type not in ("anthropic",):
            assert "disabled, and incomplete" in entry[0]["detail"]


def test_disabled_remote_provider_without_a_key_variable():
    providers = GOOD_PROVIDERS + ("  openai:\n    type: openai\n    status: disabled\n"
                                  "    base_url: https://api.openai.com/v1\n    models: [gpt-4o]\n")
    mappings = GOOD_MAPPINGS.replace("fallback_chains: {}", "fallback_chains:\n  'llama3.1:latest':\n"
                                                            "    chain: [gpt-4o]")
    result = importer.import_texts(providers, mappings)
    entry = dict((e["from"], e) for e in result["report"]["not_carried"])["providers.yaml: providers.openai"]
    assert "api_key_env" in entry["detail"] and "when you enable it" in entry["detail"]
    # The chain entry naming its model is dropped as a model of a provider that is not carried, not a guess.
    found = [c for c in result["report"]["corrections"] if c["original"] == "gpt-4o"]
    assert "provider openai, which is not carried" in found[0]["problem"]
