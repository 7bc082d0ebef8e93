// ModelFile (docs/design.md §4): one model in a hosted data collection, uploaded from a local path, a FileAsset or a
// StringAsset. `check` hashes the content by streaming (so a preview shows a changed model), uploads stream from
// disk, and refresh notices a remote delete, or a change by the file's size and time, downloading only then.
//
// Content is immutable: each content is stored under a name of its own, `<name>` with the first 16 hex digits of
// its sha256 before the extension (`model.3f2a9c01d4e5b6a7.pkl`), and `dataUri` names the current one. A new
// model is a new file, and the files of earlier models stay, so a published version that names one in its
// manifest reads those bytes forever; content already there (a rollback) is never uploaded again. Deleting the
// resource (destroy, or a new name) deletes every content of its name; docs/resources.md says how to prune.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { zod } from "./zod";
import { cacheRoot } from "../../server/runtime/env-cache";
import { AlgorithmiaClient } from "../client";
import {
    CheckFailure,
    ConnectionArgs,
    MODULE,
    ProviderContext,
    ResourceController,
    UNKNOWN,
    connectionShape,
    containsUnknown,
    keepKeySecret,
    parseDataUri,
    secretKey,
} from "./dynamic";
import { providerStub } from "./stub";

// --- types ----------------------------------------------------------------------------------------------------

export interface ModelFileArgs extends ConnectionArgs {
    /** The collection's data URI, e.g. a DataCollection's `dataUri` (`data://owner/name`). */
    collection: pulumi.Input<string>;
    /** The file name inside the collection; the stored name adds the content's hash (see below). */
    name: pulumi.Input<string>;
    /**
     * The content: a local path, a `pulumi.asset.FileAsset` or a `pulumi.asset.StringAsset`. Compared by its sha256:
     * new bytes are a new file, unchanged bytes are never uploaded again.
     */
    source: pulumi.Input<string | pulumi.asset.FileAsset | pulumi.asset.StringAsset>;
    /** Overwrite a file at this content's name that holds other bytes (changed out of band) instead of failing. */
    adopt?: pulumi.Input<boolean>;
}

/** How the dynamic-provider host hands over an asset: its wire form, signature key included. */
interface WireAsset {
    path?: string;
    text?: string;
    uri?: string;
}

interface ModelFileInputs {
    collection: string;
    name: string;
    source: string | WireAsset;
    adopt: boolean;
    apiAddress?: string;
    apiKey?: string;
    /** Derived in `check` from the content. */
    sha256?: string;
    /** Derived with the sha256, in the same pass: what Algorithmia's ADK checks a model by (`fail_on_tamper`). */
    md5?: string;
    size?: number;
    /** Derived in `check`: the source file's identity when it was hashed (`fileStamp`); the same stamp, the same sha256. */
    sourceStamp?: string;
}

interface ModelFileOutputs {
    collection: string;
    name: string;
    adopt: boolean;
    apiAddress?: string;
    /** `data://owner/collection/<content name>`, with the real owner: where the current content is. */
    dataUri: string;
    sha256: string;
    md5?: string;
    size: number;
    /**
     * The file's `last_modified` as the server listed it once this content was there: refresh downloads the file
     * only when it or the size differ. Absent in state written before it was kept (refresh then adds it).
     */
    lastModified?: string;
}

// --- content --------------------------------------------------------------------------------------------------

/** A re-openable byte source: a file read from disk, or an asset's text. */
interface Content {
    describe: string;
    /** The file read, if it is one. */
    file?: string;
    size(): Promise<number>;
    /** The file's stamp (`fileStamp`); none for other content, or a file changed in the last moments. */
    stamp(): Promise<string | undefined>;
    /** The bytes, in chunks that may share buffers: each is valid until the one after the next is asked for. */
    open(): AsyncIterable<Buffer>;
}

/** Read size for model files: 1 MiB chunks upload faster than curl -T and hash faster than 64 KiB ones (npm run bench). */
const READ_CHUNK_BYTES = 1024 * 1024;

export function contentOf(source: string | WireAsset): Content {
    const file = typeof source === "string" ? source : source.path;
    if (file !== undefined) {
        return {
            describe: file,
            file,
            size: async () => (await fs.promises.stat(file)).size,
            stamp: () => fileStamp(file),
            open: () => readChunks(file),
        };
    }
    const text = Buffer.from((source as WireAsset).text ?? "", "utf8");
    return {
        describe: "a StringAsset",
        size: async () => text.length,
        stamp: async () => undefined,
        open: async function* () {
            yield text;
        },
    };
}

