// DataCollection (docs/design.md §4): a hosted data collection `data://owner/name` with its read ACL.
// Name/owner change → replace; ACL change → PATCH in place; a non-empty collection is only deleted with
// `forceDestroy`; `adopt` takes over an existing collection, and an empty one with the requested ACL is taken
// over without it (the leftover of a create whose POST landed but whose state was never written).
import * as pulumi from "@pulumi/pulumi";
import { zod } from "./zod";
import { AlgorithmiaApiError, Listing, ReadAcl, aclFromWire } from "../client";
import {
    ConnectionArgs,
    MODULE,
    ResourceController,
    connectionShape,
    containsUnknown,
    idParts,
    keepKeySecret,
    nameSchema,
    secretKey,
} from "./dynamic";
import { providerStub } from "./stub";

// --- types ----------------------------------------------------------------------------------------------------

export interface DataCollectionArgs extends ConnectionArgs {
    /** The collection's name (letters, digits, underscores; starts with a letter; at most 30 characters). */
    name: pulumi.Input<string>;
    /** The user or organization owning it; defaults to the API key's own user. */
    owner?: pulumi.Input<string>;
    /**
     * Who may read it: `private`, only the owner (and the algorithms the owner calls); `myAlgorithms`, the owner's
     * algorithms whoever calls them (what a hosted model needs); `public`, any user. A change is a PATCH of the ACL.
     */
    readAcl?: pulumi.Input<ReadAcl>;
    /** Delete the collection with its files on destroy or replace; without it deleting a non-empty one fails. */
    forceDestroy?: pulumi.Input<boolean>;
    /** Take over a collection that already exists instead of failing (read at create only). */
    adopt?: pulumi.Input<boolean>;
}

interface DataCollectionInputs {
    name: string;
    owner?: string;
    readAcl: ReadAcl;
    forceDestroy: boolean;
    adopt: boolean;
    apiAddress?: string;
    apiKey?: string;
}

interface DataCollectionOutputs extends DataCollectionInputs {
    owner: string;
    /** `data://owner/name`. */
    dataUri: string;
}

// --- controller -----------------------------------------------------------------------------------------------

const dataUriOf = (owner: string, name: string) => `data://${owner}/${name}`;

const created = (owner: string, inputs: DataCollectionInputs) => ({
    id: `${owner}/${inputs.name}`,
    outs: { ...inputs, owner, dataUri: dataUriOf(owner, inputs.name) },
});

/**
 * Whether an existing collection may be the leftover of an interrupted create of this resource (the POST landed,
 * the engine never recorded it): empty, with the requested ACL. Anything else may be someone's data: adopt only.
 */
function isOurLeftover(existing: Listing, inputs: DataCollectionInputs): boolean {
    const empty = existing.files.length === 0 && existing.folders.length === 0 && !existing.marker;
    return empty && aclFromWire(existing.acl?.read) === inputs.readAcl;
}

