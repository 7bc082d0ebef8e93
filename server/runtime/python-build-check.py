"""Static build checks for a Python algorithm tree (run by server/runtime/python-build.ts).

Usage: python python-build-check.py <treeDir> <algoName> [--imports]
       python python-build-check.py --serve


Never imports or runs the algorithm's code: everything is checked from the files' text (compile() to a code
object in memory, the ast module for the entry point). Prints one JSON object on stdout:
    {"ok": bool, "log": [line, ...], "reason": str | null, "requirement_files": [relative path, ...]}
and exits 0 either way (a non-zero exit means the checker itself broke). `requirement_files` are the files pip
will read (requirements.txt and what it includes), for the build to install them into the algorithm's own
environment. With --imports, only check 5 runs: the build runs it with that environment's interpreter, once
the requirements are installed. With --serve, it answers one request per line on stdin, each a JSON object
{"tree", "algo", "imports"}, with that JSON object on a line of stdout (or {"crashed": traceback} when the
checker itself broke): the server keeps one running per interpreter, so a build does not pay an interpreter's
start-up and imports (most of a check's time).

Checks, in order (all of them run, so one build reports every problem it can find):
  1. algorithmia.conf, when present: valid JSON, an object (a different "algoname" is only a warning).
  2. requirements.txt, when present, read the way pip reads it:
       - blank lines and comments (a line starting with '#', or ' #' after text) are skipped; a trailing
         backslash joins the next line;
       - requirement lines must parse as PEP 508 requirements (packaging.requirements.Requirement, which the
         runtime venv has; a conservative regex when it is missing);
       - `-r/--requirement FILE` and `-c/--constraint FILE` are followed (the file must exist inside the tree);
       - index and install options (`-i/--index-url`, `--extra-index-url`, `-f/--find-links`, `--no-index`,
         `--trusted-host`, `--pre`, `--prefer-binary`, `--only-binary`, `--no-binary`, `--use-feature`,
         `--require-hashes`, `--hash`), `-e/--editable` and direct URLs (`pkg @ url`, `git+…`, `https://…`) are
         left to pip, which installs them (or fails the build);
       - anything else starting with '-' fails the build.
     Nothing is installed here: the build then installs these files with pip (python-env.ts).
  3. Every .py file (outside hidden directories, __pycache__ and virtualenvs) byte-compiles; failures report
     file:line:column and the SyntaxError message.
  4. The entry module src/<algoName>.py exists, and defines a top-level callable `apply` (a def taking at least
     one positional argument, a lambda, an import, or an assignment — the last two cannot be proven callable
     statically and are accepted).
  5. (--imports) Top-level imports of src/ found neither in the repository nor in the interpreter's environment
     are warnings: the algorithm will fail to load.
"""
import ast
import json
import os
import re
import sys

LOG = []
ERRORS = []


def log(line):
    LOG.append(line)


def fail(reason):
    ERRORS.append(reason)
    log("ERROR: " + reason)


def rel(tree, path):
    return os.path.relpath(path, tree).replace(os.sep, "/")


# --- algorithmia.conf ---------------------------------------------------------------------------------------

def check_conf(tree, algo):
    path = os.path.join(tree, "algorithmia.conf")
    if not os.path.exists(path):
        log("No algorithmia.conf (optional)")
        return
    log("Checking algorithmia.conf")
    try:
        with open(path, "r", encoding="utf-8") as f:
            conf = json.load(f)
    except ValueError as e:
        fail("algorithmia.conf is not valid JSON: %s" % e)
        return
    if not isinstance(conf, dict):
        fail("algorithmia.conf must be a JSON object, found %s" % type(conf).__name__)
        return
    name = conf.get("algoname")
    if name is not None and name != algo:
        log("warning: algorithmia.conf names the algorithm %r; building it as %r" % (name, algo))
    if conf.get("language"):
        log("  language: %s" % conf.get("language"))


# --- requirements.txt ---------------------------------------------------------------------------------------

