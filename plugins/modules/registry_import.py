#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: registry_import
short_description: Import the original system's providers.yaml and model-mappings.yaml into the ai_backend registry
version_added: 0.1.0
description:
  - Reads a deployment of the system this collection replaces (C(providers.yaml), C(model-mappings.yaml) and
    optionally C(ports.yaml)) and writes a group_vars file in the collection's registry format, an import report,
    and a vars snippet with vaulted-variable placeholders for the secrets.
  - Every key of the source files ends up in the report exactly once, either carried (with the registry path it
    became) or not carried (with the reason). Source values the collection's rules reject are corrected where the
    fix is unambiguous; the report lists each with the original value and the fix.
  - Where a fix would be a guess (a fallback cycle, a client-visible model name two providers serve, a port or GPU
    clash, a fallback or model naming something that does not exist) or the sources hold a literal secret, the
    import stops and writes nothing; the message lists each place with its values and the choices. With
    O(accept_corrections=true) the listed corrections are applied and recorded in the report.
  - Router and cache settings the original generator hard-coded are carried from the deployed LiteLLM config
    (O(litellm_config)); without it the report lists each changed default with its old and new value.
  - The written registry is validated with the collection's engine before anything is written.
  - A source that cannot be read (broken YAML, a missing section, a wrong type, an unknown provider type) fails
    with the file and key path and writes nothing.
  - Files are replaced atomically with a timestamped backup of the previous version. Reports C(changed) only when
    bytes differ, so a second run with the same sources changes nothing.
author:
  - gathewhy.ai engineering (@gathewhy)
requirements:
  - PyYAML (on the controller, where this module runs)
attributes:
  check_mode:
    support: full
    description: Reads, imports and validates, and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Shows the old and new content of the registry and the secrets snippet (not of the report).
  platform:
    support: full
    platforms: posix
    description: Runs where the source files are, normally the controller (a play on C(localhost)).
options:
  providers:
    description: Path of the original C(providers.yaml).
    type: path
    required: true
  mappings:
    description: Path of the original C(model-mappings.yaml).
    type: path
    required: true
  ports:
    description:
      - Path of the original C(ports.yaml), if the deployment has one.
      - Its gateway and Redis ports are carried; provider ports are checked against C(providers.yaml).
    type: path
  dest:
    description:
      - The group_vars file to write, for example C(inventory/imported/group_vars/all/ai_backend.yml).
      - Missing parent directories are created.
    type: path
    required: true
  report:
    description:
      - Where to write the import report (YAML). Not written when omitted; the summary is returned either way.
      - Keep it out of C(group_vars/) and C(host_vars/), or Ansible loads it as variables.
    type: path
  secrets_dest:
    description:
      - Where to write the secrets snippet (C(litellm_master_key), C(redis_password), C(litellm_provider_secrets)
        pointing at C(vault_*) variables). Not written when omitted.
      - An existing file with other content is left alone (you may have edited it); the module warns instead.
    type: path
  litellm_config:
    description:
      - Path of the deployed C(litellm-unified.yaml) the original generator wrote.
      - Its router and cache settings (routing strategy, C(num_retries), C(timeout), C(allowed_fails),
        C(cooldown_time), the response cache and its ttl) are carried into C(ai_backend_routing). Nothing else of it
        is, since the rest derives from the two sources or is one of its known defects.
    type: path
  accept_corrections:
    description:
      - Apply the corrections of an ambiguous source instead of stopping (for each, the one the stop message
        shows after C(with -e accept_corrections=true)); the report records each with the original value.
      - A literal secret is then left out, and the report still says to rotate it.
    type: bool
    default: false
  hosts_dest:
    description:
      - The inventory hosts file to write, with the groups C(ai_backend_gateway) and C(ai_backend_inference).
      - Defaults to C(hosts.yml) in the inventory directory above O(dest)'s C(group_vars/) directory; none is
        written when O(dest) is not under one.
      - An existing hosts file (C(hosts), C(hosts.yml), C(hosts.yaml) or C(hosts.ini)) there is never replaced;
        the module warns instead.
    type: path
  full_report:
    description:
      - Write every report entry. By default a report of a large catalogue keeps 20 entries of each repetitive
        kind (the same key of thousands of models) and counts the rest in C(summary.left_out).
    type: bool
    default: false
  backups:
    description: How many previous versions of each written file to keep (C(0) keeps none).
    type: int
    default: 10
