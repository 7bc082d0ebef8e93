// Routes the API does not have (server/errors.ts routeNotFound) and algorithm references on the call route, over
// real HTTP against a fresh algorithmia-local.
import * as assert from "assert";
import { createBody } from "../helpers/algorithms";
import { ALICE, call, expectError, rawRequest, startTestServer, TestServer } from "../helpers/server";

describe("algorithmia-local: routing", function () {
    let server: TestServer;
    const alice = (method: string, route: string) => call(server, method, route, { key: ALICE.key });

    before(async () => {
        server = await startTestServer();
        const created = await call(server, "POST", "/v1/algorithms/alice", {
            key: ALICE.key,
            json: createBody("Routed"),
        });
        assert.strictEqual(created.status, 201, created.text);
    });
    after(async () => server?.dispose());

    describe("unknown routes", () => {
        for (const route of ["/v1/nothing/here", "/nothing", "/v1/algorithms/alice/Routed/nothing"]) {
            it(`answers GET ${route} with 404 in the API's error shape`, async () => {
                const res = await alice("GET", `${route}?x=1`);
                expectError(res, 404, 2015, new RegExp(`^No such route: GET ${route}$`));
                assert.deepStrictEqual(Object.keys(res.json), ["error"]);
                assert.match(res.headers.get("content-type")!, /^application\/json/);
                assert.strictEqual(res.headers.get("x-error-message"), res.json.error.message);
            });
        }

        it("answers HEAD with no body, the message in X-Error-Message", async () => {
            const res = await alice("HEAD", "/v1/nothing/here");
            assert.strictEqual(res.status, 404);
            assert.strictEqual(res.text, "");
            assert.strictEqual(res.headers.get("x-error-message"), "No such route: HEAD /v1/nothing/here");
        });

        it("answers a method a known path lacks with 404, not 405", async () => {
            for (const [method, route] of [
                ["DELETE", "/v1/algorithms/alice/Routed/compile"],
                ["PATCH", "/v1/algorithms/alice/Routed"],
                ["GET", "/v1/algo/alice/Routed"],
                ["POST", "/v1/scms"],
            ]) {
                const res = await alice(method, route);
                expectError(res, 404, 2015, new RegExp(`No such route: ${method} `));
                assert.strictEqual(res.headers.get("allow"), null);
            }
        });

        it("answers without a key too, and still refuses a bad key with 401", async () => {
            expectError(await call(server, "GET", "/v1/nothing"), 404, 2015);
            expectError(await call(server, "GET", "/v1/nothing", { key: "simNoSuchKey" }), 401, 2002);
        });
    });

    describe("algo:// on the call route", () => {
        // Clients strip algo:// from a reference before they build the URL, so the route takes owner/algo only.
        it("is no route with the prefix in the path, and no algorithm with it percent-encoded", async () => {
            const plain = await call(server, "POST", "/v1/algo/alice/Routed", { key: ALICE.key, json: 1 });
            expectError(plain, 404, 1014, /algo:\/\/alice\/Routed has no public published version/);
            const prefixed = await rawRequest(server, "POST", "/v1/algo/algo://alice/Routed", {
                key: ALICE.key,
                body: "1",
            });
            assert.strictEqual(prefixed.status, 404, prefixed.text);
            assert.match(JSON.parse(prefixed.text).error.message, /^No such route/);
            const encodedRoute = `/v1/algo/${encodeURIComponent("algo://alice/Routed")}`;
            const encoded = await call(server, "POST", encodedRoute, { key: ALICE.key, json: 0 });
            expectError(encoded, 404, 1009, /algorithm algo:\/\/alice\/Routed not found/);
        });
    });
});
