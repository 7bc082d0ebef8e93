// Runs the repository's example projects from a copy in a test sandbox, so the stack config files the tests
// write (addresses of test servers, secret keys) never touch the checked-out tree. The copy keeps the layout
// the examples' relative imports rely on: <root>/examples/..., <root>/provider and <root>/node_modules (links), and
// <root>/bin, where a Python example's Pulumi.yaml finds the provider plugin.
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "./pulumi";

/** Copies examples/ (and, with `rootProject`, the root Pulumi.yaml + tsconfig.json) under `root`. */
export function copyExamples(root: string, options: { rootProject?: boolean } = {}): string {
    fs.mkdirSync(root, { recursive: true });
    fs.cpSync(path.join(repoRoot, "examples"), path.join(root, "examples"), { recursive: true });
    for (const linked of ["provider", "node_modules", "bin"])
        fs.symlinkSync(path.join(repoRoot, linked), path.join(root, linked));
    if (options.rootProject) {
        for (const file of ["Pulumi.yaml", "tsconfig.json"])
            fs.copyFileSync(path.join(repoRoot, file), path.join(root, file));
    }
    return root;
}