/**
 * A file's bytes in chunks of three buffers used in turn, so that reading a large file allocates nothing per chunk, the
 * next chunk is read while the caller works on this one, and the one before may still be on its way to the socket
 * (RequestSpec.body: a chunk is sent by the time the one after the next is asked for).
 */
async function* readChunks(file: string): AsyncGenerator<Buffer> {
    const handle = await fs.promises.open(file, "r");
    const buffers = [0, 1, 2].map(() => Buffer.allocUnsafeSlow(READ_CHUNK_BYTES));
    const read = (buffer: Buffer) => handle.read(buffer, 0, buffer.length, null);
    let next = read(buffers[0]);
    try {
        for (let turn = 1; ; turn = (turn + 1) % buffers.length) {
            const { buffer, bytesRead } = await next;
            if (bytesRead === 0) return;
            // Into the buffer of two chunks ago, which the caller no longer holds now that it asks for this one.
            next = read(buffers[turn]);
            yield buffer.subarray(0, bytesRead);
        }
    } finally {
        await next.catch(() => undefined);
        await handle.close();
    }
}

/** Files changed this recently may change again within the file system's clock grain unseen: they get no stamp. */
const RACY_MS = 2000;

/**
 * What changes whenever a file's bytes may have: its path, device, inode, size and modification and change times
 * (ns; the change time moves on every write, also when the modification time is set back). Undefined for a file
 * changed in the last RACY_MS, as git treats its index ("racily clean").
 */
export async function fileStamp(file: string): Promise<string | undefined> {
    const stat = await fs.promises.stat(file, { bigint: true });
    const changed = Math.max(Number(stat.mtimeMs), Number(stat.ctimeMs));
    if (Date.now() - changed < RACY_MS) return undefined;
    return [file, stat.dev, stat.ino, stat.size, stat.mtimeNs, stat.ctimeNs].join(":");
}

/** A file's hashes, with the stamp it had while they were taken. */
interface StampedHashes {
    file: string;
    stamp: string;
    sha256: string;
    md5: string;
    size: number;
}

/**
 * Where this machine keeps the last hashes of each model file (`rememberHashes`): in algorithmia-local's cache
 * directory (`cacheRoot`), one small file per path, so it holds no more entries than there are model paths.
 */
function hashesFile(file: string): string {
    return path.join(
        cacheRoot(),
        "model-hashes",
        `${crypto.createHash("sha256").update(file).digest("hex").slice(0, 32)}.json`,
    );
}

/**
 * The hashes this machine took of `file` while it had `stamp`. `pulumi up` checks twice, at its preview and again in
 * the update (each in a provider process of its own, before any state is written), so without them a changed model
 * was read twice before its upload. Only a hint: whatever cannot be read is no hint.
 */
