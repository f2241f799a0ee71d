"""bootstrap.py - cloudlet's Python Lambda runtime: the client side of the
Lambda Runtime API.

It imports the handler named by _HANDLER from LAMBDA_TASK_ROOT, then loops:
fetch the next event, call the handler, post its result or error. It mirrors
AWS's own Python runtime (awslambdaric): the same handler resolution, context
object, error shapes and messages, so code moves between cloudlet and Lambda
unchanged. It uses only the standard library and imports little of it, so a
cold start costs little more than the interpreter's own.

Everything goes over one kept-alive HTTP connection, and stdout/stderr are
flushed before every post: the server reads the output pipe when a result
arrives to build that invoke's log tail.

Start-up cost is the point of several choices below (measure with
`python3 -X importtime`): the HTTP client is a small one over `_socket`, not
http.client (which pulls in email, urllib, ssl and re: ~20 ms); the event and
the result go through the C accelerator `_json` directly, with exactly the
json module's semantics, until something else has imported json (`import
json` costs ~7 ms, mostly re and enum); traceback and json are imported only
on error paths.
"""

import os
import sys
import time

try:
    import _socket as socket  # the C module: socket.py would import enum and selectors
except ImportError:  # pragma: no cover - every CPython build has it
    import socket

try:
    import _json
except ImportError:  # pragma: no cover - json falls back to pure Python then too
    _json = None

API_PREFIX = "/2018-06-01/runtime"
ERROR_CONTENT_TYPE = "application/vnd.aws.lambda.error+json"


# ---------------------------------------------------------------------------
# Errors


class FaultException(Exception):
    """An error the runtime reports itself, with AWS's "Runtime.*" type."""

    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def fault_result(fault, request_id=None):
    return make_error(fault.msg, fault.exception_type, fault.trace, request_id)


