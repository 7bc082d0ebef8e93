// Request counting and fault injection, for tests and benchmarks that check how clients cope with an unreliable
// API and how many calls they make.
//
// Spec (the CLI's --faults flag, PUT /_local/faults, Faults.set), parts separated by ";":
//
//   <METHOD> <PATH-GLOB>=<action>:<value>[,<action>:<value>...]     a rule
//   seed=<integer>                                                  the PRNG seed (default: random, see GET /_local/faults)
//
//   METHOD     an HTTP method or "*" for any
//   PATH-GLOB  matched against the request path without the query; "*" matches any run of characters, "/" included
//   actions    error:<rate>        answer with an error status (default 500) at this rate (0..1)
//              status:<code>       the status for `error`, 500-599
//              rate429:<rate>      answer 429 Too Many Requests with a Retry-After header at this rate
//              retryAfter:<s>      the Retry-After value in whole seconds (default 1)
//              drop:<rate>         destroy the connection without any reply at this rate
//              latency:<time>      wait this long before handling the request: "200ms", "1.5s" or plain milliseconds
//              trickle:<time>      send the reply body in 1 KiB pieces this far apart (the first at once): a slow link,
//                                  or, apart by more than a client's idle timeout, a transfer that stalls midway
//              max:<n>             inject at most n faults with this rule, then let requests through
//
//   BUILD <ALGO-GLOB>=<action>:<value>[,...]                         a build rule, matched against "owner/name"
//              latency:<time>      the build takes this much longer (it stays in-progress meanwhile), as real
//                                  builds that install dependencies take minutes
//              skip:<rate>         a push starts no build at this rate, as a lost push event or SCM webhook;
//                                  compile still builds
//              fail:<rate>         a build fails at this rate whatever its tree, as one whose build machine died
//              max:<n>             as above (latency applies to every matching build)
//
//   e.g. "PUT /v1/data/*=error:0.1,status:503; * /v1/algorithms/*=rate429:0.2,retryAfter:1,latency:200ms,drop:0.05; seed=42"
//        "BUILD alice/Slow*=latency:20s"
//
// The first rule that matches a request applies. A matching request draws one number from the seeded PRNG to pick
// drop, 429, error or nothing (the rates add up, so they must sum to at most 1), which makes a run repeatable for
// the same seed and the same sequence of requests. Latency and trickle apply to every matching request.
//
// Every request is counted by method and route pattern (Fastify's, e.g. "PUT /v1/data/*"; the raw path when no
// route matched), injected faults included, so tests can see retries. The /_local control endpoints are neither
// counted nor subject to faults. They take no API key: the server listens on 127.0.0.1 by default.
import { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Readable } from "stream";
import { ApiError, ErrorCode, errorHandler, invalidRequest } from "./errors";

interface Rule {
    /** The rule as written, for messages and GET /_local/faults. */
    text: string;
    method: string;
    glob: RegExp;
    error: number;
    status: number;
    rate429: number;
    retryAfter: number;
    drop: number;
    latencyMs: number;
    trickleMs: number;
    /** BUILD rules only. */
    skip: number;
    fail: number;
    max: number;
    injected: number;
}

interface Plan {
    rules: Rule[];
    seed: number;
}

export interface Counts {
    total: number;
    /** GET and HEAD requests. */
    reads: number;
    /** Every other method. */
    writes: number;
    /** By `<METHOD> <route pattern>`. */
    routes: Record<string, number>;
    /** Faults injected since the last reset, by kind. */
    injected: { error: number; rate429: number; drop: number; skip: number; fail: number };
}

/** What a build of an algorithm suffers (BUILD rules). */
export interface BuildFault {
    /** Start no build for this push. */
    skip: boolean;
    /** Fail the build, whatever its tree. */
    fail: boolean;
    latencyMs: number;
}

const CONTROL_PREFIX = "/_local/";
const BUILD = "BUILD";

export class Faults {
    private plan: Plan = { rules: [], seed: 0 };
    private random: () => number = mulberry32(0);
    private counts_: Counts = emptyCounts();

    constructor(spec?: string) {
        if (spec) this.set(spec);
    }

    /** Replaces all rules (and reseeds the PRNG). Throws an Error naming the bad part of an invalid spec. */
    set(spec: string): void {
        this.plan = parseSpec(spec);
        this.random = mulberry32(this.plan.seed);
    }

    clear(): void {
        this.plan = { rules: [], seed: 0 };
    }

    counts(): Counts {
        return structuredClone(this.counts_);
    }

    resetCounts(): void {
        this.counts_ = emptyCounts();
    }

