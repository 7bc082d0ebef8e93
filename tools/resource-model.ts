// The resources as data, for the generators of docs/resources.md (resource-docs.ts) and schema.json (schema.ts):
// each resource's controller (its zod input schema and diff rules), and the JSDoc and declared types of its
// `<Type>Args` interface and class, read from the sources with the TypeScript parser.
import * as fs from "fs";
import * as path from "path";
import ts from "typescript";
import { z } from "zod";
import { algorithmController } from "../provider/resources/algorithm";
import { algorithmSecretController, SECRET_OUTPUTS } from "../provider/resources/algorithmSecret";
import { algorithmVersionController } from "../provider/resources/algorithmVersion";
import { dataCollectionController } from "../provider/resources/dataCollection";
import { DiffRules, connectionShape } from "../provider/resources/dynamic";
import { modelFileController } from "../provider/resources/modelFile";

export const ROOT = path.resolve(__dirname, "..");
const SOURCES = path.join(ROOT, "provider/resources");

export interface ResourceModel {
    type: string;
    controller: { schema(): z.ZodType<unknown>; diff: DiffRules };
    /** Inputs registered as secrets, besides `apiKey` (which every resource keeps secret). */
    secrets?: readonly string[];
}

export const RESOURCES: ResourceModel[] = [
    { type: "DataCollection", controller: dataCollectionController },
    { type: "ModelFile", controller: modelFileController },
    { type: "Algorithm", controller: algorithmController },
    { type: "AlgorithmVersion", controller: algorithmVersionController },
    { type: "AlgorithmSecret", controller: algorithmSecretController, secrets: SECRET_OUTPUTS },
];

/** The connection arguments every resource takes (`ConnectionArgs`), documented once. */
export const CONNECTION = "ConnectionArgs";

export interface Member {
    name: string;
    optional: boolean;
    doc: string;
    /** The type as written, e.g. `pulumi.Input<InputsOf<AlgorithmDetails>>`. */
    typeText: string;
}

export interface Declaration {
    doc: string;
    members: Member[];
    extends: string[];
}

export type JsonSchema = {
    type?: string;
    enum?: unknown[];
    const?: unknown;
    default?: unknown;
    properties?: Record<string, JsonSchema>;
    required?: string[];
    additionalProperties?: JsonSchema | boolean;
    items?: JsonSchema;
    anyOf?: JsonSchema[];
    minLength?: number;
    maxLength?: number;
    minimum?: number;
    maximum?: number;
    pattern?: string;
    format?: string;
};

/** A resource's input schema as JSON Schema (what `check` validates, as given: before defaults). */
export function inputSchema(controller: { schema(): z.ZodType<unknown> }): JsonSchema {
    return z.toJSONSchema(controller.schema(), { io: "input", unrepresentable: "any" }) as JsonSchema;
}

export function connectionSchema(): JsonSchema {
    return z.toJSONSchema(z.object(connectionShape()), { io: "input" }) as JsonSchema;
}

const docOf = (node: ts.Node) =>
    ts
        .getJSDocCommentsAndTags(node)
        .filter(ts.isJSDoc)
        .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? "")
        .join(" ")
        .replace(/\s+/g, " ")
        .trim();

/** Every interface and class of provider/resources, by name, with its members' JSDoc. */
export function readDeclarations(): Map<string, Declaration> {
    const found = new Map<string, Declaration>();
    for (const file of fs.readdirSync(SOURCES).filter((f) => f.endsWith(".ts"))) {
        const text = fs.readFileSync(path.join(SOURCES, file), "utf8");
        const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
        source.forEachChild((node) => {
            if (!(ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) || !node.name) return;
            const members: Member[] = [];
            for (const member of node.members) {
                if (!(ts.isPropertySignature(member) || ts.isPropertyDeclaration(member))) continue;
                members.push({
                    name: member.name.getText(source),
                    optional: !!member.questionToken,
                    doc: docOf(member),
                    typeText: member.type?.getText(source) ?? "",
                });
            }
            const heritage = (node.heritageClauses ?? []).flatMap((clause) =>
                clause.types.map((t) => t.expression.getText(source)),
            );
            found.set(node.name.text, { doc: docOf(node), members, extends: heritage });
        });
    }
    return found;
}

/** The interface an argument's declared type refers to, for its nested arguments (and its name). */
export function nestedDeclaration(
    typeText: string,
    declarations: Map<string, Declaration>,
): (Declaration & { name: string }) | undefined {
    const names = typeText.match(/[A-Z][A-Za-z]+/g) ?? [];
    for (const name of names) {
        const found = declarations.get(name);
        if (found && found.members.length > 0) return { ...found, name };
    }
    return undefined;
}
