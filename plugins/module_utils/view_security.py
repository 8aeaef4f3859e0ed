# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security checks of the registry view: what must not listen beyond loopback unprotected.

    findings = check_security(hosts, gateways, registries, inference, secret_state, require)

Called by view.build_view once the hosts and gateways are known (and after the
firewall view, which says which hosts its role covers). It adds
``view['gateways'][gw]['tls']`` (``{"enabled", "certificate_var", "key_var",
"ca_var", "ca_file"}``, names and paths only) and turns the gateway's ``url``/``probe_url`` into
https ones when TLS is on, and returns findings:

- a gateway on a non-loopback address over plain HTTP: warning;
- gateway TLS whose certificate or key variable is not usable: error;
- a llama.cpp or vLLM provider on a host listening beyond loopback without an
  ``api_key_env``: error (an unauthenticated model server on the network);
- an Ollama provider beyond loopback (Ollama has no authentication at all) on a
  host the firewall role does not cover: error;
- the gateways reaching Redis beyond loopback without ``ai_backend_redis.tls``:
  warning (plain TCP: the ACL password crosses the network in clear); with it,
  the TLS variables must be usable on the Redis host and the gateways.

``require(host, role, var, key, why, secret_state, out, sink)`` is view.py's
secret check, passed in so both report a missing secret the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# Where the haproxy role puts the gateway's CA (ai_backend_gateway.tls.ca_var)
# on each gateway host, for the health checks and the smoke test; the role's
# _haproxy_tls_ca_file is the same path.
GATEWAY_CA_FILE = "/etc/haproxy/certs/ai-backend-gateway-ca.pem"
KEYED_BACKENDS = {"llama_cpp": "llama_cpp_api_keys", "vllm": "vllm_api_keys"}
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(address):
    """True only for an address that cannot be reached from another host; a name or wildcard is not."""
    text = str(address).strip("[]")
    if text.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _finding(path, value, message, hint, severity="error"):
    return {"code": "security", "severity": severity, "path": path, "value": value, "message": message,
            "hint": hint}


def suggested_env(ptype, pid):
    """A key name for a provider that has none: LLAMA_CPP_<ID>_KEY, upper case, [A-Z0-9_] only."""
    return re.sub(r"[^A-Z0-9_]", "_", ("%s_%s_KEY" % (ptype, pid)).upper())


def _encrypt_command(name):
    return "openssl rand -hex 32 | ansible-vault encrypt_string --stdin-name %s" % name


def gateway_tls(gateway_registry):
    """The gateway's TLS settings from its registry section (already checked against the schema)."""
    tls = gateway_registry.get("tls") if isinstance(gateway_registry, dict) else None
    tls = tls if isinstance(tls, dict) else {}
    return {"enabled": bool(tls.get("certificate_var") and tls.get("key_var")),
            "certificate_var": tls.get("certificate_var"), "key_var": tls.get("key_var"),
            "ca_var": tls.get("ca_var"), "ca_file": GATEWAY_CA_FILE if tls.get("ca_var") else None}


def _check_gateway(gw, gateway, tls, secret_state, require):
    out = []
    gateway["tls"] = tls
    if tls["enabled"]:
        for key in ("url", "probe_url"):
            if gateway.get(key, "").startswith("http://"):
                gateway[key] = "https://" + gateway[key][len("http://"):]
        sink = gateway["secrets"]
        require(gw, "haproxy", tls["key_var"], None, "ai_backend_gateway.tls.key_var names it as the gateway's "
                "TLS private key (PEM)", secret_state, out, sink)
        require(gw, "haproxy", tls["certificate_var"], None, "ai_backend_gateway.tls.certificate_var names it as "
                "the gateway's TLS certificate chain (PEM)", secret_state, out, sink)
        if tls["ca_var"]:
            require(gw, "litellm", tls["ca_var"], None, "ai_backend_gateway.tls.ca_var names it as the CA the "
                    "health checks and smoke test verify the gateway with", secret_state, out, sink)
    elif not is_loopback(gateway["listen_address"]):
        out.append(_finding(
            "host_vars[%s].ai_backend_gateway.tls" % gw, None,
            "the gateway listens on %s, beyond loopback, over plain HTTP: the master key and every prompt cross "
            "the network in clear" % gateway["listen_address"],
            "set ai_backend_gateway.tls: {certificate_var: gateway_tls_certificate, key_var: gateway_tls_key} and "
            "define those variables (the key vaulted: `ansible-vault encrypt_string --stdin-name gateway_tls_key "
            "< key.pem`), or set ai_backend_gateway.listen_address to 127.0.0.1", severity="warning"))
    return out


