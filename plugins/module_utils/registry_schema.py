# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry schema, read from its only copy: schemas/registry.schema.json.

The engine runs on the controller (the litellm_config action plugin, the
filters, the tests), where the collection's files are on disk next to this
module. A module that imports the engine and runs through AnsiballZ on the
controller (registry_import) finds the file through the collection search
path instead. The sub-schemas and patterns below are views into the loaded
document, never a second copy.

Beyond JSON Schema (draft 2020-12) the engine reads two annotation keywords
that validators ignore: ``x-check`` names the problem code a failure is
reported under, ``x-reason`` says why an ``if``/``then`` branch forbids a key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

SCHEMA_NAME = "registry.schema.json"
_RELATIVE = os.path.join("ansible_collections", "gathewhy", "ai_backend", "schemas", SCHEMA_NAME)


class SchemaNotFound(Exception):
    """The schema file is not where the collection keeps it."""


def _candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "schemas", SCHEMA_NAME)
    roots = []
    for var in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
        roots.extend(part for part in os.environ.get(var, "").split(os.pathsep) if part)
    roots.extend((os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"))
    for root in roots:
        yield os.path.join(root, _RELATIVE)


def load_schema():
    """The parsed schema document; SchemaNotFound (with every place tried) when it cannot be read."""
    tried = []
    for path in _candidates():
        path = os.path.normpath(path)
        if path in tried:
            continue
        tried.append(path)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                return json.loads(handle.read().decode("utf-8"))
    raise SchemaNotFound("cannot find %s of the gathewhy.ai_backend collection; looked in: %s. The registry "
                         "engine runs on the controller, where the collection is installed."
                         % (SCHEMA_NAME, ", ".join(tried)))


REGISTRY_SCHEMA = load_schema()
_PROPS = REGISTRY_SCHEMA["properties"]
PROVIDER_SCHEMA = _PROPS["ai_backend_providers"]["additionalProperties"]
MODEL_SCHEMA = PROVIDER_SCHEMA["properties"]["models"]["items"]
ROUTING_SCHEMA = _PROPS["ai_backend_routing"]
GATEWAY_SCHEMA = _PROPS["ai_backend_gateway"]
REDIS_SCHEMA = _PROPS["ai_backend_redis"]

PROVIDER_TYPES = tuple(PROVIDER_SCHEMA["properties"]["type"]["enum"])
# The first allOf branch of a provider lists the types reached on a local port.
LOCAL_TYPES = tuple(PROVIDER_SCHEMA["allOf"][0]["if"]["properties"]["type"]["enum"])
REMOTE_TYPES = tuple(t for t in PROVIDER_TYPES if t not in LOCAL_TYPES)
ROUTING_STRATEGIES = tuple(ROUTING_SCHEMA["properties"]["strategy"]["enum"])

MODEL_NAME_PATTERN = MODEL_SCHEMA["properties"]["name"]["pattern"]
ENV_NAME_PATTERN = PROVIDER_SCHEMA["properties"]["api_key_env"]["pattern"]
ID_PATTERN = _PROPS["ai_backend_providers"]["propertyNames"]["pattern"]
