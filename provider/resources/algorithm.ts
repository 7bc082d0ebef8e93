// Algorithm (docs/design.md §4): an algorithm with its details and settings, whose repository content is the `source`
// directory (plus `dependencies` and a model manifest, algorithmSource.ts), pushed by git as one deterministic
// commit and built. Outputs the built commit (`gitHash`) for an AlgorithmVersion to publish.
//
// Create = POST, push, wait for the build of that commit. Source, dependency or model change → push + build in
// place; details/settings change → PUT in place; name, owner or language change → replace. A failed build
// fails the step with the tail of its log and leaves the algorithm in state (as a resource that failed to
// initialise), so the next `up` retries it and converges once the source is fixed.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { zod } from "./zod";
import { AlgorithmiaClient, AlgorithmObject, BuildObject, BuildTimeoutError } from "../client";
import { treeSha256 } from "../client/git";
import { ModelBinding, sourceSha256, sourceTree } from "./algorithmSource";
import {
    CheckFailure,
    ConnectionArgs,
    connectionShape,
    containsUnknown,
    idParts,
    initError,
    isUnknown,
    keepKeySecret,
    MODULE,
    nameSchema,
    ProviderContext,
    ResourceController,
    sameValue,
    secretKey,
    UNKNOWN,
} from "./dynamic";
import { providerStub } from "./stub";

// --- types ----------------------------------------------------------------------------------------------------

/**
 * Legacy language ids (docs/api-reference.md §5); the environment model picks the runtime with packageSet/algorithmEnvironment.
 */
const LANGUAGES = [
    "python3-1",
    "python2-langpack",
    "python3",
    "java",
    "scala",
    "r",
    "javascript",
    "ruby",
    "rust",
] as const;
export type Language = (typeof LANGUAGES)[number];
export type License = "apl" | "apache2" | "gpl3" | "mit";

export interface AlgorithmDetails {
    /** Display name. */
    label: string;
    /** A longer description. */
    summary?: string;
    /** One line under the name. */
    tagline?: string;
}

/**
 * The runtime is one of three models (docs/api-reference.md §5): a legacy `language` with its machine `environment`,
 * an `algorithmEnvironment` id of the cluster (2020+), or a `packageSet` (2019). An environment or a package set
 * decides the language and the machine type, so `language` and `environment` are then left out.
 */
export interface AlgorithmSettings {
    /**
     * A legacy language id, e.g. `python3-1`; required unless `algorithmEnvironment` or `packageSet` chooses the
     * runtime. Another language is another algorithm under the same name (the old one is deleted first).
     */
    language?: Language;
    /** The machine type with `language` (`gpu` builds and runs on GPU workers); left out otherwise. */
    environment?: "cpu" | "gpu";
    /** `apl` (Algorithmia Platform License) is the only license that allows closed source. */
    license: License;
    /** `closed` needs the `apl` license. */
    sourceVisibility: "open" | "closed";
    /** `full`: may reach the internet at run time. */
    networkAccess: "full" | "isolated";
    /** May call other algorithms. */
    pipelineEnabled: boolean;
    /** A package set such as `python38`, instead of `language` and `environment`. */
    packageSet?: string;
    /**
     * An environment id of the cluster (ids differ per cluster), listed by
     * `GET /v1/algorithm-environments/edge/languages/<language>/environments`: instead of `language` and
     * `environment`. A change of runtime is a PUT and a new build of the same commit.
     */
    algorithmEnvironment?: string;
}

