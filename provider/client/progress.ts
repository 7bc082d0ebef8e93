// Progress of long steps — uploads and build waits — in the `pulumi up` output, which shows the provider's log as it
// comes. Throttled so a long step says how it goes without flooding the output: a first line once the step has run
// for a while, then at most one per interval, and a closing line only when the step was reported while it ran.
// PULUMI_ALGORITHMIA_PROGRESS_SECONDS sets both times (default 5 and 15; 0 reports every chunk and every poll).

/** Where progress goes: the engine's log in the provider (`pulumi.log.info`); nowhere by default. */
export type ProgressLog = (message: string) => void;

const DEFAULT_FIRST_MS = 5_000;
const DEFAULT_EVERY_MS = 15_000;

function intervals(env: NodeJS.ProcessEnv): { firstMs: number; everyMs: number } {
    const seconds = Number(env.PULUMI_ALGORITHMIA_PROGRESS_SECONDS);
    if (env.PULUMI_ALGORITHMIA_PROGRESS_SECONDS === undefined || !Number.isFinite(seconds) || seconds < 0) {
        return { firstMs: DEFAULT_FIRST_MS, everyMs: DEFAULT_EVERY_MS };
    }
    return { firstMs: seconds * 1000, everyMs: seconds * 3000 };
}

export class Progress {
    private readonly started: number;
    private lastReport?: number;
    private readonly firstMs: number;
    private readonly everyMs: number;

    constructor(
        private readonly log: ProgressLog | undefined,
        private readonly now: () => number = Date.now,
        env: NodeJS.ProcessEnv = process.env,
    ) {
        this.started = now();
        ({ firstMs: this.firstMs, everyMs: this.everyMs } = intervals(env));
    }

    /** Reports `describe(elapsed)` when it is time; cheap enough to call for every chunk. */
    tick(describe: (elapsedMs: number) => string): void {
        if (!this.log) return;
        const now = this.now();
        if (now - this.started < this.firstMs) return;
        if (this.lastReport !== undefined && now - this.lastReport < this.everyMs) return;
        this.lastReport = now;
        this.log(describe(now - this.started));
    }

    /** The closing line, when the step was reported while it ran. */
    done(describe: (elapsedMs: number) => string): void {
        if (this.log && this.lastReport !== undefined) this.log(describe(this.now() - this.started));
    }
}

export function formatBytes(bytes: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
    const seconds = Math.round(ms / 1000);
    if (seconds < 60) return `${seconds}s`;
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}

/** Bytes per second over `ms`, readable. */
export function formatRate(bytes: number, ms: number): string {
    return `${formatBytes(ms > 0 ? Math.round((bytes * 1000) / ms) : bytes)}/s`;
}
