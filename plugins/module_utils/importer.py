# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import a deployment of the original system into this collection's registry.

Input: the original's providers.yaml, model-mappings.yaml and (optionally)
ports.yaml. Output: the ``ai_backend_*`` registry of one host, a vars snippet
with vaulted-variable placeholders for its secrets, and a report that accounts
for every source key (importer_report.py).

The rules, in short:
- a source value our validation would reject is corrected when the fix is
  unambiguous (a provider named where a model belongs, when that provider
  serves exactly one model; the ``default`` chain; provider ids with dashes) and
  dropped when it is not; either way the report lists original, problem and fix,
  so the written registry passes validation as it stands;
- keys that configure things LiteLLM cannot do are not carried, with the reason;
- secrets are never copied: the registry names an env var and the snippet
  points it at a ``vault_*`` variable the user fills.
Plain Python and PyYAML: no Ansible imports, so tests call it directly.

Files: importer_source (reading, errors), importer_providers (stage 1 and shared
state), importer_mappings (stage 2), importer_report (the ledger), and this one
(ports.yaml, the sweeps for secrets and unknown keys, the output, the public API).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

from .importer_litellm import LitellmReader, literal_secret
from .importer_mappings import MappingReader
from .importer_report import summary_lines
from .importer_source import ImportFailed, SourceError, expect, parse_text, read_file, type_name

_SERVICE_KEYS_INFO = ("protocol", "description", "notes")
_SERVICE_KEYS_REPLACED = {
    "required": "the collection deploys exactly what the registry lists",
    "service": "this collection's systemd units replace the original's service files",
    "health_check": "playbooks/smoke.yml and the roles' health checks replace it",
}


def _vault_var(env_name):
    return "vault_%s" % env_name.lower()


