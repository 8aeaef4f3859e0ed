# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake llama-server for the vLLM stand-in's unit tests only.

It echoes the request back (model it was asked for, last user message, the
argv it got) so the tests can see what the stand-in forwarded. The Molecule
scenario uses the real llama-server instead.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGV = sys.argv[1:]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._json(200 if self.path == "/health" else 404, {"status": "ok"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "echo:%s|auth:%s|argv:%s" % (body["messages"][-1]["content"],
                                            self.headers.get("Authorization"), " ".join(ARGV))
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ("echo", ":done"):
                chunk = {"object": "chat.completion.chunk", "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(("data: %s\n\n" % json.dumps(chunk)).encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True
            return
        self._json(200, {"object": "chat.completion", "model": body["model"],
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})


def main():
    host = ARGV[ARGV.index("--host") + 1]
    port = int(ARGV[ARGV.index("--port") + 1])
    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
