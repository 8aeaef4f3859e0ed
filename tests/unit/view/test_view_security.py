# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The security checks of the view (plugins/module_utils/view_security.py),
through build_view: gateway TLS, API keys of backends beyond loopback, Ollama
beyond loopback and the firewall, Redis across hosts."""

import json

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view as view_mod
from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view_security as sec

GROUPS = {"all": ["gw", "gpu"], "ai_backend_gateway": ["gw"], "ai_backend_inference": ["gpu"]}
MODEL = [{"name": "chat-1", "gguf": {"path": "/srv/m.gguf"}}]


def gpu(listen, **providers):
    # Beyond loopback the registry must say where the gateway dials the host.
    advertise = {} if listen.startswith("127.") else {"ai_backend_advertise_address": listen}
    return dict(advertise, ai_backend_listen_address=listen, ai_backend_providers=providers)


def llama(**extra):
    return dict({"type": "llama_cpp", "port": 8080, "models": MODEL}, **extra)


def registries(gateway=None, gpu_registry=None, redis=None):
    gw = {"ai_backend_gateway": gateway or {}, "ai_backend_routing": {"default_fallbacks": []}}
    if redis:
        gw["ai_backend_redis"] = redis
    return {"gw": gw, "gpu": gpu_registry or gpu("127.0.0.1", shared=llama())}


def build(regs, state="set"):
    secret_state = state if callable(state) else (lambda host, var, key=None: state)
    return view_mod.build_view(json.loads(json.dumps(regs)), GROUPS, secret_state)


def by_path(view, fragment):
    return [f for f in view["errors"] + view["warnings"] if fragment in f["path"] and f["code"] == "security"]


@pytest.mark.parametrize("address,loopback", [
    ("127.0.0.1", True), ("127.200.3.4", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.7", False), ("192.0.2.10", False), ("gw1.example.org", False),
    ("fe80::1", False), ("", False)])
def test_only_addresses_no_other_host_can_reach_count_as_loopback(address, loopback):
    assert sec.is_loopback(address) is loopback


def test_loopback_everything_gives_no_security_finding():
    view = build(registries())
    assert view["ok"], view["report"]
    assert not [f for f in view["errors"] + view["warnings"] if f["code"] == "security"]
    assert view["gateways"]["gw"]["tls"]["enabled"] is False
    assert view["gateways"]["gw"]["probe_url"].startswith("http://")


def test_plain_http_gateway_beyond_loopback_is_a_warning_with_the_tls_fix():
    view = build(registries(gateway={"listen_address": "192.0.2.10"}))
    assert view["ok"], view["report"]
    [warning] = by_path(view, "ai_backend_gateway.tls")
    assert warning["severity"] == "warning" and warning["value"] is None
    assert "192.0.2.10" in warning["message"] and "plain HTTP" in warning["message"]
    assert "certificate_var" in warning["hint"] and "ansible-vault encrypt_string" in warning["hint"]


def test_gateway_tls_switches_the_urls_to_https_and_names_no_pem():
    tls = {"certificate_var": "gw_cert", "key_var": "gw_key", "ca_var": "gw_ca"}
    view = build(registries(gateway={"listen_address": "0.0.0.0", "port": 4443, "tls": tls}))
    assert view["ok"], view["report"]
    gateway = view["gateways"]["gw"]
    assert gateway["url"] == "https://0.0.0.0:4443" and gateway["probe_url"] == "https://127.0.0.1:4443"
    assert gateway["tls"] == dict(tls, enabled=True, ca_file=sec.GATEWAY_CA_FILE)
    assert not by_path(view, "ai_backend_gateway.tls")
    assert set(s["var"] for s in gateway["secrets"]) >= {"gw_cert", "gw_key", "gw_ca"}


def test_gateway_tls_with_an_unusable_key_variable_is_an_error_naming_it():
    def state(host, var, key=None):
        return "undecryptable" if var == "gw_key" else "set"
    view = build(registries(gateway={"tls": {"certificate_var": "gw_cert", "key_var": "gw_key"}}), state)
    assert not view["ok"]
    [error] = [e for e in view["errors"] if e["path"] == "host_vars[gw].gw_key"]
    assert "could not be decrypted" in error["message"] and "TLS private key" in error["message"]


@pytest.mark.parametrize("tls", [{"certificate_var": "gw_cert"}, {"key_var": "gw_key"},
                                 {"certificate_var": "gw_cert", "key_var": "bad name"},
                                 {"certificate_var": "gw_cert", "key_var": "k", "pem": "-----BEGIN"}])
def test_incomplete_or_literal_tls_is_refused_by_the_schema(tls):
    view = build(registries(gateway={"tls": tls}))
    assert not view["ok"]
    assert any("ai_backend_gateway.tls" in e["path"] for e in view["errors"]), view["report"]


@pytest.mark.parametrize("ptype", ["llama_cpp", "vllm"])
def test_keyless_backend_beyond_loopback_is_an_error_with_the_exact_fix(ptype):
    provider = llama() if ptype == "llama_cpp" else {
        "type": "vllm", "port": 8001, "gpus": [0], "models": [{"name": "qwen", "source": "Qwen/Qwen2.5-7B"}]}
    view = build(registries(gpu_registry=gpu("10.0.0.7", **{"shared-1": provider})))
    assert not view["ok"]
    [error] = by_path(view, "ai_backend_providers.shared-1.api_key_env")
    name = "%s_SHARED_1_KEY" % ptype.upper()
    assert error["path"] == "host_vars[gpu].ai_backend_providers.shared-1.api_key_env"
    assert "10.0.0.7" in error["message"] and "no API key" in error["message"]
    assert "api_key_env: %s" % name in error["hint"]
    assert "ansible-vault encrypt_string --stdin-name %s" % name in error["hint"]
    assert sec.KEYED_BACKENDS[ptype] in error["hint"] and "litellm_provider_secrets" in error["hint"]


def test_keyed_backend_beyond_loopback_passes_and_the_gateway_carries_the_env_reference():
    view = build(registries(gpu_registry=gpu("10.0.0.7", shared=llama(api_key_env="LLAMA_SHARED_KEY"))))
    assert view["ok"], view["report"]
    assert view["model_groups"]["chat-1"] == ["gpu/shared"]
    assert view["hosts"]["gpu"]["providers"]["llama_cpp"]["shared"]["api_key_env"] == "LLAMA_SHARED_KEY"
    assert "os.environ/LLAMA_SHARED_KEY" in view["gateways"]["gw"]["config_text"]


def ollama():
    return {"type": "ollama", "port": 11434, "models": [{"name": "llama3.1-8b", "source": "llama3.1:8b"}]}


def test_ollama_beyond_loopback_without_the_firewall_is_refused():
    regs = registries(gpu_registry=dict(gpu("10.0.0.7", chat=ollama()), ai_backend_firewall={"enabled": False}))
    view = build(regs)
    assert not view["ok"]
    [error] = by_path(view, "ai_backend_providers.chat")
    assert error["value"] == "10.0.0.7" and "no authentication" in error["message"]
    assert "firewall role" in error["hint"] and "127.0.0.1" in error["hint"]


def test_ollama_beyond_loopback_passes_where_the_firewall_covers_the_host():
    view = build(registries(gpu_registry=gpu("10.0.0.7", chat=ollama())))
    assert view["ok"], view["report"]
    assert not by_path(view, "ai_backend_providers.chat")


def test_the_firewall_view_has_the_last_word_over_the_registry():
    host = {"listen_address": "10.0.0.7", "providers": {"ollama": {"chat": ollama()}}, "firewall": {"enabled": False}}
    findings = sec._check_backends("gpu", host, {"ai_backend_firewall": {"enabled": True}})
    assert [f["path"] for f in findings] == ["host_vars[gpu].ai_backend_providers.chat"]


def test_redis_across_hosts_without_tls_is_a_warning_with_the_fix():
    view = build(registries(redis={"host": "192.0.2.10"}, gateway={"listen_address": "127.0.0.1"}))
    [warning] = by_path(view, "ai_backend_redis.tls")
    assert warning["severity"] == "warning" and "192.0.2.10" in warning["message"]
    assert "ca_var: redis_tls_ca" in warning["hint"]


def test_redis_tls_needs_its_key_on_the_redis_host_and_its_ca_on_the_gateway():
    tls = {"certificate_var": "r_cert", "key_var": "r_key", "ca_var": "r_ca"}

    def state(host, var, key=None):
        return "undefined" if var in ("r_key", "r_ca") else "set"
    view = build(registries(redis={"host": "127.0.0.1", "tls": tls}), state)
    assert sorted(e["path"] for e in view["errors"]) == ["host_vars[gw].r_ca", "host_vars[gw].r_key"]
    assert not by_path(view, "ai_backend_redis")
    assert view["gateways"]["gw"]["redis"]["tls"] == tls
    regs = registries(redis={"host": "192.0.2.10", "tls": tls})
    regs["gw"]["ai_backend_listen_address"] = "192.0.2.10"
    view = build(regs)
    assert view["ok"], view["report"]
    assert not by_path(view, "ai_backend_redis")