class Importer(LitellmReader, MappingReader):
    """One import run. ``run()`` returns {registry, secrets, report}; bad input raises SourceError,
    an import that would have to guess raises ImportFailed listing the choices (unless accept_corrections)."""

    # ------------------------------------------------------------------ ports.yaml
    def _read_ports(self):
        of, doc = self.of, self.odoc
        for name, body in doc.items():
            keys = (name,)
            if name in ("reserved", "ranges", "metadata"):
                self.ledger.dropped(of, keys, "informational", "port planning notes; nothing is deployed from it")
                continue
            expect(body, dict, of, keys, "a service: a mapping with port:")
            if "port" not in body:
                self._fail(of, keys + ("port",), "required key 'port' is missing", "add the service's port")
            port = expect(body["port"], int, of, keys + ("port",))
            if not 1 <= port <= 65535:
                self._fail(of, keys + ("port",), "port %d is out of range 1-65535" % port,
                           "write the port the service really listens on")
            provider = self._find_provider(name)
            if name == "litellm_gateway":
                self.gateway["port"] = port
                self.ledger.carried(of, keys + ("port",), "ai_backend_gateway.port")
            elif name == "redis":
                self.redis["port"] = port
                self.ledger.carried(of, keys + ("port",), "ai_backend_redis.port")
            elif provider is not None and provider.deployable and provider.port is not None:
                target = "ai_backend_providers.%s.port" % provider.id
                if port == provider.port:
                    self.ledger.dropped(of, keys + ("port",), "replaced",
                                        "%s (taken from providers.yaml's base_url; they agree)" % target)
                else:
                    self.ledger.dropped(of, keys + ("port",), "invalid")
                    self.ledger.correction(of, keys + ("port",), port,
                                           "disagrees with providers.yaml's base_url (port %d)" % provider.port,
                                           "%s is %d, the port the original gateway actually used" % (
                                               target, provider.port))
            else:
                self.ledger.dropped(of, keys, "not_deployable",
                                    "not a service this collection manages" if provider is None else
                                    "its provider is not carried")
                continue
            self._info(of, keys, body, _SERVICE_KEYS_INFO)
            for key, detail in _SERVICE_KEYS_REPLACED.items():
                if key in body:
                    self.ledger.dropped(of, keys + (key,), "replaced", detail)

    # ------------------------------------------------------------------ sweeps
    def _sweep(self, file, doc):
        """Secrets and unknown keys: nothing leaves the report unaccounted for."""
        def visit(node, keys):
            if self.ledger.covers(file, keys):
                return
            if literal_secret(keys[-1] if keys else None, node):
                self.ledger.dropped(file, keys, "secret")
                self.ledger.leaked(file, keys, "a literal secret in the source",
                                   "not copied; put it in a vaulted variable (litellm_provider_secrets) "
                                   "and reference it by env var name")
                return
            if not self.ledger.touches(file, keys):
                if keys:
                    self.ledger.dropped(file, keys, "unrecognised")
                    self._scan_secrets(file, node, keys)  # not carried, but a key in it must be rotated
                return
            if isinstance(node, dict):
                for key, value in node.items():
                    visit(value, keys + (key,))
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    visit(value, keys + (index,))
        visit(doc, ())

    # ------------------------------------------------------------------ output
    def _listen_address(self):
        hosts = sorted(set(p.host for p in self.by_id.values() if p.host is not None))
        if not hosts:
            return
        chosen = "127.0.0.1"
        if len(hosts) == 1 and hosts[0] not in ("localhost", "0.0.0.0", "::1"):
            chosen = hosts[0]
        for provider in self.by_id.values():
            if provider.host is not None and provider.host != chosen and provider.host not in ("localhost", "::1"):
                self.ledger.correction(self.pf, provider.keys + ("base_url",), provider.host,
                                       "listens on %s; this import writes one host's registry, bound to %s" % (
                                           provider.host, chosen),
                                       "backends bind to %s (secure by default); a provider on another machine "
                                       "belongs in that host's host_vars" % chosen)
        self.listen_address = chosen

    def _record_models(self, provider):
        """Ledger entries for the models' names, now that exact_matches has named them."""
        for model in provider.models:
            if model.added:
                continue  # no providers.yaml entry: exact_matches.<name>.provider accounts for it
            keys = model.keys if model.plain else model.keys + ("name",)
            if provider.type == "vllm" and model.source != model.name and model.name_keys is not None:
                self.ledger.correction(self.mf, model.name_keys, model.source,
                                       "the original's LiteLLM asked vLLM for %s, but its vLLM was started with "
                                       "another --served-model-name, so requests to %s failed" % (
                                           model.source, model.name),
                                       "the vllm role starts vLLM with --served-model-name %s and LiteLLM sends "
                                       "that name; %s stays the model's source" % (model.name, model.source))
            if model.source != model.name:
                self.ledger.carried(self.pf, keys, "%s.source" % model.path,
                                    "published as %s (from %s)" % (model.name, self.mf))
            else:
                self.ledger.carried(self.pf, keys, "%s.name" % model.path)

    def run(self):
        self._read_providers()
        if self.odoc is not None:
            self._read_ports()
        self._read_litellm()
        self._settle_host()
        self._read_exact_matches()
        self._index_models()
        self._read_fallback_chains()
        self._break_cycles()
        self._read_capabilities()
        self._read_mapping_misc()
        self._listen_address()

        providers = {}
        for provider in self.by_id.values():
            providers[provider.id] = self._provider_dict(provider)
            self._record_models(provider)

        for file, doc in ((self.pf, self.pdoc), (self.mf, self.mdoc), (self.of, self.odoc)):
            if doc is not None:
                self._sweep(file, doc)

        registry = {}
        if self.listen_address is not None:
            registry["ai_backend_listen_address"] = self.listen_address
            if self.listen_address != "127.0.0.1":
                # The original gateway dialled its backends at this very address.
                registry["ai_backend_advertise_address"] = self.listen_address
        gateway = dict(self.gateway)
        gateway["master_key_env"] = "LITELLM_MASTER_KEY"
        self.ledger.add("ai_backend_gateway.master_key_env",
                        "the original ran without a master key; LiteLLM now refuses to start without one")
        self.ledger.action("litellm_master_key", "set vault_litellm_master_key to a strong key (sk-..., at least "
                           "32 characters): the original gateway had none, and LiteLLM refuses to start without it")
        registry["ai_backend_gateway"] = gateway
        if self.redis:
            registry["ai_backend_redis"] = dict(self.redis)
        routing = dict(self.routing_settings)
        for key in ("aliases", "fallbacks", "default_fallbacks"):
            if self.routing[key]:
                routing[key] = self.routing[key]
        if routing:
            registry["ai_backend_routing"] = routing
        registry["ai_backend_providers"] = providers

        secrets = {"litellm_master_key": "{{ %s }}" % _vault_var("litellm_master_key")}
        secrets["redis_password"] = "{{ %s }}" % _vault_var("redis_password")
        self.ledger.action("redis_password", "set vault_redis_password: the original Redis ran without a password; "
                           "this collection's Redis requires one (LiteLLM reads it from REDIS_PASSWORD)")
        provider_secrets = {}
        for provider in self.by_id.values():
            env = provider.api_key_env
            if not env:
                continue
            where = "ai_backend_providers.%s.api_key_env" % provider.id
            if provider.enabled:
                provider_secrets[env] = "{{ %s }}" % _vault_var(env)
                self.ledger.action("litellm_provider_secrets.%s" % env,
                                   "set %s in a vaulted file: provider %s reads its key from %s" % (
                                       _vault_var(env), provider.id, env))
            else:
                self.ledger.action(where, "provider %s is disabled; when you enable it, add %s: \"{{ %s }}\" "
                                   "to litellm_provider_secrets and set that vaulted variable" % (
                                       provider.id, env, _vault_var(env)))
        if provider_secrets:
            secrets["litellm_provider_secrets"] = dict(sorted(provider_secrets.items()))

        if self.ledger.guesses and not self.accept:
            raise ImportFailed(self.ledger.guesses)
        sources = {"providers": self.pf, "mappings": self.mf}
        docs = {self.pf: self.pdoc, self.mf: self.mdoc}
        for key, name, doc in (("ports", self.of, self.odoc), ("litellm_config", self.lf, self.ldoc)):
            if doc is not None:
                sources[key] = name
                docs[name] = doc
        extra = {"defaults_changed": self.defaults_changed} if self.defaults_changed else {}
        report = self.ledger.report(docs, sources, full=self.full_report, extra=extra)
        if self.ledger.guesses:
            report["summary"]["accepted_corrections"] = len(self.ledger.guesses)
        if self.defaults_changed:
            report["summary"]["defaults_changed"] = len(self.defaults_changed)
        return {"registry": registry, "secrets": secrets, "report": report}


