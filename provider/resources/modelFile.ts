// ModelFile (design.md §4): one file in a hosted data collection, uploaded from a local path, a FileAsset or a
// StringAsset. `check` hashes the content by streaming (so a preview shows a changed model), uploads stream from
// disk, unchanged content is never uploaded again, and refresh notices a remote delete or size change.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Readable, Transform, pipeline } from "stream";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { AlgorithmiaClient } from "../client";
import {
    CheckFailure, ConnectionArgs, MODULE, ResourceController, UNKNOWN, connectionShape, containsUnknown, dynamicProvider, parseDataUri,
} from "./dynamic";

// --- types ----------------------------------------------------------------------------------------------------

export interface ModelFileArgs extends ConnectionArgs {
    /** The collection's data URI, e.g. a DataCollection's `dataUri` (`data://owner/name`). */
    collection: pulumi.Input<string>;
    /** The file name inside the collection. */
    name: pulumi.Input<string>;
    /** The content: a local path, a `pulumi.asset.FileAsset` or a `pulumi.asset.StringAsset`. */
    source: pulumi.Input<string | pulumi.asset.FileAsset | pulumi.asset.StringAsset>;
    /** Take over a file that already exists with other content (it is overwritten) instead of failing. */
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
    /** Derived in `check` from the content. */
    sha256?: string;
    size?: number;
}

interface ModelFileOutputs {
    collection: string;
    name: string;
    adopt: boolean;
    apiAddress?: string;
    /** `data://owner/collection/name`, with the real owner. */
    dataUri: string;
    sha256: string;
    size: number;
}

// --- content --------------------------------------------------------------------------------------------------

/** A re-openable byte source: a file read from disk, or an asset's text. */
interface Content {
    describe: string;
    size(): Promise<number>;
    open(): Readable;
}

/** Read size for model files: 1 MiB chunks upload faster than curl -T and hash faster than 64 KiB ones (npm run bench). */
const READ_CHUNK_BYTES = 1024 * 1024;

export function contentOf(source: string | WireAsset): Content {
    const file = typeof source === "string" ? source : source.path;
    if (file !== undefined) {
        return { describe: file, size: async () => (await fs.promises.stat(file)).size, open: () => fs.createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }) };
    }
    const text = Buffer.from((source as WireAsset).text ?? "", "utf8");
    return { describe: "a StringAsset", size: async () => text.length, open: () => Readable.from([text]) };
}

/** sha256 and size of a stream, reading it once (memory stays flat whatever the size). */
export async function hashStream(stream: AsyncIterable<Buffer | Uint8Array>): Promise<{ sha256: string; size: number }> {
    const hash = crypto.createHash("sha256");
    let size = 0;
    for await (const chunk of stream) {
        hash.update(chunk);
        size += chunk.length;
    }
    return { sha256: hash.digest("hex"), size };
}

/** A remote file's sha256 and size, by streaming its download. */
async function hashRemote(client: AlgorithmiaClient, owner: string, collection: string, name: string) {
    const body = await client.downloadFile(owner, collection, name);
    return hashStream(Readable.fromWeb(body as any));
}

/**
 * Uploads `content` by streaming it from its source, hashing the bytes on their way out, so the outputs
 * describe what was actually sent even if the file changed since `check`.
 */
export async function upload(client: AlgorithmiaClient, owner: string, collection: string, name: string, content: Content) {
    const size = await content.size().catch((err) => {
        throw new Error(`Cannot read the model file ${content.describe}: ${err.message}`);
    });
    let sent = { hash: crypto.createHash("sha256"), size: 0 };
    const open = () => {
        // A retry opens the source again and hashes afresh.
        const attempt = (sent = { hash: crypto.createHash("sha256"), size: 0 });
        const hashing = new Transform({
            transform(chunk: Buffer, _encoding, done) {
                attempt.hash.update(chunk);
                attempt.size += chunk.length;
                done(null, chunk);
            },
        });
        return pipeline(content.open(), hashing, () => undefined);
    };
    const dataUri = await client.putFile(owner, collection, name, open, size);
    return { dataUri, sha256: sent.hash.digest("hex"), size: sent.size };
}

// --- controller -----------------------------------------------------------------------------------------------

