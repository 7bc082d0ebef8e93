// What an integration suite stands on, its own and torn down after it: algorithmia-local (alice and bob), an engine
// sandbox (PULUMI_HOME and file backend), a client for alice and a scratch directory.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AlgorithmiaClient } from "../../provider/client";
import { PulumiSandbox } from "./pulumi";
import { ALICE, startTestServer, TestServer } from "./server";

export interface TestBed {
    server: TestServer;
    sandbox: PulumiSandbox;
    /** Alice's client. */
    client: AlgorithmiaClient;
    root: string;
}

/**
 * Registers the suite's before/after hooks; the fields are set once `before` has run. `sandboxEnv` adds variables
 * to every engine run (e.g. `pythonProgramEnv(...)`).
 */
export function testBed(options: { sandboxEnv?: () => Promise<Record<string, string>> } = {}): TestBed {
    const bed = {} as TestBed;
    before(async () => {
        bed.server = await startTestServer();
        bed.sandbox = await PulumiSandbox.create(await options.sandboxEnv?.());
        bed.client = new AlgorithmiaClient({ apiAddress: bed.server.url, apiKey: ALICE.key });
        bed.root = fs.mkdtempSync(path.join(os.tmpdir(), "suite-"));
    });
    after(async () => {
        await bed.sandbox?.dispose();
        await bed.server?.dispose();
        if (bed.root) fs.rmSync(bed.root, { recursive: true, force: true });
    });
    return bed;
}
