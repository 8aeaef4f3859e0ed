# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every public role keeps defaults/main.yml, meta/argument_specs.yml and its
README in step, and follows the collection's role conventions.

Each check returns a list of human-readable problems, so a failure lists
every divergence at once. The negative tests at the end build a broken role
in a temporary directory and prove each check catches it.
"""

import os
import re

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES_DIR = os.path.join(REPO, "roles")
TASK_FILES = ("main.yml", "preflight.yml", "install.yml", "configure.yml", "service.yml")
MANAGED_HEADER = "{{ ansible_managed | comment }}"
SPEC_TYPES = {"str": (str,), "int": (int,), "bool": (bool,), "list": (list,), "dict": (dict,),
              "float": (float, int), "path": (str,), "raw": (object,)}
README_ROW = re.compile(r"^\|\s*`([A-Za-z_][A-Za-z0-9_]*)`\s*\|")


def public_roles(roles_dir=ROLES_DIR):
    """Roles users call; _private roles (shared task files) are exempt."""
    if not os.path.isdir(roles_dir):
        return []
    return sorted(name for name in os.listdir(roles_dir)
                  if os.path.isdir(os.path.join(roles_dir, name)) and not name.startswith("_"))


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def spec_options(role_dir):
    specs = load_yaml(os.path.join(role_dir, "meta", "argument_specs.yml")) or {}
    return ((specs.get("argument_specs") or {}).get("main") or {}).get("options") or {}


def defaults_of(role_dir):
    return load_yaml(os.path.join(role_dir, "defaults", "main.yml")) or {}


def is_template(value):
    return isinstance(value, str) and "{{" in value


def check_layout(role_dir):
    wanted = ["defaults/main.yml", "vars/main.yml", "meta/main.yml", "meta/argument_specs.yml",
              "handlers/main.yml", "README.md"] + ["tasks/" + name for name in TASK_FILES]
    return ["missing %s" % rel for rel in wanted if not os.path.isfile(os.path.join(role_dir, rel))]


def check_defaults_match_specs(role_dir):
    """defaults/main.yml and the options of argument_specs describe the same variables."""
    problems = []
    options = spec_options(role_dir)
    defaults = defaults_of(role_dir)
    for name in sorted(set(defaults) - set(options)):
        problems.append("%s is in defaults/main.yml but not in meta/argument_specs.yml" % name)
    for name, spec in sorted(options.items()):
        spec = spec or {}
        if name not in defaults:
            if "default" in spec:
                problems.append("%s has a default in argument_specs (%r) but none in defaults/main.yml"
                                % (name, spec["default"]))
            elif not spec.get("required", False):
                problems.append("%s has no default anywhere; mark it required: true in argument_specs" % name)
            continue
        value = defaults[name]
        if spec.get("required", False):
            problems.append("%s is required in argument_specs but has a default in defaults/main.yml" % name)
        if "default" not in spec:
            problems.append("%s: defaults/main.yml sets %r but argument_specs documents no default"
                            % (name, value))
        elif spec["default"] != value:
            problems.append("%s: default differs: argument_specs %r, defaults/main.yml %r"
                            % (name, spec["default"], value))
        kind = spec.get("type", "str")
        if not is_template(value) and value is not None:
            allowed = SPEC_TYPES.get(kind, (object,))
            if not isinstance(value, allowed) or (kind == "int" and isinstance(value, bool)):
                problems.append("%s: type %s in argument_specs but the default %r is a %s"
                                % (name, kind, value, type(value).__name__))
            if spec.get("choices") and value not in spec["choices"]:
                problems.append("%s: default %r is not one of its choices %r" % (name, value, spec["choices"]))
        if not spec.get("description"):
            problems.append("%s has no description in argument_specs" % name)
    return problems


def check_variable_prefixes(role_dir, role):
    problems = []
    for name in defaults_of(role_dir):
        if not name.startswith(role + "_"):
            problems.append("defaults/main.yml: %s should start with %s_" % (name, role))
    internal = load_yaml(os.path.join(role_dir, "vars", "main.yml")) or {}
    for name in internal:
        if not name.startswith("_" + role + "_"):
            problems.append("vars/main.yml: %s should start with _%s_" % (name, role))
    for name in spec_options(role_dir):
        if not name.startswith(role + "_"):
            problems.append("argument_specs: %s should start with %s_" % (name, role))
    return problems


def readme_variables(role_dir):
    """Variable names of the table(s) in the README's '## Variables' section."""
    names = []
    in_section = False
    with open(os.path.join(role_dir, "README.md")) as handle:
        for line in handle:
            if line.startswith("## "):
                in_section = line.strip().lower() in ("## variables", "## role variables")
                continue
            match = README_ROW.match(line) if in_section else None
            if match:
                names.append(match.group(1))
    return names


def check_readme_matches_specs(role_dir):
    problems = []
    documented = readme_variables(role_dir)
    options = set(spec_options(role_dir))
    if not documented:
        problems.append("README.md has no '## Variables' table")
    for name in sorted(set(d for d in documented if documented.count(d) > 1)):
        problems.append("README.md documents %s more than once" % name)
    for name in sorted(options - set(documented)):
        problems.append("README.md does not document %s (in argument_specs)" % name)
    for name in sorted(set(documented) - options):
        problems.append("README.md documents %s, which argument_specs does not have" % name)
    return problems


