// Shared by the management route tests: a valid create body and a restart that tolerates stale sockets.
import { TestServer } from "./server";

export const SETTINGS = {
    language: "python3-1",
    environment: "cpu",
    license: "apl",
    source_visibility: "closed",
    network_access: "isolated",
    pipeline_enabled: false,
};
export const createBody = (name: string, settings: Record<string, unknown> = {}) => ({
    name,
    details: { label: `The ${name}`, summary: "sum", tagline: "tag" },
    settings: { ...SETTINGS, ...settings },
});

/**
 * Restarts the server. fetch may still hold a keep-alive socket to the old process that closes under it, so the
 * first request is retried until the new server answers.
 */
export async function restart(server: TestServer): Promise<TestServer> {
    const next = await server.restart();
    for (let attempt = 0; ; attempt++) {
        try {
            await fetch(`${next.url}/v1/scms`);
            return next;
        } catch (err) {
            if (attempt >= 5) throw err;
        }
    }
}
