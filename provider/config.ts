// Where the API address, the git address and the key come from (design.md §3). Resolved inside the provider
// process, at call time, from the stack config the engine hands to `configure` and from that process's
// environment — never in state, never returned as an output.
import { defaultGitAddress } from "./client/git";

export const DEFAULT_API_ADDRESS = "https://api.algorithmia.com";

/** The stack config as the dynamic provider's `configure` sees it. */
export interface StackConfig {
    get(key: string): string | undefined;
}

export interface Connection {
    apiAddress: string;
    apiKey: string;
    /** Base address of the algorithms' git repositories (`<gitAddress>/git/<owner>/<algo>.git`). */
    gitAddress: string;
}

/** The API address a resource's `apiAddress` argument means here: the argument > stack config > env > public API. */
export function resolveApiAddress(
    stack: StackConfig | undefined,
    apiAddressArg?: string,
    env: NodeJS.ProcessEnv = process.env,
): string {
    return (
        apiAddressArg ||
        stack?.get("algorithmia:apiAddress") ||
        env.ALGORITHMIA_API ||
        DEFAULT_API_ADDRESS
    ).replace(/\/+$/, "");
}

/**
 * Address: resource arg `apiAddress` > stack config `algorithmia:apiAddress` > env `ALGORITHMIA_API` > public API.
 * Key: resource arg `apiKey` > stack config `algorithmia:apiKey` (a secret) > env `ALGORITHMIA_API_KEY`.
 * Git address: stack config `algorithmia:gitAddress` > env `ALGORITHMIA_GIT_ADDRESS` > derived from the API
 * address (`defaultGitAddress`).
 */
export function resolveConnection(
    stack: StackConfig | undefined,
    apiAddressArg?: string,
    apiKeyArg?: string,
    env: NodeJS.ProcessEnv = process.env,
): Connection {
    const apiAddress = resolveApiAddress(stack, apiAddressArg, env);
    const apiKey = apiKeyArg || stack?.get("algorithmia:apiKey") || env.ALGORITHMIA_API_KEY;
    if (!apiKey) {
        throw new Error(
            "No Algorithmia API key: run `pulumi config set --secret algorithmia:apiKey <key>`, " +
                "set ALGORITHMIA_API_KEY in the environment of `pulumi`, or give the resource an `apiKey`.",
        );
    }
    const isUrl = (address: string) => /^https?:\/\/[^/]+/.test(address);
    if (!isUrl(apiAddress)) {
        throw new Error(`apiAddress must be an http(s) URL such as ${DEFAULT_API_ADDRESS}, got "${apiAddress}"`);
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
    return { apiAddress, apiKey, gitAddress: gitAddress.replace(/\/+$/, "") };
}
