"""Stand-in Juju hook tools: serve a model state from a JSON file and log every call.

One script serves every tool: `install()` writes it into a folder with a symlink per
tool name (`is-leader`, `relation-get`, ...), and the script dispatches on the name
it was called by, as Juju's `jujuc` does. Put the folder first on `PATH` of a hook
process and `ops` runs its hook tools against this stand-in.

Two environment variables tell a call where things are:

- `BENCH_MODEL`: the JSON model state (see `benchmarks.deployment.ModelState`).
- `BENCH_CALLS`: a file to which every call appends one JSON line,
  `{"tool": ..., "unit": ..., "args": [...]}`; `juju-log` calls also record `level`,
  `logger` (when the hook process tags its log records, see `benchmarks.deployment`)
  and `message`.

The tools answer in the formats `ops.hookcmds` parses (JSON with `--format=json`)
and fail like Juju does (exit code 1 or 2 with `ERROR ...` on stderr) when a
relation is unknown or a non-leader writes application data. Hooks run one at a
time, so the state file is read and replaced without locking. The script uses only
the standard library: it runs with `python -I -S` to start quickly, as each call
is a process of its own in production too.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

TOOLS = (
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-set",
    "secret-add",
    "secret-get",
    "secret-info-get",
    "secret-remove",
    "secret-set",
    "status-get",
    "status-set",
)

LOG_TAG_OPEN = "[["
LOG_TAG_CLOSE = "]] "

_SINCE = "2025-01-01T00:00:00Z"


class ToolError(Exception):
    """A hook tool failure: the message goes to stderr, the code is the exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def install(bin_dir: Path, python: str = sys.executable) -> Path:
    """Write the stand-in tools into `bin_dir` and return it.

    Args:
        bin_dir: the folder to put first on a hook process's `PATH`.
        python: the interpreter the tools run with.

    Returns:
        `bin_dir`.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "hooktool"
    source = Path(__file__).read_text(encoding="utf-8")
    script.write_text(f"#!{python} -IS\n{source}", encoding="utf-8")
    script.chmod(0o755)
    for tool in TOOLS:
        link = bin_dir / tool
        if not link.exists():
            link.symlink_to(script.name)
    return bin_dir


# Model state access


def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _save(path: str, state: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".model-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def _options(args: list[str], flags: tuple[str, ...], valued: tuple[str, ...]):
    """Split `args` into (set flags, option values, positional arguments)."""
    seen: set[str] = set()
    values: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positional.extend(args[i + 1 :])
            break
        name, eq, value = arg.partition("=")
        if name in valued:
            if eq:
                values[name] = value
            else:
                i += 1
                values[name] = args[i]
        elif name in flags:
            if not eq or value.lower() == "true":  # --app, or --application=True
                seen.add(name)
        elif arg.startswith("--"):
            raise ToolError(f"ERROR option provided but not defined: {arg}", 2)
        else:
            positional.append(arg)
        i += 1
    return seen, values, positional


def _relation(state: dict[str, Any], unit: str, ref: str | None) -> tuple[str, dict[str, Any]]:
    ref = ref or os.environ.get("JUJU_RELATION_ID", "")
    endpoint, _, rel_id = ref.rpartition(":")
    relation = state["relations"].get(rel_id)
    if (
        relation is None
        or unit not in relation["scope"]
        or (endpoint and relation["endpoint"] != endpoint)
    ):
        raise ToolError(f'ERROR invalid value "{ref}" for option -r: relation not found', 2)
    return rel_id, relation


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")


# Tools


def _relation_ids(state: dict[str, Any], unit: str, args: list[str]) -> None:
    _, _, positional = _options(args, (), ("--format",))
    endpoint = positional[0]
    _print_json(
        [
            f"{endpoint}:{rel_id}"
            for rel_id, relation in state["relations"].items()
            if relation["endpoint"] == endpoint and unit in relation["scope"]
        ]
    )


def _relation_list(state: dict[str, Any], unit: str, args: list[str]) -> None:
    flags, values, _ = _options(args, ("--app",), ("--format", "-r"))
    _, relation = _relation(state, unit, values.get("-r"))
    _print_json(relation["remote_app"] if "--app" in flags else relation["scope"][unit])


def _relation_get(state: dict[str, Any], unit: str, args: list[str]) -> None:
    flags, values, positional = _options(args, ("--app",), ("--format", "-r"))
    _, relation = _relation(state, unit, values.get("-r"))
    key = positional[0] if positional and positional[0] != "-" else None
    member = positional[1] if len(positional) > 1 else os.environ.get("JUJU_REMOTE_UNIT", "")
    if "--app" in flags:
        if member not in (state["app"], relation["remote_app"]):
            raise ToolError(f"ERROR permission denied: cannot read {member}'s application data")
        data = relation["app_data"].get(member, {})
    else:
        data = relation["unit_data"].get(member, {})
    _print_json(data if key is None else data.get(key, ""))


def _read_mapping(text: str) -> dict[str, str]:
    """Read relation-set's `--file -`: JSON from ops 3, YAML from ops 2."""
    try:
        return json.loads(text or "{}")
    except ValueError:
        # Only ops 2 sends YAML: load PyYAML from the site-packages `-S` left out.
        import site

        site.main()
        import yaml

        return yaml.safe_load(text)


