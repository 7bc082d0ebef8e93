// A warm worker for one version of one JavaScript algorithm (driven by server/runtime/workers.ts), speaking the
// protocol of python-worker.py (see there: JSON lines, requests on fd 3, replies on fd 4, per-call capture files).
//
// Usage: node node-worker.js <treeDir> <entryFile> <captureDir>      (NODE_PATH: the build's node_modules)
//
// It follows the platform's JavaScript langpack runner: the entry (src/<algoname>.js) is require()d ONCE, then
// each call goes to the module's exports.apply(input, cb) with a Node callback cb(err, result). Only the first
// call of cb counts; a throw from apply is the call's error; a value or Promise that apply returns is ignored,
// as the runner ignores it (a call whose cb never comes runs into its timeout, as there). An error (anything
// truthy passed as err) answers error_type AlgorithmError, whatever it carries, with String(err) as message and,
// for an Error, its stack. Input: text -> string, json -> the parsed value, binary -> Buffer; results: a Buffer
// -> binary, a string -> text, anything else -> json (undefined as null; JSON.stringify's failures are errors).
// An exception thrown asynchronously, or an unhandled rejection, ends the process as it ends the runner's: the
// pool answers that call with the exit and the worker's stderr, and the next call starts a fresh worker.
//
// Output: during the import and each call, process.stdout/stderr writes (console.log and all) go to
// <captureDir>/<capture>.out, read back into "stdout" and removed; output of subprocesses is not captured.
"use strict";
const fs = require("fs");
const Module = require("module");
const net = require("net");
const path = require("path");

const REQUESTS_FD = 3;
const REPLIES_FD = 4;

async function main() {
    const [tree, entry, captureDir] = process.argv.slice(2);
    const replies = new net.Socket({ fd: REPLIES_FD, readable: false, writable: true });
    const send = (message) => replies.write(JSON.stringify(message) + "\n");
    watchParent();
    process.chdir(tree);
    confineResolution(tree, process.env.NODE_PATH);

    const started = process.hrtime.bigint();
    let algorithm;
    let stdout;
    try {
        if (process.env.ALGORITHMIA_LOCAL_ISOLATED === "1")
            await startApiRelay(process.env.ALGORITHMIA_LOCAL_API_SOCKET);
        delete process.env.ALGORITHMIA_LOCAL_API_SOCKET;
        const stop = capture(captureDir, "init");
        try {
            algorithm = require(path.resolve(tree, entry));
        } finally {
            stdout = stop();
        }
        if (typeof algorithm?.apply !== "function")
            throw new TypeError(`${entry} does not export a function apply(input, cb)`);
    } catch (err) {
        const error = { message: String(err), stacktrace: userStack(err), error_type: "InitializationError" };
        replies.end(JSON.stringify({ type: "init_error", error, stdout: stdout ?? "" }) + "\n", () => process.exit(0));
        return;
    }
    send({ type: "ready", pid: process.pid, node: process.version, load_seconds: seconds(started), stdout });

    const queue = [];
    let busy = false;
    const next = () => {
        if (busy || !queue.length) return;
        busy = true;
        serve(algorithm, JSON.parse(queue.shift()), captureDir, (reply) => {
            send(reply);
            busy = false;
            setImmediate(next); // not inside the algorithm's own stack when its cb ran synchronously
        });
    };
    const requests = new net.Socket({ fd: REQUESTS_FD, readable: true, writable: false });
    let partial = "";
    requests.on("data", (chunk) => {
        const lines = (partial + chunk.toString("utf8")).split("\n");
        partial = lines.pop();
        queue.push(...lines.filter((line) => line.trim()));
        next();
    });
    requests.on("end", () => process.exit(0));
}

/** One call: apply(input, cb), answered once through `done` with the reply message. */
function serve(algorithm, request, captureDir, done) {
    const begun = process.hrtime.bigint();
    const stop = capture(captureDir, String(request.capture || "call").replace(/[^\w-]/g, "") || "call");
    let answered = false;
    const cb = (err, result) => {
        if (answered) return; // only the first call of cb counts, as in the runner
        answered = true;
        const stdout = stop();
        let reply;
        try {
            reply = err ? { type: "error", error: describe(err) } : { type: "result", ...encode(result) };
        } catch (encodeError) {
            reply = { type: "error", error: describe(encodeError) };
        }
        done({ id: request.id, ...reply, stdout, duration: seconds(begun) });
    };
    try {
        algorithm.apply(decode(request), cb); // looked up per call, as the runner does
    } catch (err) {
        cb(err || new Error(String(err)));
    }
}

