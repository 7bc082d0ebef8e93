// What every resource of this provider needs from the pulumi-nodejs dynamic-provider host: zod validation that
// names the property and tolerates unknowns during preview, a diff over an explicit key list, the connection
// read in `configure` (never captured in state), and the explicit type tokens.
//
// Nothing here is serialized: the state holds only the stub (stub.ts), which loads this code through
// ./providers in the provider process.
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { zod } from "./zod";
import { AlgorithmiaClient } from "../client";
import { resolveApiAddress, resolveConnection, StackConfig } from "../config";
import { STUB_PROTOCOL } from "./stub";

/** The module of every type token: `pulumi-nodejs:dynamic/algorithmia:<Type>`. */
export const MODULE = "algorithmia";

/** What the dynamic-provider host hands `check`/`diff` for a value not known yet (a preview of a computed input). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The serialized provider's own property; never an input of ours. */
const PROVIDER_KEY = "__provider";

/**
 * Derived in `check` for every resource and kept in its outputs: the API address its object lives on (`apiAddress`,
 * else the stack's). Another cluster is another object, so a change replaces it; read and delete go to this one.
 */
const CLUSTER_KEY = "cluster";
/** A resource's own API key (`ConnectionArgs.apiKey`), kept in its outputs for read and delete. */
const KEY_KEY = "apiKey";

/** A resource's diff rules with its cluster: a replace key, created on the new cluster before the old one is deleted. */
function withCluster(rules: DiffRules): DiffRules {
    const { deleteBeforeReplace } = rules;
    return {
        ...rules,
        replaceKeys: [...rules.replaceKeys, CLUSTER_KEY],
        // What decides the cluster is compared resolved, not as written.
        updateKeys: rules.updateKeys.filter((key) => key !== "apiAddress"),
        deleteBeforeReplace: (replaces) => {
            // Only the cluster changed: nothing on the new one is in the way.
            const here = replaces.filter((key) => key !== CLUSTER_KEY);
            if (here.length === 0) return false;
            return typeof deleteBeforeReplace === "function" ? deleteBeforeReplace(here) : !!deleteBeforeReplace;
        },
    };
}

export function isUnknown(value: unknown): boolean {
    return value === UNKNOWN;
}

/** True if the value or anything inside it is unknown. */
export function containsUnknown(value: unknown): boolean {
    if (isUnknown(value)) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (value && typeof value === "object") return Object.values(value).some(containsUnknown);
    return false;
}

/** The connection arguments every resource takes (docs/configuration.md: they win over stack config and env). */
export interface ConnectionArgs {
    /**
     * Base address of the Algorithmia API, e.g. `https://api.algorithmia.com`; else `algorithmia:apiAddress`,
     * `ALGORITHMIA_API` or the public address. Another resolved address is another cluster: a replace, created there
     * before the old object is deleted where it was.
     */
    apiAddress?: pulumi.Input<string>;
    /**
     * The API key for this resource (another account or cluster than the stack's). Kept as a secret in inputs
     * and outputs, as read and delete need it; a change is an update that only stores the new key.
     */
    apiKey?: pulumi.Input<string>;
}

/** The zod shape for `ConnectionArgs`; spread it into each resource's input schema. */
export function connectionShape(z = zod()) {
    return {
        apiAddress: z
            .string()
            .regex(/^https?:\/\/[^/]+/, "must be an http(s) URL such as https://api.algorithmia.com")
            .optional(),
        apiKey: z.string().min(1, "must not be empty").optional(),
    };
}

/**
 * The resource's own key as a secret, as a prop only when one is given. A resource registers only the inputs it is
 * given besides its outputs (which must be props to exist): the SDK makes promises and captures a stack trace for
 * every prop, the larger part of a program's own time per resource (a CPU profile of a 100-resource preview).
 */
export function secretKey(args: ConnectionArgs): { apiKey?: pulumi.Input<string> } {
    return args.apiKey === undefined ? {} : { apiKey: pulumi.secret(args.apiKey) };
}

/** Resource options that keep the `apiKey` output secret, whatever the engine infers from the inputs. */
export function keepKeySecret(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
    return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "apiKey"] };
}

/**
 * A user, organization or collection name (§1.8: `^[a-zA-Z][a-zA-Z0-9_]*$`, at most 30 characters); algorithm
 * names follow the same letters-digits-underscore rule.
 */