def _relation_set(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    flags, values, positional = _options(args, ("--app",), ("-r", "--file", "--format"))
    _, relation = _relation(state, unit, values.get("-r"))
    if values.get("--file") == "-":
        changes = _read_mapping(sys.stdin.read())
    else:
        changes = {}
        for arg in positional:
            key, _, value = arg.partition("=")
            changes[key] = value
    if "--app" in flags:
        if state["leader"] != unit:
            raise ToolError("ERROR cannot write relation settings: permission denied")
        data = relation["app_data"].setdefault(state["app"], {})
    else:
        data = relation["unit_data"].setdefault(unit, {})
    for key, value in changes.items():
        if value == "":
            data.pop(key, None)
        else:
            data[key] = value
    return True


def _config_get(state: dict[str, Any], args: list[str]) -> None:
    _, _, positional = _options(args, ("--all",), ("--format",))
    config = state["config"]
    _print_json(config.get(positional[0]) if positional else config)


def _status_get(state: dict[str, Any], unit: str, args: list[str]) -> None:
    flags, _, _ = _options(args, ("--include-data", "--application"), ("--format",))
    statuses = state["status"]
    if "--application" in flags:
        if state["leader"] != unit:
            raise ToolError("ERROR finding application status: this unit is not the leader")
        app = statuses.get(state["app"], {"status": "unknown", "message": ""})
        _print_json(
            {
                "application-status": {**app, "status-data": {}},
                "units": {
                    name: {**status, "status-data": {}}
                    for name, status in statuses.items()
                    if name.startswith(state["app"] + "/")
                },
            }
        )
    else:
        status = statuses.get(unit, {"status": "unknown", "message": ""})
        _print_json({**status, "status-data": {}})


def _status_set(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    flags, _, positional = _options(args, ("--application",), ())
    if "--application" in flags and state["leader"] != unit:
        raise ToolError("ERROR setting application status: this unit is not the leader")
    status, message = positional[0], " ".join(positional[1:])
    target = state["app"] if "--application" in flags else unit
    state["status"][target] = {"status": status, "message": message}
    return True


def _action(state: dict[str, Any], unit: str) -> dict[str, Any]:
    action = state["actions"].get(unit)
    if action is None:
        raise ToolError("ERROR not running an action")
    return action


def _action_get(state: dict[str, Any], unit: str, args: list[str]) -> None:
    _, _, positional = _options(args, (), ("--format",))
    params = _action(state, unit)["params"]
    _print_json(params.get(positional[0]) if positional else params)


def _action_set(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    results = _action(state, unit)["results"]
    for arg in args:
        key, _, value = arg.partition("=")
        results[key] = value
    return True


def _action_fail(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    _, _, positional = _options(args, (), ())
    _action(state, unit)["failed"] = " ".join(positional) or "action failed"
    return True


def _action_log(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    _, _, positional = _options(args, (), ())
    _action(state, unit)["log"].append(" ".join(positional))
    return True


def _goal_state(state: dict[str, Any]) -> None:
    units = sorted(
        {u for r in state["relations"].values() for u in r["scope"]} | {*state["units"]}
    )
    goal = {"status": "active", "since": _SINCE}
    _print_json(
        {
            "units": dict.fromkeys(units, goal),
            "relations": {
                r["endpoint"]: dict.fromkeys(r["scope"], goal) for r in state["relations"].values()
            },
        }
    )


def _secret_content(positional: list[str]) -> dict[str, str]:
    content: dict[str, str] = {}
    for arg in positional:
        key, _, value = arg.partition("=")
        if key.endswith("#file"):
            content[key[: -len("#file")]] = Path(value).read_text(encoding="utf-8")
        elif key.endswith("#base64"):
            raise ToolError("ERROR base64 content is not supported by the stand-in", 2)
        else:
            content[key] = value
    return content


_SECRET_OPTIONS = ("--label", "--description", "--expire", "--rotate", "--owner")


def _secret_add(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    _, values, positional = _options(args, (), _SECRET_OPTIONS)
    owner = values.get("--owner", "application")
    if owner == "application" and state["leader"] != unit:
        raise ToolError("ERROR permission denied: only the leader can add application secrets")
    secret_id = f"secret:{uuid.uuid4().hex[:20]}"
    state["secrets"][secret_id] = {
        "owner": state["app"] if owner == "application" else unit,
        "label": values.get("--label"),
        "description": values.get("--description"),
        "revisions": {"1": _secret_content(positional)},
        "latest": 1,
        "tracking": {},
    }
    sys.stdout.write(secret_id + "\n")
    return True


def _find_secret(state: dict[str, Any], values: dict[str, str], positional: list[str]):
    secrets: dict[str, Any] = state["secrets"]
    if positional:
        secret_id = positional[0]
        if secret_id in secrets:
            return secret_id, secrets[secret_id]
    elif "--label" in values:
        for secret_id, secret in secrets.items():
            if secret["label"] == values["--label"]:
                return secret_id, secret
    raise ToolError("ERROR secret not found")


def _secret_get(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    flags, values, positional = _options(args, ("--refresh", "--peek"), ("--format", "--label"))
    _, secret = _find_secret(state, values, positional)
    if positional and "--label" in values:
        secret["label"] = values["--label"]
    if secret["owner"] in (unit, state["app"]):
        revision = secret["latest"]  # owners always see the latest revision
    else:
        tracked = secret["tracking"].get(unit, secret["latest"])
        revision = secret["latest"] if flags & {"--refresh", "--peek"} else tracked
        if "--peek" not in flags:
            secret["tracking"][unit] = revision
    _print_json(secret["revisions"][str(revision)])
    return True


def _secret_set(state: dict[str, Any], unit: str, args: list[str]) -> bool:
    _, values, positional = _options(args, (), _SECRET_OPTIONS)
    _, secret = _find_secret(state, {}, positional[:1])
    if secret["owner"] not in (unit, state["app"]) or (
        secret["owner"] == state["app"] and state["leader"] != unit
    ):
        raise ToolError("ERROR permission denied")
    for option in ("--label", "--description"):
        if option in values:
            secret[option[2:]] = values[option]
    if positional[1:]:
        secret["latest"] += 1
        secret["revisions"][str(secret["latest"])] = _secret_content(positional[1:])
    return True


def _secret_info_get(state: dict[str, Any], args: list[str]) -> None:
    _, values, positional = _options(args, (), ("--format", "--label"))
    secret_id, secret = _find_secret(state, values, positional)
    _print_json(
        {
            secret_id: {
                "revision": secret["latest"],
                "label": secret["label"] or "",
                "description": secret["description"] or "",
                "owner": "application" if secret["owner"] == state["app"] else "unit",
            }
        }
    )


def _secret_remove(state: dict[str, Any], args: list[str]) -> bool:
    _, values, positional = _options(args, (), ("--revision",))
    secret_id, secret = _find_secret(state, {}, positional)
    if "--revision" in values:
        secret["revisions"].pop(values["--revision"], None)
    if "--revision" not in values or not secret["revisions"]:
        del state["secrets"][secret_id]
    return True


def _dispatch(tool: str, state: dict[str, Any], unit: str, args: list[str]) -> bool:
    """Run `tool`; return True if it changed the state."""
    readers = {
        "relation-ids": lambda: _relation_ids(state, unit, args),
        "relation-list": lambda: _relation_list(state, unit, args),
        "relation-get": lambda: _relation_get(state, unit, args),
        "config-get": lambda: _config_get(state, args),
        "is-leader": lambda: _print_json(state["leader"] == unit),
        "status-get": lambda: _status_get(state, unit, args),
        "action-get": lambda: _action_get(state, unit, args),
        "goal-state": lambda: _goal_state(state),
        "secret-info-get": lambda: _secret_info_get(state, args),
    }
    writers = {
        "relation-set": lambda: _relation_set(state, unit, args),
        "status-set": lambda: _status_set(state, unit, args),
        "action-set": lambda: _action_set(state, unit, args),
        "action-fail": lambda: _action_fail(state, unit, args),
        "action-log": lambda: _action_log(state, unit, args),
        "secret-add": lambda: _secret_add(state, unit, args),
        "secret-get": lambda: _secret_get(state, unit, args),
        "secret-set": lambda: _secret_set(state, unit, args),
        "secret-remove": lambda: _secret_remove(state, args),
    }
    if tool in readers:
        readers[tool]()
        return False
    if tool in writers:
        return writers[tool]()
    if tool == "application-version-set":
        state["app_version"] = _options(args, (), ())[2][0]
        return True
    raise ToolError(f"ERROR unknown hook tool {tool!r}", 2)


def _log_record(tool: str, unit: str, args: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"tool": tool, "unit": unit, "args": args}
    if tool == "juju-log":
        _, values, positional = _options(args, ("--debug",), ("--log-level", "-l"))
        message = " ".join(positional)
        logger = None
        if message.startswith(LOG_TAG_OPEN) and LOG_TAG_CLOSE in message:
            logger, _, message = message[len(LOG_TAG_OPEN) :].partition(LOG_TAG_CLOSE)
        level = values.get("--log-level", values.get("-l", "INFO"))
        record.update(level=level, logger=logger, message=message)
        record["args"] = ["--log-level", level, "--", message]
    elif tool in ("action-set", "secret-add", "secret-set"):
        record["args"] = [arg.partition("=")[0] for arg in args]  # keys, never values
    return record


def main(argv: list[str]) -> int:
    """Run the hook tool named by `argv[0]` with the arguments `argv[1:]`.

    Args:
        argv: the command line.

    Returns:
        The exit status.
    """
    tool = os.path.basename(argv[0])
    unit = os.environ.get("JUJU_UNIT_NAME", "")
    args = argv[1:]
    with open(os.environ["BENCH_CALLS"], "a", encoding="utf-8") as log:
        log.write(json.dumps(_log_record(tool, unit, args)) + "\n")
    if tool == "juju-log":
        return 0
    model = os.environ["BENCH_MODEL"]
    state = _load(model)
    try:
        if _dispatch(tool, state, unit, args):
            _save(model, state)
    except ToolError as e:
        sys.stderr.write(f"{e}\n")
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
