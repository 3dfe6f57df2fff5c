"""Kubernetes' protobuf wire format (``application/vnd.kubernetes.protobuf``), decoding side.

``decode_object(body, group, version, kind)`` turns a request body into the JSON-form dict
of the object; see ``codec`` for the rules and ``tables`` for the schema.
"""

from kubepy.api.protobuf.codec import MAGIC, decode_message, decode_object, message_name
from kubepy.api.protobuf.tables import TABLES

__all__ = ["MAGIC", "TABLES", "decode_message", "decode_object", "message_name"]