    /** The Fastify onRequest hook: counts the request, then maybe delays, fails or drops it. */
    async onRequest(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
        const path = request.url.split("?")[0];
        if (path.startsWith(CONTROL_PREFIX)) return;
        this.count(request.method, request.routeOptions.url ?? path);

        const rule = this.ruleFor(request);
        if (!rule) return;
        if (rule.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, rule.latencyMs));
        if (rule.injected >= rule.max) return;

        const draw = this.random();
        if (draw < rule.drop) {
            this.injected(rule, "drop");
            reply.hijack();
            request.raw.socket.destroy();
            return reply;
        }
        if (draw < rule.drop + rule.rate429) {
            this.injected(rule, "rate429");
            reply.header("Retry-After", String(rule.retryAfter));
            errorHandler(new ApiError(429, `Too many requests (injected fault "${rule.text}")`), request, reply);
            return reply;
        }
        if (draw < rule.drop + rule.rate429 + rule.error) {
            this.injected(rule, "error");
            errorHandler(
                new ApiError(rule.status, `Injected fault "${rule.text}"`, ErrorCode.InternalServerError),
                request,
                reply,
            );
            return reply;
        }
    }

    /** The Fastify onSend hook: a reply body of a `trickle` rule's request goes out slowly. */
    async onSend(request: FastifyRequest, payload: unknown): Promise<unknown> {
        const pauseMs = this.ruleFor(request)?.trickleMs ?? 0;
        if (pauseMs === 0 || payload === null || payload === undefined) return payload;
        const source =
            typeof payload === "string" || Buffer.isBuffer(payload) ? [Buffer.from(payload)] : (payload as Readable);
        return Readable.from(trickle(source, pauseMs));
    }

    /** The first request rule that matches (none for the uncounted control endpoints). */
    private ruleFor(request: FastifyRequest): Rule | undefined {
        const path = request.url.split("?")[0];
        if (path.startsWith(CONTROL_PREFIX)) return undefined;
        return this.plan.rules.find(
            (r) => r.method !== BUILD && (r.method === "*" || r.method === request.method) && r.glob.test(path),
        );
    }

    /** The fault for a build of `owner/name` that a push (or a compile, which is never skipped) starts. */
    onBuild(owner: string, name: string, trigger: "push" | "compile"): BuildFault {
        const rule = this.plan.rules.find((r) => r.method === BUILD && r.glob.test(`${owner}/${name}`));
        const fault = { skip: false, fail: false, latencyMs: rule?.latencyMs ?? 0 };
        const skipRate = trigger === "push" ? (rule?.skip ?? 0) : 0;
        if (!rule || skipRate + rule.fail === 0 || rule.injected >= rule.max) return fault;
        const draw = this.random();
        if (draw < skipRate) fault.skip = true;
        else if (draw < skipRate + rule.fail) fault.fail = true;
        if (fault.skip || fault.fail) this.injected(rule, fault.skip ? "skip" : "fail");
        return fault;
    }

    /** The control endpoints, as a plugin for the server root. */
    routes() {
        return async (app: FastifyInstance) => {
            app.get("/_local/counters", async () => this.counts());
            // Read and reset in one step, so a benchmark loses no request between the two.
            app.delete("/_local/counters", async () => {
                const counts = this.counts();
                this.resetCounts();
                return counts;
            });
            app.get("/_local/faults", async () => this.describe());
            // The body is the spec as text, or JSON {"spec": "..."}.
            app.put("/_local/faults", async (request) => {
                const body = request.body as unknown;
                const spec = typeof body === "string" ? body : (body as { spec?: unknown } | undefined)?.spec;
                if (typeof spec !== "string")
                    throw invalidRequest('PUT /_local/faults takes the spec as text or {"spec": "..."}');
                try {
                    this.set(spec);
                } catch (err) {
                    throw invalidRequest((err as Error).message);
                }
                return this.describe();
            });
            app.delete("/_local/faults", async () => {
                this.clear();
                return this.describe();
            });
        };
    }

    private describe() {
        return {
            seed: this.plan.seed,
            rules: this.plan.rules.map(({ glob: _glob, ...rule }) => rule),
        };
    }

    private count(method: string, route: string): void {
        const c = this.counts_;
        const key = `${method} ${route}`;
        c.routes[key] = (c.routes[key] ?? 0) + 1;
        c.total++;
        if (method === "GET" || method === "HEAD") c.reads++;
        else c.writes++;
    }

    private injected(rule: Rule, kind: keyof Counts["injected"]): void {
        rule.injected++;
        this.counts_.injected[kind]++;
    }
}

function emptyCounts(): Counts {
    return { total: 0, reads: 0, writes: 0, routes: {}, injected: { error: 0, rate429: 0, drop: 0, skip: 0, fail: 0 } };
}