async function rememberedHashes(file: string, stamp: string): Promise<StampedHashes | undefined> {
    try {
        const kept = JSON.parse(await fs.promises.readFile(hashesFile(file), "utf8")) as StampedHashes;
        return kept.stamp === stamp ? kept : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Keeps `hashes` for `rememberedHashes`, whole or not at all (a temporary file renamed over the last), and lets go
 * of those of files that are gone (moved models, temporary files).
 */
async function rememberHashes(hashes: StampedHashes): Promise<void> {
    const target = hashesFile(hashes.file);
    const dir = path.dirname(target);
    const temporary = `${target}.${process.pid}.${crypto.randomUUID()}`;
    try {
        await fs.promises.mkdir(dir, { recursive: true });
        await fs.promises.writeFile(temporary, JSON.stringify(hashes));
        await fs.promises.rename(temporary, target);
        for (const name of (await fs.promises.readdir(dir)).filter((n) => n.endsWith(".json"))) {
            const entry = path.join(dir, name);
            const file = await fs.promises
                .readFile(entry, "utf8")
                .then((text) => JSON.parse(text).file)
                .catch(() => undefined);
            if (typeof file !== "string" || !fs.existsSync(file)) await fs.promises.rm(entry, { force: true });
        }
    } catch {
        // A cache that cannot be written (read-only home, full disk) only costs the next check a read.
        await fs.promises.rm(temporary, { force: true });
    }
}

/**
 * sha256, md5 and size of a stream, reading it once (memory stays flat whatever the size). The md5 is for the ADK's
 * frozen manifest (which the Algorithm writes from a ModelFile's outputs) and costs more than the sha256 (about
 * 440 against 1000 MiB/s here; both 300 MiB/s), paid only when the content may have changed (`fileStamp`).
 */
export async function hashStream(
    stream: AsyncIterable<Buffer | Uint8Array>,
): Promise<{ sha256: string; md5: string; size: number }> {
    const sha256 = crypto.createHash("sha256");
    const md5 = crypto.createHash("md5");
    let size = 0;
    for await (const chunk of stream) {
        sha256.update(chunk);
        md5.update(chunk);
        size += chunk.length;
    }
    return { sha256: sha256.digest("hex"), md5: md5.digest("hex"), size };
}

/** A remote file's sha256 and size, by streaming its download. */
async function hashRemote(client: AlgorithmiaClient, owner: string, collection: string, name: string) {
    const body = await client.downloadFile(owner, collection, name);
    return hashStream(body).catch((err) => {
        // What fails midway (the link stalls) is the stream's error, which names no file.
        throw new Error(`Downloading data://${owner}/${collection}/${name} failed: ${err.message}`);
    });
}

/**
 * Uploads `content` by streaming it from its source, and answers the sha256 of what was sent, so the outputs describe
 * what is on the server even if the file changed since `check`. A file whose stamp is `checked.stamp` before and after
 * the upload holds the checked bytes (as `check` itself trusts a stamp), so they go unhashed and the answer is
 * `checked.sha256`; a stamp that moved meanwhile answers none. Anything else is hashed on its way out (hashing cost
 * a tenth of the throughput against a server that stores faster than a disk).
 */
export async function upload(
    client: AlgorithmiaClient,
    owner: string,
    collection: string,
    name: string,
    content: Content,
    checked?: { sha256: string; stamp?: string },
): Promise<{ dataUri: string; sha256?: string; size: number }> {
    const size = await content.size().catch((err) => {
        throw new Error(`Cannot read the model file ${content.describe}: ${err.message}`);
    });
    const trusted = checked?.stamp !== undefined && (await content.stamp()) === checked.stamp;
    let sent = { hash: crypto.createHash("sha256"), size: 0 };
    const open = () => {
        // A retry opens the source again and hashes afresh.
        const attempt = (sent = { hash: crypto.createHash("sha256"), size: 0 });
        return (async function* () {
            for await (const chunk of content.open()) {
                if (!trusted) attempt.hash.update(chunk);
                attempt.size += chunk.length;
                yield chunk;
            }
        })();
    };
    const dataUri = await client.putFile(owner, collection, name, open, size);
    if (!trusted) return { dataUri, sha256: sent.hash.digest("hex"), size: sent.size };
    return { dataUri, sha256: (await content.stamp()) === checked.stamp ? checked.sha256 : undefined, size: sent.size };
}

/** `name` as stem and extension (`model`, `.pkl`); a leading dot is no extension. */
function splitName(name: string): [string, string] {
    const dot = name.lastIndexOf(".");
    return dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
}

/** The name content with this sha256 is stored under: `name` with 16 hex digits of the hash before its extension. */
export function contentName(name: string, sha256: string): string {
    const [stem, extension] = splitName(name);
    return `${stem}.${sha256.slice(0, 16)}${extension}`;
}

/** Whether `filename` is a content of `name` (what `contentName` makes of it for some sha256). */
function isContentOf(filename: string, name: string): boolean {
    const [stem, extension] = splitName(name);
    const middle = filename.slice(stem.length + 1, filename.length - extension.length);
    return filename.startsWith(`${stem}.`) && filename.endsWith(extension) && /^[0-9a-f]{16}$/.test(middle);
}

/**
 * Makes the checked content (`inputs.sha256`, `inputs.size`) present under its content name and answers the
 * outputs. Content already there is kept: the name says what it holds (its size is checked). Other bytes there
 * are overwritten when they are this resource's own file (`current`, changed out of band) or with `adopt`.
 */
async function store(
    ctx: ProviderContext,
    owner: string,
    collection: string,
    inputs: ModelFileInputs,
    current?: string,
): Promise<ModelFileOutputs> {
    const client = ctx.client(inputs.apiAddress);
    const stored = contentName(inputs.name, inputs.sha256!);
    const existing = await client.statFile(owner, collection, stored);
    if (existing && existing.size === inputs.size) {
        const dataUri = `data://${owner === ".my" ? await ctx.whoami(client) : owner}/${collection}/${stored}`;
        return outputsOf(inputs, dataUri, inputs.size!, existing.last_modified);
    }
    if (existing && !inputs.adopt && stored !== current) {
        throw new Error(
            `File data://${owner}/${collection}/${stored} already exists with other content (${existing.size} bytes, ` +
                `not ${inputs.size}): it was changed out of band. Set \`adopt: true\` to overwrite it with this content`,
        );
    }
    const content = contentOf(inputs.source);
    const checked = { sha256: inputs.sha256!, stamp: inputs.sourceStamp };
    const sent = await upload(client, owner, collection, stored, content, checked);
    if (sent.sha256 !== inputs.sha256) {
        // The file changed after `check`: those bytes must not sit under another content's name.
        await client.deleteFile(owner, collection, stored).catch(() => undefined);
        const uploaded = sent.sha256 ? `${sent.sha256} uploaded` : "it changed during the upload";
        throw new Error(
            `The model file ${content.describe} changed while \`pulumi up\` ran (sha256 ${inputs.sha256} at preview, ` +
                `${uploaded}): nothing was kept; run \`pulumi up\` again`,
        );
    }
    const uploaded = await client.statFile(owner, collection, stored);
    return outputsOf(inputs, sent.dataUri, sent.size, uploaded?.last_modified);
}

// --- controller -----------------------------------------------------------------------------------------------

export const modelFileController: ResourceController<ModelFileInputs, ModelFileOutputs> = {
    schema: (z = zod()) =>
        z.object({
            collection: z
                .string()
                .regex(
                    /^data:\/\/[^/]+\/[a-zA-Z][a-zA-Z0-9_]*\/?$/,
                    "must be a collection's data URI like data://owner/collection",
                ),
            name: z
                .string()
                .min(1, "must not be empty")
                .regex(/^[^/\\]+$/, "must be a plain file name (collections hold no folders)")
                .refine((n) => n !== "." && n !== "..", "must be a plain file name"),
            source: z.union(
                [
                    z.string().min(1),
                    // An asset on the wire: the special signature key and value of Pulumi's asset encoding.
                    z.looseObject({
                        "4dabf18193072939515e22adb298388d": z.literal("c44067f5952c0a294b673a41bacd8c17"),
                        path: z.string(),
                    }),
                    z.looseObject({
                        "4dabf18193072939515e22adb298388d": z.literal("c44067f5952c0a294b673a41bacd8c17"),
                        text: z.string(),
                    }),
                ],
                { error: "must be a local file path, a pulumi.asset.FileAsset or a pulumi.asset.StringAsset" },
            ),
            adopt: z.boolean().default(false),
            ...connectionShape(),
        }),

    async prepare(inputs, olds) {
        // Hash here, not at upload: the preview then shows a changed model as an update.
        if (containsUnknown(inputs.source)) {
            return { inputs: { ...inputs, sha256: UNKNOWN, md5: UNKNOWN, size: UNKNOWN as any } };
        }
        const content = contentOf(inputs.source);
        try {
            // The old inputs hold the stamp and the hash taken with it.
            const before = await content.stamp();
            const kept = olds.sha256 && olds.md5 && olds.size !== undefined; // state from before the md5: hash again
            if (before !== undefined && before === olds.sourceStamp && kept) {
                const { sha256, md5, size } = olds;
                return { inputs: { ...inputs, sha256, md5, size, sourceStamp: before } };
            }
            const remembered = before !== undefined ? await rememberedHashes(content.file!, before) : undefined;
            if (remembered) {
                const { sha256, md5, size } = remembered;
                return { inputs: { ...inputs, sha256, md5, size, sourceStamp: before } };
            }
            const { sha256, md5, size } = await hashStream(content.open());
            // Changed while it was read: no stamp, so the next check hashes it again.
            const after = await content.stamp();
            if (before === undefined || before !== after) return { inputs: { ...inputs, sha256, md5, size } };
            await rememberHashes({ file: content.file!, stamp: before, sha256, md5, size });
            return { inputs: { ...inputs, sha256, md5, size, sourceStamp: before } };
        } catch (err: any) {
            const failure: CheckFailure = {
                property: "source",
                reason: `source: cannot read ${content.describe}: ${err.code ?? err.message}`,
            };
            return { inputs, failures: [failure] };
        }
    },

    async predict(inputs, _olds, ctx) {
        if (containsUnknown([inputs.collection, inputs.name, inputs.sha256])) return {};
        const { owner, collection } = parseDataUri(inputs.collection);
        const user = owner === ".my" ? await ctx.whoami(ctx.client(inputs.apiAddress)) : owner;
        return { dataUri: `data://${user}/${collection}/${contentName(inputs.name, inputs.sha256!)}` };
    },

    diff: {
        replaceKeys: ["collection", "name"],
        // The md5 goes with the sha256; compared too so that state from before it was kept gets it (no upload).
        updateKeys: ["sha256", "size", "md5", "adopt", "apiAddress"],
        comparedAs: { source: ["sha256", "size"] },
        normalize: (props) => ({
            ...props,
            collection: props.collection?.replace(/\/+$/, ""),
            adopt: props.adopt ?? false,
        }),
    },

    async create(ctx, inputs) {
        const { owner, collection } = parseDataUri(inputs.collection);
        const outs = await store(ctx, owner, collection, inputs);
        return { id: outs.dataUri, outs };
    },

    async read(ctx, _id, outs) {
        const client = ctx.client(outs.apiAddress);
        const { owner, collection, file } = parseDataUri(outs.dataUri);
        const remote = await client.statFile(owner, collection, file!);
        if (!remote) return undefined;
        const lastModified = remote.last_modified;
        // The same size and time: the same bytes, not downloaded. (State from before the time was kept: the same size.)
        const sameTime = outs.lastModified === undefined || lastModified === outs.lastModified;
        if (remote.size === outs.size && sameTime) return { ...outs, lastModified };
        // Changed out of band: learn what is there now, so the next `up` uploads ours again.
        return { ...outs, ...(await hashRemote(client, owner, collection, file!)), lastModified };
    },

    async update(ctx, _id, olds, news) {
        if (news.sha256 === olds.sha256 && news.size === olds.size) {
            return { ...olds, md5: news.md5, adopt: news.adopt, apiAddress: news.apiAddress };
        }
        // The old content stays where it is: a published version may read it.
        const { owner, collection, file } = parseDataUri(olds.dataUri);
        return store(ctx, owner, collection, news, file);
    },

    async delete(ctx, _id, outs) {
        // The current content and the earlier ones this resource kept for published versions.
        const client = ctx.client(outs.apiAddress);
        const { owner, collection, file } = parseDataUri(outs.dataUri);
        const names = new Set([file!]);
        for await (const stored of client.listFiles(owner, collection))
            if (isContentOf(stored.filename, outs.name)) names.add(stored.filename);
        for (const name of names) await client.deleteFile(owner, collection, name);
    },
};

/** The outputs once the checked content (its sha256 and md5, which the upload verified) is stored at `dataUri`. */
function outputsOf(inputs: ModelFileInputs, dataUri: string, size: number, lastModified?: string): ModelFileOutputs {
    const { collection, name, adopt, apiAddress, sha256, md5 } = inputs;
    return { collection, name, adopt, apiAddress, dataUri, sha256: sha256!, md5, size, lastModified };
}

// --- resource -------------------------------------------------------------------------------------------------

const modelFileProvider = providerStub("ModelFile");

/**
 * Local paths are made absolute in the program: the engine and the provider process may run in another
 * directory than the program.
 */
function absoluteSource(source: ModelFileArgs["source"]): ModelFileArgs["source"] {
    const resolve = (value: string | pulumi.asset.FileAsset | pulumi.asset.StringAsset) => {
        if (typeof value === "string") return path.resolve(value);
        if (value instanceof pulumi.asset.FileAsset)
            return new pulumi.asset.FileAsset(value.path.then((p) => path.resolve(p)));
        return value;
    };
    if (typeof source === "string" || source instanceof pulumi.asset.Asset) return resolve(source);
    return pulumi.Output.isInstance(source)
        ? source.apply((value) => resolve(value as any))
        : Promise.resolve(source).then(resolve);
}

/** A model file in a hosted data collection. */
export class ModelFile extends pulumi.dynamic.Resource {
    declare readonly collection: pulumi.Output<string>;
    declare readonly name: pulumi.Output<string>;
    /** The current content: `data://<owner>/<collection>/<stem>.<16 hex digits of the sha256><extension>`. */
    declare readonly dataUri: pulumi.Output<string>;
    /** The content's sha256 (hex). */
    declare readonly sha256: pulumi.Output<string>;
    /** The content's md5 (hex), for an Algorithm's `modelFiles` (the ADK checks a model by it). */
    declare readonly md5: pulumi.Output<string>;
    /** The content's size in bytes. */
    declare readonly size: pulumi.Output<number>;
    /** The file's `last_modified` in the server's listing (whole seconds): refresh downloads it only when this or the size changed. */
    declare readonly lastModified: pulumi.Output<string | undefined>;

    constructor(name: string, args: ModelFileArgs, opts?: pulumi.CustomResourceOptions) {
        const outputs = {
            dataUri: undefined,
            sha256: undefined,
            md5: undefined,
            size: undefined,
            lastModified: undefined,
        };
        const props = { ...args, ...secretKey(args), source: absoluteSource(args.source), ...outputs };
        super(modelFileProvider, name, props, keepKeySecret(opts), MODULE, "ModelFile");
    }
}
