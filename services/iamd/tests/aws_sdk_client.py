"""Calls iamd's AWS wire API through botocore's own clients (the ones the aws CLI and boto3 use),
for tests/aws_api.rs: botocore serializes each request from AWS's service model and parses the
answer with it, so a call that succeeds here is one the AWS tools can make.

Every answer is also compared with AWS's model (`Conformance`): botocore's parser is lenient (it
drops elements it does not know, reads any boolean other than `true` as false, leaves a missing
required member out), so after it parses a response the parsed value is walked against the
operation's output shape, and the raw XML against the shape's wire names.

Reads one JSON object on stdin (secrets never go on the command line):
    {"endpoint": "http://127.0.0.1:<port>", "access_key": ..., "secret_key": ..., "session_token": ... (optional),
     "calls": [{"service": "iam" | "sts", "operation": "create_user", "params": {...}}]}
and prints one JSON array, one {"response": {...}} or {"error": {"code", "message", "status"}} per
call (ResponseMetadata left out), each with "shape_problems": what in the answer AWS's model does
not allow (empty when it conforms).
"""

import datetime
import json
import re
import sys
import xml.etree.ElementTree as ElementTree

import botocore.exceptions
import botocore.session
from botocore.exceptions import ClientError

# The Python types botocore's parsers give each shape type.
PYTHON_TYPES = {
    "string": str,
    "character": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "float": float,
    "double": float,
    "timestamp": datetime.datetime,
    "blob": bytes,
    "list": list,
    "structure": dict,
    "map": dict,
}

# IAM's policy documents are strings on the wire (URL-encoded JSON); botocore's
# `json_decode_policies` handler turns every `policyDocumentType` member into a dict.
POLICY_DOCUMENT_SHAPE = "policyDocumentType"

# Values AWS's IAM itself answers with that its model's enums lack, so that the check compares
# with AWS rather than with the model's omissions: SimulateCustomPolicy's matched statements of a
# `PolicyInputList` document have the type "IAM Policy" (SDKs with closed enums had to add it:
# soto-project/soto#230, "Add iamPolicy to PolicySourceType enum ... being returned by IAM").
BEYOND_MODEL_ENUMS = {"PolicySourceType": {"IAM Policy"}}

_patterns = {}


def _pattern(text):
    """The model's (Java) pattern as a Python regex, or None where Python's `re` cannot read it
    (`\\p{L}` and the like)."""
    if text not in _patterns:
        try:
            _patterns[text] = re.compile(text, re.ASCII)
        except re.error:
            _patterns[text] = None
    return _patterns[text]


def shape_problems(value, shape, path=""):
    """What in the parsed `value` the model's `shape` does not allow: a missing required member, a
    value of the wrong type, a string outside its enum, a pattern or length, a marker that
    disagrees with `IsTruncated`. Each problem is `"<path>: <what>"`."""
    problems = []
    where = path or "(output)"
    type_name = shape.type_name
    if type_name == "string" and shape.name == POLICY_DOCUMENT_SHAPE:
        if not isinstance(value, dict):
            problems.append(
                f"{where}: a policy document botocore could not decode as URL-encoded JSON: {value!r}"
            )
        return problems
    expected = PYTHON_TYPES.get(type_name)
    if expected is None:
        return [f"{where}: shape {shape.name} has type {type_name}, which this check does not know"]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        return [f"{where}: expected {type_name} ({shape.name}), got {type(value).__name__} {value!r}"]
    metadata = shape.metadata
    if type_name == "structure":
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{where}: required member {name} ({shape.name}) is missing")
        for name, member in value.items():
            member_shape = shape.members.get(name)
            if member_shape is None:
                problems.append(f"{where}: {name} is not a member of {shape.name}")
                continue
            problems += shape_problems(member, member_shape, _join(path, name))
        if "IsTruncated" in shape.members and "Marker" in shape.members:
            truncated = value.get("IsTruncated") is True
            marker = value.get("Marker")
            if truncated and not marker:
                problems.append(f"{where}: IsTruncated is true but there is no Marker")
            if not truncated and marker is not None:
                problems.append(f"{where}: a Marker ({marker!r}) without IsTruncated true")
    elif type_name == "list":
        problems += _length_problems(where, shape, len(value), "members")
        for index, item in enumerate(value):
            problems += shape_problems(item, shape.member, f"{path}[{index}]")
    elif type_name == "map":
        for key, item in value.items():
            problems += shape_problems(key, shape.key, f"{path}{{key {key!r}}}")
            problems += shape_problems(item, shape.value, f"{path}[{key!r}]")
    elif type_name == "string":
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum and value not in BEYOND_MODEL_ENUMS.get(shape.name, ()):
            problems.append(f"{where}: {value!r} is not one of {shape.name}'s values {enum}")
        problems += _length_problems(where, shape, len(value), "characters")
        pattern = _pattern(metadata["pattern"]) if "pattern" in metadata else None
        if pattern is not None and not pattern.fullmatch(value):
            problems.append(f"{where}: {value!r} does not match {shape.name}'s pattern {metadata['pattern']}")
    elif type_name in ("integer", "long"):
        if "min" in metadata and value < metadata["min"]:
            problems.append(f"{where}: {value} is below {shape.name}'s minimum {metadata['min']}")
        if "max" in metadata and value > metadata["max"]:
            problems.append(f"{where}: {value} is above {shape.name}'s maximum {metadata['max']}")
    elif type_name == "timestamp":
        if value.tzinfo is None:
            problems.append(f"{where}: timestamp {value!r} has no time zone")
    return problems