export function parseSpec(spec: string): Plan {
    const plan: Plan = { rules: [], seed: Math.floor(Math.random() * 2 ** 32) };
    const parts = spec
        .split(";")
        .map((p) => p.trim())
        .filter(Boolean);
    for (const part of parts) {
        const fail = (why: string): never => {
            throw new Error(`invalid fault spec part "${part}": ${why}`);
        };
        const eq = part.indexOf("=");
        if (eq < 0) fail('expected "<METHOD> <PATH>=<action>:<value>,..." or "seed=<integer>"');
        const selector = part.slice(0, eq).trim();
        const value = part.slice(eq + 1).trim();
        if (selector === "seed") {
            if (!/^\d+$/.test(value) || Number(value) >= 2 ** 32) fail("seed must be an integer from 0 to 4294967295");
            plan.seed = Number(value);
            continue;
        }
        plan.rules.push(parseRule(part, selector, value, fail));
    }
    return plan;
}

function parseRule(text: string, selector: string, actions: string, fail: (why: string) => never): Rule {
    const match = /^(\*|[A-Za-z]+)\s+(\S+)$/.exec(selector);
    const method = match?.[1].toUpperCase();
    const isBuild = method === BUILD;
    if (!match || (isBuild ? !/^[^/]+\/[^/]+$/.test(match[2]) : !match[2].startsWith("/"))) {
        fail(`"${selector}" is not "<METHOD or *> <PATH starting with />" or "BUILD <owner>/<name>"`);
    }
    const rule: Rule = {
        text,
        method: method!,
        glob: globToRegExp(match![2]),
        error: 0,
        status: 500,
        rate429: 0,
        retryAfter: 1,
        drop: 0,
        latencyMs: 0,
        trickleMs: 0,
        skip: 0,
        fail: 0,
        max: Infinity,
        injected: 0,
    };
    if (!actions) fail("no actions after =");
    for (const action of actions.split(",").map((a) => a.trim())) {
        const colon = action.indexOf(":");
        const key = action.slice(0, colon).trim();
        const raw = action.slice(colon + 1).trim();
        if (colon <= 0 || !raw) fail(`action "${action}" is not "<name>:<value>"`);
        const num = Number(raw);
        const rate = () =>
            raw !== "" && num >= 0 && num <= 1 ? num : fail(`${key} must be a rate from 0 to 1, got "${raw}"`);
        if (isBuild && !["latency", "skip", "fail", "max"].includes(key))
            fail(`unknown build action "${key}" (known: latency, skip, fail, max)`);
        if (!isBuild && (key === "skip" || key === "fail")) fail(`"${key}" is a BUILD action`);
        const duration = () => parseDuration(raw) ?? fail(`${key} must look like 200ms, 1.5s or 200, got "${raw}"`);
        const whole = (min: number, max: number) =>
            Number.isInteger(num) && num >= min && num <= max
                ? num
                : fail(`${key} must be an integer from ${min} to ${max}, got "${raw}"`);
        switch (key) {
            case "error":
                rule.error = rate();
                break;
            case "rate429":
                rule.rate429 = rate();
                break;
            case "drop":
                rule.drop = rate();
                break;
            case "skip":
                rule.skip = rate();
                break;
            case "fail":
                rule.fail = rate();
                break;
            case "status":
                rule.status = whole(500, 599);
                break;
            case "retryAfter":
                rule.retryAfter = whole(0, 86400);
                break;
            case "max":
                rule.max = whole(0, Number.MAX_SAFE_INTEGER);
                break;
            case "latency":
                rule.latencyMs = duration();
                break;
            case "trickle":
                rule.trickleMs = duration();
                break;
            default:
                fail(
                    `unknown action "${key}" (known: error, status, rate429, retryAfter, drop, latency, trickle, max)`,
                );
        }
    }
    if (rule.error + rule.rate429 + rule.drop > 1) fail("error + rate429 + drop must not exceed 1");
    if (rule.skip + rule.fail > 1) fail("skip + fail must not exceed 1");
    return rule;
}

const TRICKLE_BYTES = 1024;

/** `body` in pieces of at most TRICKLE_BYTES, `pauseMs` apart. */
async function* trickle(body: Iterable<Buffer> | AsyncIterable<Buffer>, pauseMs: number): AsyncGenerator<Buffer> {
    let first = true;
    for await (const chunk of body) {
        for (let at = 0; at < chunk.length; at += TRICKLE_BYTES) {
            if (!first) await new Promise((resolve) => setTimeout(resolve, pauseMs));
            first = false;
            yield chunk.subarray(at, at + TRICKLE_BYTES);
        }
    }
}

function parseDuration(text: string): number | undefined {
    const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
    if (!match) return undefined;
    return Math.round(Number(match[1]) * (match[2] === "s" ? 1000 : 1));
}

function globToRegExp(glob: string): RegExp {
    const escaped = glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${escaped.join(".*")}$`);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence in [0, 1). */
function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
