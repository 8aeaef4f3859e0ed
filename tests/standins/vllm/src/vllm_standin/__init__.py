# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM STAND-IN for tests: not vLLM.

Installs a `vllm` console script that accepts `vllm serve MODEL` with the
flags the gathewhy.ai_backend vllm role renders, and speaks vLLM's HTTP
surface (/health, /version, /v1/models, /v1/chat/completions,
/v1/completions). Tokens come from a real llama-server running the tiny GGUF
test model, not from MODEL. See tests/standins/vllm/README.md.
"""

__version__ = "0.1.0"
