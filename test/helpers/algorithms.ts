// Algorithm settings and a valid create body as the API spells them: for the management route tests and for
// integration tests that make algorithms out of band.
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