# A bare project name (PEP 508's name rule) is a whole requirement; any other line goes to the exact parser,
# imported only then: importing packaging.requirements is most of this script's start-up time, paid per build.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_BARE_NAME = re.compile(r"^%s$" % _NAME)
_exact = []


def parse_requirement(text):
    """(True, None) for a valid requirement line, (None, reason) otherwise."""
    if _BARE_NAME.match(text):
        return True, None
    if not _exact:
        _exact.append(_exact_parser())
    return _exact[0](text)


def _exact_parser():
    try:
        from packaging.requirements import Requirement, InvalidRequirement  # type: ignore
    except ImportError:  # no packaging: a conservative PEP 508 subset
        _SPEC = r"(?:===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
        _REQ = re.compile(r"^\s*(%s)\s*(\[\s*%s(?:\s*,\s*%s)*\s*\])?\s*(\(?\s*%s(?:\s*,\s*%s)*\s*\)?)?\s*(;.*)?$"
                          % (_NAME, _NAME, _NAME, _SPEC, _SPEC))
        _URLREQ = re.compile(r"^\s*%s\s*(\[[^\]]*\])?\s*@\s*\S+\s*(;.*)?$" % _NAME)

        def subset(text):
            if _REQ.match(text) or _URLREQ.match(text):
                return True, None
            return None, "not a valid requirement (expected e.g. 'name', 'name==1.2', 'name>=1.0,<2')"
        return subset

    def exact(text):
        try:
            Requirement(text)
            return True, None
        except InvalidRequirement as e:
            return None, str(e).split("\n")[0].strip()
    return exact


PIP_OPTIONS_WITH_VALUE = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
                              "--only-binary", "--no-binary", "--use-feature", "--hash", "--global-option",
                              "--config-settings", "--install-option"}
PIP_FLAGS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}


def logical_lines(path):
    """(line number, text) of pip's logical lines: comments stripped, continuations joined."""
    with open(path, "r", encoding="utf-8") as f:
        raw = f.read().splitlines()
    out, buf, start = [], "", None
    for number, line in enumerate(raw, 1):
        if start is None:
            start = number
        if line.endswith("\\"):
            buf += line[:-1]
            continue
        buf += line
        text = re.sub(r"(^|\s)#.*$", "", buf).strip()
        if text:
            out.append((start, text))
        buf, start = "", None
    if buf.strip():
        out.append((start, re.sub(r"(^|\s)#.*$", "", buf).strip()))
    return out


def split_option(text):
    """'--opt=value', '--opt value', '-o value' or '-ovalue' -> (option, value)."""
    parts = text.split(None, 1)
    head, rest = parts[0], (parts[1].strip() if len(parts) > 1 else "")
    if head.startswith("--") and "=" in head:
        option, value = head.split("=", 1)
        return option, (value + (" " + rest if rest else "")).strip()
    if not head.startswith("--") and len(head) > 2:
        return head[:2], (head[2:] + (" " + rest if rest else "")).strip()
    return head, rest