NAMES = ("providers.yaml", "model-mappings.yaml", "ports.yaml", "litellm-unified.yaml")


def import_documents(providers, mappings, ports=None, names=NAMES, litellm=None, accept_corrections=False,
                     full_report=False):
    """Import parsed documents. Raises ImportFailed (never anything else for bad input).

    accept_corrections: apply the corrections of an ambiguous source (a fallback cycle, a name two
    providers serve, a port or GPU clash, a dangling reference, a literal secret) instead of
    stopping; the report records each. full_report: no summarising of repetitive report entries."""
    names = tuple(names) + NAMES[len(names):]
    try:
        return Importer(providers, mappings, ports, names[:3], accept_corrections=accept_corrections,
                        litellm=litellm, litellm_name=names[3], full_report=full_report).run()
    except SourceError as exc:
        raise ImportFailed([exc])


def import_texts(providers_text, mappings_text, ports_text=None, names=NAMES, litellm_text=None, **options):
    names = tuple(names) + NAMES[len(names):]
    errors = []
    docs = []
    for text, name in ((providers_text, names[0]), (mappings_text, names[1]), (ports_text, names[2]),
                       (litellm_text, names[3])):
        if text is None:
            docs.append(None)
            continue
        try:
            docs.append(parse_text(text, name))
        except SourceError as exc:
            errors.append(exc)
            docs.append(None)
    if errors:
        raise ImportFailed(errors)
    return import_documents(docs[0], docs[1], docs[2], names, litellm=docs[3], **options)


def import_files(providers_path, mappings_path, ports_path=None, litellm_path=None, **options):
    """Read and import the source files; ImportFailed names file and key path of every problem."""
    texts, names, errors = [], [], []
    given = (providers_path, mappings_path, ports_path, litellm_path)
    for path, default in zip(given, NAMES):
        if path is None:
            texts.append(None)
            names.append(default)
            continue
        try:
            text, name = read_file(path)
        except SourceError as exc:
            errors.append(exc)
            text, name = None, default
        texts.append(text)
        names.append(name)
    if errors:
        raise ImportFailed(errors)
    if len(set(names)) != len(names):
        # Two sources with one base name: tell them apart by their full paths.
        names = [path if path is not None else default for path, default in zip(given, NAMES)]
    return import_texts(texts[0], texts[1], texts[2], tuple(names), litellm_text=texts[3], **options)


# ---------------------------------------------------------------------- rendering
_REGISTRY_ORDER = ("ai_backend_listen_address", "ai_backend_advertise_address", "ai_backend_gateway", "ai_backend_redis", "ai_backend_routing",
                   "ai_backend_providers")


if yaml is not None:
    class _Dumper(yaml.SafeDumper):
        """Indents list items under their key, as yamllint's default (and most people) expect."""

        def increase_indent(self, flow=False, indentless=False):
            return super(_Dumper, self).increase_indent(flow, False)


_KEY_LINE = re.compile(r"^((?:[-?:] )*)(.*):$")