def _length_problems(where, shape, length, unit):
    metadata = shape.metadata
    problems = []
    if "min" in metadata and length < metadata["min"]:
        problems.append(f"{where}: {length} {unit}, fewer than {shape.name}'s minimum {metadata['min']}")
    if "max" in metadata and length > metadata["max"]:
        problems.append(f"{where}: {length} {unit}, more than {shape.name}'s maximum {metadata['max']}")
    return problems


# How the query protocol writes integers and timestamps (botocore's parsers would also take
# `+5`, ` 5`, `5_0`, or epoch seconds and many other date forms).
INTEGER_TEXT = re.compile(r"-?[0-9]+")
ISO_8601_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")


def _tag(element):
    return element.tag.split("}", 1)[-1]


def xml_problems(body, operation_model):
    """What in the raw XML answer the model does not name: the envelope
    (`<Operation>Response xmlns=<service namespace>`, its `<Operation>Result` and
    `ResponseMetadata/RequestId`), elements no member is serialized as (botocore drops them
    silently), a single-valued member repeated, text in a structure or list, booleans other than
    `true`/`false` (botocore reads any other text as false), integers and timestamps not written
    as AWS writes them."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        return [f"the answer is not XML: {error}"]
    problems = []
    name = operation_model.name
    namespace = operation_model.service_model.metadata.get("xmlNamespace")
    if root.tag != f"{{{namespace}}}{name}Response":
        problems.append(f"the root element is {root.tag}, not {{{namespace}}}{name}Response")
    shape = operation_model.output_shape
    wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
    known = {"ResponseMetadata"} | ({wrapper} if wrapper else set())
    for child in root:
        if _tag(child) not in known:
            problems.append(f"<{_tag(child)}> beside the result is not in the model")
        elif not child.tag.startswith(f"{{{namespace}}}"):
            problems.append(f"<{_tag(child)}> is not in the namespace {namespace}")
    metadata = [c for c in root if _tag(c) == "ResponseMetadata"]
    if len(metadata) != 1 or not [c for c in metadata[0] if _tag(c) == "RequestId" and c.text]:
        problems.append("no ResponseMetadata/RequestId")
    if shape is not None and wrapper:
        results = [c for c in root if _tag(c) == wrapper]
        if len(results) != 1:
            problems.append(f"{len(results)} <{wrapper}> elements, not one")
        else:
            problems += _element_problems(results[0], shape, "")
    return problems


def _wire_name(member_name, member_shape):
    return member_shape.serialization.get("name", member_name)


def _join(path, name):
    return f"{path}.{name}" if path else name


def _element_problems(element, shape, path):
    problems = []
    where = path or f"<{_tag(element)}>"
    children = list(element)
    type_name = shape.type_name
    if type_name == "structure":
        if (element.text or "").strip():
            problems.append(f"{where}: text {element.text.strip()!r} in a structure")
        by_wire = {}
        for member_name, member_shape in shape.members.items():
            if member_shape.type_name == "list" and member_shape.serialization.get("flattened"):
                by_wire[member_shape.member.serialization.get("name", member_name)] = (member_name, member_shape)
            else:
                by_wire[_wire_name(member_name, member_shape)] = (member_name, member_shape)
        seen = set()
        for child in children:
            tag = _tag(child)
            if tag not in by_wire:
                problems.append(f"{where}: <{tag}> is not a member of {shape.name}")
                continue
            member_name, member_shape = by_wire[tag]
            flattened = member_shape.type_name == "list" and member_shape.serialization.get("flattened")
            if tag in seen and not flattened:
                problems.append(f"{where}: <{tag}> appears more than once")
            seen.add(tag)
            if flattened:
                problems += _element_problems(child, member_shape.member, _join(path, member_name))
            else:
                problems += _element_problems(child, member_shape, _join(path, member_name))
    elif type_name == "list":
        item_name = shape.member.serialization.get("name", "member")
        for index, child in enumerate(children):
            if _tag(child) != item_name:
                problems.append(f"{where}: <{_tag(child)}> in a list of <{item_name}>")
            else:
                problems += _element_problems(child, shape.member, f"{path}[{index}]")
    elif type_name == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        for child in children:
            if _tag(child) != "entry":
                problems.append(f"{where}: <{_tag(child)}> in a map of <entry>")
                continue
            tags = sorted(_tag(c) for c in child)
            if tags != sorted([key_name, value_name]):
                problems.append(f"{where}: a map entry of {tags}, not <{key_name}> and <{value_name}>")
            for pair in child:
                if _tag(pair) == value_name:
                    problems += _element_problems(pair, shape.value, f"{path}[entry]")
    else:
        if children:
            problems.append(f"{where}: a {type_name} with child elements {[_tag(c) for c in children]}")
        text = element.text or ""
        if type_name == "boolean" and text not in ("true", "false"):
            problems.append(f"{where}: boolean {text!r} is neither true nor false")
        if type_name in ("integer", "long") and not INTEGER_TEXT.fullmatch(text):
            problems.append(f"{where}: integer {text!r} is not written in decimal digits")
        if type_name == "timestamp" and not ISO_8601_TEXT.fullmatch(text):
            problems.append(f"{where}: timestamp {text!r} is not ISO 8601 (the query protocol's format)")
    return problems


_modeled_errors = {}


def modeled_errors(service_model):
    """The error codes `service_model` declares: code -> (HTTP status, sender's fault, the
    operations that may answer with it)."""
    name = service_model.service_name
    if name not in _modeled_errors:
        errors = {}
        for operation_name in service_model.operation_names:
            for shape in service_model.operation_model(operation_name).error_shapes:
                error = shape.metadata.get("error", {})
                code = error.get("code", shape.name)
                entry = errors.setdefault(
                    code, (error.get("httpStatusCode"), bool(error.get("senderFault")), set())
                )
                entry[2].add(operation_name)
        _modeled_errors[name] = errors
    return _modeled_errors[name]


def error_problems(parsed, status, operation_model):
    """An error answer as its protocol has it: a code and a message; for the query protocol also
    `Sender` or `Receiver` and a request id; and for a code the model declares, the model's HTTP
    status and fault, and an operation that declares it (AWS's common errors, `AccessDenied`,
    `ValidationError`, `Throttling`..., are in no operation's list and are not checked)."""
    problems = []
    error = parsed.get("Error", {})
    code = error.get("Code")
    query = operation_model.metadata["protocol"] == "query"
    if not code:
        problems.append("the error has no Code")
    if error.get("Message") is None:
        problems.append(f"the error {code} has no Message")
    if query and error.get("Type") not in ("Sender", "Receiver"):
        problems.append(f"the error {code} has Type {error.get('Type')!r}, not Sender or Receiver")
    if query and not parsed.get("ResponseMetadata", {}).get("RequestId"):
        problems.append(f"the error {code} has no RequestId")
    modeled = modeled_errors(operation_model.service_model).get(code)
    if modeled is not None:
        http_status, sender, operations = modeled
        if http_status is not None and status != http_status:
            problems.append(f"the error {code} has HTTP status {status}, the model's is {http_status}")
        kind = "Sender" if sender else "Receiver"
        if error.get("Type") in ("Sender", "Receiver") and error.get("Type") != kind:
            problems.append(f"the error {code} has Type {error.get('Type')}, the model's is {kind}")
        if operation_model.name not in operations:
            problems.append(
                f"the error {code} is not one {operation_model.name} declares "
                f"({sorted(s.metadata.get('error', {}).get('code', s.name) for s in operation_model.error_shapes)})"
            )
    return problems


def paging_problems(parsed, max_items, paginator):
    """A page of a paged listing asked for with `MaxItems` holds at most that many items (over
    all its result lists: GetAccountAuthorizationDetails pages users, groups, roles and policies
    together), as AWS's pages do."""
    if max_items is None or paginator is None:
        return []
    keys = paginator["result_key"]
    keys = [keys] if isinstance(keys, str) else keys
    count = sum(len(parsed.get(key) or []) for key in keys)
    if count > max_items:
        return [f"{count} items ({', '.join(keys)}) in a page asked for with MaxItems {max_items}"]
    return []


class Conformance:
    """Checks every answer a client receives (direct calls, paginators' pages, waiters' polls)
    against AWS's model, after botocore has parsed it: `take()` returns the problems found since
    the last `take()`, each prefixed with its operation."""

    def __init__(self):
        self.problems = []
        self._paginators = {}

    def attach(self, client):
        service = client.meta.service_model
        if service.service_name not in self._paginators:
            try:
                model = botocore.session.get_session().get_paginator_model(service.service_name)
            except botocore.exceptions.UnknownServiceError:
                model = None
            self._paginators[service.service_name] = model
        events = client.meta.events
        events.register_last(f"before-parameter-build.{service.service_id.hyphenize()}", self._asked)
        events.register_last(f"after-call.{service.service_id.hyphenize()}", self._check)
        return client

    @staticmethod
    def _asked(params, context, **_):
        context["conformance_max_items"] = params.get("MaxItems")

    def _check(self, http_response, parsed, model, context, **_):
        status = http_response.status_code
        if status >= 300:
            found = error_problems(parsed, status, model)
        else:
            # The json protocol's answers are parsed from JSON; only the query protocol's XML
            # has an envelope and text encodings of its own to check.
            query = model.metadata["protocol"] == "query"
            found = xml_problems(http_response.content, model) if query else []
            if model.output_shape is not None:
                value = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
                found += shape_problems(value, model.output_shape)
                paginator = self._paginator(model)
                found += paging_problems(value, context.get("conformance_max_items"), paginator)
        self.problems += [f"{model.name}: {p}" for p in found]

    def _paginator(self, operation_model):
        """The operation's paginator configuration (`result_key`...), None if it is not paged."""
        model = self._paginators.get(operation_model.service_model.service_name)
        try:
            return model.get_paginator(operation_model.name) if model is not None else None
        except ValueError:
            return None

    def take(self):
        problems, self.problems = self.problems, []
        return problems


def main():
    spec = json.load(sys.stdin)
    session = botocore.session.get_session()
    conformance = Conformance()
    clients = {}
    results = []
    for call in spec["calls"]:
        service = call["service"]
        if service not in clients:
            clients[service] = conformance.attach(
                session.create_client(
                    service,
                    region_name="us-east-1",
                    endpoint_url=spec["endpoint"],
                    aws_access_key_id=spec["access_key"],
                    aws_secret_access_key=spec["secret_key"],
                    aws_session_token=spec.get("session_token"),
                )
            )
        client = clients[service]
        try:
            response = getattr(client, call["operation"])(**call.get("params", {}))
            response.pop("ResponseMetadata", None)
            result = {"response": response}
        except ClientError as error:
            result = {"error": {
                "code": error.response["Error"]["Code"],
                "message": error.response["Error"].get("Message"),
                "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            }}
        result["shape_problems"] = conformance.take()
        results.append(result)
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