def check_requirements_file(tree, path, seen):
    name = rel(tree, path)
    if path in seen:
        return
    seen.add(path)
    log("Checking %s" % name)
    try:
        lines = logical_lines(path)
    except UnicodeDecodeError as e:
        fail("%s is not UTF-8 text: %s" % (name, e))
        return
    if not lines:
        log("  (no requirements)")
    for number, text in lines:
        where = "%s:%d" % (name, number)
        if text.startswith("-"):
            option, value = split_option(text)
            if option in ("-r", "--requirement", "-c", "--constraint"):
                if not value:
                    fail("%s: %s needs a file name" % (where, option))
                    continue
                target = os.path.normpath(os.path.join(os.path.dirname(path), value))
                if not target.startswith(os.path.abspath(tree) + os.sep):
                    fail("%s: %s %s points outside the algorithm's repository" % (where, option, value))
                elif not os.path.isfile(target):
                    fail("%s: %s %s: no such file in the repository" % (where, option, value))
                else:
                    log("  %s: including %s" % (where, rel(tree, target)))
                    check_requirements_file(tree, target, seen)
            elif option in ("-e", "--editable"):
                log("  %s: editable requirement %s (left to pip)" % (where, value))
            elif option in PIP_OPTIONS_WITH_VALUE or option in PIP_FLAGS:
                if option in PIP_OPTIONS_WITH_VALUE and not value:
                    fail("%s: option %s needs a value" % (where, option))
                else:
                    log("  %s: pip option %s" % (where, option))
            else:
                fail("%s: unsupported pip option %r in %r" % (where, option, text))
            continue
        if re.match(r"^(git|hg|svn|bzr)\+|^[a-z]+://", text):
            log("  %s: URL requirement %s (left to pip)" % (where, text))
            continue
        # pip allows per-requirement options after the specifier (e.g. --hash=...); drop them.
        text = re.split(r"\s+--?[a-z]", text, maxsplit=1)[0].strip()
        valid, error = parse_requirement(text)
        if not valid:
            fail("%s: invalid requirement %r: %s" % (where, text, error))
            continue
        log("  %s: %s" % (where, text))


def check_requirements(tree):
    """The files pip will read, relative to the tree (none without a requirements.txt)."""
    path = os.path.join(tree, "requirements.txt")
    if not os.path.exists(path):
        log("No requirements.txt (only the Algorithmia client is installed)")
        return []
    seen = set()
    check_requirements_file(tree, os.path.abspath(path), seen)
    return sorted(rel(tree, p) for p in seen)


# --- sources ------------------------------------------------------------------------------------------------

SKIP_DIRS = {"__pycache__", "node_modules", "venv", "env", "site-packages"}


def python_files(tree):
    found = []
    for root, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS
                         and not os.path.exists(os.path.join(root, d, "pyvenv.cfg")))
        for name in sorted(files):
            if name.endswith(".py"):
                found.append(os.path.join(root, name))
    return found


def compile_sources(tree):
    trees = {}
    files = python_files(tree)
    if not files:
        log("No Python sources found")
    for path in files:
        name = rel(tree, path)
        log("Compiling %s" % name)
        try:
            with open(path, "rb") as f:
                source = f.read()
            code_tree = compile(source, name, "exec", ast.PyCF_ONLY_AST)
            compile(code_tree, name, "exec")
            trees[name] = code_tree
        except SyntaxError as e:
            detail = "%s:%s" % (name, e.lineno or "?")
            if e.offset:
                detail += ":%s" % e.offset
            text = (e.text or "").rstrip("\n")
            fail("%s: %s: %s%s" % (detail, type(e).__name__, e.msg,
                                  ("\n    " + text.strip()) if text.strip() else ""))
        except (ValueError, UnicodeDecodeError) as e:
            fail("%s: cannot compile: %s" % (name, e))
    return trees


