// The documentation the code is checked against: the resource reference is what `npm run docs` generates from the
// schemas, declarations and diff rules, and every `<doc>.md §N` a file cites names a section that exists.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { RESOURCES_DOC, renderResourcesDoc } from "../../tools/resource-docs";

const root = path.resolve(__dirname, "../..");

describe("docs", function () {
    this.timeout(60_000);

    it("docs/resources.md holds the tables the code generates (else run `npm run docs`)", () => {
        const current = fs.readFileSync(RESOURCES_DOC, "utf8");
        assert.strictEqual(current, renderResourcesDoc(current));
    });

    it("the generated tables follow a change of the code", () => {
        const current = fs.readFileSync(RESOURCES_DOC, "utf8");
        const stale = current.replace(/(\| `readAcl` \| )[^|]*/, "$1string ");
        assert.notStrictEqual(stale, current);
        assert.strictEqual(renderResourcesDoc(stale), current);
    });

    it("every section a file cites (`design.md §4`, `api-reference.md §3.3.5–3.3.9`, a bare `§1.8`) exists", () => {
        const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: root, encoding: "utf8" })
            .split("\n")
            .filter((f) => /\.(ts|js|mjs|sh|py|md)$/.test(f) && f !== "test/unit/docs.test.ts");
        const citation = /([\w./-]+\.md) (§[\d.]+(?:[–-]§?[\d.]+)?(?:,? §[\d.]+(?:[–-]§?[\d.]+)?)*)/g;
        const headingsOf = (doc: string) =>
            fs
                .readFileSync(doc, "utf8")
                .split("\n")
                .filter((line) => line.startsWith("#"));
        const broken: string[] = [];
        let cited = 0;
        const check = (file: string, doc: string, sections: string) => {
            const target = doc.includes("/") ? path.join(root, doc) : path.join(root, "docs", doc);
            if (!fs.existsSync(target)) return broken.push(`${file}: ${doc} is not in the repository`);
            const headings = headingsOf(target);
            for (const number of sections.match(/\d+(?:\.\d+)*/g) ?? []) {
                cited++;
                const heading = new RegExp(`^#+ ${number.replace(/\./g, "\\.")}(?:\\.|\\s)`);
                if (!headings.some((h) => heading.test(h))) broken.push(`${file}: ${doc} has no §${number}`);
            }
        };
        for (const file of files) {
            let text = fs.readFileSync(path.join(root, file), "utf8");
            for (const [, doc, sections] of text.matchAll(citation)) check(file, doc, sections);
            // A section cited without a file, in code, is one of the API reference's (the convention it states).
            if (file.endsWith(".md")) continue;
            text = text.replace(citation, "");
            for (const [bare] of text.matchAll(/§\d+(?:\.\d+)*(?:[–-]\d+(?:\.\d+)*)?/g)) {
                check(file, "api-reference.md", bare);
            }
        }
        assert.deepStrictEqual(broken, []);
        assert.ok(cited > 50, `only ${cited} citations found: is the pattern still right?`);
    });
});
