// AlgorithmVersion (docs/design.md §4): publishes exactly one build (`gitHash`) of an algorithm as a semantic version,
// after running the program's tests against that build's hash version.
//
// Published versions are immutable: every input change is a replacement (create before delete) that publishes a
// new version, and delete only says that the version stays published. Publishing works as on Algorithmia, where
// only the latest successful build can be published and no request field chooses it: the provider makes a build of
// `gitHash` the latest (compiling it again when another build is newer or that one is published already), runs the
// tests against it, checks that it is still the latest, publishes, and verifies that the new version is that build.
// It never publishes twice: a version of `gitHash` published by an earlier attempt with the same settings is adopted,
// so an `up` interrupted after the server published converges on the next run.
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { zod } from "./zod";
import { AlgorithmiaClient, AlgorithmObject, BuildObject } from "../client";
import type { AlgorithmSettings } from "./algorithm";
import {
    CheckFailure,
    ConnectionArgs,
    MODULE,
    ResourceController,
    connectionShape,
    containsUnknown,
    isUnknown,
    keepKeySecret,
    sameValue,
    secretKey,
} from "./dynamic";
import { providerStub } from "./stub";

// --- types ----------------------------------------------------------------------------------------------------

export type VersionType = "major" | "minor" | "revision";
export type Callability = "public" | "private";

/** The algorithm settings a version carries and only a major version may change (its permissions). */
export type VersionPermissions = Pick<
    AlgorithmSettings,
    "sourceVisibility" | "license" | "networkAccess" | "pipelineEnabled"
>;

/** A call made against the build before publishing; `expect` compares the result, `expectError` wants a failure. */
export type AlgorithmTest =
    { name?: string; input: unknown; expect?: unknown } | { name?: string; input: unknown; expectError: true };

export interface AlgorithmVersionArgs extends ConnectionArgs {
    /** `owner/name`, e.g. an Algorithm's `algoPath`. */
    algorithm: pulumi.Input<string>;
    /** The build to publish, e.g. an Algorithm's `gitHash`; it must be the algorithm's latest successful build. */
    gitHash: pulumi.Input<string>;
    /** Which part of the semantic version the next publish raises; the versioning rules say which a change needs. */
    versionType: pulumi.Input<VersionType>;
    /** Who may call the version. */
    callability: pulumi.Input<Callability>;
    /** Per-call royalty, in microcredits. */
    royaltyMicrocredits?: pulumi.Input<number>;
    /** Published with the version. */
    releaseNotes?: pulumi.Input<string>;
    /** Shown to users; JSON values are sent as their JSON text. */
    sampleInput?: pulumi.Input<unknown>;
    /**
     * Run against the build before publishing, each `{name?, input, expect?}` or `{name?, input, expectError: true}`;
     * a failing test refuses to publish.
     */
    tests?: pulumi.Input<pulumi.Input<AlgorithmTest>[]>;
    /** Take over the version already published from `gitHash` even if its callability or royalty differ. */
    adopt?: pulumi.Input<boolean>;
    /**
     * The algorithm's settings (pass the Algorithm's `settings`): a version publishes them, so a change of its
     * permissions publishes a new version, and the preview checks the publish rules against the settings this `up`
     * gives the algorithm. Without it the rules are checked against the algorithm's settings on the server. Only
     * `sourceVisibility`, `license`, `networkAccess` and `pipelineEnabled` are kept.
     */
    algorithmSettings?: pulumi.Input<pulumi.Input<VersionPermissions> | AlgorithmSettings>;
}

interface AlgorithmVersionInputs {
    algorithm: string;
    gitHash: string;
    versionType: VersionType;
    callability: Callability;
    royaltyMicrocredits: number;
    releaseNotes?: string;
    sampleInput?: unknown;
    tests?: AlgorithmTest[];
    adopt: boolean;
    algorithmSettings?: VersionPermissions;
    apiAddress?: string;
    apiKey?: string;
}

interface AlgorithmVersionOutputs extends AlgorithmVersionInputs {
    /** `x.y.z`. */
    version: string;
    /** `owner/name/x.y.z`. */
    algoUri: string;
    /** How many of `tests` passed (all of them, or there would be no version). */
    testsPassed: number;
}

