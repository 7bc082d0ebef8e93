// AlgorithmVersion (design.md §4): publishes exactly one build (`gitHash`) of an algorithm as a semantic version,
// after running the program's tests against that build's hash version.
//
// Published versions are immutable: every input change is a replacement (create before delete), and delete only
// says that the version stays published. Publishing is pinned to `gitHash` (the server refuses another build),
// verified afterwards, and never done twice: when that build is already published with the same callability and
// royalty, that version is adopted — so an `up` interrupted after the server published converges on the next run.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { AlgorithmiaClient, AlgorithmObject } from "../client";
import {
    CheckFailure, ConnectionArgs, MODULE, ResourceController, connectionShape, containsUnknown, dynamicProvider, sameValue,
} from "./dynamic";

// --- types ----------------------------------------------------------------------------------------------------

export type VersionType = "major" | "minor" | "revision";
export type Callability = "public" | "private";

/** A call made against the build before publishing; `expect` compares the result, `expectError` wants a failure. */
export type AlgorithmTest =
    | { name?: string; input: unknown; expect?: unknown }
    | { name?: string; input: unknown; expectError: true };

export interface AlgorithmVersionArgs extends ConnectionArgs {
    /** `owner/name`, e.g. an Algorithm's `algoPath`. */
    algorithm: pulumi.Input<string>;
    /** The build to publish, e.g. an Algorithm's `gitHash`; it must be the algorithm's latest successful build. */
    gitHash: pulumi.Input<string>;
    versionType: pulumi.Input<VersionType>;
    callability: pulumi.Input<Callability>;
    /** Per-call royalty (default 0). */
    royaltyMicrocredits?: pulumi.Input<number>;
    releaseNotes?: pulumi.Input<string>;
    /** Shown to users; JSON values are sent as their JSON text. */
    sampleInput?: pulumi.Input<unknown>;
    /** Run against the build before publishing; a failing test refuses to publish. */
    tests?: pulumi.Input<pulumi.Input<AlgorithmTest>[]>;
    /** Take over the version already published from `gitHash` even if its callability or royalty differ. */
    adopt?: pulumi.Input<boolean>;
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
    apiAddress?: string;
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

function versionSchema() {
    const testCase = z.union([
        z.object({ name: z.string().optional(), input: z.unknown(), expectError: z.literal(true) }).strict(),
        z.object({ name: z.string().optional(), input: z.unknown(), expect: z.unknown().optional() }).strict(),
    ]);
    return z.object({
        algorithm: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*\/[A-Za-z][A-Za-z0-9_]*$/, "must be owner/name, e.g. an Algorithm's algoPath"),
        gitHash: z.string().regex(/^[0-9a-f]{40}$/, "must be a full git commit sha (40 lowercase hex digits), e.g. an Algorithm's gitHash"),
        versionType: z.enum(["major", "minor", "revision"]),
        callability: z.enum(["public", "private"]),
        royaltyMicrocredits: z.number().int().min(0).default(0),
        releaseNotes: z.string().optional(),
        sampleInput: z.unknown().optional(),
        tests: z.array(testCase).optional(),
        adopt: z.boolean().default(false),
        ...connectionShape(),
    }) as unknown as z.ZodType<AlgorithmVersionInputs>;
}

// --- controller -----------------------------------------------------------------------------------------------

const REPLACE_KEYS = ["algorithm", "gitHash", "versionType", "callability", "royaltyMicrocredits", "releaseNotes", "sampleInput", "tests", "apiAddress"];

function parseAlgorithm(algorithm: string): { owner: string; name: string } {
    const [owner, name] = algorithm.split("/");
    return { owner, name };
}

const testName = (testCase: AlgorithmTest, index: number) => testCase.name ?? `tests[${index}]`;
const show = (value: unknown) => JSON.stringify(value) ?? "undefined";