def firewall_covers(view, registry):
    """The firewall view's word when it is built, else the registry's ai_backend_firewall.enabled (default on)."""
    if isinstance(view.get("firewall"), dict):
        return view["firewall"].get("enabled") is True
    section = registry.get("ai_backend_firewall")
    return not (isinstance(section, dict) and section.get("enabled") is False)


def _check_backends(host, view, registry):
    out = []
    listen = view["listen_address"]
    if is_loopback(listen):
        return out
    covered = firewall_covers(view, registry)
    for ptype in sorted(view["providers"]):
        for pid, provider in sorted(view["providers"][ptype].items()):
            path = "host_vars[%s].ai_backend_providers.%s" % (host, pid)
            if ptype in KEYED_BACKENDS and not provider.get("api_key_env"):
                name = suggested_env(ptype, pid)
                out.append(_finding(
                    path + ".api_key_env", None,
                    "%s provider %s on %s listens on %s, beyond loopback, with no API key: anyone who reaches "
                    "the port can use the model" % (ptype, pid, host, listen),
                    "set api_key_env: %s on the provider, put the key in %s: {%s: <vaulted>} on %s and in "
                    "litellm_provider_secrets: {%s: <vaulted>} on the gateways, the value made with `%s`; or set "
                    "ai_backend_listen_address: 127.0.0.1 on %s"
                    % (name, KEYED_BACKENDS[ptype], name, host, name, _encrypt_command(name), host)))
            elif ptype == "ollama" and not covered:
                out.append(_finding(
                    path, listen,
                    "Ollama provider %s on %s listens on %s, beyond loopback; Ollama has no authentication, and "
                    "the firewall role does not cover %s, so anyone who reaches the port can use it"
                    % (pid, host, listen, host),
                    "let the firewall role cover %s (it opens the port to the gateway hosts only), or serve the "
                    "model with llama_cpp or vllm and an api_key_env, or set ai_backend_listen_address: 127.0.0.1 "
                    "on %s" % (host, host)))
    return out


def _check_redis(gw, gateway, secret_state, require, hosts):
    redis = gateway["redis"]
    tls = redis.get("tls")
    if isinstance(tls, dict):
        out = []
        runs_on = redis.get("runs_on")
        # Checked once on the Redis host, however many gateways share it.
        done = set(item["var"] for item in hosts[runs_on]["secrets"]) if runs_on in hosts else set()
        if runs_on in hosts:
            for key, what in (("key_var", "private key"), ("certificate_var", "certificate chain")):
                if tls[key] in done:
                    continue
                require(runs_on, "redis", tls[key], None, "ai_backend_redis.tls.%s names it as Redis's TLS %s (PEM)"
                        % (key, what), secret_state, out, hosts[runs_on]["secrets"])
        require(gw, "litellm", tls["ca_var"], None, "ai_backend_redis.tls.ca_var names it as the CA the gateway "
                "verifies Redis with", secret_state, out, gateway["secrets"])
        return out
    if is_loopback(redis["host"]):
        return []
    return [_finding(
        "host_vars[%s].ai_backend_redis.tls" % gw, None,
        "the gateways reach Redis at %s, beyond loopback, over plain TCP: the ACL password and cached answers "
        "cross the network in clear" % redis["host"],
        "set ai_backend_redis.tls: {certificate_var: redis_tls_certificate, key_var: redis_tls_key, ca_var: "
        "redis_tls_ca} and define those variables (the key vaulted: `ansible-vault encrypt_string --stdin-name "
        "redis_tls_key < key.pem`; the certificate must name %s), or run a single gateway with "
        "ai_backend_redis.host: 127.0.0.1" % redis["host"], severity="warning")]


def check_security(hosts, gateways, registries, inference, secret_state, require):
    """Findings for every gateway and inference host; fills in each gateway's ``tls``."""
    out = []
    for gw in sorted(gateways):
        gateway = gateways[gw]
        out.extend(_check_gateway(gw, gateway, gateway_tls(registries[gw].get("ai_backend_gateway")), secret_state,
                                  require))
        out.extend(_check_redis(gw, gateway, secret_state, require, hosts))
    for host in inference:
        out.extend(_check_backends(host, hosts[host], registries[host]))
    return out
