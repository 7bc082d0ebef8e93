// AlgorithmSecret (docs/design.md §4): one secret of an algorithm, which its code reads as an environment variable.
// The value is a secret input: encrypted in state (input and output), never logged, never in an error; the API
// never returns it, so refresh sees a secret deleted or renamed out of band but not a value changed there. A new
// value is a PUT of the same secret (rotation in place); another key or algorithm is another secret.
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { zod } from "./zod";
import { AlgorithmiaApiError, AlgorithmiaClient, SecretFields } from "../client";
import {
    ConnectionArgs,
    MODULE,
    ResourceController,
    connectionShape,
    containsUnknown,
    idParts,
    keepKeySecret,
    secretKey,
} from "./dynamic";
import { providerStub } from "./stub";

// --- types ----------------------------------------------------------------------------------------------------

export interface AlgorithmSecretArgs extends ConnectionArgs {
    /** The algorithm, `owner/name`, e.g. an Algorithm's `algoPath`. */
    algorithm: pulumi.Input<string>;
    /** The environment variable the algorithm reads the value from (one secret per key and algorithm). */
    key: pulumi.Input<string>;
    /**
     * The value, kept secret: encrypted in state, never shown in logs or errors. A change rotates it in place; running
     * algorithms see it within a minute on Algorithmia (new workers on algorithmia-local).
     */
    value: pulumi.Input<string>;
    /** Its name on the algorithm's page (default: the key). */
    shortName?: pulumi.Input<string>;
    /** What it is for. */
    description?: pulumi.Input<string>;
    /** Take over a secret of this key that already exists (setting its value) instead of failing. */
    adopt?: pulumi.Input<boolean>;
}

interface AlgorithmSecretInputs {
    algorithm: string;
    key: string;
    value: string;
    shortName?: string;
    description?: string;
    adopt: boolean;
    apiAddress?: string;
    apiKey?: string;
    /**
     * The id of the algorithm named `algorithm`, looked up in `check` (when it exists): an algorithm replaced under
     * the same name is another algorithm, without this secret, so the secret is replaced too.
     */
    algorithmId?: string;
}

interface AlgorithmSecretOutputs extends AlgorithmSecretInputs {
    /** The algorithm's id, by which the API addresses its secrets. */
    algorithmId: string;
    secretId: string;
}

// --- controller -----------------------------------------------------------------------------------------------

/** The description an empty one is sent as: the API requires one, and the official Python client sends a space. */
const NO_DESCRIPTION = " ";

const wireFields = (inputs: AlgorithmSecretInputs): SecretFields => ({
    short_name: inputs.shortName ?? inputs.key,
    description: inputs.description || NO_DESCRIPTION,
    secret_key: inputs.key,
    secret_value: inputs.value,
});

async function algorithmIdOf(client: AlgorithmiaClient, algorithm: string): Promise<string> {
    const [owner, name] = algorithm.split("/");
    const found = await client.getAlgorithm(owner, name);
    if (!found) throw new Error(`AlgorithmSecret: algorithm ${algorithm} does not exist`);
    return found.id;
}

async function createSecret(client: AlgorithmiaClient, inputs: AlgorithmSecretInputs) {
    const algorithmId = await algorithmIdOf(client, inputs.algorithm);
    const existing = (await client.listSecrets(algorithmId))?.find((s) => s.secret_key === inputs.key);
    if (existing && !inputs.adopt) {
        throw new Error(
            `Algorithm ${inputs.algorithm} already has a secret ${inputs.key}: set \`adopt: true\` to manage it ` +
                "with this stack (its value is replaced), or choose another key",
        );
    }
    const secret = existing
        ? await client.updateSecret(algorithmId, existing.id, wireFields(inputs))
        : await client.createSecret(algorithmId, wireFields(inputs), await client.defaultSecretProvider());
    return { id: `${inputs.algorithm}/${inputs.key}`, outs: { ...inputs, algorithmId, secretId: secret.id } };
}