// --- schema ---------------------------------------------------------------------------------------------------

function versionSchema(z = zod()) {
    const testCase = z.union([
        z.object({ name: z.string().optional(), input: z.unknown(), expectError: z.literal(true) }).strict(),
        z.object({ name: z.string().optional(), input: z.unknown(), expect: z.unknown().optional() }).strict(),
    ]);
    return z.object({
        algorithm: z
            .string()
            .regex(
                /^[A-Za-z][A-Za-z0-9_]*\/[A-Za-z][A-Za-z0-9_]*$/,
                "must be owner/name, e.g. an Algorithm's algoPath",
            ),
        gitHash: z
            .string()
            .regex(
                /^[0-9a-f]{40}$/,
                "must be a full git commit sha (40 lowercase hex digits), e.g. an Algorithm's gitHash",
            ),
        versionType: z.enum(["major", "minor", "revision"]),
        callability: z.enum(["public", "private"]),
        royaltyMicrocredits: z.number().int().min(0).default(0),
        releaseNotes: z.string().optional(),
        sampleInput: z.unknown().optional(),
        tests: z.array(testCase).optional(),
        adopt: z.boolean().default(false),
        // Not strict: an Algorithm's whole `settings` may be passed; only the permissions are kept.
        algorithmSettings: z
            .object({
                sourceVisibility: z.enum(["open", "closed"]),
                license: z.enum(["apl", "apache2", "gpl3", "mit"]),
                networkAccess: z.enum(["full", "isolated"]),
                pipelineEnabled: z.boolean(),
            })
            .optional(),
        ...connectionShape(),
    }) as unknown as z.ZodType<AlgorithmVersionInputs>;
}

// --- controller -----------------------------------------------------------------------------------------------

// Another build (or algorithm, or cluster) is another resource. Any other change publishes a new version of the same
// build in place: versions are immutable, so it cannot change the one published, and delete would only drop it
// from the stack anyway. Only `adopt` changes nothing on the server.
const REPLACE_KEYS = ["algorithm", "gitHash", "apiAddress"];
const PUBLISH_KEYS = [
    "versionType",
    "callability",
    "royaltyMicrocredits",
    "releaseNotes",
    "sampleInput",
    "tests",
    "algorithmSettings",
];

// --- publish rules --------------------------------------------------------------------------------------------

/** Our name of each permission the API keeps in a version's settings. */
const PERMISSIONS: [keyof VersionPermissions, string][] = [
    ["sourceVisibility", "source_visibility"],
    ["license", "license"],
    ["networkAccess", "network_access"],
    ["pipelineEnabled", "pipeline_enabled"],
];

/** A version's or an algorithm's permissions in our names, from the API's settings. */
function permissionsOf(wire: Record<string, any> | undefined): VersionPermissions {
    return Object.fromEntries(
        PERMISSIONS.map(([ours, theirs]) => [ours, wire?.[theirs]]),
    ) as unknown as VersionPermissions;
}

/** Only the permissions of what was passed (an Algorithm's whole settings, or nothing). */
function pickPermissions(settings: VersionPermissions | undefined): VersionPermissions | undefined {
    return settings && !isUnknown(settings)
        ? (Object.fromEntries(PERMISSIONS.map(([ours]) => [ours, settings[ours]])) as unknown as VersionPermissions)
        : settings;
}

/** What a publish is compared on with the newest published version. */
export interface PublishTerms {
    callability: Callability;
    royaltyMicrocredits: number;
    permissions: VersionPermissions;
}

/**
 * The platform's versioning rules (docs/api-reference.md §6.4): a revision keeps the price and the permissions, a minor
 * version may change the price but not start charging, and only a major version changes callability or a
 * permission. Each failure names `versionType` (what to change to publish) and the setting that differs. Values
 * not known yet (a preview) are left out.
 */