notes:
  - Secret values are never copied. The registry names environment variables; fill the C(vault_*) variables the
    snippet refers to.
"""

EXAMPLES = r"""
- name: Import an existing deployment
  gathewhy.ai_backend.registry_import:
    providers: /srv/ai-backend/config/providers.yaml
    mappings: /srv/ai-backend/config/model-mappings.yaml
    ports: /srv/ai-backend/config/ports.yaml
    dest: inventory/imported/group_vars/all/ai_backend.yml
    secrets_dest: inventory/imported/group_vars/all/ai_backend_secrets.yml
    report: inventory/imported/import-report.yml
    litellm_config: /srv/ai-backend/config/litellm-unified.yaml
  register: imported

- name: Import a deployment whose sources need corrections, applying the ones listed
  gathewhy.ai_backend.registry_import:
    providers: /srv/ai-backend/config/providers.yaml
    mappings: /srv/ai-backend/config/model-mappings.yaml
    dest: inventory/imported/group_vars/all/ai_backend.yml
    accept_corrections: true

- name: Show what needs a person
  ansible.builtin.debug:
    msg: "{{ imported.summary }}"
"""

RETURN = r"""
dest:
  description: The registry file.
  returned: always
  type: str
  sample: inventory/imported/group_vars/all/ai_backend.yml
summary:
  description: A short human summary, then one line per correction and per action required.
  returned: success
  type: list
  elements: str
  sample: ["import: 132 key path(s) carried, 219 not carried (...), 6 correction(s), 6 action(s) required"]
counts:
  description: The report's summary counts.
  returned: success
  type: dict
  sample: {carried: 132, not_carried: 219, corrections: 6, action_required: 6, added: 3}
corrections:
  description: Source values the collection's rules reject, with the original value (secrets redacted) and the fix.
  returned: success
  type: list
  elements: dict
action_required:
  description: What a person must still do (fill vaulted secrets, provide model files).
  returned: success
  type: list
  elements: dict
model_groups:
  description: The public model names the imported registry serves, sorted.
  returned: success
  type: list
  elements: str
  sample: [llama3.1:latest, qwen-coder-vllm]
secrets_snippet:
  description: The secrets vars snippet (vault_* placeholders only, never a value), also when it was not written.
  returned: success
  type: str
defaults_changed:
  description: Router and cache settings whose value differs from what the original deployment used (old, new, why).
  returned: success
  type: list
  elements: dict
files:
  description: Per written file (registry, report, secrets, hosts), whether it changed and its backup.
  returned: success
  type: dict
errors:
  description:
    - On a source that cannot be read, each problem as a dict (file, path, message, hint).
    - On an import that would have to guess, each place also has C(choices) and C(applied_with_accept_corrections).
  returned: failure
  type: list
  elements: dict
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.atomic import WriteError, read_bytes, write_atomic

try:
    from ansible_collections.gathewhy.ai_backend.plugins.module_utils.importer import (
        ImportFailed, import_files, inventory_dir, render_hosts, render_registry, render_report, render_secrets,
        summary)
    from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import (
        RegistryError, build_gateway_config)
    IMPORT_ERROR = None
except ImportError:  # PyYAML missing where the module runs
    IMPORT_ERROR = traceback.format_exc()

# The engine validates per inventory host; the imported registry is one host's group_vars.
_HOST = "imported"


def _plan(params):
    """Everything but the writes: [(kind, path, text)] and the module result. Raises ImportFailed/RegistryError."""
    result = import_files(params["providers"], params["mappings"], params["ports"], params["litellm_config"],
                          accept_corrections=params["accept_corrections"], full_report=params["full_report"])
    config = build_gateway_config({_HOST: result["registry"]})
    report = result["report"]
    out = dict(summary=summary(report), counts=report["summary"], corrections=report["corrections"],
               action_required=report["action_required"], model_groups=config.model_groups,
               defaults_changed=report.get("defaults_changed", []),
               secrets_snippet=render_secrets(result["secrets"]))
    files = [("registry", params["dest"], render_registry(result["registry"], report["sources"]))]
    if params["report"]:
        files.append(("report", params["report"], render_report(report)))
    if params["secrets_dest"]:
        files.append(("secrets", params["secrets_dest"], render_secrets(result["secrets"])))
    hosts = params["hosts_dest"]
    if hosts is None and inventory_dir(params["dest"]) is not None:
        hosts = os.path.join(inventory_dir(params["dest"]), "hosts.yml")
    if hosts is not None:
        files.append(("hosts", hosts, render_hosts(result["registry"])))
    return files, out


