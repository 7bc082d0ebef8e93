// Where the API address, the git address, the key (or bearer token) and the CA bundle come from (docs/design.md §3).
// Resolved inside the provider process, at call time, from the stack config the engine hands to `configure`, from
// that process's environment and from the `algo` CLI's profiles (~/.algorithmia/config) — never in state, never
// returned as an output.
import * as fs from "fs";
import * as path from "path";
import { parse as parseToml } from "smol-toml";
import { defaultGitAddress } from "./client/git";

export const DEFAULT_API_ADDRESS = "https://api.algorithmia.com";

/** The stack config as the dynamic provider's `configure` sees it. */
export interface StackConfig {
    get(key: string): string | undefined;
}

export interface Connection {
    apiAddress: string;
    /** The API key; without one, `bearerToken` authenticates. At least one of the two is set. */
    apiKey?: string;
    /** A user's bearer token (a JWT), as the `algo` CLI keeps it in a profile. */
    bearerToken?: string;
    /** A CA bundle (a PEM file) trusted instead of the system's, for a cluster with a private CA. */
    caCert?: string;
    /** Base address of the algorithms' git repositories (`<gitAddress>/git/<owner>/<algo>.git`). */
    gitAddress: string;
}

/**
 * The provider's settings, `algorithmia:<name>` in the stack config (or the provider plugin's configuration), as
 * schema.json describes them; `resolveConnection` says where else each comes from.
 */
export const PROVIDER_SETTINGS = {
    apiAddress: {
        secret: false,
        description: "Base address of the Algorithmia API, e.g. https://api.algorithmia.com.",
    },
    apiKey: { secret: true, description: "The API key (a standard key with algorithm management)." },
    bearerToken: { secret: true, description: "A user's bearer token (a JWT), used where no API key is set." },
    caCert: { secret: false, description: "A CA bundle (PEM file) trusted instead of the system's CAs." },
    gitAddress: { secret: false, description: "Base address of the algorithms' git repositories." },
    profile: { secret: false, description: "A profile of the algo CLI's ~/.algorithmia/config to take settings from." },
} as const;

// --- profiles of the `algo` CLI --------------------------------------------------------------------------------

/** A profile as `algo auth --profile <name>` writes it; an empty string means unset. */
interface AlgoProfile {
    api_key?: string;
    api_server?: string;
    ca_cert?: string;
    bearer_token?: string;
}

const DEFAULT_PROFILE = "default";

/** Where the `algo` CLI keeps its profiles: `~/.algorithmia/config`, on Windows `%LOCALAPPDATA%\\Algorithmia\\config`. */
export function algoConfigFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
    if (process.platform === "win32") return env.LOCALAPPDATA && path.join(env.LOCALAPPDATA, "Algorithmia", "config");
    return env.HOME && path.join(env.HOME, ".algorithmia", "config");
}

/** Parsed once per file and modification time: every check resolves the connection. */
const parsedFiles = new Map<string, { mtimeMs: number; profiles: Record<string, AlgoProfile> }>();

function readProfiles(file: string): Record<string, AlgoProfile> | undefined {
    let mtimeMs: number;
    try {
        mtimeMs = fs.statSync(file).mtimeMs;
    } catch {
        return undefined;
    }
    const cached = parsedFiles.get(file);
    if (cached?.mtimeMs === mtimeMs) return cached.profiles;
    let profiles: Record<string, AlgoProfile>;
    try {
        profiles = (parseToml(fs.readFileSync(file, "utf8")).profiles ?? {}) as Record<string, AlgoProfile>;
    } catch (err) {
        // The parser's first line names the line and column; the rest quotes the file, which holds keys: no cause.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(`${file} is not a valid algo CLI config (TOML): ${(err as Error).message.split("\n")[0]}`);
    }
    parsedFiles.set(file, { mtimeMs, profiles });
    return profiles;
}

/**
 * The profile the stack names (`algorithmia:profile`; it must exist), else the CLI's `default` profile when the file
 * has one. The named profile ranks above the environment, the default one below it, as an explicit choice does.
 */
function profilesOf(stack: StackConfig | undefined, env: NodeJS.ProcessEnv) {
    const named = stack?.get("algorithmia:profile");
    const file = algoConfigFile(env);
    const profiles = file ? readProfiles(file) : undefined;
    const value = (profile: AlgoProfile | undefined, field: keyof AlgoProfile) => profile?.[field] || undefined;
    if (named) {
        const profile = profiles?.[named];
        if (!profile) {
            throw new Error(
                `algorithmia:profile is "${named}", but ${file ?? "the algo CLI config"} has no such profile: ` +
                    `run \`algo auth --profile ${named}\`, or unset algorithmia:profile`,
            );
        }
        return { named: (field: keyof AlgoProfile) => value(profile, field), fallback: () => undefined };
    }
    const fallback = profiles?.[DEFAULT_PROFILE];
    return { named: () => undefined, fallback: (field: keyof AlgoProfile) => value(fallback, field) };
}

