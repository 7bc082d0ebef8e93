// Key types and key permissions (server/auth.ts): management routes, algorithm calls with their algo_acl, data
// reads and writes, git, and admin keys, over real HTTP against a fresh algorithmia-local whose user alice has one
// key per restriction besides her full one.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { aclAllows } from "../../server/auth";
import { createBody } from "../helpers/algorithms";
import { ADMIN, ALICE, BOB, call, expectError, startTestServer, TestServer } from "../helpers/server";

const restricted = (key: string, permissions: Record<string, unknown>) => ({ name: ALICE.name, key, permissions });
const NO_MANAGEMENT = restricted("simAliceNoManagement000000001", { allow_algo_management: false });
const READ_ONLY_DATA = restricted("simAliceReadOnlyData000000002", { allow_data_write: false });
const NO_DATA = restricted("simAliceNoData00000000000000003", { allow_data: false });
const NO_CALLS = restricted("simAliceNoCalls0000000000000004", { allow_algo: false });
const ONLY_ALLOWED = restricted("simAliceOnlyAllowed0000000005", { algo_acl: ["algo://alice/Allowed/*"] });

describe("algorithmia-local: key permissions", function () {
    let server: TestServer;
    let otherId: string;
    const as = (key: string) => (method: string, route: string, json?: unknown) =>
        call(server, method, route, { key, json });
    const refused = (pattern: RegExp) => (res: Awaited<ReturnType<typeof call>>) =>
        expectError(res, 403, 2001, pattern);

    before(async () => {
        server = await startTestServer({
            users: [ALICE, BOB, ADMIN, NO_MANAGEMENT, READ_ONLY_DATA, NO_DATA, NO_CALLS, ONLY_ALLOWED],
        });
        for (const name of ["Allowed", "Other"]) {
            const created = await as(ALICE.key)("POST", "/v1/algorithms/alice", createBody(name));
            assert.strictEqual(created.status, 201, created.text);
            if (name === "Other") otherId = created.json.id;
        }
        assert.strictEqual((await as(ALICE.key)("POST", "/v1/data/.my", { name: "models" })).status, 200);
    });
    after(async () => server?.dispose());

    describe("algorithm management (allow_algo_management)", () => {
        it("refuses every management route to a key without it, with 403 code 2001", async () => {
            const alice = as(NO_MANAGEMENT.key);
            const lacks = refused(/this API key lacks allow_algo_management/);
            lacks(await alice("POST", "/v1/algorithms/alice", createBody("Nope")));
            lacks(await alice("GET", "/v1/algorithms/alice/Allowed"));
            lacks(await alice("GET", `/v1/algorithms/${otherId}`));
            lacks(await alice("PUT", "/v1/algorithms/alice/Allowed", { details: { label: "x" } }));
            lacks(await alice("DELETE", "/v1/algorithms/alice/Other"));
            lacks(await alice("POST", "/v1/algorithms/alice/Allowed/compile", {}));
            lacks(
                await alice("POST", "/v1/algorithms/alice/Allowed/versions", {
                    version_info: { version_type: "minor" },
                }),
            );
            lacks(await alice("GET", "/v1/algorithms/alice/Allowed/versions"));
            lacks(await alice("GET", "/v1/algorithms/alice/Allowed/builds"));
            lacks(await alice("GET", "/v1/algorithms/alice/Allowed/errors"));
            lacks(await alice("GET", `/v1/algorithms/${otherId}/secrets`));
            lacks(
                await alice("POST", `/v1/algorithms/${otherId}/secrets`, {
                    short_name: "s",
                    secret_key: "S",
                    secret_value: "v",
                }),
            );
            // The same routes answer the full key; nothing was changed by the refused ones.
            const full = as(ALICE.key);
            assert.strictEqual((await full("GET", "/v1/algorithms/alice/Other")).status, 200);
            assert.strictEqual((await full("GET", "/v1/algorithms/alice/Nope")).status, 404);
            assert.deepStrictEqual((await full("GET", `/v1/algorithms/${otherId}/secrets`)).json.secrets, []);
        });

        it("leaves the other routes to the key", async () => {
            const alice = as(NO_MANAGEMENT.key);
            assert.strictEqual((await alice("GET", "/v1/users/alice/algorithms")).status, 200);
            assert.strictEqual((await alice("GET", "/v1/data/.my")).status, 200);
            assert.strictEqual((await alice("GET", "/v1/scms")).status, 200);
            expectError(await alice("POST", "/v1/algo/alice/Allowed", 1), 404, 1014);
        });

        it("refuses git to a key without it", async () => {
            const refs = (key: string) =>
                fetch(`${server.url}/git/alice/Allowed.git/info/refs?service=git-upload-pack`, {
                    headers: { authorization: `Basic ${Buffer.from(`alice:${key}`).toString("base64")}` },
                });
            assert.strictEqual((await refs(ALICE.key)).status, 200);
            assert.strictEqual((await refs(NO_MANAGEMENT.key)).status, 403);
        });
    });

    describe("algorithm calls (allow_algo, algo_acl)", () => {
        it("refuses calls to a key without allow_algo", async () => {
            refused(/lacks allow_algo$/)(await as(NO_CALLS.key)("POST", "/v1/algo/alice/Allowed", 1));
            refused(/lacks allow_algo$/)(await as(NO_CALLS.key)("POST", `/v1/algo/${otherId}/`, 1));
            assert.strictEqual((await as(NO_CALLS.key)("GET", "/v1/algorithms/alice/Allowed")).status, 200);
        });

        it("lets a key call only the algorithms its algo_acl covers, by name or by id, at any version", async () => {
            const alice = as(ONLY_ALLOWED.key);
            // Past the ACL, the call fails for want of a published version: 404, not 403.
            expectError(await alice("POST", "/v1/algo/alice/Allowed", 1), 404, 1014);
            expectError(await alice("POST", "/v1/algo/ALICE/allowed/1.0.0", 1), 404, 1014);
            const outside = refused(/algo_acl does not cover algo:\/\/alice\/Other/);
            outside(await alice("POST", "/v1/algo/alice/Other", 1));
            outside(await alice("POST", "/v1/algo/alice/Other/latestPrivate", 1));
            outside(await alice("POST", `/v1/algo/${otherId}`, 1));
        });

        it("matches algo:// entries: * for the rest, an entry without a version for every version", () => {
            assert.ok(aclAllows(["algo://*"], "alice", "Hello"));
            assert.ok(aclAllows(["algo://alice/*"], "Alice", "Hello", "1.0.0"));
            assert.ok(!aclAllows(["algo://alice/*"], "bob", "Hello"));
            assert.ok(aclAllows(["algo://alice/hello"], "alice", "Hello", "1.0.0"));
            assert.ok(aclAllows(["algo://alice/Hello/*"], "alice", "Hello"));
            assert.ok(aclAllows(["algo://alice/Hello/1.0.0"], "alice", "Hello", "1.0.0"));
            assert.ok(!aclAllows(["algo://alice/Hello/1.0.0"], "alice", "Hello"));
            assert.ok(!aclAllows(["algo://alice/Hello/1.0.0"], "alice", "Hello", "1.0.1"));
            assert.ok(!aclAllows(["algo://alice/Hell"], "alice", "Hello"));
            assert.ok(!aclAllows([], "alice", "Hello"));
        });

        it("refuses ACL entries without algo:// and unknown permissions when the server starts", async () => {
            for (const [permissions, pattern] of [
                [{ algo_acl: ["alice/Hello"] }, /user alice: algo_acl must be a list of entries like algo:\/\/\*/],
                [{ algo_acl: ["algo://alice"] }, /algo_acl must be/],
                [{ allow_algo: "yes" }, /allow_algo must be true or false/],
                [{ referer_host: "example.com" }, /unknown key permission "referer_host"/],
            ] as const) {
                const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "algorithmia-local-test-"));
                const users = [restricted("simAliceBad00000000000000000006", permissions)];
                await assert.rejects(startTestServer({ dataDir, users }), pattern);
                fs.rmSync(dataDir, { recursive: true, force: true });
            }
        });
    });

    describe("data (allow_data, allow_data_write)", () => {
        it("lets a read-only key read but not write", async () => {
            const alice = as(READ_ONLY_DATA.key);
            assert.strictEqual((await alice("GET", "/v1/data/.my/models")).status, 200);
            assert.strictEqual((await alice("HEAD", "/v1/connector/data/alice/models")).status, 200);
            const lacks = refused(/lacks allow_data_write/);
            lacks(await alice("POST", "/v1/data/.my", { name: "more" }));
            lacks(await call(server, "PUT", "/v1/data/.my/models/m.bin", { key: READ_ONLY_DATA.key, body: "bytes" }));
            lacks(await alice("DELETE", "/v1/connector/data/alice/models?force=true"));
            assert.strictEqual(
                (await as(ALICE.key)("GET", "/v1/data/.my/models")).status,
                200,
                "the collection is still there",
            );
        });

        it("refuses a key without allow_data every data route", async () => {
            const alice = as(NO_DATA.key);
            const lacks = refused(/lacks allow_data/);
            lacks(await alice("GET", "/v1/data/.my/models"));
            lacks(await alice("GET", "/v1/connector/data"));
            lacks(await alice("POST", "/v1/data/.my", { name: "more" }));
            assert.strictEqual((await alice("GET", "/v1/algorithms/alice/Allowed")).status, 200);
        });
    });

    describe("admin keys", () => {
        it("serve the admin routes only", async () => {
            const admin = as(ADMIN.key);
            assert.strictEqual((await admin("GET", "/v1/organization/types")).status, 200);
            const adminOnly = refused(/an admin API key serves the admin routes only/);
            adminOnly(await admin("GET", "/v1/algorithms/alice/Allowed"));
            adminOnly(await admin("GET", "/v1/data/.my"));
            adminOnly(await admin("POST", "/v1/algo/alice/Allowed", 1));
            adminOnly(await admin("GET", "/v1/organizations/team/errors"));
        });

        it("are needed on the admin routes", async () => {
            const needsAdmin = refused(/this route needs an admin API key/);
            needsAdmin(await as(ALICE.key)("GET", "/v1/organization/types"));
            needsAdmin(await as(ALICE.key)("GET", "/v1/organizations/team"));
            needsAdmin(await as(BOB.key)("PUT", "/v1/organizations/team/members/bob"));
        });
    });
});
