# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security of the default scenario: Redis's ACL users on the live server,
and TLS at the gateway. A CA and a certificate for the gateway's address are
made here; the haproxy role is run with them (hitless reload to HTTPS), the
gateway is checked over HTTPS with that CA, a mismatched key is refused
without touching the live bundle, the smoke playbook passes over HTTPS, and
the role is run again without TLS so the scenario ends as it started.
Runs after test_default.py (file order)."""

import datetime
import ipaddress
import os
import socket
import ssl
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aib_testinfra import redis_command, run_playbook

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "haproxy_tls.yml")
PEM = "/etc/haproxy/certs/ai-backend-gateway.pem"
# As the litellm role passes them, metrics routes included (a role run without them would drop those routes).
SERVERS = [{"name": "litellm%d" % i, "port": 4000 + i, "metrics_port": 4100 + i,
            "metrics_path": "/litellm/%d/metrics" % i} for i in (1, 2)]


# Redis: one ACL user per role, the default user off.
def test_redis_serves_the_gateway_user_and_refuses_a_client_naming_no_user(hostvars):
    redis = hostvars["ai_backend_redis"]
    assert redis_command(redis["host"], redis["port"], hostvars["redis_password"], "ACL", "WHOAMI") == "litellm"
    with pytest.raises(RuntimeError, match="WRONGPASS"):
        redis_command(redis["host"], redis["port"], hostvars["redis_password"], "PING", user="default")
    with pytest.raises(RuntimeError, match="NOPERM"):
        redis_command(redis["host"], redis["port"], hostvars["redis_password"], "CONFIG", "SET", "maxmemory", "0")


def test_litellm_logs_in_as_its_acl_user(host):
    # Its cache ping (the role's health check) and cache hits (test_default.py)
    # go through this user: the default user is off.
    assert 'REDIS_USERNAME="litellm"' in host.file("/etc/litellm/litellm.env").content_string


def _name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _certificate(subject, issuer, public_key, signing_key, ca, address=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if address:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
                                        critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def tls(hostvars, tmp_path_factory):
    """A CA, a leaf for the gateway's address, and a key that does not match it."""
    address = hostvars["ai_backend_gateway"]["listen_address"]
    ca_key, leaf_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for dummy in range(3))
    ca = _certificate(_name("ai-backend test CA"), _name("ai-backend test CA"), ca_key.public_key(), ca_key, True)
    leaf = _certificate(_name(address), ca.subject, leaf_key.public_key(), ca_key, False, address)
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return {"certificate": leaf.public_bytes(serialization.Encoding.PEM).decode(), "key": _pem_key(leaf_key),
            "other_key": _pem_key(other_key), "ca": ca.public_bytes(serialization.Encoding.PEM).decode(),
            "ca_file": str(ca_file), "address": address, "port": hostvars["ai_backend_gateway"]["port"]}


def role_vars(hostvars, tls, key=None, enabled=True):
    gateway = dict(hostvars["ai_backend_gateway"])
    if enabled:
        gateway["tls"] = {"certificate_var": "test_gateway_certificate", "key_var": "test_gateway_key",
                          "ca_var": "test_gateway_ca"}
    servers = [dict(s, address=hostvars["litellm_instance_address"]) for s in SERVERS]
    return {"ai_backend_gateway": gateway, "haproxy_backend_servers": servers,
            "test_gateway_certificate": tls["certificate"], "test_gateway_key": key or tls["key"],
            "test_gateway_ca": tls["ca"]}


def get(url, context=None, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def https_gateway(host, hostvars, tls):
    """The gateway switched to HTTPS (a hitless reload), then back to HTTP at the end."""
    plain = "http://%s:%s/health/liveliness" % (tls["address"], tls["port"])
    rc, output = run_playbook(PLAYBOOK, role_vars(hostvars, tls))
    assert rc == 0, output[-6000:]
    yield "https://%s:%s" % (tls["address"], tls["port"])
    rc, output = run_playbook(PLAYBOOK, role_vars(hostvars, tls, enabled=False))
    assert rc == 0, output[-6000:]
    assert get(plain)[0] == 200
    assert not host.file(PEM).exists


def test_the_gateway_serves_https_verified_by_the_test_ca(https_gateway, tls, hostvars):
    context = ssl.create_default_context(cafile=tls["ca_file"])
    assert get(https_gateway + "/health/liveliness", context)[0] == 200
    status, body = get(https_gateway + "/v1/models", context,
                       {"Authorization": "Bearer %s" % hostvars["litellm_master_key"]})
    assert status == 200 and b"tiny-llama" in body
    with socket.create_connection((tls["address"], tls["port"]), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=tls["address"]) as conn:
            assert conn.version() in ("TLSv1.2", "TLSv1.3")
            assert "GCM" in conn.cipher()[0] or "CHACHA20" in conn.cipher()[0], conn.cipher()


def test_tls_1_2_only_clients_get_a_forward_secret_aead_cipher(https_gateway, tls):
    context = ssl.create_default_context(cafile=tls["ca_file"])
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((tls["address"], tls["port"]), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=tls["address"]) as conn:
            assert conn.version() == "TLSv1.2"
            cipher = conn.cipher()[0]
            assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher), cipher


def test_plain_http_and_unknown_cas_are_refused(https_gateway, tls):
    with pytest.raises((OSError, ssl.SSLError)):
        get("http://%s:%s/health/liveliness" % (tls["address"], tls["port"]))
    # urllib wraps the handshake's SSLError in a URLError.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        get(https_gateway + "/health/liveliness", ssl.create_default_context())


def test_the_bundle_is_root_only_and_the_config_requires_tls_1_2(host, https_gateway):
    pem = host.file(PEM)
    assert (pem.user, pem.group, pem.mode) == ("root", "root", 0o600)
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    assert "ssl-min-ver TLSv1.2" in config and "ssl crt %s" % PEM in config


def test_a_key_that_does_not_match_is_refused_and_changes_nothing(host, hostvars, https_gateway, tls):
    before = host.file(PEM).sha256sum
    rc, output = run_playbook(PLAYBOOK, role_vars(hostvars, tls, key=tls["other_key"]))
    assert rc != 0, output[-4000:]
    assert "Bundle the certificate chain and key" in output and tls["other_key"] not in output
    assert host.file(PEM).sha256sum == before
    assert get(https_gateway + "/health/liveliness", ssl.create_default_context(cafile=tls["ca_file"]))[0] == 200


def test_the_smoke_playbook_passes_over_https(https_gateway, hostvars, tls):
    smoke = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "smoke.yml")
    extra = role_vars(hostvars, tls)
    del extra["haproxy_backend_servers"]
    rc, output = run_playbook(smoke, extra)
    assert rc == 0, output[-6000:]
    assert "PASS    gateway" in output and https_gateway in output, output[-4000:]
    assert tls["key"] not in output
