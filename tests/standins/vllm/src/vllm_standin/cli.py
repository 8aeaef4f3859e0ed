# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`vllm` command line of the stand-in: the subset of `vllm serve` the role uses.

Unknown flags are refused, as real vLLM's argument parser refuses them, so a
typo in the role's unit template fails the Molecule run instead of passing.
"""
import argparse
import json
import os
import sys

from vllm_standin import __version__

SECRET_FLAGS = ("--api-key",)


def redacted_argv(argv):
    """argv with values of secret flags replaced, for the log."""
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("<redacted>")
            hide = False
            continue
        name = arg.split("=", 1)[0]
        if name in SECRET_FLAGS:
            if "=" in arg:
                out.append(name + "=<redacted>")
            else:
                out.append(arg)
                hide = True
            continue
        out.append(arg)
    return out


def _fraction(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("must be in (0, 1], got %s" % text)
    return value


def parser():
    top = argparse.ArgumentParser(prog="vllm", description="vLLM stand-in (tests only; not vLLM)")
    top.add_argument("--version", action="version", version="%s (vllm stand-in)" % __version__)
    sub = top.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve MODEL over vLLM's OpenAI-compatible HTTP API")
    serve.add_argument("model")
    serve.add_argument("--served-model-name", nargs="+")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--gpu-memory-utilization", type=_fraction, default=0.9)
    serve.add_argument("--max-model-len", type=int)
    serve.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    serve.add_argument("--api-key")
    serve.add_argument("--download-dir")
    serve.add_argument("--dtype", default="auto")
    serve.add_argument("--disable-log-requests", action="store_true")
    serve.add_argument("--uvicorn-log-level", default="info")
    return top


def visible_gpus(env):
    """GPU ids from CUDA_VISIBLE_DEVICES as CUDA reads them; None when unset."""
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    if args.command != "serve":
        parser().print_help()
        return 2
    env = os.environ
    gpus = visible_gpus(env)
    api_key = args.api_key or env.get("VLLM_API_KEY") or None
    # One JSON line the tests read from the journal: the flags as received,
    # the GPUs as CUDA would see them, whether a key is set (never its value).
    print("vllm stand-in: start " + json.dumps({
        "argv": ["vllm"] + redacted_argv(argv),
        "cuda_visible_devices": env.get("CUDA_VISIBLE_DEVICES"),
        "api_key": "set" if api_key else "unset",
        "served_model_name": (args.served_model_name or [args.model])[0],
    }, sort_keys=True), flush=True)
    if gpus is not None and not gpus:
        print("vllm stand-in: RuntimeError: No CUDA GPUs are available (CUDA_VISIBLE_DEVICES is empty)",
              file=sys.stderr, flush=True)
        return 1
    if gpus is not None and args.tensor_parallel_size > len(gpus):
        print("vllm stand-in: ValueError: tensor_parallel_size=%d is greater than the %d GPU(s) in "
              "CUDA_VISIBLE_DEVICES=%s" % (args.tensor_parallel_size, len(gpus), ",".join(gpus)),
              file=sys.stderr, flush=True)
        return 1
    from vllm_standin.server import serve
    return serve(args, api_key)