export function nameSchema(maxLength = 30, z = zod()) {
    return z
        .string()
        .regex(/^[a-zA-Z][a-zA-Z0-9_]*$/, "must start with a letter and hold only letters, digits and underscores")
        .max(maxLength, `must be at most ${maxLength} characters`);
}

export interface CheckFailure {
    property: string;
    reason: string;
}

/** `a.b[0].c` from a zod issue path. */
function propertyPath(path: readonly PropertyKey[]): string {
    return path.reduce<string>(
        (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
        "",
    );
}

function valueAt(value: any, path: readonly PropertyKey[]): unknown[] {
    // Every value along the path: an unknown anywhere above the failing one excuses it.
    const seen: unknown[] = [value];
    for (const key of path) {
        value = value?.[key as any];
        seen.push(value);
    }
    return seen;
}

/**
 * Validates `news` with `schema`. Failures name the property (`settings.language`) and the rule. During a
 * preview a computed input may be unknown: problems at or under an unknown value are not failures, and the
 * inputs pass through as given (so `diff` sees the unknown). Otherwise the parsed inputs, defaults applied.
 */
export function checkWithSchema<S extends z.ZodType>(
    schema: S,
    news: Record<string, any>,
): { inputs: Record<string, any>; failures: CheckFailure[]; complete: boolean } {
    const { [PROVIDER_KEY]: _provider, ...given } = news;
    const parsed = schema.safeParse(given);
    if (parsed.success) return { inputs: parsed.data as Record<string, any>, failures: [], complete: true };
    const failures = parsed.error.issues
        .filter((issue) => !valueAt(given, issue.path).some(isUnknown))
        .map((issue) => {
            const property = propertyPath(issue.path);
            return { property, reason: `${property || "inputs"}: ${issue.message}` };
        });
    return { inputs: given, failures, complete: false };
}

/** Which keys a resource compares, which of them force a replacement, and how to normalise server defaults. */
export interface DiffRules {
    /** Keys whose change is applied in place. */
    updateKeys: readonly string[];
    /** Keys whose change needs a new object. */
    replaceKeys: readonly string[];
    /**
     * Arguments compared through what `check` derives from them (a source directory through its tree's sha256),
     * for the reference docs (`npm run docs`).
     */
    comparedAs?: Record<string, readonly string[]>;
    /**
     * Fills defaults so that an omitted value and the server's default compare equal. Applied to both sides,
     * with the old outputs at hand (e.g. an omitted owner means the owner resolved at create time).
     */
    normalize?: (props: Record<string, any>, olds: Record<string, any>) => Record<string, any>;
    /** Delete the old object before creating its replacement: always, or when a function of the replaced keys says so. */
    deleteBeforeReplace?: boolean | ((replaces: string[]) => boolean);
}

/** A diff with the keys that changed (`diffs`), for a host that shows a detailed diff (the provider plugin). */
export interface KeyedDiff extends pulumi.dynamic.DiffResult {
    diffs: string[];
}

/** A stable deep equality for JSON-like values (key order does not matter). */
export function sameValue(a: unknown, b: unknown): boolean {
    return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
    return (
        JSON.stringify(value, (_key, v) =>
            v && typeof v === "object" && !Array.isArray(v)
                ? Object.fromEntries(
                      Object.keys(v)
                          .sort()
                          .filter((k) => v[k] !== undefined)
                          .map((k) => [k, v[k]]),
                  )
                : v,
        ) ?? "undefined"
    );
}

/**
 * Compares only `updateKeys` and `replaceKeys` of the old outputs and the new inputs (the serialized provider is
 * not among them, so a provider upgrade alone shows no diff; see `frozenProvider` for the one exception). An
 * unknown new value counts as a change.
 */
export function diffByKeys(olds: Record<string, any>, news: Record<string, any>, rules: DiffRules): KeyedDiff {
    const normalize = rules.normalize ?? ((p) => p);
    const before = normalize({ ...olds }, olds);
    const after = normalize({ ...news }, olds);
    const changed = (key: string) => containsUnknown(after[key]) || !sameValue(before[key], after[key]);
    const replaces = rules.replaceKeys.filter(changed);
    const updates = rules.updateKeys.filter(changed);
    return {
        changes: replaces.length + updates.length > 0,
        diffs: [...replaces, ...updates],
        replaces,
        stables: [...rules.updateKeys, ...rules.replaceKeys].filter((k) => !changed(k)),
        deleteBeforeReplace:
            replaces.length > 0 &&
            (typeof rules.deleteBeforeReplace === "function"
                ? rules.deleteBeforeReplace(replaces)
                : !!rules.deleteBeforeReplace),
    };
}

/** What a controller gets on every call inside the provider process. */
export interface ProviderContext {
    /**
     * A client with the resource's key (or the configured one) for the resource's `apiAddress` (or the configured
     * one); in read and delete, for the cluster the object was made on.
     */
    client(apiAddress?: string): AlgorithmiaClient;
    /** The key's own user name, looked up once per API address and provider process (`AlgorithmiaClient.username`). */
    whoami(client: AlgorithmiaClient): Promise<string>;
}

/**
 * One resource's logic, apart from the Resource class. `Inputs` are the checked inputs; `Outputs` are stored
 * in state and must hold every key the diff compares (the host diffs old outputs against new inputs).
 */
export interface ResourceController<Inputs, Outputs> {
    /** Builds the input schema (once per provider process, at the first check). */
    schema(): z.ZodType<Inputs>;
    diff: DiffRules;
    /**
     * Runs once validation found no failure, to derive more inputs (e.g. a file's sha256) or report failures that
     * need the old state or the server (read only: a preview changes nothing). During a preview `inputs` may hold
     * unknowns (`isUnknown`) and lack defaults. `olds` are the old inputs as the last check answered them (the
     * engine passes inputs, not outputs, to Check; empty on create).
     */
    prepare?(
        inputs: Inputs,
        olds: Partial<Inputs>,
        ctx: ProviderContext,
    ): Promise<{ inputs: Inputs; failures?: CheckFailure[] }>;
    /**
     * The outputs the inputs already determine (e.g. a data URI), added to the checked inputs: a preview shows an
     * update with the new inputs as its outputs (the dynamic-provider host has no preview of its own), so without
     * them every resource that uses such an output would see it unknown and a replacement where none comes.
     * `olds` as in `prepare`; read only. What it cannot tell (an unknown input, a failing lookup) it leaves out.
     */
    predict?(inputs: Inputs, olds: Partial<Inputs & Outputs>, ctx: ProviderContext): Promise<Partial<Outputs>>;
    create(ctx: ProviderContext, inputs: Inputs): Promise<{ id: string; outs: Outputs }>;
    /** The object as it is now, or undefined when it is gone. */
    read(ctx: ProviderContext, id: string, outs: Outputs): Promise<Outputs | undefined>;
    update(ctx: ProviderContext, id: string, olds: Outputs, news: Inputs): Promise<Outputs>;
    delete(ctx: ProviderContext, id: string, outs: Outputs): Promise<void>;
    /**
     * For `pulumi import` through the provider plugin: what an id names (owner and name, and the defaults of
     * settings the server does not keep), which `read` then completes. Throws on an id of another form (`idParts`).
     */
    importable?(id: string): Partial<Outputs>;
}

/** The `/`-separated parts of an id of the form `form` (e.g. "owner/name"), or an error saying the form. */
export function idParts(id: string, form: string): string[] {
    const parts = id.split("/");
    if (parts.length !== form.split("/").length || parts.some((part) => part === "")) {
        throw new Error(`cannot import "${id}": the id must be ${form}`);
    }
    return parts;
}

/** The dynamic provider, and `import` for the provider plugin. */
export interface HostedProvider extends pulumi.dynamic.ResourceProvider<any, any> {
    /** The object `id` names on the configured cluster, as `read` reports it (`pulumi import`). */
    import(id: string): Promise<{ id: string; props: Record<string, unknown> }>;
}

/**
 * Turns a controller into the object the dynamic-provider host runs. The connection comes from the stack
 * config given to `configure` (the engine passes dynamic providers the whole stack config, secrets
 * decrypted, only to the provider process) and from that process's environment.
 */
export function dynamicProvider<Inputs, Outputs>(controller: ResourceController<Inputs, Outputs>): HostedProvider {
    // `usernames`: per key, then per API address (a key's user never changes; another key may be another user).
    const state: { stackConfig?: StackConfig; usernames: Record<string, Record<string, Promise<string>>> } = {
        usernames: {},
    };
    // One per resource call: its key is the resource's.
    const callContext = (props: { apiKey?: string }): ProviderContext => ({
        client: (apiAddress) => {
            if (isUnknown(props.apiKey)) throw new Error("apiKey is not known yet");
            const connection = resolveConnection(state.stackConfig, apiAddress, props.apiKey);
            // The process's clients share user names: the owner default and git's user name are looked up once per key.
            const credential = (connection.apiKey ?? connection.bearerToken)!;
            const usernames = state.usernames[credential] || (state.usernames[credential] = {});
            // Progress of uploads and builds goes to the engine's log, which `pulumi up` shows as it comes.
            return new AlgorithmiaClient({
                ...connection,
                usernames,
                progress: (message) => void pulumi.log.info(message),
            });
        },
        whoami: (client) => client.username(),
    });
    // Read and delete act on the cluster the object was made on, whatever the configuration says now.
    const contextOn = (props: { cluster?: unknown; apiKey?: string }): ProviderContext => {
        const ctx = callContext(props);
        const cluster = props.cluster;
        return typeof cluster === "string" ? { ...ctx, client: () => ctx.client(cluster) } : ctx;
    };
    const clusterOf = (props: any) =>
        isUnknown(props.apiAddress) ? UNKNOWN : resolveApiAddress(state.stackConfig, props.apiAddress);
    const rules = withCluster(controller.diff);
    // The key is compared too, but a new key alone changes nothing on the server: it is only stored.
    const diffRules: DiffRules = { ...rules, updateKeys: [...rules.updateKeys, KEY_KEY] };
    const withKey = <T>(outs: T, props: { apiKey?: string }) => definedOnly({ ...outs, apiKey: props.apiKey });
    // Built once: a zod schema costs more to build than to check with.
    let schema: z.ZodType<Inputs> | undefined;
    return {
        async configure(req: pulumi.dynamic.ConfigureRequest) {
            state.stackConfig = req.config;
        },
        check: (olds: any, news: any) =>
            reporting(async () => {
                const checked = checkWithSchema((schema ??= controller.schema()), news);
                const cluster = clusterOf(checked.inputs);
                if (checked.failures.length > 0)
                    return { inputs: { ...checked.inputs, cluster }, failures: checked.failures };
                const ctx = callContext(checked.inputs);
                const prepared = controller.prepare
                    ? await controller.prepare(checked.inputs as Inputs, olds ?? {}, ctx)
                    : { inputs: checked.inputs as Inputs, failures: [] };
                const failures = prepared.failures ?? [];
                const predicted =
                    failures.length === 0 && controller.predict
                        ? await controller.predict(prepared.inputs, olds ?? {}, ctx).catch(() => ({}))
                        : {};
                return { inputs: { ...prepared.inputs, ...predicted, cluster }, failures };
            }),
        diff: (_id: string, olds: any, news: any) =>
            reporting(async () => {
                // State from before the cluster was kept has none: that is no change.
                const diff = diffByKeys(
                    olds,
                    olds[CLUSTER_KEY] === undefined ? { ...news, cluster: undefined } : news,
                    diffRules,
                );
                // State from before the stub holds the whole old provider, which refresh and delete would run: an update
                // (the controller's no-change update, which changes nothing that is in place) stores the stub instead.
                return !diff.changes && frozenProvider(olds) ? { ...diff, changes: true } : diff;
            }),
        create: (inputs: any) =>
            reporting(async () => {
                const { id, outs } = await controller.create(callContext(inputs), inputs);
                return { id, outs: withKey({ ...outs, cluster: inputs.cluster }, inputs) };
            }),
        read: (id: string, props: any) =>
            reporting(async () => {
                const cluster = props.cluster ?? clusterOf(props);
                const outs = await controller.read(contextOn({ cluster, apiKey: props.apiKey }), id, props);
                // No id: the object is gone and refresh drops it from state.
                return outs === undefined ? {} : { id, props: withKey({ ...outs, cluster }, props) };
            }),
        update: (id: string, olds: any, news: any) =>
            reporting(async () => {
                // Only the key changed: store it. (With no change at all the engine is retrying a resource that failed to
                // initialise: that is the controller's to finish.)
                const keyOnly = olds[KEY_KEY] !== news[KEY_KEY] && !diffByKeys(olds, news, rules).changes;
                if (keyOnly) return { outs: withKey({ ...olds }, news) };
                return {
                    outs: withKey(
                        { ...(await controller.update(callContext(news), id, olds, news)), cluster: news.cluster },
                        news,
                    ),
                };
            }),
        delete: (id: string, props: any) => reporting(() => controller.delete(contextOn(props), id, props)),
        import: (id: string) =>
            reporting(async () => {
                if (!controller.importable) {
                    throw new Error(
                        "this resource type cannot be imported yet: `adopt: true` takes over an existing one",
                    );
                }
                const props = controller.importable(id) as Outputs;
                const cluster = clusterOf({});
                const outs = await controller.read(contextOn({ cluster }), id, props);
                if (outs === undefined) throw new Error(`cannot import "${id}": there is no such object on ${cluster}`);
                return { id, props: { ...outs, cluster } };
            }),
    };
}

/** True when `props` carry a serialized provider that is not a stub: the code of an older release, frozen in state. */
export function frozenProvider(props: Record<string, unknown>): boolean {
    const serialized = props[PROVIDER_KEY];
    return typeof serialized === "string" && !serialized.includes(STUB_PROTOCOL);
}

/** Runs one host call; what it throws leaves as `hostError`. */
async function reporting<T>(call: () => Promise<T>): Promise<T> {
    try {
        return await call();
    } catch (err) {
        throw hostError(err);
    }
}

/**
 * A thrown value as the dynamic-provider host can report it (node_modules/@pulumi/pulumi/cmd/dynamic-provider):
 * create and update send `e.message` (with `id`/`properties`/`reasons` for a resource that failed to
 * initialise); check, read and delete hand `e` to grpc-js, which sends `e.message` but takes a numeric `e.code`
 * as the gRPC status code, and the host logs `${e}: ${e.stack}` to the engine. So: a real Error, a non-empty
 * message, no numeric `code` (the API error carries the API's numeric error code), whatever a controller throws.
 */
export function hostError(err: unknown): Error {
    const source: Record<string, any> = err !== null && typeof err === "object" ? err : {};
    const message = typeof source.message === "string" && source.message !== "" ? source.message : describeThrown(err);
    const error = new Error(message);
    error.name = typeof source.name === "string" && source.name !== "" ? source.name : "Error";
    for (const key of ["id", "properties", "reasons"]) if (source[key] !== undefined) (error as any)[key] = source[key];
    if (typeof source.stack === "string" && source.stack.includes(message)) error.stack = source.stack;
    return error;
}

function describeThrown(err: unknown): string {
    if (err === null || typeof err !== "object") return `the provider failed: ${String(err)}`;
    try {
        return `the provider failed: ${JSON.stringify(err)}`;
    } catch {
        return "the provider failed with an error it could not describe";
    }
}

/**
 * An error the dynamic-provider host reports as "created/updated, but failed to initialise": the engine keeps
 * `properties` as the resource's state and retries with an update on the next `up`.
 */
export function initError(id: string, properties: object, inputs: object, message: string): Error {
    // The host adds its serialized provider to successful results only.
    const state: Record<string, unknown> = definedOnly({ ...properties });
    state[PROVIDER_KEY] = (inputs as Record<string, unknown>)[PROVIDER_KEY];
    return Object.assign(new Error(message), { id, properties: state, reasons: [message] });
}

/** The host cannot encode `undefined` (protobuf Struct): leave such keys out. */
function definedOnly<T>(outs: T): T {
    return Object.fromEntries(Object.entries(outs as object).filter(([, v]) => v !== undefined)) as T;
}

/** `data://owner/name[/file]` → its parts; `.my` is kept as written. */
export function parseDataUri(uri: string): { owner: string; collection: string; file?: string } {
    const match = /^data:\/\/([^/]+)\/([^/]+)(?:\/([^/]+))?\/?$/.exec(uri);
    if (!match) throw new Error(`"${uri}" is not a hosted data URI like data://owner/collection[/file]`);
    return { owner: match[1], collection: match[2], file: match[3] };
}
