// The official npm `algorithmia` client (v0.3.x, callback style, no type declarations), wrapped in promises
// for tests that call algorithmia-local the way a Node application would.
const algorithmia = require("algorithmia");

export interface AlgoResponse {
    status: number;
    result: any;
    error?: { message: string; stacktrace?: string; error_type?: string };
    metadata?: { content_type: string; duration: number; stdout?: string; alerts?: string[] };
    /** The client's own decoding: the result, or a throw for an error. */
    get(): any;
}

export interface NpmClient {
    /** Calls `owner/algo[/version]` with a string (text), a Buffer (binary) or anything else (JSON). */
    pipe(algoPath: string, input: unknown): Promise<AlgoResponse>;
    /** Creates `data://owner/name` (the client sends no ACL, so the server's default applies). */
    createDir(dataUri: string): Promise<{ status: number; body: any }>;
    /** Uploads bytes to a data file. */
    putFile(dataUri: string, content: Buffer | string): Promise<{ status: number; body: any }>;
}

const dataPath = (uri: string) => uri.replace(/^data:\/\//, "");

export function npmClient(apiKey: string, apiAddress: string): NpmClient {
    const client = algorithmia.client(apiKey, apiAddress);
    return {
        pipe: (algoPath, input) => new Promise((resolve) => client.algo(algoPath).pipe(input).then(resolve)),
        createDir: (uri) =>
            new Promise((resolve) =>
                client.dir(dataPath(uri)).create((body: any, status: number) => resolve({ status, body })),
            ),
        putFile: (uri, content) =>
            new Promise((resolve) =>
                client.file(dataPath(uri)).put(content, (body: any, status: number) => resolve({ status, body })),
            ),
    };
}