def top_level_statements(body):
    """Module-level statements, looking into if/try/with blocks (definitions there are still module-level)."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody"):
            if isinstance(node, (ast.If, ast.Try, ast.With)) and getattr(node, field, None):
                for inner in top_level_statements(getattr(node, field)):
                    yield inner
        for handler in getattr(node, "handlers", []) or []:
            for inner in top_level_statements(handler.body):
                yield inner


def check_entry(tree, algo, trees):
    entry = "src/%s.py" % algo
    log("Checking entry point %s" % entry)
    if not os.path.isfile(os.path.join(tree, entry)):
        present = sorted(n for n in trees if n.startswith("src/"))
        fail("entry module %s not found (the algorithm is named %s; src/ has: %s)"
             % (entry, algo, ", ".join(present) or "nothing"))
        return
    module = trees.get(entry)
    if module is None:
        return  # its compile error is already reported
    found = None
    for node in top_level_statements(module.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "apply":
            found = node
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "apply" for t in node.targets):
            found = node
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name) \
                and node.target.id == "apply" and getattr(node, "value", None) is not None:
            found = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name.split(".")[0]) == "apply" for a in node.names):
            found = node
        elif isinstance(node, ast.ClassDef) and node.name == "apply":
            found = node
    if found is None:
        fail("%s does not define an apply(input) function at module level" % entry)
        return
    if isinstance(found, ast.AsyncFunctionDef):
        fail("%s:%d: apply must be a plain function, not async def" % (entry, found.lineno))
        return
    if isinstance(found, ast.FunctionDef):
        args = found.args
        positional = len(getattr(args, "posonlyargs", [])) + len(args.args)
        if positional == 0 and args.vararg is None:
            fail("%s:%d: apply must take the input as its first argument" % (entry, found.lineno))
            return
        log("  found apply(%s) at line %d" % (", ".join(a.arg for a in getattr(args, "posonlyargs", []) + args.args)
                                            or "*" + args.vararg.arg, found.lineno))
    elif isinstance(found, ast.Assign) and isinstance(found.value, ast.Lambda):
        log("  found apply = lambda at line %d" % found.lineno)
    else:
        log("  found apply (line %d; bound by %s, assumed callable)" % (found.lineno, type(found).__name__))


def check_imports(tree, trees):
    """Warns (never fails) about top-level imports found neither in the repository nor in this environment."""
    import importlib.util
    stdlib = getattr(sys, "stdlib_module_names", set()) | set(sys.builtin_module_names)
    local = set()
    for base in (tree, os.path.join(tree, "src")):
        if os.path.isdir(base):
            for entry in os.listdir(base):
                local.add(entry[:-3] if entry.endswith(".py") else entry)
    cache = {}
    for name, module in sorted(trees.items()):
        if not name.startswith("src/"):
            continue
        for node in ast.walk(module):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                targets = [node.module]
            else:
                continue
            for target in targets:
                top = target.split(".")[0]
                if top in stdlib or top in local:
                    continue
                if top not in cache:
                    try:
                        cache[top] = importlib.util.find_spec(top) is not None  # locates, never executes
                    except (ImportError, ValueError):
                        cache[top] = False
                if not cache[top]:
                    log("warning: %s:%d imports %s, which is neither in the repository nor in the algorithm's "
                        "environment; the algorithm will fail to load" % (name, node.lineno, top))


def run_checks(tree, algo, imports):
    """The checks of one build (see the top of this file): the JSON object this script prints."""
    del LOG[:], ERRORS[:]
    tree = os.path.abspath(tree)
    if imports:
        trees = compile_sources(tree)  # compiled again only to be read: its lines are the first run's
        del LOG[:], ERRORS[:]
        check_imports(tree, trees)
        return {"ok": True, "log": LOG, "reason": None, "requirement_files": []}
    log("Beginning build of %s (Python %d.%d.%d)" % ((algo,) + tuple(sys.version_info[:3])))
    files = []
    if not os.path.isdir(tree):
        fail("source tree %s not found" % tree)
    else:
        check_conf(tree, algo)
        files = check_requirements(tree)
        trees = compile_sources(tree)
        check_entry(tree, algo, trees)
    reason = None
    if ERRORS:
        first = ERRORS[0].split("\n")[0]
        reason = first if len(ERRORS) == 1 else "%s (and %d more problem%s)" % (
            first, len(ERRORS) - 1, "" if len(ERRORS) == 2 else "s")
        log("Build failed: %s" % reason)
    return {"ok": not ERRORS, "log": LOG, "reason": reason, "requirement_files": files}


def serve():
    import importlib
    import traceback
    for line in sys.stdin:
        request = json.loads(line)
        # An environment made again since the last request is looked at afresh.
        importlib.invalidate_caches()
        try:
            answer = run_checks(request["tree"], request["algo"], request.get("imports", False))
        except Exception:
            answer = {"crashed": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main():
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    answer = run_checks(sys.argv[1], sys.argv[2], "--imports" in sys.argv[3:])
    sys.stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