const modelFileController: ResourceController<ModelFileInputs, ModelFileOutputs> = {
    schema: () =>
        z.object({
            collection: z
                .string()
                .regex(/^data:\/\/[^/]+\/[a-zA-Z][a-zA-Z0-9_]*\/?$/, "must be a collection's data URI like data://owner/collection"),
            name: z
                .string()
                .min(1, "must not be empty")
                .regex(/^[^/\\]+$/, "must be a plain file name (collections hold no folders)")
                .refine((n) => n !== "." && n !== "..", "must be a plain file name"),
            source: z.union(
                [
                    z.string().min(1),
                    // An asset on the wire: the special signature key and value of Pulumi's asset encoding (written
                    // out, not computed keys, which closure serialization would not follow).
                    z.looseObject({ "4dabf18193072939515e22adb298388d": z.literal("c44067f5952c0a294b673a41bacd8c17"), path: z.string() }),
                    z.looseObject({ "4dabf18193072939515e22adb298388d": z.literal("c44067f5952c0a294b673a41bacd8c17"), text: z.string() }),
                ],
                { error: "must be a local file path, a pulumi.asset.FileAsset or a pulumi.asset.StringAsset" },
            ),
            adopt: z.boolean().default(false),
            ...connectionShape(),
        }),

    async prepare(inputs) {
        // Hash here, not at upload: the preview then shows a changed model as an update.
        if (containsUnknown(inputs.source)) return { inputs: { ...inputs, sha256: UNKNOWN, size: UNKNOWN as any } };
        const content = contentOf(inputs.source);
        try {
            const { sha256, size } = await hashStream(content.open());
            return { inputs: { ...inputs, sha256, size } };
        } catch (err: any) {
            const failure: CheckFailure = { property: "source", reason: `source: cannot read ${content.describe}: ${err.code ?? err.message}` };
            return { inputs, failures: [failure] };
        }
    },

    diff: {
        replaceKeys: ["collection", "name"],
        updateKeys: ["sha256", "size", "adopt", "apiAddress"],
        normalize: (props) => ({ ...props, collection: props.collection?.replace(/\/+$/, ""), adopt: props.adopt ?? false }),
    },

    async create(ctx, inputs) {
        const client = ctx.client(inputs.apiAddress);
        const { owner, collection } = parseDataUri(inputs.collection);
        const existing = await client.statFile(owner, collection, inputs.name);
        if (existing) {
            // A file already there with exactly our content is what an interrupted earlier `up` leaves: keep it.
            const same = existing.size === inputs.size && (await hashRemote(client, owner, collection, inputs.name)).sha256 === inputs.sha256;
            if (same) {
                const dataUri = `data://${owner === ".my" ? await ctx.whoami(client) : owner}/${collection}/${inputs.name}`;
                return { id: dataUri, outs: outputsOf(inputs, dataUri, inputs.sha256!, inputs.size!) };
            }
            if (!inputs.adopt) {
                throw new Error(
                    `File ${inputs.collection.replace(/\/+$/, "")}/${inputs.name} already exists with other content: ` +
                        "set `adopt: true` to take it over (it will be overwritten), or choose another name",
                );
            }
        }
        const sent = await upload(client, owner, collection, inputs.name, contentOf(inputs.source));
        return { id: sent.dataUri, outs: outputsOf(inputs, sent.dataUri, sent.sha256, sent.size) };
    },

    async read(ctx, _id, outs) {
        const client = ctx.client(outs.apiAddress);
        const { owner, collection, file } = parseDataUri(outs.dataUri);
        const remote = await client.statFile(owner, collection, file!);
        if (!remote) return undefined;
        if (remote.size === outs.size) return outs;
        // Changed out of band: learn what is there now, so the next `up` uploads ours again.
        return { ...outs, ...(await hashRemote(client, owner, collection, file!)) };
    },

    async update(ctx, _id, olds, news) {
        if (news.sha256 === olds.sha256 && news.size === olds.size) {
            return { ...olds, adopt: news.adopt, apiAddress: news.apiAddress };
        }
        const { owner, collection, file } = parseDataUri(olds.dataUri);
        const sent = await upload(ctx.client(news.apiAddress), owner, collection, file!, contentOf(news.source));
        return outputsOf(news, olds.dataUri, sent.sha256, sent.size);
    },

    async delete(ctx, _id, outs) {
        const { owner, collection, file } = parseDataUri(outs.dataUri);
        await ctx.client(outs.apiAddress).deleteFile(owner, collection, file!);
    },
};

function outputsOf(inputs: ModelFileInputs, dataUri: string, sha256: string, size: number): ModelFileOutputs {
    const { collection, name, adopt, apiAddress } = inputs;
    return { collection, name, adopt, apiAddress, dataUri, sha256, size };
}

// --- resource -------------------------------------------------------------------------------------------------

const modelFileProvider = dynamicProvider(modelFileController);

/**
 * Local paths are made absolute in the program: the engine and the provider process may run in another
 * directory than the program.
 */
function absoluteSource(source: ModelFileArgs["source"]): ModelFileArgs["source"] {
    const resolve = (value: string | pulumi.asset.FileAsset | pulumi.asset.StringAsset) => {
        if (typeof value === "string") return path.resolve(value);
        if (value instanceof pulumi.asset.FileAsset) return new pulumi.asset.FileAsset(value.path.then((p) => path.resolve(p)));
        return value;
    };
    if (typeof source === "string" || source instanceof pulumi.asset.Asset) return resolve(source);
    return pulumi.Output.isInstance(source) ? source.apply((value) => resolve(value as any)) : Promise.resolve(source).then(resolve);
}

/** A model file in a hosted data collection. */
export class ModelFile extends pulumi.dynamic.Resource {
    declare readonly collection: pulumi.Output<string>;
    declare readonly name: pulumi.Output<string>;
    /** `data://owner/collection/name`. */
    declare readonly dataUri: pulumi.Output<string>;
    /** The content's sha256 (hex). */
    declare readonly sha256: pulumi.Output<string>;
    /** The content's size in bytes. */
    declare readonly size: pulumi.Output<number>;

    constructor(name: string, args: ModelFileArgs, opts?: pulumi.CustomResourceOptions) {
        const { collection, name: fileName, adopt, apiAddress } = args;
        const props = { collection, name: fileName, source: absoluteSource(args.source), adopt, apiAddress, dataUri: undefined, sha256: undefined, size: undefined };
        super(modelFileProvider, name, props, opts, MODULE, "ModelFile");
    }
}
