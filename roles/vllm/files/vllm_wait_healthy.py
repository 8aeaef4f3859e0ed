# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ExecStartPost of vllm@.service: block until the instance's /health answers 200.

vLLM forks no readiness notification, so without this systemd would call the
unit started the moment the process exists, minutes before the model is
loaded. With it, `systemctl start vllm@x` returns only once x serves, which is
what lets instances sharing a GPU start one after another (each measures free
memory at start-up and would see the other's half-loaded weights otherwise).
TimeoutStartSec bounds the wait.

    python3 vllm_wait_healthy.py HOST PORT
"""
import sys
import time
import urllib.error
import urllib.request


def main(host, port):
    url = "http://%s:%s/health" % ("[%s]" % host if ":" in host else host, port)
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return 0
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: vllm_wait_healthy.py HOST PORT\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
