// Proves the whole engine path works offline: the real `pulumi` CLI, the nodejs language host and the
// dynamic-provider plugin take a tiny resource through up, a no-change preview, an in-place update, drift
// and refresh, and destroy — once as an Automation API inline program, once as `pulumi` on a project directory.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { LocalFile } from "../fixtures/smoke-project/local-file";
import { PulumiSandbox, engineBinDir, engineVersion, repoRoot } from "../helpers/pulumi";

describe("engine smoke", function () {
    let sandbox: PulumiSandbox;

    before(async () => {
        sandbox = await PulumiSandbox.create();
    });
    after(async () => {
        await sandbox?.dispose();
    });

    it("is the pinned CLI version", () => {
        assert.strictEqual(sandbox.cli(sandbox.root, ["version"]).trim(), engineVersion());
        for (const binary of ["pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
            assert.ok(fs.existsSync(path.join(engineBinDir(), binary)), `${binary} sits next to pulumi`);
        }
    });

    describe("inline program (Automation API)", () => {
        let stack: Stack;
        let file: string;
        let content = "hello";

        before(async () => {
            file = path.join(sandbox.root, "inline-greeting.txt");
            stack = await sandbox.inlineStack("smoke-inline", "dev", async () => {
                const greeting = new LocalFile("greeting", { path: file, content });
                return { content: greeting.content };
            });
        });

        it("creates the resource on up", async () => {
            const result = await stack.up();
            assert.strictEqual(result.summary.result, "succeeded");
            assert.deepStrictEqual(result.summary.resourceChanges, { create: 2 });
            assert.strictEqual(fs.readFileSync(file, "utf8"), "hello");
            assert.strictEqual(result.outputs.content.value, "hello");
        });

        it("previews no changes for an unchanged program", async () => {
            const preview = await stack.preview({ expectNoChanges: true });
            assert.deepStrictEqual(preview.changeSummary, { same: 2 });
        });

        it("updates in place when an input changes", async () => {
            content = "hello again";
            const result = await stack.up();
            assert.deepStrictEqual(result.summary.resourceChanges, { same: 1, update: 1 });
            assert.strictEqual(fs.readFileSync(file, "utf8"), "hello again");
            await stack.preview({ expectNoChanges: true });
        });

        it("sees drift on refresh and converges on the next up", async () => {
            fs.writeFileSync(file, "edited by hand");
            const refresh = await stack.refresh();
            assert.strictEqual(refresh.summary.resourceChanges?.update, 1);
            const state = await stack.exportStack();
            const resource = state.deployment.resources.find(
                (r: any) => r.type === "pulumi-nodejs:dynamic/smoke:LocalFile",
            );
            assert.strictEqual(resource.outputs.content, "edited by hand");

            const up = await stack.up();
            assert.strictEqual(up.summary.resourceChanges?.update, 1);
            assert.strictEqual(fs.readFileSync(file, "utf8"), "hello again");
        });

        it("removes the resource on destroy", async () => {
            const result = await stack.destroy();
            assert.deepStrictEqual(result.summary.resourceChanges, { delete: 2 });
            assert.ok(!fs.existsSync(file));
        });
    });

    describe("project directory (pulumi CLI + nodejs language host)", () => {
        let dir: string;
        let file: string;
        const pulumi = (...args: string[]) => sandbox.cli(dir, [...args, "--stack", "dev"]);

        before(async () => {
            // Run from a copy so the stack's config file stays out of the repository.
            dir = path.join(sandbox.root, "smoke-project");
            fs.cpSync(path.join(repoRoot, "test/fixtures/smoke-project"), dir, { recursive: true });
            fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
            file = path.join(sandbox.root, "project-greeting.txt");
            const stack = await sandbox.projectStack(dir, "dev");
            await stack.setAllConfig({ path: { value: file }, content: { value: "from a project" } });
        });

        it("runs up, a no-change preview, an update, refresh and destroy", () => {
            pulumi("up", "--yes", "--skip-preview");
            assert.strictEqual(fs.readFileSync(file, "utf8"), "from a project");
            assert.strictEqual(JSON.parse(pulumi("stack", "output", "--json")).content, "from a project");
            pulumi("preview", "--expect-no-changes");

            pulumi("config", "set", "content", "changed");
            const update = pulumi("up", "--yes", "--skip-preview");
            assert.match(update, /1 updated/);
            assert.strictEqual(fs.readFileSync(file, "utf8"), "changed");
            pulumi("preview", "--expect-no-changes");

            fs.rmSync(file);
            const refresh = pulumi("refresh", "--yes", "--skip-preview");
            assert.match(refresh, /1 deleted/);
            pulumi("up", "--yes", "--skip-preview");
            assert.strictEqual(fs.readFileSync(file, "utf8"), "changed");

            pulumi("destroy", "--yes", "--skip-preview");
            assert.ok(!fs.existsSync(file));
        });
    });
});
