// Languages, algorithm environments, starter templates and SCMs (docs/api-reference.md §3.6, §3.7, §5). The
// catalog is fixed per server; ids are derived from names so they stay the same across restarts. Both the
// legacy model (`settings.language` + `environment`) and the environment model (`algorithm_environment`,
// `package_set`) resolve to a language family, which picks the template an algorithm starts from.
import * as crypto from "crypto";
import * as zlib from "zlib";
import { FastifyInstance } from "fastify";
import { requireCaller } from "./auth";
import { ApiError, ErrorCode } from "./errors";
import type { ServerContext } from "./index";

export type Family = "python" | "java" | "scala" | "r" | "javascript" | "ruby" | "rust" | "csharp";

/** A UUID that is a pure function of `name` (SHA-1 based, version 5 layout). */
export function stableId(name: string): string {
    const h = crypto.createHash("sha1").update(`algorithmia-local:${name}`).digest("hex");
    const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Legacy `settings.language` ids (spec enum), plus the variants seen in replies and docs (§8.3). */
export const LEGACY_LANGUAGES: Record<string, Family> = {
    "python2-langpack": "python",
    "python2-lackpack": "python",
    "python3-1": "python",
    python3: "python",
    java: "java",
    scala: "scala",
    r: "r",
    javascript: "javascript",
    ruby: "ruby",
    rust: "rust",
};

interface Language {
    name: string;
    display_name: string;
    family: Family;
    req_files: string[];
}

const LANGUAGES: Language[] = [
    { name: "anaconda3", display_name: "Conda (Environments) beta", family: "python", req_files: ["environment.yml"] },
    {
        name: "csharp-dotnet-core2",
        display_name: "C# .NET Core 2.x+ (Environments)",
        family: "csharp",
        req_files: ["Algorithm.csproj"],
    },
    { name: "java11", display_name: "Java OpenJDK 11.0 (Environments)", family: "java", req_files: ["pom.xml"] },
    { name: "python2", display_name: "Python 2.x (Environments)", family: "python", req_files: ["requirements.txt"] },
    { name: "python3", display_name: "Python 3.x (Environments)", family: "python", req_files: ["requirements.txt"] },
    { name: "r36", display_name: "R 3.6.x (Environments)", family: "r", req_files: ["packages.txt"] },
    {
        name: "scala-2",
        display_name: "Scala 2.x & sbt 1.3.x (Environments)",
        family: "scala",
        req_files: ["build.sbt"],
    },
];

export interface Environment {
    id: string;
    environment_specification_id: string;
    display_name: string;
    description: string;
    language: string;
    machine_type: "CPU" | "GPU";
    package_set: string;
}

/** [language, package set, display name, machine type] */
const ENVIRONMENT_ROWS: [string, string, string, "CPU" | "GPU"][] = [
    ["python2", "python27", "Python 2.7", "CPU"],
    ["python3", "python37", "Python 3.7", "CPU"],
    ["python3", "python38", "Python 3.8", "CPU"],
    ["python3", "python39", "Python 3.9", "CPU"],
    ["python3", "python37-gpu", "Python 3.7 GPU", "GPU"],
    ["python3", "tensorflow-gpu-2.3-python38", "Python 3.8 + TensorFlow GPU 2.3", "GPU"],
    ["python3", "pytorch-1.6.x", "Python 3.7 + PyTorch 1.6", "GPU"],
    ["anaconda3", "anaconda3", "Conda (Python 3)", "CPU"],
    ["java11", "java11", "Java 11", "CPU"],
    ["scala-2", "scala-2-sbt-1.3.3", "Scala 2.13 + sbt 1.3.3", "CPU"],
    ["r36", "r36", "R 3.6", "CPU"],
    ["csharp-dotnet-core2", "csharp-dotnet-core2", "C# .NET Core 3.1", "CPU"],
];

export const ENVIRONMENTS: Environment[] = ENVIRONMENT_ROWS.map(([language, packageSet, name, machine]) => ({
    id: stableId(`environment:${packageSet}`),
    environment_specification_id: stableId(`environment-specification:${packageSet}`),
    display_name: name,
    description: `${name} (${machine === "GPU" ? "GPU hosts with CUDA" : "CPU hosts"})`,
    language,
    machine_type: machine,
    package_set: packageSet,
}));

/** Package sets accepted in `settings.package_set` (the older API), with their language family. */
export const PACKAGE_SETS: Record<string, Family> = Object.fromEntries([
    ...ENVIRONMENTS.map((e) => [e.package_set, languageFamily(e.language)!]),
    ...[
        "python36",
        "python27-cuda90-cudnn7",
        "tensorflow-gpu-1.14",
        "tensorflow-gpu-2.3",
        "spacy-2.0.18",
        "selenium3.141.x-python",
    ].map((p) => [p, "python"]),
]);

function languageFamily(name: string): Family | undefined {
    return LANGUAGES.find((l) => l.name === name)?.family;
}

export const environmentById = (id: string) => ENVIRONMENTS.find((e) => e.id === id);
export const environmentByPackageSet = (set: string) => ENVIRONMENTS.find((e) => e.package_set === set);

/** The language family of algorithm settings (already validated), and the language name for algorithmia.conf. */
export function familyOf(settings: { language?: string; algorithm_environment?: string; package_set?: string }): {
    family: Family;
    language: string;
} {
    if (settings.algorithm_environment) {
        const env = environmentById(settings.algorithm_environment)!;
        return { family: languageFamily(env.language)!, language: env.language };
    }
    if (settings.package_set) return { family: PACKAGE_SETS[settings.package_set], language: settings.package_set };
    const language = settings.language === "python2-lackpack" ? "python2-langpack" : settings.language!;
    return { family: LEGACY_LANGUAGES[language], language };
}

// --- templates ------------------------------------------------------------------------------------------------

/** The starter tree of a new algorithm (after the langpacks templates, docs/api-reference.md §5). */
export function templateFiles(
    family: Family,
    language: string,
    username: string,
    algoname: string,
): Record<string, string> {
    const conf = JSON.stringify({ username, algoname, language }, null, 2) + "\n";
    const files: Record<string, string> = { "algorithmia.conf": conf };
    const body = TEMPLATES[family](algoname);
    for (const [file, content] of Object.entries(body)) files[file] = content;
    return files;
}

/** The file that must define the entry point, per family (builds check it). */
export function entryFile(family: Family, algoname: string): string {
    return Object.keys(TEMPLATES[family](algoname)).find((f) => f.startsWith("src/") && !f.endsWith("__init__.py"))!;
}

const TEMPLATES: Record<Family, (name: string) => Record<string, string>> = {
    python: (name) => ({
        "requirements.txt": "algorithmia\n",
        [`src/${name}.py`]: 'def apply(input):\n    return "hello {}".format(input)\n',
        "src/__init__.py": "",
    }),
    java: () => ({
        "pom.xml":
            "<project>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>algorithmia</groupId>\n  <artifactId>algorithm</artifactId>\n  <version>1.0.0</version>\n</project>\n",
        "src/main/java/com/algorithmia/algorithm/Algorithm.java":
            'package com.algorithmia.algorithm;\n\npublic class Algorithm {\n    public String apply(String input) {\n        return "hello " + input;\n    }\n}\n',
    }),
    scala: () => ({
        "build.sbt": 'name := "algorithm"\n\nscalaVersion := "2.13.1"\n',
        "src/main/scala/com/algorithmia/Algorithm.scala":
            'package com.algorithmia\n\nclass Algorithm {\n  def apply(input: String): String = s"hello $input"\n}\n',
    }),
    r: () => ({
        "packages.txt": "",
        "src/Algorithm.r": 'algorithm <- function(input) {\n  paste("hello", input)\n}\n',
    }),
    javascript: (name) => ({
        "package.json":
            JSON.stringify({ name: name.toLowerCase(), version: "0.1.0", main: `src/${name}.js` }, null, 2) + "\n",
        [`src/${name}.js`]: 'exports.apply = function(input, cb) {\n    cb(null, "hello " + input);\n};\n',
    }),
    ruby: (name) => ({
        Gemfile: "source 'https://rubygems.org'\n",
        [`src/${name}.rb`]: 'def apply(input)\n  "hello #{input}"\nend\n',
    }),
    rust: (name) => ({
        "Cargo.toml": `[package]\nname = "${name.toLowerCase()}"\nversion = "0.1.0"\n`,
        "src/lib.rs": 'pub fn apply(input: &str) -> String {\n    format!("hello {}", input)\n}\n',
    }),
    csharp: () => ({
        "Algorithm.csproj": '<Project Sdk="Microsoft.NET.Sdk">\n</Project>\n',
        "src/Algorithm.cs":
            'public class Algorithm {\n    public string apply(string input) { return "hello " + input; }\n}\n',
    }),
};

/** A gzipped ustar archive of `files` (what the template route serves). */
export function tarGz(files: Record<string, string>): Buffer {
    const blocks: Buffer[] = [];
    for (const [name, content] of Object.entries(files)) {
        const data = Buffer.from(content, "utf8");
        const header = Buffer.alloc(512);
        const field = (value: string, offset: number, length: number) => header.write(value, offset, length, "latin1");
        field(name, 0, 100);
        field("0000644\0", 100, 8);
        field("0000000\0", 108, 8);
        field("0000000\0", 116, 8);
        field(data.length.toString(8).padStart(11, "0") + "\0", 124, 12);
        field(
            Math.floor(Date.now() / 1000)
                .toString(8)
                .padStart(11, "0") + "\0",
            136,
            12,
        );
        field("        ", 148, 8); // checksum is computed with this field as spaces
        field("0", 156, 1);
        field("ustar\x0000", 257, 8);
        let sum = 0;
        for (const byte of header) sum += byte;
        field(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
        blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
    blocks.push(Buffer.alloc(1024));
    return zlib.gzipSync(Buffer.concat(blocks));
}

// --- SCMs -----------------------------------------------------------------------------------------------------

/** The only SCM here: the server's own git hosting. */
export const INTERNAL_SCM = { id: "internal", name: "Internal", provider: "internal", default: true, enabled: true };

function scmObject(baseUrl: string) {
    return { ...INTERNAL_SCM, urls: { web: baseUrl, api: `${baseUrl}/v1`, ssh: "" } };
}

// --- routes ---------------------------------------------------------------------------------------------------

function languageObject(l: Language) {
    // `configuration` is a JSON string in real replies (§3.6).
    return {
        name: l.name,
        display_name: l.display_name,
        configuration: JSON.stringify({ display_name: l.display_name, req_files: l.req_files, artifacts: [] }),
    };
}

function environmentObject(e: Environment) {
    const language = LANGUAGES.find((l) => l.name === e.language)!;
    return {
        id: e.id,
        environment_specification_id: e.environment_specification_id,
        display_name: e.display_name,
        description: e.description,
        created_at: "2021-01-01T00:00:00.000Z",
        language: languageObject(language),
        machine_type: e.machine_type,
    };
}

export async function environmentsApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const prefix = "/v1/algorithm-environments/edge";
    app.get(`${prefix}/languages`, async (request) => {
        requireCaller(request);
        return LANGUAGES.map(languageObject);
    });

    app.get(`${prefix}/languages/:language/environments`, async (request) => {
        requireCaller(request);
        const { language } = request.params as { language: string };
        if (!languageFamily(language)) {
            throw new ApiError(404, `Unknown language "${language}"`, ErrorCode.UnknownAlgorithmLanguage);
        }
        return { environments: ENVIRONMENTS.filter((e) => e.language === language).map(environmentObject) };
    });

    // No authentication required (§3.6): the CLI fetches templates before it has a key configured.
    app.get(`${prefix}/environment-specifications/:specId/template`, async (request, reply) => {
        const { specId } = request.params as { specId: string };
        const env = ENVIRONMENTS.find((e) => e.environment_specification_id === specId);
        if (!env) throw new ApiError(404, `No environment specification ${specId}`);
        const { family, language } = familyOf({ algorithm_environment: env.id });
        const files = templateFiles(family, language, "username", "algoname");
        reply.header("content-type", "application/gzip");
        reply.header("content-disposition", 'attachment; filename="template.tar.gz"');
        return reply.send(tarGz(files));
    });

    app.get("/v1/scms", async (request) => {
        requireCaller(request);
        return { results: [scmObject(ctx.baseUrl())] };
    });

    const scm = (request: { params: unknown }) => {
        const { id } = request.params as { id: string };
        if (id !== INTERNAL_SCM.id) throw new ApiError(404, `No SCM with id ${id}`, ErrorCode.ScmConfigurationNotFound);
        return scmObject(ctx.baseUrl());
    };
    app.get("/v1/scms/:id", async (request) => {
        requireCaller(request);
        return scm(request);
    });
    // The internal SCM needs no OAuth: it is never "authorized" (as the Node client's tests saw, §3.7).
    for (const kind of ["oauth", "token"]) {
        app.get(`/v1/scms/:id/${kind}/status`, async (request) => {
            requireCaller(request);
            scm(request);
            return { authorization_status: "unauthorized", scm_username: null, scm_organizations: [] };
        });
    }
}