// --- resolution ------------------------------------------------------------------------------------------------

/**
 * The API address a resource's `apiAddress` argument means here: the argument > stack config > the named profile >
 * env `ALGORITHMIA_API` > the default profile > the public API.
 */
export function resolveApiAddress(
    stack: StackConfig | undefined,
    apiAddressArg?: string,
    env: NodeJS.ProcessEnv = process.env,
): string {
    const profile = profilesOf(stack, env);
    return (
        apiAddressArg ||
        stack?.get("algorithmia:apiAddress") ||
        profile.named("api_server") ||
        env.ALGORITHMIA_API ||
        profile.fallback("api_server") ||
        DEFAULT_API_ADDRESS
    ).replace(/\/+$/, "");
}

/**
 * Each setting from the first of: the resource's argument (address and key only), the stack config
 * (`algorithmia:<setting>`), the profile `algorithmia:profile` names, the environment, the `algo` CLI's default
 * profile. An API key wins over a bearer token wherever each comes from, as in the official Python client.
 * - address: `apiAddress`, profile `api_server`, env `ALGORITHMIA_API`; else the public API.
 * - key: `apiKey` (a secret), profile `api_key`, env `ALGORITHMIA_API_KEY`.
 * - bearer token: `bearerToken` (a secret), profile `bearer_token`, env `ALGORITHMIA_BEARER_TOKEN`.
 * - CA bundle: `caCert`, profile `ca_cert`, env `REQUESTS_CA_BUNDLE` (what the Python client honours).
 * - git address: `gitAddress`, env `ALGORITHMIA_GIT_ADDRESS`; else derived from the API address
 *   (`defaultGitAddress`).
 */
export function resolveConnection(
    stack: StackConfig | undefined,
    apiAddressArg?: string,
    apiKeyArg?: string,
    env: NodeJS.ProcessEnv = process.env,
): Connection {
    const profile = profilesOf(stack, env);
    const setting = (name: string, field: keyof AlgoProfile, envName: string) =>
        stack?.get(`algorithmia:${name}`) || profile.named(field) || env[envName] || profile.fallback(field);
    const apiAddress = resolveApiAddress(stack, apiAddressArg, env);
    const apiKey = apiKeyArg || setting("apiKey", "api_key", "ALGORITHMIA_API_KEY");
    const bearerToken = apiKey ? undefined : setting("bearerToken", "bearer_token", "ALGORITHMIA_BEARER_TOKEN");
    if (!apiKey && !bearerToken) {
        throw new Error(
            "No Algorithmia API key: run `pulumi config set --secret algorithmia:apiKey <key>`, " +
                "set ALGORITHMIA_API_KEY in the environment of `pulumi`, give the resource an `apiKey`, " +
                "or name an `algo` CLI profile with `pulumi config set algorithmia:profile <name>`.",
        );
    }
    const isUrl = (address: string) => /^https?:\/\/[^/]+/.test(address);
    if (!isUrl(apiAddress)) {
        throw new Error(`apiAddress must be an http(s) URL such as ${DEFAULT_API_ADDRESS}, got "${apiAddress}"`);
    }
    const caCert = setting("caCert", "ca_cert", "REQUESTS_CA_BUNDLE");
    if (caCert && !fs.existsSync(caCert)) {
        throw new Error(
            `the CA bundle ${caCert} (algorithmia:caCert, a profile's ca_cert or REQUESTS_CA_BUNDLE) does not exist`,
        );
    }
    const configuredGit = stack?.get("algorithmia:gitAddress");
    const gitAddress = configuredGit || env.ALGORITHMIA_GIT_ADDRESS || defaultGitAddress(apiAddress);
    if (!isUrl(gitAddress)) {
        const setting = configuredGit
            ? "algorithmia:gitAddress (stack config)"
            : "ALGORITHMIA_GIT_ADDRESS (environment)";
        throw new Error(
            `${setting} must be an http(s) URL such as https://git.algorithmia.com, got "${gitAddress}": ` +
                "fix it, or unset it to use the git address derived from the API address",
        );
    }
    return {
        apiAddress,
        ...(apiKey ? { apiKey } : { bearerToken }),
        ...(caCert ? { caCert } : {}),
        gitAddress: gitAddress.replace(/\/+$/, ""),
    };
}