export function publishRuleFailures(
    versionType: VersionType,
    previous: PublishTerms & { version: string },
    next: PublishTerms,
    permissionsFrom = "algorithmSettings",
): CheckFailure[] {
    if (versionType === "major" || isUnknown(versionType)) return [];
    const changed = (before: unknown, after: unknown) => !isUnknown(after) && after !== undefined && before !== after;
    const since = `since version ${previous.version}`;
    const reasons: string[] = [];
    if (changed(previous.callability, next.callability)) {
        reasons.push(
            `changing callability from ${previous.callability} to ${next.callability} (${since}) needs versionType "major"`,
        );
    }
    for (const [key] of isUnknown(next.permissions) ? [] : PERMISSIONS) {
        if (changed(previous.permissions[key], next.permissions?.[key])) {
            reasons.push(
                `${permissionsFrom}.${key} changes from ${JSON.stringify(previous.permissions[key])} to ` +
                    `${JSON.stringify(next.permissions[key])} (${since}): a permission change needs versionType "major"`,
            );
        }
    }
    const [before, after] = [previous.royaltyMicrocredits, next.royaltyMicrocredits];
    if (changed(before, after)) {
        if (before === 0)
            reasons.push(
                `royaltyMicrocredits: a free algorithm starts charging (0 to ${after}, ${since}): that needs versionType "major"`,
            );
        else if (versionType === "revision") {
            reasons.push(
                `royaltyMicrocredits changes from ${before} to ${after} (${since}): a price change needs versionType "minor" or "major"`,
            );
        }
    }
    return reasons.map((reason) => ({
        property: "versionType",
        reason: `versionType: ${reason}, not "${versionType}"`,
    }));
}

/** The terms a publish of `inputs` carries, with the algorithm's `permissions` at that moment. */
function termsFor(inputs: AlgorithmVersionInputs, permissions: VersionPermissions): PublishTerms {
    return { callability: inputs.callability, royaltyMicrocredits: inputs.royaltyMicrocredits, permissions };
}

/** The terms of a published version, as the API reports them. */
function termsOf(version: AlgorithmObject): PublishTerms & { version: string } {
    return {
        callability: callabilityOf(version) ?? "private",
        royaltyMicrocredits: royaltyOf(version),
        permissions: permissionsOf(version.settings),
        version: version.version_info?.semantic_version ?? "?",
    };
}

/**
 * The newest published version and the permissions the next publish would carry: the program's `algorithmSettings`,
 * else the algorithm's settings on the server. Undefined when the algorithm does not exist or has no version.
 */
async function publishContext(client: AlgorithmiaClient, inputs: AlgorithmVersionInputs) {
    const { owner, name } = parseAlgorithm(inputs.algorithm);
    const algo = await client.getAlgorithm(owner, name);
    if (!algo) return undefined;
    for await (const newest of client.listVersions(owner, name, { published: true })) {
        const given = inputs.algorithmSettings !== undefined;
        return {
            newest,
            next: termsFor(inputs, given ? pickPermissions(inputs.algorithmSettings)! : permissionsOf(algo.settings)),
            permissionsFrom: given
                ? "algorithmSettings"
                : `the settings of ${inputs.algorithm} on the server: settings`,
        };
    }
    return undefined;
}

function parseAlgorithm(algorithm: string): { owner: string; name: string } {
    const [owner, name] = algorithm.split("/");
    return { owner, name };
}

const testName = (testCase: AlgorithmTest, index: number) => testCase.name ?? `tests[${index}]`;
const show = (value: unknown) => JSON.stringify(value) ?? "undefined";

/** Runs every test against the hash version; answers how many passed or throws naming the first failure. */
async function runTests(
    client: AlgorithmiaClient,
    algorithm: string,
    gitHash: string,
    tests: AlgorithmTest[],
): Promise<number> {
    let passed = 0;
    for (const [index, testCase] of tests.entries()) {
        const reply = await client.callAlgorithm(`${algorithm}/${gitHash}`, testCase.input, { repeatable: true });
        const error = reply?.error ? String(reply.error.message ?? show(reply.error)) : undefined;
        const name = testName(testCase, index);
        const refuse = (why: string) => {
            throw new Error(
                `Test "${name}" failed against ${algorithm}/${gitHash}, so the version is not published: ${why}`,
            );
        };
        if ("expectError" in testCase) {
            if (error === undefined) refuse(`expected an error, got the result ${show(reply?.result)}`);
        } else if (error !== undefined) {
            refuse(
                `expected ${testCase.expect !== undefined ? show(testCase.expect) : "a result"}, got the error: ${error}`,
            );
        } else if (testCase.expect !== undefined && !sameValue(reply?.result, testCase.expect)) {
            refuse(`expected ${show(testCase.expect)}, got ${show(reply?.result)}`);
        }
        passed++;
    }
    return passed;
}