def exception_result(exc, request_id=None):
    """The error body for an exception raised by user code: its type, message
    and traceback, minus the frames that belong to this file."""
    import traceback  # only errors pay for it

    frames = traceback.extract_tb(exc.__traceback__)
    while frames and frames[0].filename == __file__:
        frames = frames[1:]
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def log_error(result):
    """Print an error as AWS does: "[ERROR] Type: message" then the traceback,
    so the log tail shows what went wrong."""
    line = "[ERROR]"
    if result["errorType"]:
        line += " " + result["errorType"]
    if result["errorMessage"]:
        line += (":" if result["errorType"] else "") + " " + result["errorMessage"]
    lines = [line]
    if result["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for element in result["stackTrace"]:
            lines.extend(element.splitlines() or [""])
    sys.stdout.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------
# Handler loading (awslambdaric's rules)


def load_handler(handler):
    """Import the module of "module.function" (the module part may be a path
    with "/" or a dotted package name). Import failures raise FaultException;
    a missing function is reported at each invoke, as AWS does."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, e)
        )
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        import importlib  # already imported by site, as a rule

        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, e),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, e),
            trace,
        )
    try:
        return getattr(module, fname)
    except AttributeError:
        fault = FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
        )

        def missing(*_args):
            raise fault

        return missing


# ---------------------------------------------------------------------------
# The context object (same attributes as awslambdaric's LambdaContext)


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]


def obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field) if isinstance(d, dict) else None)
    return obj


class LambdaContext(object):
    # Read once: these do not change during the process's life.
    _function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    _function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    # A string, as on AWS (os.environ.get, not int()).
    _memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    _log_group = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
    _log_stream = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")

    def __init__(self, request_id, client_context, cognito_identity, deadline_ms, arn):
        self.aws_request_id = request_id
        self.log_group_name = self._log_group
        self.log_stream_name = self._log_stream
        self.function_name = self._function_name
        self.memory_limit_in_mb = self._memory
        self.function_version = self._function_version
        self.invoked_function_arn = arn
        self.client_context = obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = obj_from_dict(Client, self.client_context.client)
        # Always an object, its fields None without an identity: AWS does the
        # same, so `context.identity.cognito_identity_id` never raises.
        self.identity = obj_from_dict(CognitoIdentity, {})
        if isinstance(cognito_identity, dict):
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},"
            "function_name={},memory_limit_in_mb={},function_version={},"
            "invoked_function_arn={},client_context={},identity={}])".format(
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
            )
        )


# ---------------------------------------------------------------------------
# Marshalling
#
# json.loads(b) and json.dumps(o, ensure_ascii=False, default=d) both end in
# the C accelerator _json with fixed settings; calling it directly gives the
# same results without importing json (re, enum: ~7 ms of a cold start). Any
# input the fast path does not handle the way json would (another encoding
# than UTF-8, a BOM, invalid JSON) goes to json itself, which then gives its
# own result or error. Once json is imported anyway (by the handler, say),
# json itself is used, so even a patched json behaves as before.


def _json_module():
    import json

    return json


class _DecoderSettings(object):
    # What _json.make_scanner reads from a json.JSONDecoder(): the defaults.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__


_scan_once = None
if _json is not None and all(
    hasattr(_json, name) for name in ("make_encoder", "encode_basestring", "encode_basestring_ascii")
):
    try:
        _scan_once = _json.make_scanner(_DecoderSettings())
    except Exception:  # pragma: no cover - a _json unlike CPython 3.x's
        pass
if _scan_once is None:
    _json = None  # json itself does all the work


def json_loads(data):
    """json.loads(data) for str or bytes."""
    if _json is None or "json" in sys.modules:
        return _json_module().loads(data)
    s = None
    if isinstance(data, str):
        s = data
    elif isinstance(data, (bytes, bytearray)) and b"\x00" not in data[:2]:
        # json reads UTF-16/32 (NULs up front) and skips a UTF-8 BOM; the
        # fast path only takes plain UTF-8.
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if s is not None and s[:1] != "\ufeff":
        n = len(s)
        i = 0
        while i < n and s[i] in " \t\n\r":
            i += 1
        try:
            obj, end = _scan_once(s, i)
        except Exception:
            pass  # json raises the proper JSONDecodeError below
        else:
            while end < n and s[end] in " \t\n\r":
                end += 1
            if end == n:
                return obj
    return _json_module().loads(data)


def json_dumps(obj, default=None, ensure_ascii=True):
    """json.dumps(obj, ensure_ascii=ensure_ascii, default=default)."""
    if _json is None or "json" in sys.modules:
        return _json_module().dumps(obj, ensure_ascii=ensure_ascii, default=default)
    encode_string = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    if isinstance(obj, str):
        return encode_string(obj)
    if default is None:
        default = _default_default
    # What JSONEncoder.iterencode(obj, _one_shot=True) builds: markers for
    # check_circular, no indent, separators (", ", ": "), allow_nan.
    encoder = _json.make_encoder({}, default, encode_string, None, ": ", ", ", False, False, True)
    chunks = encoder(obj, 0)
    return "".join(chunks)


def _default_default(obj):
    # json.JSONEncoder.default's error.
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


def _json_default(obj):
    # AWS's runtime serialises Decimal (as DynamoDB returns numbers); the
    # standard library cannot emit its exact digits, so use int or float.
    if type(obj).__name__ == "Decimal":
        import decimal

        if isinstance(obj, decimal.Decimal):
            return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError("Object of type {} is not JSON serializable".format(type(obj).__name__))


def to_json(result):
    try:
        return json_dumps(result, default=_json_default, ensure_ascii=False).encode("utf-8")
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(e)
        )


def parse_json_header(value):
    if not value:
        return None
    try:
        return json_loads(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# The Runtime API client


HEAD_MAX = 65536  # one line of an answer's head, at most


class ProtocolError(Exception):
    """An answer that is not HTTP/1.x as we know it."""


class RuntimeClient(object):
    """One HTTP/1.1 connection to the Runtime API, kept alive across invokes.

    Just what the Runtime API needs: a request at a time, bodies framed by
    Content-Length (chunked and read-to-close answers are understood too),
    no timeout (/next is a long poll that may block for minutes). Answers are
    read through a buffered file on the socket, as http.client does."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            sys.stderr.write("bootstrap: AWS_LAMBDA_RUNTIME_API is not host:port (%r)\n" % address)
            sys.exit(1)
        self.host = host.strip("[]")
        self.port = int(port)
        # The Host header http.client would send.
        hh = "[%s]" % self.host if ":" in self.host else self.host
        if self.port != 80:
            hh += ":%d" % self.port
        self.host_header = hh
        self.sock = self.rfile = None

    def connect(self):
        # socket.create_connection, without socket.py. An ASCII host goes as
        # bytes: for a str, getaddrinfo runs the idna codec, which imports re.
        host = self.host
        try:
            host = host.encode("ascii")
        except UnicodeEncodeError:
            pass
        err = OSError("getaddrinfo returned nothing")
        infos = socket.getaddrinfo(host, self.port, 0, socket.SOCK_STREAM)
        for family, socktype, proto, _, addr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                sock.connect(addr)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as e:
                sock.close()
                err = e
                continue
            self.sock = sock
            self.rfile = open(sock.fileno(), "rb", buffering=65536, closefd=False)
            return
        raise err

    def close(self):
        for f in (self.rfile, self.sock):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self.sock = self.rfile = None

    def _line(self):
        line = self.rfile.readline(HEAD_MAX + 1)
        if len(line) > HEAD_MAX:
            raise ProtocolError("header line too long")
        return line

    def _read(self, n):
        data = self.rfile.read(n)
        if len(data) < n:
            raise ConnectionError("Remote end closed connection mid-body")
        return data

    def _response(self):
        """Read one answer: (status, headers with lower-case names, body)."""
        while True:
            line = self._line()
            if not line:
                raise ConnectionError("Remote end closed connection without response")
            parts = line.decode("latin-1").split(None, 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError("bad status line %r" % line)
            status = int(parts[1])
            headers = {}
            while True:
                line = self._line()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = line.decode("latin-1").partition(":")
                if sep:
                    name = name.strip().lower()
                    value = value.strip()
                    headers[name] = headers[name] + ", " + value if name in headers else value
            if not 100 <= status < 200:
                break  # else an interim answer (100 Continue): the real one follows
        conn = headers.get("connection", "").lower()
        will_close = "close" in conn or (parts[0] == "HTTP/1.0" and "keep-alive" not in conn)
        length = headers.get("content-length")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self._line().split(b";", 1)[0], 16)
                if not size:
                    break
                chunks.append(self._read(size))
                self._line()
            while self._line() not in (b"\r\n", b"\n", b""):
                pass  # trailers, up to the empty line
            body = b"".join(chunks)
        elif length is not None:
            body = self._read(int(length))
        elif status in (204, 304):
            body = b""
        else:
            body = self.rfile.read()  # to the end of the connection
            will_close = True
        if will_close:
            self.close()
        return status, headers, body

    def call(self, method, path, body=None, headers=None):
        """Send one request, returning (status, headers, body bytes). A
        kept-alive connection the server closed fails on reuse, so retry
        once on a fresh one; a second failure means the server is gone and
        the runtime exits."""
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\n" % (
            method,
            path,
            self.host_header,
        )
        if body is not None or method == "POST":
            head += "Content-Length: %d\r\n" % (len(body) if body is not None else 0)
        if headers:
            for name, value in headers.items():
                head += "%s: %s\r\n" % (name, value)
        message = (head + "\r\n").encode("latin-1")
        if body:
            message += body
        for attempt in (1, 2):
            try:
                if self.sock is None:
                    self.connect()
                self.sock.sendall(message)
                return self._response()
            except (OSError, ProtocolError, ValueError) as e:
                self.close()
                if attempt == 2:
                    sys.stderr.write("bootstrap: %s %s failed: %s\n" % (method, path, e))
                    flush_output()
                    sys.exit(1)

    def next(self):
        status, headers, body = self.call("GET", API_PREFIX + "/invocation/next")
        if status != 200:
            sys.stderr.write("bootstrap: GET /runtime/invocation/next answered %d\n" % status)
            flush_output()
            sys.exit(1)
        return headers, body

    def post_response(self, request_id, payload):
        self.call(
            "POST",
            "%s/invocation/%s/response" % (API_PREFIX, request_id),
            payload,
            {"Content-Type": "application/json"},
        )

    def post_error(self, path, error):
        self.call(
            "POST",
            path,
            json_dumps(error).encode("utf-8"),
            {
                "Content-Type": ERROR_CONTENT_TYPE,
                "Lambda-Runtime-Function-Error-Type": header_safe(error["errorType"]),
            },
        )

    def post_invocation_error(self, request_id, error):
        self.post_error("%s/invocation/%s/error" % (API_PREFIX, request_id), error)

    def post_init_error(self, error):
        self.post_error(API_PREFIX + "/init/error", error)


