// `algorithmia-local --port P --data-dir D --user NAME:KEY[:PERMISSIONS] [--user ...] [--org ORG:USER,USER] [--faults SPEC]`
import { parseArgs } from "util";
import { DEFAULT_USER, GENERATED_KEY_FILE, ServerUser, startServer } from "./index";
import { gpuDevices, visibleGpus } from "./runtime/workers";

const usage = `usage: algorithmia-local [--port P] [--host H] [--data-dir D] [--user NAME:KEY[:PERMISSIONS]]... [--org ORG:USER[,USER]]...
                        [--faults SPEC] [--log] [--legacy-git-hash-publish] [--workers-per-version N]
                        [--queue-per-version N] [--max-workers N] [--worker-idle-seconds S] [--gpus LIST]
  --port      port to listen on (default 8080; 0 picks a free one)
  --data-dir  where state is kept (default ./.algorithmia-local); it survives restarts
  --user      an API user and its key; repeatable. Without one, user "${DEFAULT_USER}" gets a generated key.
              The key has every permission, unless PERMISSIONS narrows it: a JSON object of the API's key
              permissions, e.g. '{"allow_algo_management":false,"algo_acl":["algo://alice/*"]}' (what it leaves out
              is granted), or "admin" for an admin key, which serves the organization routes only
  --org       an organization and its members (existing --user names); repeatable
  --faults    fault injection, e.g. "POST /v1/algorithms/*=error:0.1,latency:200ms" (see server/faults.ts)
  --legacy-git-hash-publish
              refuse a publish whose version_info.git_hash is not the latest successful build (older dev-center
              payloads); by default, as on Algorithmia, a publish takes the latest successful build
  --workers-per-version  warm workers per algorithm version, i.e. its calls that run in parallel (default 1)
  --queue-per-version    calls per version that may wait for a worker (default 100); more answer 429 with Retry-After
  --max-workers          live workers in all (default 16): idle ones of other versions stop to make room
  --worker-idle-seconds  an idle worker stops after this long (default 600)
  --gpus                 the GPUs that GPU algorithms see: indices or UUIDs, as in CUDA_VISIBLE_DEVICES, or "none"
                         (default: all that nvidia-smi -L lists, less those the server's CUDA_VISIBLE_DEVICES hides)`;

function pair(value: string, option: string): [string, string] {
    const at = value.indexOf(":");
    if (at <= 0 || at === value.length - 1) throw new Error(`${option} takes NAME:VALUE, got "${value}"`);
    return [value.slice(0, at), value.slice(at + 1)];
}

/** NAME:KEY[:PERMISSIONS] (API keys hold no colon). */
function user(value: string): ServerUser {
    const [name, rest] = pair(value, "--user");
    const at = rest.indexOf(":");
    if (at < 0) return { name, key: rest };
    const [key, permissions] = [rest.slice(0, at), rest.slice(at + 1)];
    if (permissions === "admin") return { name, key, admin: true };
    try {
        return { name, key, permissions: JSON.parse(permissions) };
    } catch {
        throw new Error(
            `--user ${name}: PERMISSIONS must be a JSON object or "admin", got ${JSON.stringify(permissions)}`,
        );
    }
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            port: { type: "string", default: "8080" },
            host: { type: "string", default: "127.0.0.1" },
            "data-dir": { type: "string", default: ".algorithmia-local" },
            user: { type: "string", multiple: true, default: [] },
            org: { type: "string", multiple: true, default: [] },
            faults: { type: "string" },
            log: { type: "boolean", default: false },
            "legacy-git-hash-publish": { type: "boolean", default: false },
            "workers-per-version": { type: "string" },
            "queue-per-version": { type: "string" },
            "max-workers": { type: "string" },
            "worker-idle-seconds": { type: "string" },
            gpus: { type: "string" },
            help: { type: "boolean", default: false },
        },
    });
    if (values.help) {
        console.log(usage);
        return;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`--port must be 0-65535, got ${values.port}`);
    const count = (option: string, min: number) => {
        const raw = values[option as keyof typeof values] as string | undefined;
        if (raw === undefined) return undefined;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < min)
            throw new Error(`--${option} must be a whole number of at least ${min}, got "${raw}"`);
        return n;
    };

    const gpus =
        values.gpus === undefined ? gpuDevices() : visibleGpus(gpuDevices(), values.gpus === "none" ? "" : values.gpus);
    if (values.gpus && values.gpus !== "none" && !gpus.length)
        throw new Error(`--gpus ${values.gpus}: no such GPU here`);
    const server = await startServer({
        port,
        host: values.host,
        dataDir: values["data-dir"]!,
        users: values.user!.map(user),
        orgs: values
            .org!.map((o) => pair(o, "--org"))
            .map(([name, members]) => ({ name, members: members.split(",") })),
        faults: values.faults,
        log: values.log,
        legacyGitHashPublish: values["legacy-git-hash-publish"],
        workers: {
            maxWorkersPerKey: count("workers-per-version", 1),
            maxQueuePerKey: count("queue-per-version", 0),
            maxWorkers: count("max-workers", 1),
            idleTimeoutSeconds: count("worker-idle-seconds", 1),
            gpus,
        },
    });
    if (!values.user!.length) {
        const [user] = server.users;
        console.log(`user ${user.name}, API key ${user.key} (kept in ${values["data-dir"]}/${GENERATED_KEY_FILE})`);
    }
    // On stderr: stdout carries only the lines scripts read (the generated key, the listening address).
    console.error(
        gpus.length
            ? `algorithmia-local: GPU algorithms run on ${gpus.map((gpu) => `${gpu.name} (${gpu.uuid || `GPU ${gpu.index}`})`).join(", ")}`
            : "algorithmia-local: no NVIDIA GPU found (nvidia-smi -L): GPU algorithms run on CPU",
    );
    console.log(`algorithmia-local listening on ${server.url}`);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => void server.close().then(() => process.exit(0)));
    }
}

main().catch((err) => {
    console.error(`algorithmia-local: ${err.message}\n${usage}`);
    process.exit(2);
});
