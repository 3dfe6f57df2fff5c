"""The query and path parameters the apiserver declares on its REST operations.

A parameter is a plain ``Param`` (name, location, primitive type, description); the v2 and v3
renderers turn it into their own shape. The grouping follows the kube-apiserver: path-level
parameters (``name``, ``namespace``, ``pretty``), list/watch options, write options
(``dryRun``, ``fieldManager``, ``fieldValidation``), patch's ``force`` and the delete options.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "query" | "path"
    type: str  # "string" | "integer" | "boolean"
    description: str
    required: bool = False


def _q(name: str, type_: str, description: str) -> Param:
    return Param(name, "query", type_, description)


PRETTY = _q("pretty", "string", "If 'true', then the output is pretty printed. Defaults to "
            "'false' unless the user-agent indicates a browser or command-line HTTP tool "
            "(curl and wget).")
NAMESPACE = Param("namespace", "path", "string",
                  "object name and auth scope, such as for teams and projects", True)
PROXY_PATH_QUERY = _q("path", "string", "Path is the URL path to use for the current proxy "
                      "request to the node.")
PROXY_PATH = Param("path", "path", "string", "path to the resource", True)


def name_param(kind: str) -> Param:
    return Param("name", "path", "string", f"name of the {kind}", True)


ALLOW_WATCH_BOOKMARKS = _q(
    "allowWatchBookmarks", "boolean",
    "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not "
    "implement bookmarks may ignore this flag and bookmarks are sent at the server's "
    "discretion. Clients should not assume bookmarks are returned at any specific interval.")
CONTINUE = _q(
    "continue", "string",
    "The continue option should be set when retrieving more results from the server. Since "
    "this value is server defined, clients may only use the continue value from a previous "
    "query result with identical query parameters (except for the value of continue).")
FIELD_SELECTOR = _q("fieldSelector", "string", "A selector to restrict the list of returned "
                    "objects by their fields. Defaults to everything.")
LABEL_SELECTOR = _q("labelSelector", "string", "A selector to restrict the list of returned "
                    "objects by their labels. Defaults to everything.")
LIMIT = _q("limit", "integer", "limit is a maximum number of responses to return for a list "
           "call. If more items exist, the server will set the `continue` field on the list "
           "metadata to a value that can be used with the same initial query to retrieve the "
           "next set of results.")
RESOURCE_VERSION = _q("resourceVersion", "string", "resourceVersion sets a constraint on what "
                      "resource versions a request may be served from. Defaults to unset.")
RESOURCE_VERSION_MATCH = _q("resourceVersionMatch", "string", "resourceVersionMatch "
                            "determines how resourceVersion is applied to list calls. "
                            "Defaults to unset.")
SEND_INITIAL_EVENTS = _q("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set "
                         "together with `watch=true`. In that case, the watch stream will "
                         "begin with synthetic events to produce the current state of "
                         "objects in the collection, followed by a bookmark event.")
TIMEOUT_SECONDS = _q("timeoutSeconds", "integer", "Timeout for the list/watch call. This "
                     "limits the duration of the call, regardless of any activity or "
                     "inactivity.")
WATCH = _q("watch", "boolean", "Watch for changes to the described resources and return them "
           "as a stream of add, update, and remove notifications. Specify resourceVersion.")

DRY_RUN = _q("dryRun", "string", "When present, indicates that modifications should not be "
             "persisted. An invalid or unrecognized dryRun directive will result in an error "
             "response and no further processing of the request. Valid values are: - All: all "
             "dry run stages will be processed")
FIELD_MANAGER = _q("fieldManager", "string", "fieldManager is a name associated with the actor "
                   "or entity that is making these changes. The value must be less than or "
                   "128 characters long, and only contain printable characters. This field is "
                   "required for apply requests (application/apply-patch) but optional for "
                   "non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).")
FIELD_VALIDATION = _q(
    "fieldValidation", "string",
    "fieldValidation instructs the server on how to handle objects in the request "
    "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: "
    "unknown fields are silently dropped from the object, and all but the last duplicate "
    "field are ignored. - Warn: a warning is sent via the standard warning response header "
    "for each unknown or duplicate field; the request still succeeds. This is the default in "
    "v1.23+ - Strict: the request fails with a BadRequest error if any unknown or duplicate "
    "fields are present.")
FORCE = _q("force", "boolean", "Force is going to \"force\" Apply requests. It means user will "
           "re-acquire conflicting fields owned by other people. Force flag must be unset for "
           "non-apply patch requests.")
GRACE_PERIOD_SECONDS = _q("gracePeriodSeconds", "integer", "The duration in seconds before the "
                          "object should be deleted. Value must be non-negative integer. The "
                          "value zero indicates delete immediately.")
IGNORE_STORE_READ_ERROR = _q(
    "ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
    "if set to true, it will trigger an unsafe deletion of the resource in case the normal "
    "deletion flow fails with a corrupt object error.")
ORPHAN_DEPENDENTS = _q("orphanDependents", "boolean", "Deprecated: please use the "
                       "PropagationPolicy, this field will be deprecated in 1.7. Should the "
                       "dependent objects be orphaned.")
PROPAGATION_POLICY = _q("propagationPolicy", "string", "Whether and how garbage collection will "
                        "be performed. Acceptable values are: 'Orphan', 'Background', "
                        "'Foreground'.")

LIST_OPTIONS = (ALLOW_WATCH_BOOKMARKS, CONTINUE, FIELD_SELECTOR, LABEL_SELECTOR, LIMIT,
                RESOURCE_VERSION, RESOURCE_VERSION_MATCH, SEND_INITIAL_EVENTS, TIMEOUT_SECONDS,
                WATCH)
WRITE_OPTIONS = (DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION)
PATCH_OPTIONS = (DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE)
DELETE_OPTIONS = (DRY_RUN, GRACE_PERIOD_SECONDS, IGNORE_STORE_READ_ERROR, ORPHAN_DEPENDENTS,
                  PROPAGATION_POLICY)
DELETE_COLLECTION_OPTIONS = (CONTINUE, DRY_RUN, FIELD_SELECTOR, GRACE_PERIOD_SECONDS,
                             IGNORE_STORE_READ_ERROR, LABEL_SELECTOR, LIMIT, ORPHAN_DEPENDENTS,
                             PROPAGATION_POLICY, RESOURCE_VERSION, RESOURCE_VERSION_MATCH,
                             SEND_INITIAL_EVENTS, TIMEOUT_SECONDS)

_STREAMS = (_q("stderr", "boolean", "Redirect the standard error stream of the pod for this "
               "call."),
            _q("stdin", "boolean", "Redirect the standard input stream of the pod for this "
               "call. Defaults to false."),
            _q("stdout", "boolean", "Redirect the standard output stream of the pod for this "
               "call."),
            _q("tty", "boolean", "TTY if true indicates that a tty will be allocated for the "
               "call. Defaults to false."))
_CONTAINER = _q("container", "string", "The container in which to execute the command. "
                "Defaults to only container if there is only one container in the pod.")

# Query parameters of the "connect" subresources (exec, attach, portforward, proxy) and log.
SUBRESOURCE_OPTIONS: dict[str, tuple[Param, ...]] = {
    "attach": (_CONTAINER, *_STREAMS),
    "exec": (_q("command", "string", "Command is the remote command to execute. argv array. "
                "Not executed within a shell."), _CONTAINER, *_STREAMS),
    "portforward": (_q("ports", "integer", "List of ports to forward Required when using "
                       "WebSockets"),),
    "proxy": (PROXY_PATH_QUERY,),
    "log": (
        _q("container", "string", "The container for which to stream logs. Defaults to only "
           "container if there is one container in the pod."),
        _q("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
        _q("insecureSkipTLSVerifyBackend", "boolean", "insecureSkipTLSVerifyBackend indicates "
           "that the apiserver should not confirm the validity of the serving certificate of "
           "the backend it is connecting to."),
        _q("limitBytes", "integer", "If set, the number of bytes to read from the server "
           "before terminating the log output."),
        _q("previous", "boolean", "Return previous terminated container logs. Defaults to "
           "false."),
        _q("sinceSeconds", "integer", "A relative time in seconds before the current time from "
           "which to show logs."),
        _q("stream", "string", "Specify which container log stream to return to the client. "
           "Acceptable values are \"All\", \"Stdout\" and \"Stderr\". Defaults to \"All\"."),
        _q("tailLines", "integer", "If set, the number of lines from the end of the logs to "
           "show."),
        _q("timestamps", "boolean", "If true, add an RFC3339 or RFC3339Nano timestamp at the "
           "beginning of every line of log output. Defaults to false."),
    ),
}
