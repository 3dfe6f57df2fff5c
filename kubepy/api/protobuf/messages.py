"""The schema table that drives the protobuf codec: message name -> field number -> Field.

A message is named by its full protobuf name (``k8s.io.api.core.v1.ConfigMap``). Field names
are the JSON names of the Go json tags (the proto names match them but for a few, such as
``uID``). ``type`` is a scalar type name (``SCALARS``) or a full message name. Maps are
``map<string, V>`` on the wire (repeated entries with key 1 and value 2); their ``type`` is
the value type and ``is_map`` is set.

``keep_zero`` says what a zero scalar on the wire means. Go's generated marshallers write
every non-pointer scalar, set or not, so ``""``/``0``/``false`` normally means "unset" and
is dropped (as Go's ``omitempty`` drops it from JSON). For pointer fields (``*int32
replicas``) and fields without ``omitempty`` the zero is a real value and is kept.

Tables are written in a small text form, one message per block::

    DeploymentSpec
      1 replicas int32 ?           # ? = keep zero (pointer or non-omitempty)
      2 selector meta.LabelSelector
      3 template core.PodTemplateSpec
      8 conditions [DeploymentCondition]      # repeated
      2 data {string}                         # map<string, string>
      1 localObjectReference LocalObjectReference inline   # Go embedded struct: its
                                              # fields appear in the parent's JSON

Unqualified message names resolve in the block's own package; ``alias.Name`` resolves
through ``ALIASES``.
"""

from __future__ import annotations

import dataclasses

SCALARS = frozenset(
    {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
     "fixed32", "fixed64", "sfixed32", "sfixed64", "double", "float"}
)

ALIASES = {
    "meta": "k8s.io.apimachinery.pkg.apis.meta.v1",
    "runtime": "k8s.io.apimachinery.pkg.runtime",
    "resource": "k8s.io.apimachinery.pkg.api.resource",
    "intstr": "k8s.io.apimachinery.pkg.util.intstr",
    "core": "k8s.io.api.core.v1",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    number: int
    name: str
    type: str
    repeated: bool = False
    is_map: bool = False
    keep_zero: bool = False
    inline: bool = False

    @property
    def is_scalar(self) -> bool:
        return self.type in SCALARS


Message = dict[int, Field]


def _resolve(type_name: str, package: str) -> str:
    if type_name in SCALARS:
        return type_name
    if "." in type_name:
        alias, _, rest = type_name.partition(".")
        if alias in ALIASES:
            return f"{ALIASES[alias]}.{rest}"
        return type_name
    return f"{package}.{type_name}"


def parse_table(package: str, text: str) -> dict[str, Message]:
    """Parse the text form above into ``{full message name: {number: Field}}``."""
    messages: dict[str, Message] = {}
    current: Message | None = None
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            current = messages.setdefault(f"{package}.{line.strip()}", {})
            continue
        if current is None:
            raise ValueError(f"{package} line {lineno}: field before any message")
        parts = line.split()
        inline = parts[-1] == "inline"
        if inline:
            parts = parts[:-1]
        keep_zero = parts[-1] == "?"
        if keep_zero:
            parts = parts[:-1]
        if len(parts) != 3:
            raise ValueError(f"{package} line {lineno}: expected 'number name type': {raw_line!r}")
        number, name, type_name = int(parts[0]), parts[1], parts[2]
        repeated = type_name.startswith("[") and type_name.endswith("]")
        is_map = type_name.startswith("{") and type_name.endswith("}")
        if repeated or is_map:
            type_name = type_name[1:-1]
        if number in current:
            raise ValueError(f"{package} line {lineno}: field number {number} used twice")
        current[number] = Field(
            number, name, _resolve(type_name, package), repeated=repeated, is_map=is_map,
            keep_zero=keep_zero, inline=inline,
        )
    return messages


def merge(base: dict[str, Message], extra: dict[str, Message]) -> dict[str, Message]:
    """Messages of ``extra`` added to ``base``; for a message in both, fields are united and
    ``base`` (the reviewed table) wins on ``keep_zero`` where it knows the field."""
    merged = dict(extra)
    for name, fields in base.items():
        if name in merged:
            united = dict(merged[name])
            united.update(fields)
            merged[name] = united
        else:
            merged[name] = fields
    return merged
