"""Replay a recorded nvidia-smi fixture as the `run` callable of collect_gpu_facts."""
import json
import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def load(name):
    with open(os.path.join(FIXTURES, name + ".json")) as handle:
        return json.load(handle)


def runner(name, calls=None):
    recording = load(name)

    def run(argv):
        assert argv[0] == "nvidia-smi"
        if calls is not None:
            calls.append(argv)
        answer = recording["commands"].get(" ".join(argv[1:]))
        if answer is None:
            return 2, "", "no recording"
        return answer["rc"], answer.get("stdout", ""), answer.get("stderr", "")
    return run