const callabilityOf = (version: AlgorithmObject) => version.settings?.algorithm_callability as Callability | undefined;
const royaltyOf = (version: AlgorithmObject) => Number(version.settings?.royalty_microcredits ?? 0);

function outputsOf(
    inputs: AlgorithmVersionInputs,
    version: AlgorithmObject,
    testsPassed: number,
): AlgorithmVersionOutputs {
    const semver = version.version_info!.semantic_version!;
    return {
        ...inputs,
        callability: callabilityOf(version) ?? inputs.callability,
        royaltyMicrocredits: royaltyOf(version),
        // What the version carries: compared with the program's algorithmSettings, when it gives them.
        algorithmSettings: permissionsOf(version.settings),
        version: semver,
        algoUri: `${inputs.algorithm}/${semver}`,
        testsPassed,
    };
}

/** How long a compile of `gitHash` may take when the provider must build it again to publish it. */
const REBUILD_TIMEOUT_MS = 15 * 60 * 1000;

/**
 * A successful, unpublished build of `gitHash` that is the algorithm's latest successful build (what a publish
 * takes): the current one, or a new build of the same commit when another build is newer or that one is published.
 */
async function latestBuildOf(client: AlgorithmiaClient, inputs: AlgorithmVersionInputs): Promise<BuildObject> {
    const { owner, name } = parseAlgorithm(inputs.algorithm);
    const latest = await client.latestSuccessfulBuild(owner, name);
    if (latest?.commit_sha === inputs.gitHash && !latest.version_info?.semantic_version) return latest;
    const compiled = await client.compile(owner, name, inputs.gitHash, REBUILD_TIMEOUT_MS);
    const build = compiled?.build;
    if (build?.commit_sha !== inputs.gitHash || build.status !== "succeeded") {
        const log = build ? `\n${await client.buildLogTail(owner, name, build.build_id)}` : "";
        throw new Error(
            `gitHash ${inputs.gitHash} of ${inputs.algorithm} had to be built again to be the latest successful build ` +
                `(only that one can be published), and that build ${build ? `${build.build_id} ${build.status}` : "did not start"}${log}`,
        );
    }
    return build;
}

/**
 * Publishes a build of `gitHash` after its tests (`previous`: the newest published version, if any), then checks
 * the server's word: the new version must be that very build. Answers the version and the tests passed.
 */
async function publish(
    client: AlgorithmiaClient,
    inputs: AlgorithmVersionInputs,
    previous: AlgorithmObject | undefined,
) {
    const { owner, name } = parseAlgorithm(inputs.algorithm);
    if (previous) {
        // As the preview did, against what this publish will really carry: the algorithm's settings now.
        const algo = await client.getAlgorithm(owner, name);
        const failures = publishRuleFailures(
            inputs.versionType,
            termsOf(previous),
            termsFor(inputs, permissionsOf(algo?.settings)),
            `the settings of ${inputs.algorithm}: settings`,
        );
        if (failures.length > 0) throw new Error(`Nothing was published: ${failures.map((f) => f.reason).join("; ")}`);
    }
    const build = await latestBuildOf(client, inputs);
    const testsPassed = await runTests(client, inputs.algorithm, inputs.gitHash, inputs.tests ?? []);
    // The publish takes whatever build is the latest then: it must still be the one just tested.
    const latest = await client.latestSuccessfulBuild(owner, name);
    if (latest?.build_id !== build.build_id) {
        throw new Error(
            `Nothing was published: build ${latest?.build_id} of ${inputs.algorithm} at ${latest?.commit_sha} finished ` +
                `while build ${build.build_id} of gitHash ${inputs.gitHash} was being tested, and a publish takes the latest build. ` +
                "Run `pulumi up` again once nothing else builds this algorithm.",
        );
    }
    const sample = sampleText(inputs);
    const published = await client.publishVersion(
        owner,
        name,
        {
            version_info: {
                version_type: inputs.versionType,
                ...(inputs.releaseNotes !== undefined ? { release_notes: inputs.releaseNotes } : {}),
                ...(sample !== undefined ? { sample_input: sample } : {}),
            },
            settings: { algorithm_callability: inputs.callability, royalty_microcredits: inputs.royaltyMicrocredits },
        },
        { gitHash: inputs.gitHash, previous: previous?.version_info?.semantic_version },
    );
    const semver = published?.version_info?.semantic_version;
    // The reply, then a read of the version: both must name the tested build.
    const check = semver ? await client.getVersion(owner, name, inputs.gitHash) : undefined;
    const sameBuild =
        published?.version_info?.git_hash === inputs.gitHash &&
        (!published.build || published.build.build_id === build.build_id) &&
        check?.version_info?.semantic_version === semver;
    if (!semver || !sameBuild) {
        throw new Error(
            `Publishing ${inputs.algorithm} produced version ${semver ?? "none"} of build ` +
                `${published?.build?.build_id ?? "?"} at ${published?.version_info?.git_hash ?? "no commit"}, not of the tested build ` +
                `${build.build_id} at ${inputs.gitHash}: another build became the latest in between. Published versions cannot be ` +
                "withdrawn; check that version before relying on it.",
        );
    }
    return { version: published, testsPassed };
}

