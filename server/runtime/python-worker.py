"""A warm worker for one version of one Python algorithm (driven by server/runtime/workers.ts).

Usage: python python-worker.py <treeDir> <entryModule> <captureDir>

It imports the algorithm's entry module ONCE (so module-level model loading happens once: Algorithmia's
"preloading"), then serves calls one at a time through the module's apply(input).

Protocol (not over stdout/stderr, which belong to the algorithm's own prints):
  fd 3 (node -> worker), one JSON object per line:
      {"id": str, "content_type": "text"|"json"|"binary", "data": ..., "capture": str}
      text: data is the string; json: data is the value, or, with "json_text": true, the JSON text as a
      string; binary: data is base64.
  fd 4 (worker -> node), one JSON object per line:
      {"type": "ready", "pid", "python", "load_seconds", "stdout"}               after a successful import
      {"type": "init_error", "error": {...}, "stdout"}                           the import failed; then exits
      {"type": "result", "id", "content_type", "stdout", "duration", and "result" (text: the string;
                                                 binary: base64) or "result_json" (json: the JSON text)}
      {"type": "error", "id", "error": {"message", "stacktrace", "error_type"}, "stdout", "duration"}
  EOF on fd 3 ends the worker.

Per-call output capture: during import and during each call, file descriptors 1 and 2 point at
<captureDir>/<capture>.out (import: init.out), so prints, C-extension output and subprocess output are all caught
in order; the file is read back into "stdout" and removed. (<capture> comes from the request, a name made by
node, not the caller's call id.) If the worker dies mid-call the node side reads
that file itself. Outside calls (background threads), output goes to the worker's original stdout/stderr.

Content types of replies follow Algorithmia's runner: bytes/bytearray -> binary, str -> text, anything else
(including None) -> json. Objects with a tolist() method (numpy arrays and scalars) are serialised through it;
NaN/Infinity and other unserialisable results are an AlgorithmError.

Error types: the first class in the exception's MRO named like one of Algorithmia's algorithm error types
(InputError, UnsupportedError, ...) gives error_type; an exception carrying an `error_type` attribute with
such a value (Algorithmia.errors.AlgorithmException) uses it; MemoryError -> OutOfMemoryError; otherwise
AlgorithmError. Import failures are InitializationError. Platform-only types (TimeoutError, SystemError,
PaymentRequiredError) are never taken from user exceptions: Python's own TimeoutError is an AlgorithmError.

ADK algorithms (`algorithm = ADK(apply, load)` and `algorithm.init(...)` at module level) work too: there is no
/tmp/algoout here, so ADK.init runs its local mode during the import; calls then go to the ADK's apply
function, with the load() result as second argument when apply takes two, and a load() exception becomes an
InitializationError.
"""
import base64
import faulthandler
import importlib
import json
import os
import sys
import threading
import time
import traceback

ALGORITHM_ERROR_TYPES = {
    "InputError", "UnsupportedError", "InitializationError", "OutOfMemoryError", "OutOfGpuMemoryError",
    "LanguageError", "TooLargeError", "ParsingError", "EntityNotFoundError", "ThirdPartyCredentialError",
    "AlgorithmError",
}

REQUESTS_FD = 3
REPLIES_FD = 4


def main():
    tree, entry_module, capture_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    for fd in (REQUESTS_FD, REPLIES_FD):
        os.set_inheritable(fd, False)  # the algorithm's subprocesses must not hold the protocol pipes
    requests = os.fdopen(REQUESTS_FD, "rb", buffering=0)
    replies = os.fdopen(REPLIES_FD, "wb", buffering=0)

    # The original stdout/stderr, for output outside calls and for crash reports.
    saved_out, saved_err = os.dup(1), os.dup(2)
    crash_log = os.fdopen(os.dup(saved_err), "w")
    faulthandler.enable(file=crash_log, all_threads=False)
    watch_parent()
    if os.environ.get("ALGORITHMIA_LOCAL_ISOLATED") == "1":
        start_api_relay(os.environ.pop("ALGORITHMIA_LOCAL_API_SOCKET", None))

    os.chdir(tree)
    sys.path[:0] = [tree, os.path.join(tree, "src")]
    sys.argv = [os.path.join(tree, *entry_module.split(".")) + ".py"]

    def send(message):
        replies.write((json.dumps(message, allow_nan=False) + "\n").encode("utf-8"))

    started = time.time()
    module = None
    error = None
    with Capture(capture_dir, "init", saved_out, saved_err) as captured:
        try:
            module = importlib.import_module(entry_module)
            apply_fn = find_apply(module)
        except BaseException as e:  # SystemExit and all: an import must not kill the worker silently
            error = {"message": "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__,
                     "stacktrace": user_traceback(e), "error_type": "InitializationError"}
    if error is not None:
        send({"type": "init_error", "error": error, "stdout": captured.text})
        return
    send({"type": "ready", "pid": os.getpid(), "python": sys.version.split()[0],
          "load_seconds": time.time() - started, "stdout": captured.text})

    for line in iter_lines(requests):
        request = json.loads(line)
        call_id = request.get("id")
        reply = {"id": call_id}
        begun = time.time()
        capture = "".join(c for c in str(request.get("capture") or "call") if c.isalnum() or c in "-_") or "call"
        with Capture(capture_dir, capture, saved_out, saved_err) as captured:
            try:
                value = decode_input(request)
                result = apply_fn(value)
                reply.update(encode_result(result))
                reply["type"] = "result"
            except BaseException as e:  # noqa: B902 -- user code may raise anything, SystemExit included
                if isinstance(e, KeyboardInterrupt):
                    raise
                reply["type"] = "error"
                reply["error"] = describe(e)
        reply["stdout"] = captured.text
        reply["duration"] = time.time() - begun
        try:
            send(reply)
        except ValueError as e:  # should not happen (results are checked), but never leave a call unanswered
            send({"type": "error", "id": call_id, "stdout": captured.text, "duration": reply["duration"],
                  "error": {"message": "could not serialise the reply: %s" % e, "stacktrace": "",
                            "error_type": "AlgorithmError"}})


