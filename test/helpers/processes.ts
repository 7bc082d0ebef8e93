// Small helpers for tests that watch processes (algorithm workers) come and go.

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** Polls `condition` every 50 ms for up to `ms`; returns its last value. */
export async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        if (condition()) return true;
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return condition();
}