def header_safe(value):
    """Header values must be visible ASCII; an exception name could hold anything."""
    cleaned = "".join(c for c in str(value) if " " <= c <= "~")
    return cleaned or "Unhandled"


def flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass  # a closed or broken stream must not stop the runtime


# ---------------------------------------------------------------------------
# Main loop


def handle_once(client, handler):
    headers, body = client.next()
    request_id = headers.get("lambda-runtime-aws-request-id") or ""
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)

    error = None
    try:
        try:
            event = json_loads(body)
        except ValueError as e:
            raise FaultException(
                FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(e)
            )
        context = LambdaContext(
            request_id,
            parse_json_header(headers.get("lambda-runtime-client-context")),
            parse_json_header(headers.get("lambda-runtime-cognito-identity")),
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
        )
        payload = to_json(handler(event, context))
    except FaultException as e:
        error = fault_result(e, request_id)
    except Exception as e:
        error = exception_result(e, request_id)

    if error is None:
        flush_output()
        client.post_response(request_id, payload)
    else:
        log_error(error)
        flush_output()
        client.post_invocation_error(request_id, error)


def main():
    # print() must reach the pipe line by line (a pipe is block-buffered by
    # default), so a handler that hangs still leaves its log behind.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass

    # The function's code comes first on the path; this file's own folder
    # (put first by `python3 bootstrap.py`) must not shadow user modules.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    sys.path.insert(0, task_root)

    client = RuntimeClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", ""))
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        error = fault_result(e)
    except Exception as e:
        error = exception_result(e)
    else:
        error = None
    if error is not None:
        log_error(error)
        flush_output()
        client.post_init_error(error)
        sys.exit(1)

    while True:
        handle_once(client, handler)


if __name__ == "__main__":
    main()