/** Runs every test against the hash version; answers how many passed or throws naming the first failure. */
async function runTests(client: AlgorithmiaClient, algorithm: string, gitHash: string, tests: AlgorithmTest[]): Promise<number> {
    let passed = 0;
    for (const [index, testCase] of tests.entries()) {
        const reply = await client.callAlgorithm(`${algorithm}/${gitHash}`, testCase.input, { repeatable: true });
        const error = reply?.error ? String(reply.error.message ?? show(reply.error)) : undefined;
        const name = testName(testCase, index);
        const refuse = (why: string) => {
            throw new Error(`Test "${name}" failed against ${algorithm}/${gitHash}, so the version is not published: ${why}`);
        };
        if ("expectError" in testCase) {
            if (error === undefined) refuse(`expected an error, got the result ${show(reply?.result)}`);
        } else if (error !== undefined) {
            refuse(`expected ${testCase.expect !== undefined ? show(testCase.expect) : "a result"}, got the error: ${error}`);
        } else if (testCase.expect !== undefined && !sameValue(reply?.result, testCase.expect)) {
            refuse(`expected ${show(testCase.expect)}, got ${show(reply?.result)}`);
        }
        passed++;
    }
    return passed;
}

const callabilityOf = (version: AlgorithmObject) => version.settings?.algorithm_callability as Callability | undefined;
const royaltyOf = (version: AlgorithmObject) => Number(version.settings?.royalty_microcredits ?? 0);

function outputsOf(inputs: AlgorithmVersionInputs, version: AlgorithmObject, testsPassed: number): AlgorithmVersionOutputs {
    const semver = version.version_info!.semantic_version!;
    return {
        ...inputs,
        callability: callabilityOf(version) ?? inputs.callability,
        royaltyMicrocredits: royaltyOf(version),
        version: semver,
        algoUri: `${inputs.algorithm}/${semver}`,
        testsPassed,
    };
}

/**
 * Publishes `gitHash` (`previous`: the newest published version, if any), then checks the server's word: the new
 * version must map to that very build.
 */
async function publish(client: AlgorithmiaClient, inputs: AlgorithmVersionInputs, previous: AlgorithmObject | undefined): Promise<AlgorithmObject> {
    const { owner, name } = parseAlgorithm(inputs.algorithm);
    const latest = await client.latestSuccessfulBuild(owner, name);
    if (latest?.commit_sha !== inputs.gitHash) {
        throw new Error(`gitHash ${inputs.gitHash} is not the latest successful build of ${inputs.algorithm} ` +
            `(${latest ? `that is ${latest.commit_sha}` : "it has none"}): only the latest successful build can be published`);
    }
    const previousCallability = previous && callabilityOf(previous);
    if (previousCallability && previousCallability !== inputs.callability && inputs.versionType !== "major") {
        throw new Error(`callability: changing from ${previousCallability} (version ${previous!.version_info?.semantic_version}) to ` +
            `${inputs.callability} needs versionType "major", not "${inputs.versionType}"`);
    }
    const sample = inputs.sampleInput === undefined || typeof inputs.sampleInput === "string" ? inputs.sampleInput : JSON.stringify(inputs.sampleInput);
    const published = await client.publishVersion(owner, name, inputs.gitHash, {
        version_info: {
            version_type: inputs.versionType,
            ...(inputs.releaseNotes !== undefined ? { release_notes: inputs.releaseNotes } : {}),
            ...(sample !== undefined ? { sample_input: sample } : {}),
        },
        settings: { algorithm_callability: inputs.callability, royalty_microcredits: inputs.royaltyMicrocredits },
    });
    const semver = published?.version_info?.semantic_version;
    const check = semver ? await client.getVersion(owner, name, inputs.gitHash) : undefined;
    if (!semver || published.version_info?.git_hash !== inputs.gitHash || check?.version_info?.semantic_version !== semver) {
        throw new Error(`Publishing ${inputs.algorithm} at ${inputs.gitHash} did not produce a version of that build ` +
            `(the server answered version ${semver ?? "none"} of ${published?.version_info?.git_hash ?? "no build"})`);
    }
    return published;
}