type InputsOf<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface AlgorithmArgs extends ConnectionArgs {
    /** Letters, digits and underscores, starting with a letter; the entry module is `src/<name>.py`. */
    name: pulumi.Input<string>;
    /** The user or organization owning it; defaults to the API key's own user. */
    owner?: pulumi.Input<string>;
    /** What the algorithm's page shows; a change is one PUT. */
    details: pulumi.Input<InputsOf<AlgorithmDetails>>;
    /** How it builds and runs; a change is one PUT (and a new build when the runtime changes). */
    settings: pulumi.Input<InputsOf<AlgorithmSettings>>;
    /**
     * A directory: its whole tree (except `.git`) is the algorithm's repository content. Compared by the final
     * tree's sha256: a change is a push and a build.
     */
    source: pulumi.Input<string>;
    /** Lines of requirements.txt, merged into the source's (a line for the same project replaces it): push + build. */
    dependencies?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Models bound into the tree (pass a ModelFile's `dataUri`, `sha256` and `md5`): written as model-manifest.json
     * and, when every model has its `md5`, as the ADK's frozen model_manifest.json and model_manifest.json.freeze
     * (the ADK's `ModelData` then refuses other bytes): push + build.
     */
    modelFiles?: pulumi.Input<Record<string, pulumi.Input<InputsOf<ModelBinding>>>>;
    /** How long to wait for a build, in seconds (a change is stored only). */
    buildTimeoutSeconds?: pulumi.Input<number>;
    /** Take over an algorithm that already exists instead of failing. */
    adopt?: pulumi.Input<boolean>;
    /** Refuse (at preview) unless the final tree hashes to this: deploy exactly a tree built elsewhere. */
    expectedSourceSha256?: pulumi.Input<string>;
}

interface AlgorithmInputs {
    name: string;
    owner?: string;
    details: AlgorithmDetails;
    settings: AlgorithmSettings;
    source: string;
    dependencies?: string[];
    modelFiles?: Record<string, ModelBinding>;
    buildTimeoutSeconds: number;
    adopt: boolean;
    expectedSourceSha256?: string;
    apiAddress?: string;
    apiKey?: string;
    /** Computed in `check` from the directory, so a preview shows a source change. */
    sourceSha256: string;
    /** Also derived in `check` when the owner is known, so a preview of a change knows which algorithm it is. */
    algoPath?: string;
}

interface AlgorithmOutputs extends AlgorithmInputs {
    owner: string;
    /** `owner/name`. */
    algoPath: string;
    /** The commit built for the current source. */
    gitHash: string;
    buildId: string;
    /** Where to call it: `<api>/v1/algo/owner/name`. */
    apiUrl: string;
}

// --- wire mapping ---------------------------------------------------------------------------------------------

/** Our setting names → the API's (§3.1.2). */
const WIRE_SETTINGS: Record<keyof AlgorithmSettings, string> = {
    language: "language",
    environment: "environment",
    license: "license",
    sourceVisibility: "source_visibility",
    networkAccess: "network_access",
    pipelineEnabled: "pipeline_enabled",
    packageSet: "package_set",
    algorithmEnvironment: "algorithm_environment",
};
const OPTIONAL_SETTINGS: (keyof AlgorithmSettings)[] = ["packageSet", "algorithmEnvironment"];

/** Whether the settings choose the runtime by environment or package set rather than by language. */
const byEnvironment = (settings: Partial<AlgorithmSettings> | undefined) =>
    settings?.algorithmEnvironment !== undefined || settings?.packageSet !== undefined;

/** What the build image depends on. */
const runtimeOf = (settings: AlgorithmSettings) => ({
    language: settings.language,
    environment: settings.environment,
    packageSet: settings.packageSet,
    algorithmEnvironment: settings.algorithmEnvironment,
});

export function settingsToWire(settings: AlgorithmSettings): Record<string, unknown> {
    const wire: Record<string, unknown> = {};
    for (const [ours, theirs] of Object.entries(WIRE_SETTINGS)) {
        const value = settings[ours as keyof AlgorithmSettings];
        if (value !== undefined) wire[theirs] = value;
    }
    return wire;
}

/**
 * The server's settings in our names, so a refresh shows only real drift. An environment-based algorithm reports
 * `package_set` and `algorithm_environment` and no language: of those two, the one the program did not set (an
 * environment id derived from a package set) keeps the old value; an algorithm moved to an environment out of
 * band shows its environment id instead of its old language.
 */
export function settingsFromWire(wire: Record<string, any>, olds: AlgorithmSettings): AlgorithmSettings {
    const settings: Record<string, unknown> = { ...olds };
    const wireByEnvironment = wire.algorithm_environment !== undefined || wire.package_set !== undefined;
    if (wireByEnvironment) {
        delete settings.language;
        delete settings.environment;
    }
    for (const [ours, theirs] of Object.entries(WIRE_SETTINGS) as [keyof AlgorithmSettings, string][]) {
        if (wire[theirs] === undefined) continue;
        const unset = OPTIONAL_SETTINGS.includes(ours) && olds[ours] === undefined;
        // Keep to the model the program used; a legacy program whose algorithm moved learns the environment id.
        if (unset && (byEnvironment(olds) || ours === "packageSet")) continue;
        settings[ours] = wire[theirs];
    }
    return settings as unknown as AlgorithmSettings;
}

/**
 * Empty and absent summary/tagline are the same thing (a PUT cannot remove a field, so we send ""). Absent keys
 * are left out rather than set to undefined, which the host cannot put in state.
 */
function normalizeDetails(details: AlgorithmDetails | undefined): AlgorithmDetails | undefined {
    if (!details) return details;
    return {
        label: details.label,
        ...(details.summary ? { summary: details.summary } : {}),
        ...(details.tagline ? { tagline: details.tagline } : {}),
    };
}

function detailsToWire(details: AlgorithmDetails): AlgorithmDetails {
    return { label: details.label, summary: details.summary ?? "", tagline: details.tagline ?? "" };
}

// --- schema ---------------------------------------------------------------------------------------------------

const SHA256 = /^[0-9a-f]{64}$/;
const DEFAULT_BUILD_TIMEOUT_SECONDS = 900;
/** A day: a longer build is stuck, not slow. */
const MAX_BUILD_TIMEOUT_SECONDS = 24 * 3600;

function algorithmSchema(z = zod()) {
    const settings = z
        .object({
            language: z.enum(LANGUAGES).optional(),
            environment: z.enum(["cpu", "gpu"]).optional(),
            license: z.enum(["apl", "apache2", "gpl3", "mit"]),
            sourceVisibility: z.enum(["open", "closed"]),
            networkAccess: z.enum(["full", "isolated"]),
            pipelineEnabled: z.boolean(),
            packageSet: z.string().min(1).optional(),
            algorithmEnvironment: z.string().uuid("must be an environment id (a UUID)").optional(),
        })
        .strict()
        .refine((s) => s.sourceVisibility !== "closed" || s.license === "apl", {
            path: ["license"],
            message:
                'closed source (sourceVisibility "closed") requires license "apl"; open-source licenses need sourceVisibility "open"',
        })
        .superRefine((s, ctx) => {
            // One runtime model (see AlgorithmSettings). A value not known yet counts as given.
            const fail = (key: string, message: string) => ctx.addIssue({ code: "custom", path: [key], message });
            if (s.algorithmEnvironment !== undefined && s.packageSet !== undefined) {
                fail("packageSet", "choose the runtime by algorithmEnvironment or by packageSet, not both");
            }
            const model =
                s.algorithmEnvironment !== undefined
                    ? "algorithmEnvironment"
                    : s.packageSet !== undefined
                      ? "packageSet"
                      : undefined;
            for (const key of ["language", "environment"] as const) {
                if (model && s[key] !== undefined)
                    fail(
                        key,
                        `leave it out when settings.${model} chooses the runtime: that decides the language and machine type`,
                    );
                if (!model && s[key] === undefined)
                    fail(
                        key,
                        "is required unless settings.algorithmEnvironment or settings.packageSet chooses the runtime",
                    );
            }
        });
    return z.object({
        name: nameSchema(64),
        owner: nameSchema().optional(),
        details: z
            .object({
                label: z.string().trim().min(1, "must not be empty"),
                summary: z.string().optional(),
                tagline: z.string().optional(),
            })
            .strict(),
        settings,
        source: z.string().min(1, "must name a directory"),
        dependencies: z
            .array(
                z
                    .string()
                    .trim()
                    .min(1, "must not be empty")
                    .regex(/^[^\n]*$/, "must be a single line"),
            )
            .optional(),
        modelFiles: z
            .record(
                z.string().regex(/^[A-Za-z0-9_.-]+$/, "model keys hold only letters, digits, '_', '.' and '-'"),
                z.object({
                    dataUri: z
                        .string()
                        .regex(/^data:\/\/[^/]+\/[^/]+\/.+/, "must be a data URI like data://owner/collection/file"),
                    sha256: z.string().regex(SHA256, "must be a sha256 (64 lowercase hex digits)"),
                    md5: z
                        .string()
                        .regex(/^[0-9a-f]{32}$/, "must be an md5 (32 lowercase hex digits)")
                        .optional(),
                }),
            )
            .optional(),
        buildTimeoutSeconds: z
            .number()
            .int("must be a whole number of seconds")
            .min(1, "must be at least 1 second")
            .max(MAX_BUILD_TIMEOUT_SECONDS, `must be at most ${MAX_BUILD_TIMEOUT_SECONDS} seconds (24 hours)`)
            .default(DEFAULT_BUILD_TIMEOUT_SECONDS),
        adopt: z.boolean().default(false),
        expectedSourceSha256: z.string().regex(SHA256, "must be a sha256 (64 lowercase hex digits)").optional(),
        ...connectionShape(),
        // Computed by `check`; tolerated on the way back in.
        sourceSha256: z.string().optional(),
    }) as unknown as z.ZodType<AlgorithmInputs>;
}

// --- controller -----------------------------------------------------------------------------------------------

const commitMessage = (sha256: string) => `pulumi-algorithmia: source ${sha256.slice(0, 12)}`;

/**
 * Pushes the final tree as master and waits for its build. Answers the commit and build; a failed build throws
 * an error that makes the engine keep `failed` (the outputs as they now are) in state.
 */
async function deploySource(
    client: AlgorithmiaClient,
    owner: string,
    inputs: AlgorithmInputs,
    failed: (outs: { gitHash: string; buildId: string; sourceSha256: string }, message: string) => Error,
    runtimeChanged = false,
): Promise<{ gitHash: string; buildId: string; sourceSha256: string }> {
    const entries = sourceTree(inputs);
    // The directory may have changed since `check`: what is pushed is what the outputs describe.
    const sha = await treeSha256(entries);
    const { commit, pushed } = await client.pushSource(owner, inputs.name, entries, commitMessage(sha));
    let build: BuildObject;
    try {
        // Master already held this tree: an earlier `up` pushed it, and a build of it that failed is built again; so is
        // one made for another runtime.
        const rebuild = pushed ? undefined : runtimeChanged ? "finished" : "failed";
        build = await client.waitForBuild(owner, inputs.name, commit, inputs.buildTimeoutSeconds * 1000, { rebuild });
    } catch (err) {
        if (!(err instanceof BuildTimeoutError)) throw err;
        // The push landed: keep the algorithm and its commit in state, so the next `up` waits for this build.
        const running = err.build ? `build ${err.build.build_id} is still in progress` : "no build of it has started";
        throw failed(
            { gitHash: commit, buildId: err.build?.build_id ?? "", sourceSha256: sha },
            `The build of ${owner}/${inputs.name} at ${commit} did not finish within buildTimeoutSeconds ` +
                `(${inputs.buildTimeoutSeconds}); ${running}. Raise buildTimeoutSeconds (at most ${MAX_BUILD_TIMEOUT_SECONDS}) ` +
                "and run `pulumi up` again: it waits for the build of this commit rather than starting another.",
        );
    }
    const result = { gitHash: commit, buildId: build.build_id, sourceSha256: sha };
    if (build.status !== "succeeded") {
        const tail = await client.buildLogTail(owner, inputs.name, build.build_id);
        throw failed(
            result,
            `The build of ${owner}/${inputs.name} at ${commit} failed (build ${build.build_id}). End of the build log:\n${tail}`,
        );
    }
    return result;
}

function outputsOf(
    client: AlgorithmiaClient,
    owner: string,
    inputs: AlgorithmInputs,
    source: { gitHash: string; buildId: string; sourceSha256: string },
): AlgorithmOutputs {
    return {
        ...inputs,
        ...source,
        owner,
        algoPath: `${owner}/${inputs.name}`,
        apiUrl: `${client.http.apiAddress}/v1/algo/${owner}/${inputs.name}`,
    };
}

/** Whether an existing algorithm is the leftover of an interrupted create of this very resource. */
async function isOurLeftover(
    client: AlgorithmiaClient,
    owner: string,
    existing: AlgorithmObject,
    inputs: AlgorithmInputs,
): Promise<boolean> {
    const sameDetails = sameValue(normalizeDetails(existing.details), normalizeDetails(inputs.details));
    const sameSettings = sameValue(settingsFromWire(existing.settings, inputs.settings), inputs.settings);
    if (!sameDetails || !sameSettings) return false;
    for await (const _published of client.listVersions(owner, inputs.name, { published: true })) return false;
    return true;
}

async function putDetailsAndSettings(client: AlgorithmiaClient, owner: string, inputs: AlgorithmInputs): Promise<void> {
    await client.updateAlgorithm(owner, inputs.name, {
        details: detailsToWire(inputs.details),
        settings: settingsToWire(inputs.settings),
    });
}

/** `owner/name` when the owner is known without creating anything: given, the one resolved before, or the key's user. */
async function algoPathOf(
    ctx: ProviderContext,
    inputs: AlgorithmInputs,
    olds: Partial<AlgorithmInputs>,
): Promise<string | undefined> {
    if (containsUnknown([inputs.name, inputs.owner, inputs.apiAddress])) return undefined;
    const resolvedBefore = olds.name === inputs.name ? olds.algoPath?.split("/")[0] : undefined;
    try {
        const owner = inputs.owner ?? resolvedBefore ?? (await ctx.whoami(ctx.client(inputs.apiAddress)));
        return `${owner}/${inputs.name}`;
    } catch {
        // Not reachable now: the path is known once created.
        return undefined;
    }
}

export const algorithmController: ResourceController<AlgorithmInputs, AlgorithmOutputs> = {
    schema: algorithmSchema,

    async prepare(inputs, olds, ctx) {
        const failures: CheckFailure[] = [];
        // An output not among the inputs is unknown in a preview, which would keep an AlgorithmVersion from checking
        // its rules against the published versions of this algorithm.
        const algoPath = await algoPathOf(ctx, inputs, olds);
        if (algoPath) inputs = { ...inputs, algoPath };
        // During a preview the tree may depend on values not known yet (a model's sha256): so is its hash.
        if (containsUnknown([inputs.source, inputs.dependencies, inputs.modelFiles]))
            return { inputs: { ...inputs, sourceSha256: UNKNOWN } };
        let sha: string | undefined;
        try {
            sha = await sourceSha256(inputs);
        } catch (err) {
            failures.push({ property: "source", reason: `source: ${(err as Error).message}` });
        }
        if (
            sha &&
            inputs.expectedSourceSha256 &&
            !isUnknown(inputs.expectedSourceSha256) &&
            sha !== inputs.expectedSourceSha256
        ) {
            failures.push({
                property: "expectedSourceSha256",
                reason:
                    `expectedSourceSha256: the source tree hashes to ${sha}, not the expected ${inputs.expectedSourceSha256}: ` +
                    "refusing to deploy a tree other than the one expected",
            });
        }
        return { inputs: { ...inputs, ...(sha ? { sourceSha256: sha } : {}) }, failures };
    },

    diff: {
        replaceKeys: ["name", "owner", "settings.language"],
        // A new language under the same name and owner: the old algorithm must go first to free the name.
        deleteBeforeReplace: (replaces) => !replaces.includes("name") && !replaces.includes("owner"),
        comparedAs: { source: ["sourceSha256"] },
        updateKeys: [
            "details",
            "settings",
            "sourceSha256",
            "dependencies",
            "modelFiles",
            "buildTimeoutSeconds",
            "adopt",
            "apiAddress",
        ],
        normalize: (props, olds) => {
            const { language, ...otherSettings } = props.settings ?? {};
            return {
                ...props,
                owner: props.owner ?? olds.owner,
                details: normalizeDetails(props.details),
                // The language needs a new algorithm, the other settings do not: compare them apart. Moving to an
                // environment is an update (the platform converts the algorithm; a wrong language is refused there).
                settings: otherSettings,
                "settings.language": byEnvironment(props.settings) ? olds.settings?.language : language,
                dependencies: props.dependencies?.length ? props.dependencies : undefined,
                modelFiles: props.modelFiles && Object.keys(props.modelFiles).length ? props.modelFiles : undefined,
                buildTimeoutSeconds: props.buildTimeoutSeconds ?? DEFAULT_BUILD_TIMEOUT_SECONDS,
                adopt: props.adopt ?? false,
            };
        },
    },

    async create(ctx, inputs) {
        const client = ctx.client(inputs.apiAddress);
        const owner = inputs.owner ?? (await ctx.whoami(client));
        const id = `${owner}/${inputs.name}`;
        const existing = await client.getAlgorithm(owner, inputs.name);
        if (existing) {
            if (!inputs.adopt && !(await isOurLeftover(client, owner, existing, inputs))) {
                throw new Error(
                    `Algorithm ${id} already exists: set \`adopt: true\` to manage it with this stack, or choose another name`,
                );
            }
            const language = existing.settings.language;
            // A legacy algorithm can move to an environment (the PUT below); nothing moves back to a language.
            const wanted = inputs.settings.language;
            if (wanted !== undefined && language !== wanted) {
                const has =
                    language !== undefined
                        ? `settings.language ${JSON.stringify(language)}`
                        : "its runtime chosen by an environment";
                throw new Error(
                    `Algorithm ${id} already exists with ${has}; it cannot be adopted as settings.language ` +
                        `${JSON.stringify(wanted)} (a language cannot change): choose its environment with settings.algorithmEnvironment, or another name`,
                );
            }
            await putDetailsAndSettings(client, owner, inputs);
        } else {
            await client.createAlgorithm(owner, {
                name: inputs.name,
                details: detailsToWire(inputs.details),
                settings: settingsToWire(inputs.settings),
            });
        }
        const source = await deploySource(client, owner, inputs, (partial, message) =>
            initError(id, outputsOf(client, owner, inputs, partial), inputs as any, message),
        );
        return { id, outs: outputsOf(client, owner, inputs, source) };
    },

    importable(id) {
        const [owner, name] = idParts(id, "owner/name");
        return { owner, name, algoPath: `${owner}/${name}`, buildTimeoutSeconds: 900, adopt: false };
    },

    async read(ctx, _id, outs) {
        const client = ctx.client(outs.apiAddress);
        const algo = await client.getAlgorithm(outs.owner, outs.name);
        if (!algo) return undefined;
        const onServer = await client.sourceOnServer(outs.owner, outs.name);
        const build = onServer && (await client.findBuild(outs.owner, outs.name, onServer.commit));
        return {
            ...outs,
            apiUrl: outs.apiUrl ?? `${client.http.apiAddress}/v1/algo/${outs.owner}/${outs.name}`, // an import has none
            details: normalizeDetails(algo.details)!,
            settings: settingsFromWire(algo.settings, outs.settings ?? {}),
            ...(onServer ? { gitHash: onServer.commit, sourceSha256: onServer.sha256 } : {}),
            buildId: build ? build.build_id : "",
        };
    },

    async update(ctx, id, olds, news) {
        const client = ctx.client(news.apiAddress);
        const owner = olds.owner;
        const inputs = { ...news, owner: news.owner ?? owner };
        const current = { details: normalizeDetails(olds.details), settings: olds.settings };
        if (!sameValue(current, { details: normalizeDetails(news.details), settings: news.settings })) {
            await putDetailsAndSettings(client, owner, inputs);
        }
        // Always: pushing an unchanged tree is a no-op, and a failed or missing build of it is retried here.
        const source = await deploySource(
            client,
            owner,
            inputs,
            (partial, message) => initError(id, outputsOf(client, owner, inputs, partial), news as any, message),
            !sameValue(runtimeOf(olds.settings), runtimeOf(news.settings)),
        );
        return outputsOf(client, owner, inputs, source);
    },

    async delete(ctx, _id, outs) {
        const client = ctx.client(outs.apiAddress);
        try {
            await client.deleteAlgorithm(outs.owner, outs.name);
        } catch (err) {
            if (!(await hasPublicVersion(client, outs.owner, outs.name).catch(() => false))) throw err;
            throw new Error(
                `Algorithm ${outs.owner}/${outs.name} cannot be deleted: ${(err as Error).message}. The platform keeps ` +
                    "algorithms that have a public version, since callers may depend on it. To leave it out of this stack " +
                    "and keep it, give the resource the option `retainOnDelete: true`, run `pulumi up`, then destroy again; " +
                    "a later deploy takes it over with `adopt: true`.",
                { cause: err },
            );
        }
    },
};

async function hasPublicVersion(client: AlgorithmiaClient, owner: string, name: string): Promise<boolean> {
    for await (const version of client.listVersions(owner, name, { published: true })) {
        if (version.settings.algorithm_callability === "public") return true;
    }
    return false;
}

// --- resource -------------------------------------------------------------------------------------------------

const algorithmProvider = providerStub("Algorithm");

/** An algorithm whose source is a local directory, pushed by git and built. */
export class Algorithm extends pulumi.dynamic.Resource {
    declare readonly name: pulumi.Output<string>;
    declare readonly owner: pulumi.Output<string>;
    declare readonly details: pulumi.Output<AlgorithmDetails>;
    declare readonly settings: pulumi.Output<AlgorithmSettings>;
    /** `owner/name`, e.g. for an AlgorithmVersion's `algorithm`. */
    declare readonly algoPath: pulumi.Output<string>;
    /** The commit built for the current source, e.g. for an AlgorithmVersion's `gitHash`. */
    declare readonly gitHash: pulumi.Output<string>;
    /** The build of `gitHash`. */
    declare readonly buildId: pulumi.Output<string>;
    /** The sha256 of the final tree (relative paths, modes and contents). */
    declare readonly sourceSha256: pulumi.Output<string>;
    /** Where to call it: `<api>/v1/algo/<owner>/<name>`. */
    declare readonly apiUrl: pulumi.Output<string>;

    constructor(name: string, args: AlgorithmArgs, opts?: pulumi.CustomResourceOptions) {
        const props = {
            ...args,
            ...secretKey(args),
            owner: args.owner,
            // The program's working directory is not the provider's: pass an absolute path.
            source: pulumi.output(args.source).apply((dir) => path.resolve(dir)),
            algoPath: undefined,
            gitHash: undefined,
            buildId: undefined,
            sourceSha256: undefined,
            apiUrl: undefined,
        };
        super(algorithmProvider, name, props, keepKeySecret(opts), MODULE, "Algorithm");
    }
}