/** The sample input as the API keeps it: a string, JSON values as their JSON text. */
function sampleText(inputs: AlgorithmVersionInputs): string | undefined {
    return inputs.sampleInput === undefined || typeof inputs.sampleInput === "string"
        ? inputs.sampleInput
        : JSON.stringify(inputs.sampleInput);
}

/** Whether a published version is what these inputs would publish (a retried `up` adopts it). */
function publishedAsAsked(version: AlgorithmObject, inputs: AlgorithmVersionInputs): boolean {
    return (
        callabilityOf(version) === inputs.callability &&
        royaltyOf(version) === inputs.royaltyMicrocredits &&
        (version.version_info?.release_notes ?? undefined) === inputs.releaseNotes &&
        (version.version_info?.sample_input ?? undefined) === sampleText(inputs)
    );
}

export const algorithmVersionController: ResourceController<AlgorithmVersionInputs, AlgorithmVersionOutputs> = {
    schema: versionSchema,

    async prepare(inputs, _olds, ctx) {
        // The rules compare with the newest version on the server, whatever the state says; they need to know which
        // algorithm on which cluster, and skip the values not known yet (checked again before publishing).
        if (
            containsUnknown([inputs.algorithm, inputs.apiAddress, inputs.apiKey]) ||
            isUnknown(inputs.versionType) ||
            inputs.versionType === "major"
        ) {
            return { inputs };
        }
        const found = await publishContext(ctx.client(inputs.apiAddress), inputs);
        // Adopting the version of this build publishes nothing.
        if (!found || (inputs.adopt && found.newest.version_info?.git_hash === inputs.gitHash)) return { inputs };
        return {
            inputs,
            failures: publishRuleFailures(inputs.versionType, termsOf(found.newest), found.next, found.permissionsFrom),
        };
    },

    diff: {
        replaceKeys: REPLACE_KEYS,
        updateKeys: [...PUBLISH_KEYS, "adopt"],
        normalize: (props, olds) => ({
            ...props,
            royaltyMicrocredits: props.royaltyMicrocredits ?? 0,
            adopt: props.adopt ?? false,
            // Not given: whatever the version carries.
            algorithmSettings: pickPermissions(props.algorithmSettings) ?? olds.algorithmSettings,
        }),
    },

    async create(ctx, inputs) {
        const client = ctx.client(inputs.apiAddress);
        const { owner, name } = parseAlgorithm(inputs.algorithm);
        // One walk of the published versions (newest first) gives the newest one and this build's newest version,
        // which an earlier attempt of this very change may have published before it died.
        let newest: AlgorithmObject | undefined;
        let version: AlgorithmObject | undefined;
        for await (const published of client.listVersions(owner, name, { published: true })) {
            newest = newest || published;
            if (published.version_info?.git_hash === inputs.gitHash) {
                version = published;
                break;
            }
        }
        if (version && (inputs.adopt || publishedAsAsked(version, inputs))) {
            const testsPassed = await runTests(client, inputs.algorithm, inputs.gitHash, inputs.tests ?? []);
            return { id: `${inputs.algorithm}/${inputs.gitHash}`, outs: outputsOf(inputs, version, testsPassed) };
        }
        const published = await publish(client, inputs, newest);
        // The id names the build: a version-only change publishes another version of it in place.
        return {
            id: `${inputs.algorithm}/${inputs.gitHash}`,
            outs: outputsOf(inputs, published.version, published.testsPassed),
        };
    },

    async read(ctx, _id, outs) {
        const { owner, name } = parseAlgorithm(outs.algorithm);
        const client = ctx.client(outs.apiAddress);
        if (!(await client.getAlgorithm(owner, name))) return undefined;
        const version = await client.getVersion(owner, name, outs.gitHash);
        if (!version?.version_info?.semantic_version) return undefined;
        return outputsOf(outs, version, outs.testsPassed);
    },

    async update(ctx, _id, olds, news) {
        const normalize = algorithmVersionController.diff.normalize!;
        const [before, after] = [normalize({ ...olds }, olds), normalize({ ...news }, olds)];
        const changed = PUBLISH_KEYS.filter((key) => !sameValue(before[key], after[key]));
        if (changed.length === 0) return { ...olds, adopt: news.adopt };
        const client = ctx.client(news.apiAddress);
        const { owner, name } = parseAlgorithm(news.algorithm);
        if (changed.length === 1 && changed[0] === "algorithmSettings") {
            // The version may carry them already (state from before it recorded them, or settings changed back).
            const current = await client.getVersion(owner, name, olds.gitHash);
            if (
                current?.version_info?.semantic_version === olds.version &&
                sameValue(permissionsOf(current.settings), after.algorithmSettings)
            ) {
                return outputsOf(news, current, olds.testsPassed);
            }
        }
        // A version of this build newer than the stack's, as asked: an earlier attempt of this change published it
        // before it died, so adopt it rather than publish twice.
        let newest: AlgorithmObject | undefined;
        for await (const published of client.listVersions(owner, name, { published: true })) {
            newest = newest || published;
            const semver = published.version_info?.semantic_version;
            if (semver === olds.version) break;
            if (published.version_info?.git_hash === news.gitHash && publishedAsAsked(published, news)) {
                const testsPassed = await runTests(client, news.algorithm, news.gitHash, news.tests ?? []);
                return outputsOf(news, published, testsPassed);
            }
        }
        const { version, testsPassed } = await publish(client, news, newest);
        return outputsOf(news, version, testsPassed);
    },

    async delete(_ctx, _id, outs) {
        // There is no API to unpublish (docs/api-reference.md §7): the version stays callable.
        pulumi.log.info(
            `AlgorithmVersion ${outs.algoUri} is only removed from the stack: published versions are immutable ` +
                "and stay published on the server.",
        );
    },
};

// --- resource -------------------------------------------------------------------------------------------------

const algorithmVersionProvider = providerStub("AlgorithmVersion");

/** A published, immutable version of one build of an algorithm. */
export class AlgorithmVersion extends pulumi.dynamic.Resource {
    declare readonly algorithm: pulumi.Output<string>;
    /** The published build. */
    declare readonly gitHash: pulumi.Output<string>;
    declare readonly callability: pulumi.Output<Callability>;
    /** `x.y.z`. */
    declare readonly version: pulumi.Output<string>;
    /** `owner/name/x.y.z`: what callers use. */
    declare readonly algoUri: pulumi.Output<string>;
    /** How many `tests` passed before publishing. */
    declare readonly testsPassed: pulumi.Output<number>;

    constructor(name: string, args: AlgorithmVersionArgs, opts?: pulumi.CustomResourceOptions) {
        const props = { ...args, ...secretKey(args), version: undefined, algoUri: undefined, testsPassed: undefined };
        // Published versions are immutable: a replacement publishes first, then the old one leaves the stack.
        super(
            algorithmVersionProvider,
            name,
            props,
            keepKeySecret({ deleteBeforeReplace: false, ...opts }),
            MODULE,
            "AlgorithmVersion",
        );
    }
}
