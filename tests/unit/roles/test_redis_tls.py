# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The redis role with ai_backend_redis.tls, for real: Ansible renders
redis.conf and the ACL include with the role's defaults and vars (paths
moved into a temporary directory), a redis-server 7 serves TLS only with a
certificate made here, and LiteLLM's own RedisCache (the pinned release,
sync and async, as its cache and router use it) connects with the
environment the litellm role writes: REDIS_USERNAME, REDIS_SSL,
REDIS_SSL_CA_CERTS, REDIS_SSL_CERT_REQS, REDIS_SSL_CHECK_HOSTNAME."""

import datetime
import ipaddress
import os
import socket
import ssl
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from litellm_venv import litellm_python
from redis_server import free_port, redis_server_binary, start_redis
from test_redis_acl import GATEWAY_PASSWORD, call, render


def certificate(subject, issuer, public_key, signing_key, ca, address=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if address:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
    return builder.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    binary = redis_server_binary()
    directory = tmp_path_factory.mktemp("redis-tls")
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("test redis CA", "test redis CA", ca_key.public_key(), ca_key, True)
    leaf = certificate("127.0.0.1", "test redis CA", leaf_key.public_key(), ca_key, False, "127.0.0.1")
    key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    # What tasks/tls.yml writes: the chain and the key in one file, and the CA.
    (directory / "redis.pem").write_text(leaf.strip() + "\n" + key.strip() + "\n")
    (directory / "ca.pem").write_text(ca)
    port = free_port()
    render(directory, ("redis.conf", "ai-backend-auth.conf"),
           ai_backend_listen_address="127.0.0.1",
           ai_backend_redis={"host": "127.0.0.1", "port": port,
                             "tls": {"certificate_var": "c", "key_var": "k", "ca_var": "a"}},
           _redis_auth_file=str(directory / "ai-backend-auth.conf"), _redis_data_dir=str(directory),
           _redis_pid_file=str(directory / "redis.pid"), _redis_tls_pem=str(directory / "redis.pem"),
           _redis_tls_ca_file=str(directory / "ca.pem"))
    process = start_redis(binary, directory / "redis.conf", port)
    yield {"port": port, "ca": str(directory / "ca.pem"), "config": (directory / "redis.conf").read_text()}
    process.terminate()
    process.wait(timeout=10)


def tls_call(server, *commands, **kwargs):
    context = ssl.create_default_context(cafile=kwargs.get("cafile", server["ca"]))
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            stream = conn.makefile("rb")
            answers = []
            for command in commands:
                conn.sendall(b"*%d\r\n" % len(command) + b"".join(
                    b"$%d\r\n%s\r\n" % (len(part.encode()), part.encode()) for part in command))
                answers.append(stream.readline().rstrip(b"\r\n").decode())
            return conn.version(), answers


def test_the_config_serves_tls_only_on_the_registry_port(tls_redis):
    assert "\nport 0\n" in tls_redis["config"] and "\ntls-port %d\n" % tls_redis["port"] in tls_redis["config"]
    assert 'tls-protocols "TLSv1.2 TLSv1.3"' in tls_redis["config"]


def test_the_acl_users_work_over_verified_tls(tls_redis):
    version, answers = tls_call(tls_redis, ["AUTH", "litellm", GATEWAY_PASSWORD], ["PING"], ["AUTH", GATEWAY_PASSWORD])
    assert version in ("TLSv1.2", "TLSv1.3")
    assert answers[:2] == ["+OK", "+PONG"] and answers[2].startswith("-WRONGPASS")


def test_plain_text_and_unknown_cas_get_nothing(tls_redis):
    with pytest.raises((OSError, RuntimeError, ValueError, IndexError)):
        answer = call(tls_redis["port"], ["PING"])
        raise RuntimeError(answer) if not answer or not answer[0] else ValueError(answer)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_call(tls_redis, ["PING"], cafile=ssl.get_default_verify_paths().cafile or os.devnull)


def test_litellm_redis_cache_uses_tls_from_its_environment(tls_redis):
    python = litellm_python()
    script = (
        "import asyncio\n"
        "from litellm.caching.redis_cache import RedisCache\n"
        "cache = RedisCache(host='127.0.0.1', port=%d, password='os.environ/REDIS_PASSWORD')\n"
        "cache.set_cache('sync-key', {'sync': 'sync-value'})\n"
        "async def main():\n"
        "    await cache.async_set_cache('async-key', 'async-value')\n"
        "    return await cache.async_get_cache('async-key'), await cache.ping()\n"
        "value, ping = asyncio.run(main())\n"
        "print(cache.get_cache('sync-key')['sync'], value, ping, cache.redis_client.connection_pool.connection_class.__name__)\n"
        % tls_redis["port"])
    env = dict(os.environ, REDIS_USERNAME="litellm", REDIS_PASSWORD=GATEWAY_PASSWORD, REDIS_SSL="true",
               REDIS_SSL_CA_CERTS=tls_redis["ca"], REDIS_SSL_CERT_REQS="required", REDIS_SSL_CHECK_HOSTNAME="true",
               LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run([python, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-4:] == ["sync-value", "async-value", "True", "SSLConnection"], done.stdout + done.stderr[-3000:]