export const dataCollectionController: ResourceController<DataCollectionInputs, DataCollectionOutputs> = {
    schema: (z = zod()) =>
        z.object({
            name: nameSchema(),
            owner: nameSchema().optional(),
            readAcl: z.enum(["private", "myAlgorithms", "public"]).default("myAlgorithms"),
            forceDestroy: z.boolean().default(false),
            adopt: z.boolean().default(false),
            ...connectionShape(),
        }),

    diff: {
        replaceKeys: ["owner", "name"],
        updateKeys: ["readAcl", "forceDestroy", "adopt", "apiAddress"],
        normalize: (props, olds) => ({
            ...props,
            // An omitted owner means "where it already is" (the key's user when it was created), so no diff has to
            // ask the API who the key belongs to; naming another owner moves (replaces) it.
            owner: props.owner ?? olds.owner,
            readAcl: props.readAcl ?? "myAlgorithms",
            forceDestroy: props.forceDestroy ?? false,
            adopt: props.adopt ?? false,
        }),
    },

    async predict(inputs, olds, ctx) {
        if (containsUnknown([inputs.name, inputs.owner])) return {};
        // Where it already is while neither name nor owner changes (no lookup), else under the owner or the key's user.
        if (olds.dataUri && olds.name === inputs.name && olds.owner === inputs.owner) return { dataUri: olds.dataUri };
        return { dataUri: dataUriOf(inputs.owner ?? (await ctx.whoami(ctx.client(inputs.apiAddress))), inputs.name) };
    },

    async create(ctx, inputs) {
        const client = ctx.client(inputs.apiAddress);
        const target = inputs.owner ?? ".my";
        const adopted = inputs.adopt ? await client.getCollection(target, inputs.name) : undefined;
        if (adopted) {
            const owner = inputs.owner ?? (await ctx.whoami(client));
            if (aclFromWire(adopted.acl?.read) !== inputs.readAcl)
                await client.setCollectionAcl(owner, inputs.name, inputs.readAcl);
            return created(owner, inputs);
        }
        try {
            return created(await client.createCollection(target, inputs.name, inputs.readAcl), inputs);
        } catch (err) {
            const existing =
                err instanceof AlgorithmiaApiError && (err.status === 409 || err.status === 400)
                    ? await client.getCollection(target, inputs.name)
                    : undefined;
            if (!existing) throw err;
            if (!isOurLeftover(existing, inputs)) {
                throw new Error(
                    `Data collection ${dataUriOf(inputs.owner ?? "<your user>", inputs.name)} already exists: ` +
                        "set `adopt: true` to manage it with this stack, or choose another name",
                    { cause: err },
                );
            }
            const owner = inputs.owner ?? (await ctx.whoami(client));
            pulumi.log.info(
                `Data collection ${dataUriOf(owner, inputs.name)} already exists, empty and with readAcl ` +
                    `"${inputs.readAcl}": taking it over as the leftover of an interrupted create`,
            );
            return created(owner, inputs);
        }
    },

    importable(id) {
        const [owner, name] = idParts(id, "owner/name");
        return { owner, name, forceDestroy: false, adopt: false, dataUri: dataUriOf(owner, name) };
    },

    async read(ctx, _id, outs) {
        const listing = await ctx.client(outs.apiAddress).getCollection(outs.owner, outs.name);
        if (!listing) return undefined;
        return { ...outs, readAcl: aclFromWire(listing.acl?.read) };
    },

    async update(ctx, _id, olds, news) {
        const owner = olds.owner;
        if (news.readAcl !== olds.readAcl)
            await ctx.client(news.apiAddress).setCollectionAcl(owner, olds.name, news.readAcl);
        return { ...olds, ...news, owner, dataUri: dataUriOf(owner, olds.name) };
    },

    async delete(ctx, _id, outs) {
        const client = ctx.client(outs.apiAddress);
        if (!outs.forceDestroy) {
            const listing = await client.getCollection(outs.owner, outs.name);
            if (!listing) return; // already gone
            // The first page came with the listing; only a longer collection needs the rest counted.
            let count = listing.files.length;
            if (listing.marker) {
                count = 0;
                // eslint-disable-next-line @typescript-eslint/no-unused-vars -- only counted
                for await (const _file of client.listFiles(outs.owner, outs.name)) count++;
            }
            if (count > 0) {
                throw new Error(
                    `Data collection ${outs.dataUri} still holds ${count} file${count === 1 ? "" : "s"}: ` +
                        "set `forceDestroy: true` to delete it with its files, or remove them first",
                );
            }
        }
        await client.deleteCollection(outs.owner, outs.name, outs.forceDestroy);
    },
};

// --- resource -------------------------------------------------------------------------------------------------

const dataCollectionProvider = providerStub("DataCollection");

/** A hosted data collection, `data://owner/name`. */
export class DataCollection extends pulumi.dynamic.Resource {
    declare readonly name: pulumi.Output<string>;
    /** The owner it was created under (the key's user when `owner` was left out). */
    declare readonly owner: pulumi.Output<string>;
    /** As read from the server by the last refresh. */
    declare readonly readAcl: pulumi.Output<ReadAcl>;
    declare readonly forceDestroy: pulumi.Output<boolean>;
    /** `data://owner/name`, e.g. for a ModelFile's `collection`. */
    declare readonly dataUri: pulumi.Output<string>;

    constructor(name: string, args: DataCollectionArgs, opts?: pulumi.CustomResourceOptions) {
        // Every output must be named here, even when its input is omitted, to be an output of the resource.
        const props = {
            ...args,
            ...secretKey(args),
            owner: args.owner,
            readAcl: args.readAcl,
            forceDestroy: args.forceDestroy,
            dataUri: undefined,
        };
        super(dataCollectionProvider, name, props, keepKeySecret(opts), MODULE, "DataCollection");
    }
}