def iter_lines(stream):
    buffer = b""
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line


def start_api_relay(api_socket):
    """In a network namespace of its own (network_access "isolated"): bring up lo, and relay
    127.0.0.1:<port> to the platform API's Unix socket so ALGORITHMIA_API keeps working."""
    import fcntl
    import socket
    import struct
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        name, flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH22x", b"lo", 0)))
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
    if not api_socket:
        return
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    os.environ["ALGORITHMIA_API"] = "http://127.0.0.1:%d" % listener.getsockname()[1]

    def pump(source, target):
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                target.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def serve(client):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(api_socket)
        except OSError:
            client.close()
            upstream.close()
            return
        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def accept():
        while True:
            client, _ = listener.accept()
            threading.Thread(target=serve, args=(client,), name="algorithmia-api-relay", daemon=True).start()

    threading.Thread(target=accept, name="algorithmia-api-relay", daemon=True).start()


def watch_parent():
    """Exit when the node process that started this worker is gone (even mid-call)."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="algorithmia-worker-parent-watch", daemon=True).start()


class Capture(object):
    """Points fds 1 and 2 (and sys.stdout/stderr) at a file for the duration of a call."""

    def __init__(self, directory, name, saved_out, saved_err):
        self.path = os.path.join(directory, "%s.out" % name)
        self.saved_out, self.saved_err = saved_out, saved_err
        self.text = ""

    def __enter__(self):
        flush_std()
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(self.fd, 1)
        os.dup2(self.fd, 2)
        return self

    def __exit__(self, *exc):
        flush_std()
        os.dup2(self.saved_out, 1)
        os.dup2(self.saved_err, 2)
        os.close(self.fd)
        try:
            with open(self.path, "rb") as f:
                self.text = f.read().decode("utf-8", "replace")
            os.remove(self.path)
        except OSError:
            self.text = ""
        return False


def flush_std():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def find_apply(module):
    adk = find_adk(module)
    if adk is not None:
        if getattr(adk, "loading_exception", None) is not None:
            e = adk.loading_exception
            raise RuntimeError("the ADK load function failed: %s: %s\n%s" % (
                type(e).__name__, e, "".join(traceback.format_exception(type(e), e, e.__traceback__))))
        func, arity = adk.apply_func, getattr(adk, "apply_arity", 1)
        if arity == 2:
            return lambda value: func(value, adk.load_result)
        return func
    apply_fn = getattr(module, "apply", None)
    if not callable(apply_fn):
        raise AttributeError("module %s does not define a callable apply(input)" % module.__name__)
    return apply_fn


def find_adk(module):
    if "adk.ADK" not in sys.modules:
        return None  # the algorithm does not use the ADK
    ADK = sys.modules["adk.ADK"].ADK
    for value in vars(module).values():
        if isinstance(value, ADK):
            if value.load_result is None and value.loading_exception is None and value.load_func is not None:
                value.load()  # init() was never called: load now, once
            return value
    return None


def decode_input(request):
    content_type, data = request.get("content_type"), request.get("data")
    if content_type == "text":
        return data
    if content_type == "json":
        return json.loads(data) if request.get("json_text") else data
    if content_type == "binary":
        return base64.b64decode(data)
    raise ValueError("unsupported content type %r" % (content_type,))


def to_jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def encode_result(result):
    if isinstance(result, (bytes, bytearray, memoryview)):
        return {"result": base64.b64encode(bytes(result)).decode("ascii"), "content_type": "binary"}
    if isinstance(result, str):
        return {"result": result, "content_type": "text"}
    try:
        text = json.dumps(result, default=to_jsonable, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as e:
        raise ResultError("the algorithm's result could not be serialised as JSON: %s" % e) from None
    # As text, so that node can pass it on verbatim (big integers keep their digits).
    return {"result_json": text, "content_type": "json"}


class ResultError(Exception):
    pass


def user_traceback(e):
    """The traceback without this worker's and importlib's own frames: only what the algorithm's author wrote."""
    te = traceback.TracebackException.from_exception(e)
    internal = (__file__, importlib.__file__)
    frames = [f for f in te.stack if f.filename not in internal and not f.filename.startswith("<frozen importlib")]
    te.stack = traceback.StackSummary.from_list(frames)
    return "".join(te.format())


def describe(e):
    error_type = None
    declared = getattr(e, "error_type", None)
    if isinstance(declared, str) and declared in ALGORITHM_ERROR_TYPES:
        error_type = declared
    if error_type is None:
        for cls in type(e).__mro__:
            if cls.__name__ in ALGORITHM_ERROR_TYPES:
                error_type = cls.__name__
                break
    if error_type is None and isinstance(e, MemoryError):
        error_type = "OutOfMemoryError"
    if isinstance(e, SystemExit):
        message = "the algorithm called sys.exit(%s)" % (e.code if e.code is not None else "")
    elif getattr(e, "message", None) and isinstance(e.message, str):
        message = e.message  # AlgorithmException keeps it here
    else:
        message = str(e) or type(e).__name__
    stacktrace = "" if isinstance(e, ResultError) else user_traceback(e)
    return {"message": message, "stacktrace": stacktrace, "error_type": error_type or "AlgorithmError"}


if __name__ == "__main__":
    main()
