// Route tests for the Data API (server/data.ts) over real HTTP: URL forms, auth, collections, files, ACLs between
// two users and an organization, paging, path safety, interrupted uploads and restarts (big files and kill -9: process.test.ts).
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { canRead, dataSegments } from "../../server/data";
import { until } from "../helpers/processes";
import { ALICE, BOB, call, CallOptions, rawRequest, startTestServer, TestServer } from "../helpers/server";

describe("Data API", function () {
    let server: TestServer;
    const as =
        (key: string) =>
        (method: string, route: string, opts: CallOptions = {}) =>
            call(server, method, route, { key, ...opts });
    const alice = as(ALICE.key);
    const bob = as(BOB.key);

    before(async () => {
        server = await startTestServer();
    });
    after(async () => {
        await server?.dispose();
    });

    /** Creates alice's collection `name` with the given read ACL. */
    async function collection(name: string, read?: string[], owner = ".my") {
        const res = await alice("POST", `/v1/data/${owner}`, { json: read ? { name, acl: { read } } : { name } });
        assert.strictEqual(res.status, 200, res.text);
        return res;
    }

    describe("authentication", () => {
        before(() => collection("authcoll"));

        for (const [form, auth] of [
            ["Simple", `Simple ${ALICE.key}`],
            ["bare", ALICE.key],
            ["simple (lower case)", `simple ${ALICE.key}`],
        ]) {
            it(`accepts the ${form} form`, async () => {
                const res = await call(server, "GET", "/v1/data/.my/authcoll", { auth });
                assert.strictEqual(res.status, 200);
            });
        }

        for (const [what, auth] of [
            ["no key", undefined],
            ["an unknown key", "Simple simNoSuchKey"],
        ] as const) {
            it(`answers 401 with the error shape for ${what}`, async () => {
                const res = await call(server, "GET", "/v1/data/alice/authcoll", auth ? { auth } : {});
                assert.strictEqual(res.status, 401);
                assert.strictEqual(res.json.error.code, 2002);
                assert.match(res.json.error.message, /API key/);
                assert.strictEqual(res.headers.get("x-error-message"), res.json.error.message);
            });
        }

        describe("bearer tokens", () => {
            const issue = async (json: object = {}, key = ALICE.key) =>
                call(server, "POST", "/_local/tokens", { key, json });

            it("accepts a token issued to alice's key, as alice, and nothing else as a token", async () => {
                const issued = await issue();
                assert.strictEqual(issued.status, 200, issued.text);
                const { token } = issued.json;
                const ok = await call(server, "GET", "/v1/data/.my/authcoll", { auth: `Bearer ${token}` });
                assert.strictEqual(ok.status, 200, ok.text);
                // An API key is not a token, and a token is not an API key.
                for (const auth of [`Bearer ${ALICE.key}`, `Simple ${token}`, `Bearer ${token.slice(0, -2)}xx`]) {
                    const refused = await call(server, "GET", "/v1/data/.my/authcoll", { auth });
                    assert.strictEqual(refused.status, 401, auth);
                    assert.strictEqual(refused.json.error.code, 2002);
                }
            });

            it("refuses an expired token and issues none without a valid key or with a bad lifetime", async () => {
                const { token } = (await issue({ ttl_seconds: 1 })).json;
                await new Promise((resolve) => setTimeout(resolve, 2100));
                const expired = await call(server, "GET", "/v1/data/.my/authcoll", { auth: `Bearer ${token}` });
                assert.strictEqual(expired.status, 401);
                assert.match(expired.json.error.message, /expired/);
                assert.strictEqual((await issue({}, "simNoSuchKey")).status, 401);
                assert.strictEqual((await issue({ ttl_seconds: 0 })).status, 400);
            });
        });

        it("puts the message of a HEAD error in X-Error-Message", async () => {
            const res = await call(server, "HEAD", "/v1/data/alice/authcoll");
            assert.strictEqual(res.status, 401);
            assert.strictEqual(res.text, "");
            assert.match(res.headers.get("x-error-message")!, /Authentication required/);
        });
    });

    describe("collections", () => {
        it("creates a collection under .my, the owner's name and the connector form", async () => {
            assert.deepStrictEqual((await collection("c1")).json, { result: "data://alice/c1" });
            assert.deepStrictEqual((await collection("c2", undefined, "alice")).json, { result: "data://alice/c2" });
            const res = await alice("POST", "/v1/connector/data/.my", { json: { name: "c3" } });
            assert.deepStrictEqual([res.status, res.json], [200, { result: "data://alice/c3" }]);
        });

        it("takes a bare name as a text body (the Node TS client's form)", async () => {
            const res = await alice("POST", "/v1/data/.my", {
                body: "textnamed",
                headers: { "content-type": "text/plain" },
            });
            assert.deepStrictEqual([res.status, res.json], [200, { result: "data://alice/textnamed" }]);
        });

        it("refuses a duplicate with 409", async () => {
            await collection("dup");
            const res = await alice("POST", "/v1/data/.my", { json: { name: "dup" } });
            assert.strictEqual(res.status, 409);
            assert.match(res.json.error.message, /already exists/);
        });

        for (const name of ["1abc", "a-b", "has space", "x".repeat(31), "_lead"]) {
            it(`rejects the collection name ${JSON.stringify(name)} naming the rule`, async () => {
                const res = await alice("POST", "/v1/data/.my", { json: { name } });
                assert.strictEqual(res.status, 400);
                assert.match(res.json.error.message, /start with a letter.*letters, digits and _.*at most 30/);
            });
        }

        it("rejects malformed JSON, a missing name and an unknown ACL", async () => {
            let res = await alice("POST", "/v1/data/.my", {
                body: "{not json",
                headers: { "content-type": "application/json" },
            });
            assert.deepStrictEqual([res.status, res.json.error.code], [400, 2013]);
            res = await alice("POST", "/v1/data/.my", { json: { acl: { read: [] } } });
            assert.strictEqual(res.status, 400);
            assert.match(res.json.error.message, /"name"/);
            res = await alice("POST", "/v1/data/.my", { json: { name: "badacl", acl: { read: ["user://bob"] } } });
            assert.strictEqual(res.status, 400);
            assert.match(res.json.error.message, /acl\.read/);
        });

        it("lists the namespaces the caller acts for at the root: its own name first, then its organizations", async () => {
            await collection("zlast");
            for (const route of [
                "/v1/data/",
                "/v1/data",
                "/v1/connector/data/",
                "/v1/connector/data",
                "/v1/data/data://",
                "/v1/data/data%3A%2F%2F",
            ]) {
                const res = await alice("GET", route);
                assert.strictEqual(res.status, 200, route);
                assert.strictEqual(res.headers.get("x-data-type"), "directory");
                assert.deepStrictEqual(res.json, { folders: [{ name: "alice" }, { name: "team" }], files: [] }, route);
            }
            assert.deepStrictEqual((await bob("GET", "/v1/data/")).json, { folders: [{ name: "bob" }], files: [] });
            const head = await alice("HEAD", "/v1/connector/data/");
            assert.deepStrictEqual([head.status, head.headers.get("x-data-type")], [200, "directory"]);
        });

        it("creates no collection at the root (405 pointing at .my), and needs a key there too", async () => {
            const res = await alice("POST", "/v1/data/", { json: { name: "atroot" } });
            assert.strictEqual(res.status, 405);
            assert.match(res.json.error.message, /root.*data:\/\/\.my/);
            assert.strictEqual((await alice("GET", "/v1/data/.my/atroot")).status, 404);
            assert.strictEqual((await call(server, "GET", "/v1/data/")).status, 401);
        });

        it("lists the caller's collections at .my and at the owner's name", async () => {
            for (const route of ["/v1/data/.my", "/v1/data/alice/", "/v1/connector/data/.my", "/v1/data/data://.my"]) {
                const res = await alice("GET", route);
                assert.strictEqual(res.status, 200, route);
                assert.strictEqual(res.headers.get("x-data-type"), "directory");
                const names = res.json.folders.map((f: { name: string }) => f.name);
                assert.ok(names.includes("c1") && names.includes("zlast"), `${route}: ${names}`);
                assert.deepStrictEqual(names, [...names].sort());
                assert.deepStrictEqual(res.json.files, []);
                assert.strictEqual(res.json.marker, undefined);
            }
        });

        it("answers 404 for an unknown owner or collection", async () => {
            for (const [method, route] of [
                ["GET", "/v1/data/nobody"],
                ["POST", "/v1/data/nobody"],
                ["GET", "/v1/data/alice/nothere"],
                ["HEAD", "/v1/data/alice/nothere"],
                ["DELETE", "/v1/data/alice/nothere"],
            ]) {
                const res = await alice(method, route, method === "POST" ? { json: { name: "x" } } : {});
                assert.strictEqual(res.status, 404, `${method} ${route}`);
                assert.ok(res.headers.get("x-error-message"));
            }
        });

        it("answers HEAD on a collection with X-Data-Type: directory", async () => {
            const res = await alice("HEAD", "/v1/data/.my/c1");
            assert.deepStrictEqual([res.status, res.headers.get("x-data-type")], [200, "directory"]);
        });

        it("defaults the ACL to my algorithms and shows it with ?acl=true only", async () => {
            assert.strictEqual((await alice("GET", "/v1/data/.my/c1")).json.acl, undefined);
            assert.deepStrictEqual((await alice("GET", "/v1/data/.my/c1?acl=true")).json.acl, {
                read: ["algo://.my/*"],
            });
            await collection("pub", ["user://*"]);
            assert.deepStrictEqual((await alice("GET", "/v1/data/.my/pub?acl=true")).json.acl, { read: ["user://*"] });
        });

        it("updates the ACL with PATCH (200, empty body)", async () => {
            await collection("patched");
            const res = await alice("PATCH", "/v1/data/.my/patched", { json: { acl: { read: [] } } });
            assert.deepStrictEqual([res.status, res.text], [200, ""]);
            assert.deepStrictEqual((await alice("GET", "/v1/connector/data/alice/patched?acl=true")).json.acl, {
                read: [],
            });
            const missing = await alice("PATCH", "/v1/data/.my/patched", { json: { read: [] } });
            assert.strictEqual(missing.status, 400);
            assert.match(missing.json.error.message, /"acl" is missing/);
        });

        it("deletes an empty collection and refuses a non-empty one without force", async () => {
            await collection("empty");
            assert.deepStrictEqual((await alice("DELETE", "/v1/data/.my/empty")).json, { result: { deleted: 0 } });
            await collection("full");
            for (const f of ["a", "b", "c"])
                assert.strictEqual((await alice("PUT", `/v1/data/.my/full/${f}`, { body: f })).status, 200);
            for (const route of ["/v1/data/.my/full", "/v1/data/.my/full?force=false"]) {
                const res = await alice("DELETE", route);
                assert.strictEqual(res.status, 400);
                assert.match(res.json.error.message, /not empty \(3 files\).*force=true/);
            }
            assert.strictEqual((await alice("GET", "/v1/data/.my/full")).json.files.length, 3);
            const res = await alice("DELETE", "/v1/data/.my/full?force=true");
            assert.deepStrictEqual([res.status, res.json], [200, { result: { deleted: 3 } }]);
            assert.strictEqual((await alice("GET", "/v1/data/.my/full")).status, 404);
            // The name is free again, and the new collection starts empty.
            await collection("full");
            assert.deepStrictEqual((await alice("GET", "/v1/data/.my/full")).json.files, []);
        });

        it("refuses methods that make no sense for the path", async () => {
            assert.strictEqual((await alice("PUT", "/v1/data/.my/c1", { body: "x" })).status, 405);
            assert.strictEqual((await alice("DELETE", "/v1/data/.my")).status, 405);
            assert.strictEqual(
                (await alice("PATCH", "/v1/data/.my/c1/file", { json: { acl: { read: [] } } })).status,
                405,
            );
        });

        it("answers 404 for connectors other than data", async () => {
            for (const route of [
                "/v1/data/s3://bucket/x",
                "/v1/connector/dropbox/x",
                "/v1/data/s3%3A%2F%2Fbucket%2Fx",
            ]) {
                const res = await alice("GET", route);
                assert.strictEqual(res.status, 404, route);
                assert.match(res.json.error.message, /Connector/);
            }
        });
    });

    describe("files", () => {
        const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
        before(async () => {
            await collection("files");
        });

        it("uploads, downloads and deletes a binary file with the documented headers", async () => {
            const put = await alice("PUT", "/v1/data/.my/files/bin.dat", {
                body: bytes,
                headers: { "content-type": "application/octet-stream" },
            });
            assert.deepStrictEqual([put.status, put.json], [200, { result: "data://alice/files/bin.dat" }]);

            const res = await fetch(`${server.url}/v1/data/alice/files/bin.dat`, {
                headers: { authorization: ALICE.key },
            });
            assert.strictEqual(res.status, 200);
            assert.deepStrictEqual(Buffer.from(await res.arrayBuffer()), bytes);
            assert.strictEqual(res.headers.get("x-data-type"), "file");
            assert.strictEqual(res.headers.get("content-length"), "512");
            assert.strictEqual(res.headers.get("content-type"), "application/octet-stream");
            assert.ok(Math.abs(Date.parse(res.headers.get("last-modified")!) - Date.now()) < 60_000);
            const etag = res.headers.get("etag");
            assert.match(etag!, /^"[0-9a-f-]+"$/);

            const head = await alice("HEAD", "/v1/data/.my/files/bin.dat");
            assert.deepStrictEqual([head.status, head.text, head.headers.get("x-data-type")], [200, "", "file"]);
            assert.strictEqual(head.headers.get("content-length"), "512");
            assert.strictEqual(head.headers.get("etag"), etag);

            // Overwriting replaces the content and changes the ETag.
            assert.strictEqual((await alice("PUT", "/v1/data/.my/files/bin.dat", { body: "new" })).status, 200);
            const after = await alice("GET", "/v1/data/.my/files/bin.dat");
            assert.strictEqual(after.text, "new");
            assert.notStrictEqual(after.headers.get("etag"), etag);

            const del = await alice("DELETE", "/v1/data/.my/files/bin.dat");
            assert.deepStrictEqual([del.status, del.json], [200, { result: { deleted: 1 } }]);
            assert.strictEqual((await alice("GET", "/v1/data/.my/files/bin.dat")).status, 404);
            assert.strictEqual((await alice("HEAD", "/v1/data/.my/files/bin.dat")).status, 404);
            assert.strictEqual((await alice("DELETE", "/v1/data/.my/files/bin.dat")).status, 404);
        });

        it("stores an empty file", async () => {
            assert.strictEqual((await alice("PUT", "/v1/data/.my/files/empty")).status, 200);
            const res = await alice("GET", "/v1/data/.my/files/empty");
            assert.deepStrictEqual([res.status, res.text, res.headers.get("content-length")], [200, "", "0"]);
        });

        it("lists files with size and last_modified as YYYY-MM-DDTHH:MM:SS.000Z", async () => {
            await alice("PUT", "/v1/data/.my/files/listed.txt", { body: "12345" });
            const res = await alice("GET", "/v1/data/.my/files");
            assert.deepStrictEqual(res.json.folders, []);
            const entry = res.json.files.find((f: { filename: string }) => f.filename === "listed.txt");
            assert.strictEqual(entry.size, 5);
            assert.match(entry.last_modified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
        });

        it("answers the content type the old Node client asks for with Accept", async () => {
            await alice("PUT", "/v1/data/.my/files/t.json", { body: '{"a":1}' });
            const text = await alice("GET", "/v1/data/.my/files/t.json", { headers: { accept: "text/plain" } });
            assert.match(text.headers.get("content-type")!, /^text\/plain/);
            const json = await alice("GET", "/v1/data/.my/files/t.json", { headers: { accept: "application/json" } });
            assert.deepStrictEqual([json.headers.get("content-type"), json.json], ["application/json", { a: 1 }]);
        });

        it("serves the same file on every URL form", async () => {
            await alice("PUT", "/v1/connector/data/alice/files/forms.txt", { body: "forms" });
            for (const route of [
                "/v1/data/.my/files/forms.txt",
                "/v1/data/alice/files/forms.txt",
                "/v1/connector/data/.my/files/forms.txt",
                "/v1/data/data://alice/files/forms.txt",
                "/v1/data/alice%2Ffiles%2Fforms.txt",
                "/v1/data/data%3A%2F%2Falice%2Ffiles%2Fforms.txt",
            ]) {
                const res = await alice("GET", route);
                assert.deepStrictEqual([res.status, res.text], [200, "forms"], route);
            }
        });

        it("keeps names with spaces, '+' and non-ASCII characters", async () => {
            for (const name of ["with space.txt", "a+b.txt", "naïve ☃.txt"]) {
                const route = `/v1/data/.my/files/${encodeURIComponent(name)}`;
                assert.strictEqual((await alice("PUT", route, { body: name })).status, 200, name);
                assert.strictEqual((await alice("GET", route)).text, name);
            }
            // Java's URLEncoder form: everything encoded, spaces as "+".
            assert.strictEqual((await alice("GET", "/v1/data/alice%2Ffiles%2Fwith+space.txt")).text, "with space.txt");
            const names = (await alice("GET", "/v1/data/.my/files")).json.files.map(
                (f: { filename: string }) => f.filename,
            );
            assert.ok(names.includes("naïve ☃.txt") && names.includes("a+b.txt"));
        });

        it("refuses an upload into a missing collection and sub-folders", async () => {
            const missing = await alice("PUT", "/v1/data/.my/nosuch/f.txt", { body: "x" });
            assert.strictEqual(missing.status, 404);
            const deep = await alice("PUT", "/v1/data/.my/files/sub/f.txt", { body: "x" });
            assert.strictEqual(deep.status, 400);
            assert.match(deep.json.error.message, /no sub-folders/);
        });
    });

    describe("path safety", () => {
        before(() => collection("safe"));

        const cases: [string, RegExp][] = [
            ["/v1/data/alice/safe/..", /"\." and "\.\."/],
            ["/v1/data/alice/safe/.", /"\." and "\.\."/],
            ["/v1/data/alice/safe/%2e%2e", /"\." and "\.\."/],
            ["/v1/data/alice/safe/%2E%2E/", /"\." and "\.\."/],
            ["/v1/data/alice/safe/..%2F..%2F..%2Fescaped", /no sub-folders/],
            ["/v1/data/alice/..%2F..%2Fescaped", /Invalid collection name/],
            ["/v1/data/..%2F..%2Fescaped", /not an owner/],
            ["/v1/data/alice/safe/a%00b", /control characters/],
            ["/v1/data/alice/safe/a%0Ab", /control characters/],
            ["/v1/data/alice/safe/a%5C..%5Cb", /"\\" is not allowed/],
            ["/v1/data/alice/safe//x", /empty segment/],
            ["/v1/data/alice/safe/%E0%A4%A", /malformed percent-encoding/],
            [`/v1/data/alice/safe/${"x".repeat(256)}`, /at most 255 bytes/],
        ];
        for (const [route, message] of cases) {
            it(`rejects PUT and GET ${route.length > 60 ? route.slice(0, 60) + "…" : route} with 400`, async () => {
                for (const method of ["PUT", "GET"]) {
                    const res = await rawRequest(server, method, route, {
                        key: ALICE.key,
                        body: method === "PUT" ? "escaped!" : undefined,
                    });
                    assert.strictEqual(res.status, 400, `${method} ${route}: ${res.text}`);
                    assert.match(JSON.parse(res.text).error.message, message);
                }
            });
        }

        it("wrote nothing outside the collections", () => {
            // Every traversal above aims at a file named "escaped" somewhere between the collection's directory
            // and the data directory's parent; no upload may have landed anywhere.
            const found: string[] = [];
            const walk = (dir: string) => {
                for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
                    const full = path.join(dir, entry.name);
                    if (entry.isDirectory()) walk(full);
                    else if (entry.isFile() && fs.readFileSync(full).includes("escaped!")) found.push(full);
                }
            };
            walk(server.dataDir);
            assert.deepStrictEqual(found, []);
            assert.ok(!fs.existsSync(path.join(path.dirname(server.dataDir), "escaped")));
        });
    });

    describe("ACLs between users", () => {
        before(async () => {
            await collection("private", []);
            await collection("myalgos", ["algo://.my/*"]);
            await collection("public", ["user://*"]);
            for (const c of ["private", "myalgos", "public"])
                await alice("PUT", `/v1/data/.my/${c}/f.txt`, { body: c });
        });

        it("lets another user read only a public collection", async () => {
            for (const [c, status] of [
                ["private", 403],
                ["myalgos", 403],
                ["public", 200],
            ] as const) {
                for (const [method, route] of [
                    ["GET", `/v1/data/alice/${c}`],
                    ["GET", `/v1/data/alice/${c}/f.txt`],
                    ["HEAD", `/v1/data/alice/${c}/f.txt`],
                    ["HEAD", `/v1/data/alice/${c}`],
                ]) {
                    const res = await bob(method, route);
                    assert.strictEqual(res.status, status, `bob ${method} ${route}`);
                    if (status === 403)
                        assert.strictEqual(
                            res.headers.get("x-error-message"),
                            "Caller is not authorized to perform the operation",
                        );
                }
            }
            assert.strictEqual((await bob("GET", "/v1/data/alice/public/f.txt")).text, "public");
            assert.strictEqual((await bob("GET", "/v1/data/alice/private/f.txt")).json.error.code, 2001);
        });

        it("shows another user only the collections they may read", async () => {
            const names = (await bob("GET", "/v1/data/alice")).json.folders.map((f: { name: string }) => f.name);
            assert.ok(names.includes("public"));
            assert.ok(!names.includes("private") && !names.includes("myalgos"), String(names));
            assert.ok(
                !(await bob("GET", "/v1/data/.my")).json.folders.some((f: { name: string }) => f.name === "public"),
            );
        });

        it("never lets another user write, whatever the ACL", async () => {
            for (const [method, route, opts] of [
                ["PUT", "/v1/data/alice/public/f.txt", { body: "bob was here" }],
                ["PUT", "/v1/data/alice/public/new.txt", { body: "bob was here" }],
                ["DELETE", "/v1/data/alice/public/f.txt", {}],
                ["DELETE", "/v1/data/alice/public?force=true", {}],
                ["PATCH", "/v1/data/alice/private", { json: { acl: { read: ["user://*"] } } }],
                ["POST", "/v1/data/alice", { json: { name: "bobs" } }],
            ] as [string, string, CallOptions][]) {
                const res = await bob(method, route, opts);
                assert.strictEqual(res.status, 403, `${method} ${route}`);
                assert.strictEqual(res.json.error.code, 2001);
            }
            assert.strictEqual((await alice("GET", "/v1/data/.my/public/f.txt")).text, "public");
        });

        it("applies an ACL change at once", async () => {
            await alice("PATCH", "/v1/data/.my/private", { json: { acl: { read: ["user://*"] } } });
            assert.strictEqual((await bob("GET", "/v1/data/alice/private/f.txt")).text, "private");
            await alice("PATCH", "/v1/data/.my/private", { json: { acl: { read: [] } } });
            assert.strictEqual((await bob("GET", "/v1/data/alice/private/f.txt")).status, 403);
        });

        it("lets org members create, write and read the org's private collections, and nobody else", async () => {
            assert.deepStrictEqual(
                (await alice("POST", "/v1/data/team", { json: { name: "shared", acl: { read: [] } } })).json,
                { result: "data://team/shared" },
            );
            assert.strictEqual(
                (await alice("PUT", "/v1/connector/data/team/shared/m.bin", { body: "model" })).status,
                200,
            );
            assert.strictEqual((await alice("GET", "/v1/data/team/shared/m.bin")).text, "model");
            assert.strictEqual((await bob("GET", "/v1/data/team/shared/m.bin")).status, 403);
            assert.strictEqual((await bob("PUT", "/v1/data/team/shared/m.bin", { body: "x" })).status, 403);
            assert.strictEqual((await bob("POST", "/v1/data/team", { json: { name: "bobs" } })).status, 403);
        });

        it("lets the owner's running algorithms read algo://.my/* collections (caller.algorithm)", () => {
            const bobCallsAlicesAlgo = { username: "bob", orgs: [], algorithm: "alice/Classifier" };
            const bobsAlgo = { username: "carol", orgs: [], algorithm: "bob/Classifier" };
            const myAlgos = { owner: "alice", acl: ["algo://.my/*"] };
            assert.ok(canRead(bobCallsAlicesAlgo, myAlgos));
            assert.ok(!canRead(bobsAlgo, myAlgos));
            assert.ok(!canRead({ username: "bob", orgs: [] }, myAlgos));
            assert.ok(!canRead(bobCallsAlicesAlgo, { owner: "alice", acl: [] }));
            assert.ok(canRead({ username: "bob", orgs: ["team"] }, { owner: "Team", acl: [] }));
            assert.ok(canRead({ username: "x", orgs: [] }, { owner: "alice", acl: ["user://*"] }));
        });
    });

    describe("paging", () => {
        const count = 1100;
        const names = Array.from({ length: count }, (_, i) => `f${String(i).padStart(4, "0")}`);
        before(async function () {
            await collection("paged");
            for (let i = 0; i < count; i += 100) {
                await Promise.all(
                    names.slice(i, i + 100).map((n) => alice("PUT", `/v1/data/.my/paged/${n}`, { body: n })),
                );
            }
        });

        it("pages through 1100 files, 1000 at a time, with marker", async () => {
            const first = await alice("GET", "/v1/data/.my/paged");
            assert.strictEqual(first.json.files.length, 1000);
            assert.ok(first.json.marker);
            const second = await alice(
                "GET",
                `/v1/connector/data/alice/paged?marker=${encodeURIComponent(first.json.marker)}&acl=true`,
            );
            assert.strictEqual(second.json.files.length, 100);
            assert.strictEqual(second.json.marker, undefined);
            assert.deepStrictEqual(second.json.acl, { read: ["algo://.my/*"] });
            const listed = [...first.json.files, ...second.json.files].map((f: { filename: string }) => f.filename);
            assert.deepStrictEqual(listed, names);
            assert.ok(second.json.files.every((f: { size: number }) => f.size === 5));
        });

        it("rejects an invalid marker with code 5002", async () => {
            const res = await alice("GET", "/v1/data/.my/paged?marker=%21%21not-a-marker");
            assert.deepStrictEqual([res.status, res.json.error.code], [400, 5002]);
        });
    });

    describe("durability", () => {
        it("keeps the old content when an upload is cut off halfway", async () => {
            await collection("atomic");
            await alice("PUT", "/v1/data/.my/atomic/model.bin", { body: "version 1" });
            const tmpDir = path.join(server.dataDir, "tmp");
            const total = 8 * 1024 * 1024;
            const req = http.request({
                host: "127.0.0.1",
                port: server.port,
                method: "PUT",
                path: "/v1/data/alice/atomic/model.bin",
                headers: { authorization: `Simple ${ALICE.key}`, "content-length": String(total) },
            });
            req.on("error", () => undefined); // the socket is destroyed on purpose
            req.write(Buffer.alloc(1024 * 1024, 7));
            // The server is streaming into its temporary file: cut the connection now.
            await until(
                "the upload to reach the server's temporary file",
                () => fs.readdirSync(tmpDir).some((f) => fs.statSync(path.join(tmpDir, f)).size > 0),
                5000,
                10,
            );
            req.destroy();
            await until("the temporary file to be removed", () => fs.readdirSync(tmpDir).length === 0, 5000, 10);

            const res = await alice("GET", "/v1/data/.my/atomic/model.bin");
            assert.deepStrictEqual([res.status, res.text], [200, "version 1"]);
            // An interrupted upload of a new file leaves no file at all.
            const fresh = http.request({
                host: "127.0.0.1",
                port: server.port,
                method: "PUT",
                path: "/v1/data/alice/atomic/new.bin",
                headers: { authorization: `Simple ${ALICE.key}`, "content-length": "1000" },
            });
            fresh.on("error", () => undefined);
            fresh.write("only a part");
            await new Promise((r) => setTimeout(r, 50));
            fresh.destroy();
            await until("the temporary file to be removed", () => fs.readdirSync(tmpDir).length === 0, 5000, 10);
            assert.strictEqual((await alice("HEAD", "/v1/data/.my/atomic/new.bin")).status, 404);
            const listed = (await alice("GET", "/v1/data/.my/atomic")).json.files.map(
                (f: { filename: string }) => f.filename,
            );
            assert.deepStrictEqual(listed, ["model.bin"]);
        });

        it("survives a restart: collections, ACLs and files", async () => {
            await collection("kept", ["user://*"]);
            await alice("PUT", "/v1/data/.my/kept/a.txt", { body: "still here" });
            server = await server.restart();
            assert.strictEqual((await bob("GET", "/v1/data/alice/kept/a.txt")).text, "still here");
            assert.deepStrictEqual((await alice("GET", "/v1/data/.my/kept?acl=true")).json.acl, { read: ["user://*"] });
            assert.strictEqual((await alice("GET", "/v1/data/.my/paged")).json.files.length, 1000);
        });
    });

    describe("URL decoding", () => {
        it("splits connector and path", () => {
            assert.deepStrictEqual(dataSegments("/v1/data/.my/c/f?x=1"), [".my", "c", "f"]);
            assert.deepStrictEqual(dataSegments("/v1/data/"), []);
            assert.deepStrictEqual(dataSegments("/v1/connector/data"), []);
            assert.deepStrictEqual(dataSegments("/v1/connector/data/alice/c/"), ["alice", "c"]);
            assert.deepStrictEqual(dataSegments("/v1/data/data://alice/c/f"), ["alice", "c", "f"]);
            assert.deepStrictEqual(dataSegments("/v1/data/data%3A%2F%2F.my%2Fc%2Fa+b"), [".my", "c", "a b"]);
            assert.deepStrictEqual(dataSegments("/v1/data/.my/c/a+b"), [".my", "c", "a+b"]);
        });
    });
});
