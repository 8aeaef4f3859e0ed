# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A realistic model catalogue of any size, for benchmarks and scale tests.

Real catalogues are not ``model-00001 … model-10000``: they are a few dozen
families in many sizes, tunes, quantisations and vendor re-uploads, so names
share long prefixes and differ by a letter or two (``q4_k_m`` / ``q5_k_m``,
``instruct`` / ``instruct-v0.3``). That is what makes a similar-names check or
an importer ledger quadratic, so benchmarks must use names of this shape.

``catalogue(count)`` is deterministic (no randomness: the same count always
gives the same entries, in the same order) and every name is unique.
"""

from __future__ import absolute_import, division, print_function

import itertools

# (family, hugging face vendor, hf stem, sizes)
FAMILIES = (
    ("llama3.1", "meta-llama", "Llama-3.1", ("8b", "70b", "405b")),
    ("llama3.2", "meta-llama", "Llama-3.2", ("1b", "3b", "11b-vision", "90b-vision")),
    ("llama3.3", "meta-llama", "Llama-3.3", ("70b",)),
    ("codellama", "meta-llama", "CodeLlama", ("7b", "13b", "34b", "70b")),
    ("qwen2.5", "Qwen", "Qwen2.5", ("0.5b", "1.5b", "3b", "7b", "14b", "32b", "72b")),
    ("qwen2.5-coder", "Qwen", "Qwen2.5-Coder", ("0.5b", "1.5b", "3b", "7b", "14b", "32b")),
    ("qwen3", "Qwen", "Qwen3", ("0.6b", "1.7b", "4b", "8b", "14b", "30b-a3b", "32b", "235b-a22b")),
    ("qwq", "Qwen", "QwQ", ("32b",)),
    ("mistral", "mistralai", "Mistral", ("7b",)),
    ("mistral-nemo", "mistralai", "Mistral-Nemo", ("12b",)),
    ("mistral-small", "mistralai", "Mistral-Small", ("22b", "24b")),
    ("mixtral", "mistralai", "Mixtral", ("8x7b", "8x22b")),
    ("codestral", "mistralai", "Codestral", ("22b",)),
    ("gemma2", "google", "gemma-2", ("2b", "9b", "27b")),
    ("gemma3", "google", "gemma-3", ("1b", "4b", "12b", "27b")),
    ("phi3", "microsoft", "Phi-3", ("3.8b", "14b")),
    ("phi3.5", "microsoft", "Phi-3.5", ("3.8b",)),
    ("phi4", "microsoft", "phi-4", ("14b",)),
    ("deepseek-coder-v2", "deepseek-ai", "DeepSeek-Coder-V2", ("16b", "236b")),
    ("deepseek-r1", "deepseek-ai", "DeepSeek-R1-Distill-Qwen", ("1.5b", "7b", "14b", "32b", "70b")),
    ("deepseek-v3", "deepseek-ai", "DeepSeek-V3", ("671b",)),
    ("starcoder2", "bigcode", "starcoder2", ("3b", "7b", "15b")),
    ("command-r", "CohereForAI", "c4ai-command-r", ("35b",)),
    ("command-r-plus", "CohereForAI", "c4ai-command-r-plus", ("104b",)),
    ("yi", "01-ai", "Yi-1.5", ("6b", "9b", "34b")),
    ("falcon3", "tiiuae", "Falcon3", ("1b", "3b", "7b", "10b")),
    ("granite3.1-dense", "ibm-granite", "granite-3.1", ("2b", "8b")),
    ("granite-code", "ibm-granite", "granite-code", ("3b", "8b", "20b", "34b")),
    ("internlm2.5", "internlm", "internlm2_5", ("7b", "20b")),
    ("olmo2", "allenai", "OLMo-2", ("7b", "13b")),
    ("smollm2", "HuggingFaceTB", "SmolLM2", ("135m", "360m", "1.7b")),
    ("nemotron", "nvidia", "Llama-3.1-Nemotron", ("70b",)),
    ("hermes3", "NousResearch", "Hermes-3-Llama-3.1", ("8b", "70b")),
    ("dolphin-mixtral", "cognitivecomputations", "dolphin-2.7-mixtral", ("8x7b",)),
    ("solar", "upstage", "SOLAR-10.7B", ("10.7b",)),
    ("zephyr", "HuggingFaceH4", "zephyr", ("7b",)),
    ("openchat", "openchat", "openchat-3.6", ("8b",)),
    ("aya-expanse", "CohereForAI", "aya-expanse", ("8b", "32b")),
    ("exaone3.5", "LGAI-EXAONE", "EXAONE-3.5", ("2.4b", "7.8b", "32b")),
    ("glm4", "THUDM", "glm-4", ("9b",)),
)
TUNES = ("instruct", "chat", "base", "instruct-v0.3", "it", "instruct-2407", "dpo", "sft")
QUANTS = ("q4_k_m", "q4_0", "q5_k_m", "q5_0", "q6_k", "q8_0", "fp16", "iq4_xs", "q3_k_l", "q2_k")
# Re-uploads: the same weights from another publisher or with an extra tag.
REUPLOADS = ("", "bartowski", "unsloth", "lmstudio", "thebloke", "mradermacher", "nousresearch", "local")


def _entries():
    # Quantisation varies fastest, then tune, size, family and re-upload.
    for reupload in REUPLOADS:
        for family, vendor, stem, sizes in FAMILIES:
            for size, tune, quant in itertools.product(sizes, TUNES, QUANTS):
                yield reupload, family, vendor, stem, size, tune, quant


def catalogue(count):
    """``count`` unique, realistic catalogue entries.

    Each is a dict:
      name     client-visible model name (registry pattern ``[A-Za-z0-9.:_-]``)
      ollama   Ollama tag, ``family:size-tune-quant``
      hf       Hugging Face repository id, ``Vendor/Stem-Size-Tune`` (for vLLM)
      gguf     a GGUF file name (for llama.cpp)
      family, size, tune, quant, publisher: the parts, for grouping
    """
    everything = list(_entries())
    if count > len(everything):
        raise ValueError("the catalogue has %d distinct entries, %d asked for" % (len(everything), count))
    # An even spread over the whole product, so a small catalogue still has
    # every family and a large one has many near-duplicates of each.
    out = []
    for index in range(count):
        reupload, family, vendor, stem, size, tune, quant = everything[index * len(everything) // count]
        name = "-".join(part for part in (family, size, tune, quant) if part)
        if reupload:
            name = "%s-%s" % (reupload, name)
        out.append({
            "name": name,
            "ollama": "%s%s:%s-%s-%s" % (reupload + "/" if reupload else "", family, size, tune, quant.upper()),
            "hf": "%s/%s-%s-%s" % (reupload.capitalize() if reupload else vendor, stem, size.upper(), tune.capitalize()),
            "gguf": "%s-%s-%s.%s.gguf" % (stem, size.upper(), tune, quant.upper()),
            "family": family, "size": size, "tune": tune, "quant": quant,
            "publisher": reupload or vendor,
        })
    return out


def capacity():
    """How many distinct entries ``catalogue`` can give."""
    return sum(1 for dummy in _entries())


if __name__ == "__main__":
    import sys
    wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for entry in catalogue(wanted):
        print(entry["name"], entry["ollama"], entry["hf"])