_HOSTS_FILES = ("hosts", "hosts.yml", "hosts.yaml", "hosts.ini")


def _existing_hosts(path, data):
    """An inventory file already beside ``path`` that differs from ``data`` (never replaced), or None."""
    directory = os.path.dirname(os.path.abspath(path))
    for name in (os.path.basename(path),) + _HOSTS_FILES:
        candidate = os.path.join(directory, name)
        existing = read_bytes(candidate)
        if existing is not None and not (candidate == os.path.abspath(path) and existing == data):
            return candidate
    return None


def _makedirs(path, check_mode):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) and not check_mode:
        os.makedirs(directory)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            providers=dict(type="path", required=True),
            mappings=dict(type="path", required=True),
            ports=dict(type="path"),
            dest=dict(type="path", required=True),
            report=dict(type="path"),
            secrets_dest=dict(type="path"),
            litellm_config=dict(type="path"),
            accept_corrections=dict(type="bool", default=False),
            hosts_dest=dict(type="path"),
            full_report=dict(type="bool", default=False),
            backups=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=IMPORT_ERROR)
    params = module.params
    out = dict(changed=False, dest=params["dest"])
    try:
        files, planned = _plan(params)
    except ImportFailed as err:
        module.fail_json(msg=str(err), errors=[e.as_dict() for e in err.errors], **out)
    except (IOError, OSError) as err:
        module.fail_json(msg="cannot read the sources: %s" % err, **out)
    except RegistryError as err:
        # The importer must never write a registry the engine rejects; say so plainly.
        module.fail_json(msg="the imported registry does not pass validation, so nothing was written (this is a "
                             "bug in the importer; please report it with the source files):\n%s" % err,
                         problems=[p.as_dict() for p in list(err.problems) + list(err.warnings)], **out)
    except Exception as err:  # pylint: disable=broad-except  # a bug must still not show a raw traceback
        module.fail_json(msg="internal error in the importer, nothing was written (please report it with the "
                             "source files): %s" % err, exception=traceback.format_exc(), **out)
    out.update(planned)
    out["files"] = {}
    diffs = []
    paths = [path for dummy, path, dummy2 in files]
    if len(set(os.path.abspath(p) for p in paths)) != len(paths):
        module.fail_json(msg="dest, report, secrets_dest and hosts_dest must be different files: %s" % ", ".join(paths),
                         **out)
    try:
        for kind, path, text in files:
            data = text.encode("utf-8")
            if kind == "secrets":
                existing = read_bytes(path)
                if existing is not None and existing != data:
                    module.warn("%s exists with other content and was left alone; compare it with the "
                                "secrets_snippet this task returns" % path)
                    out["files"][kind] = dict(path=path, changed=False, kept_existing=True)
                    continue
            if kind == "hosts":
                existing = _existing_hosts(path, data)
                if existing is not None:
                    module.warn("%s exists and was left alone: check that it puts a host in the groups "
                                "ai_backend_gateway and ai_backend_inference (validate.yml checks the registry "
                                "of the hosts it lists)" % existing)
                    out["files"][kind] = dict(path=existing, changed=False, kept_existing=True)
                    continue
            _makedirs(path, module.check_mode)
            if module.check_mode and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
                written = dict(changed=True, before=None, backup_file=None)
            else:
                written = write_atomic(path, data, backups=params["backups"], check_mode=module.check_mode,
                                       mode="0600" if kind == "secrets" else None)
            out["files"][kind] = dict(path=path, changed=written["changed"])
            if written.get("backup_file"):
                out["files"][kind]["backup_file"] = written["backup_file"]
            if written["changed"]:
                out["changed"] = True
                if kind == "report":
                    continue  # a thousand lines of bookkeeping would drown the diff that matters
                before = written["before"]
                diffs.append(dict(before_header=path, after_header=path,
                                  before=before.decode("utf-8", "replace") if before is not None else "",
                                  after=text))
    except WriteError as err:
        module.fail_json(msg=str(err), **out)
    except (IOError, OSError) as err:
        module.fail_json(msg="cannot write: %s" % err, exception=traceback.format_exc(), **out)
    if module._diff and diffs:
        out["diff"] = diffs
    module.exit_json(**out)


if __name__ == "__main__":
    main()
