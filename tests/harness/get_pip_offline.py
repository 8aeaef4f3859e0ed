"""Offline stand-in for ansible-test's `get-pip-<version>.py` bootstrap script.

ansible-test downloads that script from ci-files.testing.ansible.com, which this
network cannot reach. It only needs "install these pip packages into a fresh
virtualenv", which the interpreter's own ensurepip plus PyPI can do.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# ansible-test runs pip with a scrubbed environment and no pip.conf; keep the
# system CA bundle so TLS-intercepting package mirrors still verify.
bundle = "/etc/ssl/certs/ca-certificates.crt"
if os.path.exists(bundle):
    args = ["--cert", bundle] + args
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + args)
