// Where the API address and key come from (design.md §3). Resolved inside the provider process, at call time,
// from the stack config the engine hands to `configure` and from that process's environment — never captured
// when the provider is serialized, never returned as an output.
export const DEFAULT_API_ADDRESS = "https://api.algorithmia.com";
// What `resolveConnection` (serialized with the provider) reads: not through the module's `exports`.
const PUBLIC_API_ADDRESS = DEFAULT_API_ADDRESS;

/** The stack config as the dynamic provider's `configure` sees it. */
export interface StackConfig {
    get(key: string): string | undefined;
}

export interface Connection {
    apiAddress: string;
    apiKey: string;
}

/**
 * Address: resource arg `apiAddress` > stack config `algorithmia:apiAddress` > env `ALGORITHMIA_API` > public API.
 * Key: stack config `algorithmia:apiKey` (a secret) > env `ALGORITHMIA_API_KEY`.
 */
export function resolveConnection(
    stack: StackConfig | undefined,
    apiAddressArg?: string,
    env: NodeJS.ProcessEnv = process.env,
): Connection {
    const apiAddress = apiAddressArg || stack?.get("algorithmia:apiAddress") || env.ALGORITHMIA_API || PUBLIC_API_ADDRESS;
    const apiKey = stack?.get("algorithmia:apiKey") || env.ALGORITHMIA_API_KEY;
    if (!apiKey) {
        throw new Error(
            "No Algorithmia API key: run `pulumi config set --secret algorithmia:apiKey <key>` " +
                "or set ALGORITHMIA_API_KEY in the environment of `pulumi`.",
        );
    }
    if (!/^https?:\/\/[^/]+/.test(apiAddress)) {
        throw new Error(`apiAddress must be an http(s) URL such as ${PUBLIC_API_ADDRESS}, got "${apiAddress}"`);
    }
    return { apiAddress: apiAddress.replace(/\/+$/, ""), apiKey };
}
