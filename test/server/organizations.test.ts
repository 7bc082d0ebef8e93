// Organization routes (server/organizations.ts) with an admin key, over real HTTP against a fresh algorithmia-local.
import * as assert from "assert";
import { ADMIN, ALICE, BOB, call, expectError, startTestServer, TestServer } from "../helpers/server";

describe("algorithmia-local: organizations", function () {
    let server: TestServer;
    let types: { id: string; name: string }[];
    const admin = (method: string, route: string, json?: unknown) =>
        call(server, method, route, { key: ADMIN.key, json });
    const acme = (fields: Record<string, unknown> = {}) => ({
        org_name: "acme",
        org_label: "Acme Inc",
        org_contact_name: "Some owner",
        org_email: "ops@acme.example.com",
        type_id: types.find((t) => t.name === "basic")!.id,
        ...fields,
    });

    before(async () => {
        server = await startTestServer({ users: [ALICE, BOB, ADMIN] });
    });
    after(async () => server?.dispose());

    it("lists the organization types basic, legacy and pro", async () => {
        const res = await admin("GET", "/v1/organization/types");
        assert.strictEqual(res.status, 200, res.text);
        types = res.json;
        assert.deepStrictEqual(
            types.map((t) => t.name),
            ["basic", "legacy", "pro"],
        );
        for (const type of types)
            assert.match(type.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it("creates an organization with 200 and the organization object; its creator owns it", async () => {
        const res = await admin("POST", "/v1/organizations", {
            ...acme(),
            org_url: "https://acme.example.com",
            id: "ignored",
        });
        assert.strictEqual(res.status, 200, res.text);
        const { id, org_created_at, owner_ids, ...rest } = res.json;
        assert.match(id, /^[0-9a-f-]{36}$/);
        assert.match(org_created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
        assert.strictEqual(owner_ids.length, 1);
        assert.deepStrictEqual(rest, {
            org_name: "acme",
            org_label: "Acme Inc",
            org_contact_name: "Some owner",
            org_email: "ops@acme.example.com",
            org_url: "https://acme.example.com",
            type_id: acme().type_id,
            stripe_customer_id: null,
            external_admin_group: null,
            external_member_group: null,
            external_executor_group: null,
            external_id: null,
            resource_type: "organization",
            self_link: `${server.url}/v1/organizations/acme`,
        });
        assert.deepStrictEqual((await admin("GET", "/v1/organizations/ACME")).json, res.json);
    });

    it("refuses a taken name with 409 code 3101, and invalid bodies with 400", async () => {
        expectError(
            await admin("POST", "/v1/organizations", acme({ org_name: "Acme" })),
            409,
            3101,
            /acme already exists as an org/,
        );
        expectError(
            await admin("POST", "/v1/organizations", acme({ org_name: "alice" })),
            409,
            3101,
            /alice already exists as a user/,
        );
        for (const [fields, pattern] of [
            [{ org_name: "9lives" }, /org_name is required: letters/],
            [{ org_name: "a".repeat(31) }, /at most 30/],
            [{ org_name: "fresh", org_label: undefined }, /org_label is required/],
            [{ org_name: "fresh", org_contact_name: "" }, /org_contact_name must be a non-empty string/],
            [{ org_name: "fresh", org_email: "not an address" }, /org_email must be/],
            [{ org_name: "fresh", external_admin_group: "admins" }, /external_admin_group must be a list of strings/],
        ] as const) {
            expectError(await admin("POST", "/v1/organizations", acme(fields)), 400, 3103, pattern);
        }
        expectError(
            await admin("POST", "/v1/organizations", acme({ org_name: "fresh", type_id: "basic" })),
            400,
            3108,
            /type_id/,
        );
        expectError(
            await admin("POST", "/v1/organizations", acme({ org_name: "fresh", type_id: undefined })),
            400,
            3108,
        );
        expectError(await admin("GET", "/v1/organizations/fresh"), 404, 3100);
    });

    it("serves an organization made from the server options, with its name as its label", async () => {
        const res = await admin("GET", "/v1/organizations/team");
        assert.strictEqual(res.status, 200, res.text);
        assert.strictEqual(res.json.org_name, "team");
        assert.strictEqual(res.json.org_label, "team");
        assert.strictEqual(res.json.type_id, types[0].id);
        assert.deepStrictEqual(res.json.owner_ids, []);
        expectError(await admin("GET", "/v1/organizations/nobody"), 404, 3100);
        expectError(await admin("GET", "/v1/organizations/alice"), 404, 3100);
    });

    it("edits with the whole object and 204; the name cannot change", async () => {
        const current = (await admin("GET", "/v1/organizations/acme")).json;
        const pro = types.find((t) => t.name === "pro")!.id;
        const edited = await admin("PUT", "/v1/organizations/acme", {
            ...current,
            org_label: "Acme Corp",
            type_id: pro,
            external_id: "x",
        });
        assert.deepStrictEqual([edited.status, edited.text], [204, ""]);
        const after = (await admin("GET", "/v1/organizations/acme")).json;
        assert.deepStrictEqual(
            [after.org_label, after.type_id, after.external_id, after.id],
            ["Acme Corp", pro, "x", current.id],
        );

        expectError(
            await admin("PUT", "/v1/organizations/acme", { ...current, org_name: "other" }),
            400,
            3103,
            /cannot be renamed/,
        );
        expectError(
            await admin("PUT", "/v1/organizations/acme", { ...current, org_email: undefined }),
            400,
            3103,
            /org_email is required/,
        );
        expectError(await admin("PUT", "/v1/organizations/nobody", { ...current, org_name: "nobody" }), 404, 3100);
        assert.strictEqual((await admin("GET", "/v1/organizations/acme")).json.org_label, "Acme Corp");
        const team = await admin("PUT", "/v1/organizations/team", {
            ...current,
            org_name: "team",
            org_label: "The team",
        });
        assert.strictEqual(team.status, 204, team.text);
        assert.strictEqual((await admin("GET", "/v1/organizations/team")).json.org_label, "The team");
    });

    it("adds a member with 201 (200 when it was one already), who then acts for the organization", async () => {
        expectError(await call(server, "GET", "/v1/organizations/acme/errors", { key: BOB.key }), 403, 2001);
        const added = await admin("PUT", "/v1/organizations/acme/members/bob");
        assert.deepStrictEqual([added.status, added.text], [201, ""]);
        assert.strictEqual((await admin("PUT", "/v1/organizations/acme/members/BOB")).status, 200);
        const errors = await call(server, "GET", "/v1/organizations/acme/errors", { key: BOB.key });
        assert.deepStrictEqual([errors.status, errors.json], [200, []]);
        const root = await call(server, "GET", "/v1/connector/data", { key: BOB.key });
        assert.ok(
            root.json.folders.some((f: { name: string }) => f.name === "acme"),
            root.text,
        );

        expectError(await admin("PUT", "/v1/organizations/acme/members/nobody"), 404, 3000);
        expectError(await admin("PUT", "/v1/organizations/acme/members/team"), 404, 3000);
        expectError(await admin("PUT", "/v1/organizations/nobody/members/bob"), 404, 3100);
    });

    it("keeps organizations, profiles and members across a restart", async () => {
        const before = (await admin("GET", "/v1/organizations/acme")).json;
        server = await server.restart();
        assert.deepStrictEqual((await admin("GET", "/v1/organizations/acme")).json, before);
        assert.strictEqual((await call(server, "GET", "/v1/organizations/acme/errors", { key: BOB.key })).status, 200);
    });
});
