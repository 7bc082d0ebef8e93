// `npm run docs`: writes the reference tables of docs/resources.md from the code, so they cannot drift from it.
// Each fact comes from where the provider itself takes it:
// - argument and output descriptions: the JSDoc of the resource's `<Type>Args` interface (what an editor shows) and
//   of its class's output members;
// - types, constraints, defaults and which arguments are required: the zod input schema `check` validates with;
// - what a change does: the diff rules (`replaceKeys`, `updateKeys`, `comparedAs`) the provider compares with.
// Only the text between a table's markers is written; the prose around it is by hand. `--check` (the unit test's
// mode) fails instead of writing when the file is stale.
import * as fs from "fs";
import * as path from "path";
import { DiffRules } from "../provider/resources/dynamic";
import {
    connectionSchema,
    CONNECTION,
    Declaration,
    inputSchema,
    JsonSchema,
    Member,
    nestedDeclaration,
    readDeclarations,
    RESOURCES,
    ROOT,
} from "./resource-model";

export const RESOURCES_DOC = path.join(ROOT, "docs/resources.md");

const code = (text: string) => "`" + text + "`";
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A schema as a reader would write its type, with the rules `check` enforces. */
function typeOf(schema: JsonSchema | undefined, typeText: string): string {
    const unchecked = !schema || Object.keys(schema).filter((k) => k !== "default").length === 0;
    if (unchecked || typeText.includes("pulumi.asset")) {
        // Any JSON value, or an asset (whose wire form the schema checks): the type as declared.
        const declared = typeText.replace(/pulumi\.Input<(.*)>/g, "$1").replace(/pulumi\.Input<(.*)>/g, "$1");
        return declared === "unknown" ? "any JSON value" : code(declared);
    }
    if (schema.enum) return schema.enum.map((v) => code(JSON.stringify(v))).join(" | ");
    if (schema.const !== undefined) return code(JSON.stringify(schema.const));
    if (schema.anyOf) return schema.anyOf.map((s) => typeOf(s, "")).join(" or ");
    const rules: string[] = [];
    switch (schema.type) {
        case "string":
            if (schema.format === "uuid") return "a UUID";
            if (schema.minLength !== undefined && schema.minLength > 0) rules.push("not empty");
            if (schema.maxLength !== undefined) rules.push(`≤ ${schema.maxLength} characters`);
            if (schema.pattern && schema.pattern.length <= 50) rules.push(`matching ${code(schema.pattern)}`);
            return ["string", ...rules].join(", ");
        case "integer":
        case "number": {
            const max =
                schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : undefined;
            if (schema.minimum !== undefined && max !== undefined) rules.push(`${schema.minimum}–${max}`);
            else if (schema.minimum !== undefined) rules.push(`≥ ${schema.minimum}`);
            return [schema.type, ...rules].join(" ");
        }
        case "array":
            return `list of ${typeOf(schema.items, "")}`;
        case "object":
            if (schema.properties) return `object (${Object.keys(schema.properties).map(code).join(", ")})`;
            if (typeof schema.additionalProperties === "object") {
                return `map of name → ${typeOf(schema.additionalProperties, "")}`;
            }
            return "object";
        default:
            return schema.type ?? "any";
    }
}

/** What changing an argument does, from the resource's diff rules. */
function effectOf(argument: string, rules: DiffRules): string {
    const compared = [argument, ...(rules.comparedAs?.[argument] ?? [])];
    const within = (key: string) => compared.some((c) => c === key || c.startsWith(key + "."));
    const inside = (key: string) => compared.some((c) => key.startsWith(c + "."));
    if (rules.replaceKeys.some(within)) return "replace";
    if (rules.updateKeys.some(within)) return rules.replaceKeys.some(inside) ? "update (but see below)" : "update";
    if (rules.replaceKeys.some(inside)) return "replace (see below)";
    return "none";
}