def check_templates_and_handlers(role_dir):
    problems = []
    templates = os.path.join(role_dir, "templates")
    for root, dummy, files in os.walk(templates):
        # templates/managed_files/ build the entries of a managed_files task
        # (YAML the task reads with from_yaml); they are never a file on the host.
        if os.path.relpath(root, templates).split(os.sep)[0] == "managed_files":
            continue
        for name in sorted(files):
            path = os.path.join(root, name)
            with open(path) as handle:
                first = handle.readline().strip()
            rel = os.path.relpath(path, role_dir)
            if first != MANAGED_HEADER:
                problems.append("%s does not start with %s" % (rel, MANAGED_HEADER))
            if name.endswith(".service.j2"):
                with open(path) as handle:
                    text = handle.read()
                for needed in ("EnvironmentFile=", "ProtectSystem=strict", "NoNewPrivileges=", "User="):
                    if needed not in text:
                        problems.append("%s lacks %s" % (rel, needed))
    handlers = load_yaml(os.path.join(role_dir, "handlers", "main.yml")) or []
    for handler in handlers:
        if "listen" not in handler:
            problems.append("handler %r has no listen:" % handler.get("name"))
    return problems


ROLES = public_roles()


def test_there_are_roles():
    assert {"redis", "litellm"} <= set(ROLES), ROLES


@pytest.mark.parametrize("role", ROLES)
def test_role_layout(role):
    assert check_layout(os.path.join(ROLES_DIR, role)) == []


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_argument_specs(role):
    assert check_defaults_match_specs(os.path.join(ROLES_DIR, role)) == []


@pytest.mark.parametrize("role", ROLES)
def test_variable_prefixes(role):
    assert check_variable_prefixes(os.path.join(ROLES_DIR, role), role) == []


@pytest.mark.parametrize("role", ROLES)
def test_readme_documents_exactly_the_argument_specs(role):
    assert check_readme_matches_specs(os.path.join(ROLES_DIR, role)) == []


@pytest.mark.parametrize("role", ROLES)
def test_templates_and_handlers(role):
    assert check_templates_and_handlers(os.path.join(ROLES_DIR, role)) == []


# The checks themselves: a role that diverges must be reported.

def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


@pytest.fixture
def broken_role(tmp_path):
    role = tmp_path / "roles" / "demo"
    _write(str(role / "defaults" / "main.yml"),
           "demo_port: 80\ndemo_mode: fast\ndemo_extra: 1\nother_name: x\n")
    _write(str(role / "vars" / "main.yml"), "_demo_x: 1\nbad_internal: 2\n")
    _write(str(role / "meta" / "argument_specs.yml"), yaml.safe_dump({"argument_specs": {"main": {"options": {
        "demo_port": {"type": "int", "default": 8080, "description": "port"},
        "demo_mode": {"type": "str", "default": "fast", "choices": ["slow"], "description": "mode"},
        "demo_missing": {"type": "str", "default": "x", "description": "not in defaults"},
        "demo_secret": {"type": "str", "description": "neither default nor required"},
        "other_name": {"type": "int", "default": "x", "description": "wrong prefix and type"},
    }}}}))
    _write(str(role / "README.md"), "# demo\n\n## Variables\n\n| Variable | Default |\n|---|---|\n"
           "| `demo_port` | 8080 |\n| `demo_port` | 8080 |\n| `demo_gone` | 1 |\n")
    _write(str(role / "templates" / "demo.service.j2"), "[Service]\nExecStart=/bin/true\n")
    _write(str(role / "handlers" / "main.yml"), "- name: Restart demo\n  ansible.builtin.debug:\n")
    return str(role)


def test_checks_report_every_divergence(broken_role):
    layout = check_layout(broken_role)
    assert "missing tasks/main.yml" in layout and "missing meta/main.yml" in layout
    spec = "\n".join(check_defaults_match_specs(broken_role))
    assert "demo_extra is in defaults/main.yml but not in meta/argument_specs.yml" in spec
    assert "demo_port: default differs" in spec
    assert "demo_mode: default 'fast' is not one of its choices" in spec
    assert "demo_missing has a default in argument_specs" in spec
    assert "demo_secret has no default anywhere" in spec
    assert "other_name: type int in argument_specs but the default 'x' is a str" in spec
    prefixes = "\n".join(check_variable_prefixes(broken_role, "demo"))
    assert "other_name should start with demo_" in prefixes and "bad_internal should start with _demo_" in prefixes
    readme = "\n".join(check_readme_matches_specs(broken_role))
    assert "documents demo_port more than once" in readme
    assert "does not document demo_mode" in readme
    assert "documents demo_gone, which argument_specs does not have" in readme
    files = "\n".join(check_templates_and_handlers(broken_role))
    assert "templates/demo.service.j2 does not start with" in files
    assert "lacks EnvironmentFile=" in files and "lacks ProtectSystem=strict" in files
    assert "lacks NoNewPrivileges=" in files
    assert "handler 'Restart demo' has no listen:" in files


def test_private_roles_are_skipped(tmp_path):
    os.makedirs(str(tmp_path / "_common" / "tasks"))
    os.makedirs(str(tmp_path / "real"))
    assert public_roles(str(tmp_path)) == ["real"]