export const algorithmSecretController: ResourceController<AlgorithmSecretInputs, AlgorithmSecretOutputs> = {
    schema: (z = zod()) =>
        z.object({
            algorithm: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*\/[A-Za-z][A-Za-z0-9_]*$/, "must be owner/name"),
            key: z
                .string()
                .regex(
                    /^[A-Za-z_][A-Za-z0-9_]*$/,
                    "must be an environment variable name (letters, digits and '_', not starting with a digit)",
                ),
            value: z.string().min(1, "must not be empty"),
            shortName: z.string().trim().min(1, "must not be empty").optional(),
            description: z.string().optional(),
            adopt: z.boolean().default(false),
            ...connectionShape(),
        }) as unknown as z.ZodType<AlgorithmSecretInputs>,

    async prepare(inputs, _olds, ctx) {
        // In an `up` this runs once the algorithm's own step is done, so it sees the algorithm that will hold the
        // secret; in a preview, the one there now.
        if (containsUnknown(inputs.algorithm)) return { inputs };
        const [owner, name] = inputs.algorithm.split("/");
        const found = await ctx.client(inputs.apiAddress).getAlgorithm(owner, name);
        return { inputs: { ...inputs, ...(found ? { algorithmId: found.id } : {}) } };
    },

    diff: {
        replaceKeys: ["algorithm", "key", "algorithmId"],
        updateKeys: ["value", "shortName", "description", "apiAddress"],
        normalize: (props) => ({
            ...props,
            shortName: props.shortName ?? props.key,
            description: props.description?.trim() ? props.description : undefined,
        }),
    },

    async create(ctx, inputs) {
        return createSecret(ctx.client(inputs.apiAddress), inputs);
    },

    importable(id) {
        const [owner, name, key] = idParts(id, "owner/name/KEY");
        return { algorithm: `${owner}/${name}`, key, adopt: false };
    },

    async read(ctx, _id, outs) {
        const client = ctx.client(outs.apiAddress);
        // An import knows the algorithm and the key only; the value stays unknown (the API never returns it).
        const algorithmId = outs.algorithmId ?? (await algorithmIdOf(client, outs.algorithm).catch(() => undefined));
        const secrets = algorithmId ? await client.listSecrets(algorithmId) : undefined;
        const secret = secrets?.find((s) => (outs.secretId ? s.id === outs.secretId : s.secret_key === outs.key));
        if (!secret) return undefined;
        return {
            ...outs,
            algorithmId: algorithmId!,
            secretId: secret.id,
            key: secret.secret_key,
            shortName: secret.short_name,
            description: secret.description.trim() ? secret.description : undefined,
        };
    },

    async update(ctx, _id, olds, news) {
        const client = ctx.client(news.apiAddress);
        try {
            await client.updateSecret(olds.algorithmId, olds.secretId, wireFields(news));
            return { ...news, algorithmId: olds.algorithmId, secretId: olds.secretId };
        } catch (err) {
            // Deleted out of band since the last refresh: made again, as the program says it should be.
            if (!(err instanceof AlgorithmiaApiError && err.status === 404)) throw err;
            return (await createSecret(client, news)).outs;
        }
    },

    async delete(ctx, _id, outs) {
        // Already gone (also with its algorithm) is done.
        await ctx.client(outs.apiAddress).deleteSecret(outs.algorithmId, outs.secretId);
    },
};

// --- resource -------------------------------------------------------------------------------------------------

const algorithmSecretProvider = providerStub("AlgorithmSecret");

/** Outputs kept secret besides the key (schema.json marks the same inputs secret). */
export const SECRET_OUTPUTS = ["value"];

/** A secret of an algorithm, exposed to its code as the environment variable `key`. */
export class AlgorithmSecret extends pulumi.dynamic.Resource {
    declare readonly algorithm: pulumi.Output<string>;
    declare readonly key: pulumi.Output<string>;
    /** The value, as a secret output. */
    declare readonly value: pulumi.Output<string>;
    /** The algorithm's id, by which the API addresses its secrets. */
    declare readonly algorithmId: pulumi.Output<string>;
    /** The secret's id on the server. */
    declare readonly secretId: pulumi.Output<string>;

    constructor(name: string, args: AlgorithmSecretArgs, opts?: pulumi.CustomResourceOptions) {
        const props = {
            ...args,
            ...secretKey(args),
            value: pulumi.secret(args.value),
            algorithmId: undefined,
            secretId: undefined,
        };
        const secretOpts = keepKeySecret(opts);
        super(
            algorithmSecretProvider,
            name,
            props,
            {
                ...secretOpts,
                additionalSecretOutputs: [...(secretOpts.additionalSecretOutputs ?? []), ...SECRET_OUTPUTS],
            },
            MODULE,
            "AlgorithmSecret",
        );
    }
}