export const algorithmVersionController: ResourceController<AlgorithmVersionInputs, AlgorithmVersionOutputs> = {
    schema: versionSchema,

    async prepare(inputs, olds) {
        const failures: CheckFailure[] = [];
        const old = olds as Partial<AlgorithmVersionInputs>;
        // Rules between old and new values wait until the values are known (the next preview or the `up`).
        if (containsUnknown([inputs.algorithm, inputs.gitHash, inputs.versionType, inputs.callability, inputs.royaltyMicrocredits])) {
            return { inputs, failures };
        }
        if (old.callability && old.callability !== inputs.callability && inputs.versionType !== "major") {
            failures.push({
                property: "versionType",
                reason: `versionType: changing callability from ${old.callability} to ${inputs.callability} needs versionType "major", ` +
                    `not "${inputs.versionType}"`,
            });
        }
        const settingsChanged = old.callability !== inputs.callability || (old.royaltyMicrocredits ?? 0) !== (inputs.royaltyMicrocredits ?? 0);
        if (old.gitHash && old.gitHash === inputs.gitHash && old.algorithm === inputs.algorithm && settingsChanged && !inputs.adopt) {
            failures.push({
                property: "gitHash",
                reason: `gitHash: build ${inputs.gitHash} is already published; a version with another callability or royalty ` +
                    "needs a new build (change the algorithm's source)",
            });
        }
        return { inputs, failures };
    },

    diff: {
        replaceKeys: REPLACE_KEYS,
        updateKeys: ["adopt"],
        normalize: (props) => ({ ...props, royaltyMicrocredits: props.royaltyMicrocredits ?? 0, adopt: props.adopt ?? false }),
    },

    async create(ctx, inputs) {
        const client = ctx.client(inputs.apiAddress);
        const { owner, name } = parseAlgorithm(inputs.algorithm);
        const testsPassed = await runTests(client, inputs.algorithm, inputs.gitHash, inputs.tests ?? []);
        // One walk of the published versions (newest first) gives the newest one and, for a retried `up` (or a
        // replacement that changed only notes or tests), this build's version if it is already published.
        let newest: AlgorithmObject | undefined;
        let version: AlgorithmObject | undefined;
        for await (const published of client.listVersions(owner, name, { published: true })) {
            newest ??= published;
            if (published.version_info?.git_hash === inputs.gitHash) {
                version = published;
                break;
            }
        }
        if (version) {
            const same = callabilityOf(version) === inputs.callability && royaltyOf(version) === inputs.royaltyMicrocredits;
            if (!same && !inputs.adopt) {
                throw new Error(`Build ${inputs.gitHash} of ${inputs.algorithm} is already published as ` +
                    `${version.version_info?.semantic_version} (${callabilityOf(version)}, royalty ${royaltyOf(version)}); it cannot be ` +
                    "published again with other settings: publish a new build, or set `adopt: true` to take that version as it is");
            }
        } else {
            version = await publish(client, inputs, newest);
        }
        return { id: `${inputs.algorithm}/${version.version_info!.semantic_version}`, outs: outputsOf(inputs, version, testsPassed) };
    },

    async read(ctx, _id, outs) {
        const { owner, name } = parseAlgorithm(outs.algorithm);
        const client = ctx.client(outs.apiAddress);
        if (!(await client.getAlgorithm(owner, name))) return undefined;
        const version = await client.getVersion(owner, name, outs.gitHash);
        if (!version?.version_info?.semantic_version) return undefined;
        return outputsOf(outs, version, outs.testsPassed);
    },

    async update(_ctx, _id, olds, news) {
        // Only `adopt` changes in place, and it only matters when creating.
        return { ...olds, adopt: news.adopt };
    },

    async delete(_ctx, _id, outs) {
        // There is no API to unpublish (algorithmia-api.md §7): the version stays callable.
        pulumi.log.info(`AlgorithmVersion ${outs.algoUri} is only removed from the stack: published versions are immutable ` +
            "and stay published on the server.");
    },
};

// --- resource -------------------------------------------------------------------------------------------------

const algorithmVersionProvider = dynamicProvider(algorithmVersionController);

/** A published, immutable version of one build of an algorithm. */
export class AlgorithmVersion extends pulumi.dynamic.Resource {
    declare readonly algorithm: pulumi.Output<string>;
    declare readonly gitHash: pulumi.Output<string>;
    declare readonly callability: pulumi.Output<Callability>;
    /** `x.y.z`. */
    declare readonly version: pulumi.Output<string>;
    /** `owner/name/x.y.z`: what callers use. */
    declare readonly algoUri: pulumi.Output<string>;
    declare readonly testsPassed: pulumi.Output<number>;

    constructor(name: string, args: AlgorithmVersionArgs, opts?: pulumi.CustomResourceOptions) {
        const props = { ...args, version: undefined, algoUri: undefined, testsPassed: undefined };
        // Published versions are immutable: a replacement publishes first, then the old one leaves the stack.
        super(algorithmVersionProvider, name, props, { deleteBeforeReplace: false, ...opts }, MODULE, "AlgorithmVersion");
    }
}
