// The other ways a provider finds its cluster, through the real engine: an `algo` CLI profile (~/.algorithmia/config,
// chosen with algorithmia:profile) that names an https address behind a private CA and that CA's bundle, so the API
// client and git both trust it (a real TLS proxy in front of algorithmia-local, certificates made by openssl), and
// a bearer token (issued by algorithmia-local) instead of an API key. Neither the key nor the token reaches the
// state or the engine's output.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import { AddressInfo } from "net";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { Algorithm, DataCollection } from "../../provider";
import { SETTINGS, sourceDirectory } from "../helpers/algorithmTestBed";
import { writeAlgoConfig } from "../helpers/algoConfig";
import { ALICE, call } from "../helpers/server";
import { testBed } from "../helpers/testBed";

/** A CA and a certificate for 127.0.0.1 signed by it, made by openssl in `dir`. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
    const file = (name: string) => path.join(dir, name);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pulumi-algorithmia test CA",
    );
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    );
    fs.writeFileSync(file("san.ext"), "subjectAltName=IP:127.0.0.1\n");
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext",
    ); // prettier-ignore
    return { ca: file("ca.pem"), key: file("server.key"), cert: file("server.pem") };
}

/** An https reverse proxy to `upstream` (every route, git's included), with the given certificate. */
async function tlsProxy(upstream: string, tls: { key: string; cert: string }): Promise<https.Server> {
    const server = https.createServer(
        { key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert) },
        (req, res) => {
            const forwarded = http.request(
                upstream + req.url,
                { method: req.method, headers: req.headers },
                (reply) => {
                    res.writeHead(reply.statusCode!, reply.headers);
                    reply.pipe(res);
                },
            );
            forwarded.on("error", () => res.destroy());
            req.pipe(forwarded);
        },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return server;
}

describe("credentials: algo CLI profiles, a private CA, bearer tokens (engine + algorithmia-local)", function () {
    this.timeout(300_000);
    const bed = testBed();
    let proxy: https.Server;
    let proxyUrl: string;
    let home: string;
    let caBundle: string;
    let output = "";
    const onOutput = (text: string) => (output += text);
    /** The sandbox's environment, shared by its stacks: HOME is set for one test at a time. */
    const envOf = (stack: Stack) => (stack.workspace as unknown as { envVars: Record<string, string> }).envVars;

    const writeProfiles = (profiles: Record<string, Record<string, string>>) => writeAlgoConfig(home, profiles);

    before(async () => {
        const certs = makeCertificates(fs.mkdtempSync(path.join(bed.root, "tls-")));
        caBundle = certs.ca;
        proxy = await tlsProxy(bed.server.url, certs);
        proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
        home = fs.mkdtempSync(path.join(bed.root, "home-"));
    });
    after(() => proxy?.close());

    it("deploys through a profile's https address, trusting the profile's CA bundle for the API and for git", async () => {
        writeProfiles({
            tls: { api_key: ALICE.key, api_server: proxyUrl, ca_cert: caBundle, bearer_token: "" },
            untrusted: { api_key: ALICE.key, api_server: proxyUrl, ca_cert: "", bearer_token: "" },
        });
        const source = sourceDirectory(bed.root, "Hello", "ProfileHello");
        const stack = await bed.sandbox.inlineStack("credentials", "profile", async () => {
            const collection = new DataCollection("models", { name: "profile_models" });
            const algorithm = new Algorithm("hello", {
                name: "ProfileHello",
                details: { label: "Hello" },
                settings: { ...SETTINGS },
                source,
            });
            return { dataUri: collection.dataUri, gitHash: algorithm.gitHash, cluster: algorithm.apiUrl };
        });
        const env = envOf(stack);
        env.HOME = home;
        try {
            // Without the bundle the private CA is not trusted: the first request fails, saying why.
            await stack.setConfig("algorithmia:profile", { value: "untrusted" });
            await assert.rejects(stack.up({ onOutput }), /self-signed certificate|unable to (get|verify)/);

            await stack.setConfig("algorithmia:profile", { value: "tls" });
            const up = await stack.up({ onOutput });
            assert.deepStrictEqual(up.summary.resourceChanges, { same: 1, create: 2 });
            assert.strictEqual(up.outputs.cluster.value, `${proxyUrl}/v1/algo/alice/ProfileHello`);
            const result = await bed.client.callAlgorithm(`alice/ProfileHello/${up.outputs.gitHash.value}`, "tls");
            assert.strictEqual(result.result, "hello tls", "the source went through the proxy by git");
            await stack.preview({ expectNoChanges: true, onOutput });
            await stack.destroy({ onOutput });
            assert.strictEqual(await bed.client.getAlgorithm("alice", "ProfileHello"), undefined);
            assert.ok(!bed.sandbox.storedState().includes(ALICE.key) && !output.includes(ALICE.key));
        } finally {
            delete env.HOME;
        }
    });

    it("authenticates with a bearer token when there is no API key, never storing or showing it", async () => {
        const issued = await call(bed.server, "POST", "/_local/tokens", { key: ALICE.key, json: {} });
        assert.strictEqual(issued.status, 200, issued.text);
        const token: string = issued.json.token;
        const stack = await bed.sandbox.inlineStack("credentials", "bearer", async () => {
            const collection = new DataCollection("models", { name: "token_models" });
            return { dataUri: collection.dataUri };
        });
        await stack.setConfig("algorithmia:apiAddress", { value: bed.server.url });
        await stack.setConfig("algorithmia:bearerToken", { value: token, secret: true });
        const up = await stack.up({ onOutput });
        assert.strictEqual(up.outputs.dataUri.value, "data://alice/token_models");
        assert.strictEqual(
            (await call(bed.server, "GET", "/v1/connector/data/alice/token_models", { key: ALICE.key })).status,
            200,
        );
        await stack.preview({ expectNoChanges: true, onOutput });
        await stack.destroy({ onOutput });
        assert.ok(!bed.sandbox.storedState().includes(token), "the state never holds the token in plain text");
        assert.ok(!output.includes(token), "the engine output never shows the token");
    });
});