function decode(request) {
    const { content_type: type, data } = request;
    if (type === "text") return data;
    if (type === "json") return request.json_text ? JSON.parse(data) : data;
    if (type === "binary") return Buffer.from(data, "base64");
    throw new Error(`unsupported content type ${JSON.stringify(type)}`);
}

function encode(result) {
    if (Buffer.isBuffer(result)) return { content_type: "binary", result: result.toString("base64") };
    if (typeof result === "string") return { content_type: "text", result };
    let text;
    try {
        text = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
        throw new Error(`Cannot json encode result of type: ${typeof result} (${err.message})`, { cause: err });
    }
    return { content_type: "json", result_json: text ?? "null" }; // as text, so node passes it on verbatim
}

function describe(err) {
    let message;
    try {
        message = String(err);
    } catch {
        message = Object.prototype.toString.call(err);
    }
    return { message, stacktrace: err instanceof Error ? userStack(err) : "", error_type: "AlgorithmError" };
}

/** The stack without this worker's and Node's internal frames: only what the algorithm's author wrote. */
function userStack(err) {
    const stack = err instanceof Error && typeof err.stack === "string" ? err.stack : "";
    return stack
        .split("\n")
        .filter((line) => !/^\s+at /.test(line) || !(line.includes(__filename) || /[( ]node:/.test(line)))
        .join("\n");
}

/**
 * Packages resolve as on the platform, where the algorithm's directory and what its build installed are all there
 * is: from node_modules inside the tree or inside the environment (whose node_modules is NODE_PATH), never from
 * a node_modules above the tree, such as the project that holds the server's data directory.
 */
function confineResolution(tree, nodeModules) {
    const roots = [tree, ...(nodeModules ? [path.dirname(nodeModules)] : [])].map(
        (dir) => path.resolve(dir) + path.sep,
    );
    const lookup = Module._nodeModulePaths;
    Module._nodeModulePaths = (from) => lookup(from).filter((dir) => roots.some((root) => dir.startsWith(root)));
}

/** Points process.stdout/stderr writes at <dir>/<name>.out; the returned function restores them and answers the text. */
function capture(dir, name) {
    const file = path.join(dir, `${name}.out`);
    const fd = fs.openSync(file, "w", 0o600);
    const saved = [process.stdout.write, process.stderr.write];
    const write = (chunk, encoding, callback) => {
        fs.writeSync(
            fd,
            typeof chunk === "string" ? Buffer.from(chunk, typeof encoding === "string" ? encoding : "utf8") : chunk,
        );
        const done = typeof encoding === "function" ? encoding : callback;
        if (done) process.nextTick(done);
        return true;
    };
    process.stdout.write = process.stderr.write = write;
    return () => {
        [process.stdout.write, process.stderr.write] = saved;
        fs.closeSync(fd);
        const text = fs.readFileSync(file, "utf8");
        fs.rmSync(file, { force: true });
        return text;
    };
}

/**
 * In a network namespace of its own (network_access "isolated", where workers.ts has brought up lo): relays
 * 127.0.0.1:<port> to the platform API's Unix socket, so ALGORITHMIA_API keeps working.
 */
async function startApiRelay(socketPath) {
    if (!socketPath) return;
    const relay = net.createServer((client) => {
        const upstream = net.connect(socketPath);
        for (const [from, to] of [
            [client, upstream],
            [upstream, client],
        ]) {
            from.pipe(to);
            from.on("error", () => to.destroy());
        }
    });
    await new Promise((resolve, reject) => relay.once("error", reject).listen(0, "127.0.0.1", resolve));
    relay.unref();
    process.env.ALGORITHMIA_API = `http://127.0.0.1:${relay.address().port}`;
}

/** Exit when the node process that started this worker is gone (even mid-call). */
function watchParent() {
    const parent = process.ppid;
    setInterval(() => {
        if (process.ppid !== parent) process.exit(0);
    }, 1000).unref();
}

function seconds(since) {
    return Number(process.hrtime.bigint() - since) / 1e9;
}

main();