def indent_sequences(text):
    """libyaml's block output with every list indented under its key, as _Dumper writes it.

    libyaml writes a list that is a mapping's value at the key's own column and has no
    option to do otherwise; its emitter is C and _Dumper's is Python (4.8 s against 1.6 s
    for the registry of 10,000 models). Its block output has one node per line (nothing
    here asks for block scalars), so shifting each such list, and all lines inside it, two
    columns right is the whole difference; tests compare the two dumpers."""
    out = []
    regions = []                      # original columns of the lists being shifted
    key_column = None                 # column of the key the previous line ended with, if any
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        if not stripped:
            out.append(line)
            key_column = None
            continue
        indent = len(line) - len(stripped)
        while regions and (indent < regions[-1] or (indent == regions[-1] and not stripped.startswith("- "))):
            regions.pop()
        if stripped.startswith("- ") and key_column == indent:
            regions.append(indent)
        out.append(" " * (2 * len(regions)) + line)
        match = _KEY_LINE.match(stripped)
        key_column = indent + len(match.group(1)) if match else None
    return "\n".join(out)


def _dump(data):
    if hasattr(yaml, "CSafeDumper"):
        return indent_sequences(yaml.dump(data, Dumper=yaml.CSafeDumper, default_flow_style=False, sort_keys=False,
                                          allow_unicode=True, width=100))
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True,
                     width=100)  # pragma: no cover - PyYAML without libyaml


def render_registry(registry, sources):
    head = ("---\n"
            "# ai_backend registry imported by gathewhy.ai_backend.registry_import\n"
            "# from: %s\n"
            "# The import report lists what was carried, what was not and why, and what to do next.\n"
            "# Edit freely: this file is now the source of truth (playbooks/validate.yml checks it).\n"
            % ", ".join(sources[k] for k in ("providers", "mappings", "ports") if k in sources))
    ordered = dict((key, registry[key]) for key in _REGISTRY_ORDER if key in registry)
    return head + _dump(ordered)


def render_secrets(secrets):
    head = ("---\n"
            "# Secrets of the imported registry, as vaulted-variable placeholders.\n"
            "# Fill each vault_* variable in a vaulted file, e.g.:\n"
            "#   ansible-vault encrypt_string --name vault_litellm_master_key 'sk-...' >> vault.yml\n"
            "# Until then, any play that needs one of them stops with \"... is undefined\".\n")
    return head + _dump(secrets)


def render_report(report):
    head = ("---\n"
            "# Import report of gathewhy.ai_backend.registry_import.\n"
            "# Every key path of the source files is in exactly one entry of carried or not_carried\n"
            "# (an entry may stand for the whole subtree under it). corrections lists source values our\n"
            "# rules reject and what was written instead; action_required what a person must still do;\n"
            "# added the registry keys that have no source.\n")
    return head + _dump(report)


def inventory_dir(dest):
    """The inventory directory of a registry file under its group_vars/ (or host_vars/), else None."""
    parts = os.path.abspath(dest).split(os.sep)
    for index in range(len(parts) - 2, 0, -1):
        if parts[index] in ("group_vars", "host_vars"):
            return os.sep.join(parts[:index]) or os.sep
    return None


HOST_PLACEHOLDER = "ai_backend_host"


def render_hosts(registry):
    """An inventory for the imported registry: one host in both ai_backend groups.

    The original's files name no inventory host. A single non-loopback listen address is
    the host they imply (ansible_host); otherwise the host is a placeholder on this
    machine (ansible_connection: local), enough for validate.yml, to be replaced before
    site.yml deploys anything."""
    address = registry.get("ai_backend_listen_address")
    if address and address not in ("127.0.0.1", "::1", "localhost", "0.0.0.0"):
        host_vars = {"ansible_host": address}
        note = ("# The sources put every backend on %s, so that is this host's address. Rename the host\n"
                "# as you like and add ansible_user etc.; group_vars/all applies to it.\n" % address)
    else:
        host_vars = {"ansible_connection": "local"}
        note = ("# PLACEHOLDER: the original's files name no host. ansible_connection: local means\n"
                "# \"this machine\": right for validate.yml, and for site.yml only if this machine is\n"
                "# the GPU host. Otherwise replace it with the real host (ansible_host: ADDRESS).\n")
    inventory = {"all": {"children": {
        "ai_backend_gateway": {"hosts": {HOST_PLACEHOLDER: host_vars}},
        "ai_backend_inference": {"hosts": {HOST_PLACEHOLDER: None}},
    }}}
    head = ("---\n"
            "# Inventory written by gathewhy.ai_backend.registry_import beside the imported registry\n"
            "# (group_vars/all/): one host that runs the gateway and the backends.\n") + note
    return head + _dump(inventory)


def summary(report):
    return summary_lines(report)


__all__ = ["Importer", "ImportFailed", "SourceError", "import_documents", "import_texts", "import_files",
           "inventory_dir", "render_hosts", "render_registry", "render_secrets", "render_report", "summary",
           "type_name"]
