// Calls a published algorithm with the official `algorithmia` npm client, the way a user of the model would.
//
//     npx ts-node examples/model-guide/call.ts <owner/name/version> '<JSON input>'
//
// reads the key from ALGORITHMIA_API_KEY and the address from ALGORITHMIA_API (default: Algorithmia's public
// API), prints the answer as JSON on stdout. `npm run demo` and the integration tests call it the same way.

export interface AlgoReply {
    result: unknown;
    metadata: { content_type: string; duration: number; [key: string]: unknown };
}

// The official client ships no type declarations; these are the parts used here.
interface AlgoResponse {
    status: number;
    result: unknown;
    error?: { message: string; error_type?: string };
    metadata?: AlgoReply["metadata"];
}
type ClientFactory = (
    apiKey?: string,
    apiAddress?: string,
) => {
    algo(path: string): { pipe(input: unknown): { then(callback: (response: AlgoResponse) => void): void } };
};
const algorithmia: ClientFactory = require("algorithmia");

/** One call of `algoUri` (owner/name[/version]) with JSON `input`; rejects with the algorithm's error message. */
export function callAlgorithm(
    algoUri: string,
    input: unknown,
    connection: { apiKey?: string; apiAddress?: string } = {},
): Promise<AlgoReply> {
    const client = algorithmia(connection.apiKey, connection.apiAddress);
    return new Promise((resolve, reject) => {
        client
            .algo(algoUri)
            .pipe(input)
            .then((response) => {
                if (response.error) {
                    const type = response.error.error_type ? `${response.error.error_type}: ` : "";
                    reject(
                        new Error(
                            `algo://${algoUri} failed (HTTP ${response.status}): ${type}${response.error.message}`,
                        ),
                    );
                } else {
                    resolve({ result: response.result, metadata: response.metadata! });
                }
            });
    });
}

if (require.main === module) {
    const [algoUri, inputJson] = process.argv.slice(2);
    if (!algoUri || !inputJson) {
        console.error("usage: call.ts <owner/name/version> '<JSON input>'   (key in ALGORITHMIA_API_KEY)");
        process.exit(2);
    }
    callAlgorithm(algoUri, JSON.parse(inputJson)).then(
        (reply) => console.log(JSON.stringify(reply.result)),
        (err) => {
            console.error(err.message);
            process.exit(1);
        },
    );
}