function argumentRows(
    members: Member[],
    schema: JsonSchema,
    rules: DiffRules | undefined,
    declarations: Map<string, Declaration>,
    prefix = "",
): string[] {
    const rows: string[] = [];
    for (const member of members) {
        const key = prefix + member.name;
        const node = schema.properties?.[member.name];
        const required = (schema.required ?? []).includes(member.name) && node?.default === undefined;
        const fallback = node?.default !== undefined ? code(JSON.stringify(node.default)) : required ? "required" : "—";
        const effect = rules ? effectOf(key, rules) : "";
        const nested = node?.properties ? nestedDeclaration(member.typeText, declarations) : undefined;
        const type = nested ? "object, below" : typeOf(node, member.typeText);
        rows.push(
            `| ${code(key)} | ${cell(type)} | ${cell(fallback)} |${rules ? ` ${effect} |` : ""} ${cell(member.doc)} |`,
        );
        if (nested && node) {
            const checked = nested.members.filter((m) => node.properties && m.name in node.properties);
            rows.push(...argumentRows(checked, node, rules, declarations, key + "."));
        }
    }
    return rows;
}

const ARGUMENT_HEADER = ["| argument | type | default | on change | description |", "|-|-|-|-|-|"];

function resourceTables(
    type: string,
    controller: (typeof RESOURCES)[number]["controller"],
    declarations: Map<string, Declaration>,
) {
    const args = declarations.get(`${type}Args`);
    const outputs = declarations.get(type);
    if (!args || !outputs) throw new Error(`provider/resources: no ${type}Args interface or ${type} class`);
    const schema = inputSchema(controller);
    const argumentNames = new Set(args.members.map((m) => m.name));
    const outputRows = outputs.members
        .filter((m) => !argumentNames.has(m.name) || m.doc)
        .map((m) => `| ${code(m.name)} | ${cell(m.doc || "as given")} |`);
    return [
        ...ARGUMENT_HEADER,
        ...argumentRows(args.members, schema, controller.diff, declarations),
        "",
        "| output | description |",
        "|-|-|",
        ...outputRows,
    ].join("\n");
}

function connectionTable(declarations: Map<string, Declaration>) {
    const connection = declarations.get(CONNECTION)!;
    const schema = connectionSchema();
    return [
        "| argument | type | default | description |",
        "|-|-|-|-|",
        ...argumentRows(connection.members, schema, undefined, declarations),
    ].join("\n");
}

/** Every generated table, by the name its markers carry. */
export function generatedTables(): Map<string, string> {
    const declarations = readDeclarations();
    const tables = new Map<string, string>([["Connection", connectionTable(declarations)]]);
    for (const { type, controller } of RESOURCES) tables.set(type, resourceTables(type, controller, declarations));
    return tables;
}

const MARKERS = /(<!-- generated: (\w+) \(npm run docs\) -->)[\s\S]*?(<!-- end generated -->)/g;

/** The document with each marked table written anew. */
export function renderResourcesDoc(current = fs.readFileSync(RESOURCES_DOC, "utf8")): string {
    const tables = generatedTables();
    const seen = new Set<string>();
    const rendered = current.replace(MARKERS, (_all, begin: string, name: string, end: string) => {
        const table = tables.get(name);
        if (!table) throw new Error(`docs/resources.md: no generated table named ${name}`);
        seen.add(name);
        return `${begin}\n${table}\n${end}`;
    });
    const missing = [...tables.keys()].filter((name) => !seen.has(name));
    if (missing.length) throw new Error(`docs/resources.md: no markers for ${missing.join(", ")}`);
    return rendered;
}

if (require.main === module) {
    const current = fs.readFileSync(RESOURCES_DOC, "utf8");
    const rendered = renderResourcesDoc(current);
    if (process.argv.includes("--check")) {
        if (rendered !== current) {
            console.error("docs/resources.md is stale: run `npm run docs`");
            process.exit(1);
        }
    } else if (rendered !== current) {
        fs.writeFileSync(RESOURCES_DOC, rendered);
        console.log("docs/resources.md: tables written");
    }
}
