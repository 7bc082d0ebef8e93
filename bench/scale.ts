// (e) `pulumi up` time for 10, 50 and 100 algorithms with the engine's default parallelism.
import { Benchmark, providerExports } from "./lib";

export const scaleBenchmark: Benchmark = {
    id: "scale",
    title: "(e) up time for 10, 50 and 100 algorithms",
    async run() {
        const missing = providerExports("Algorithm") ?? "not wired yet";
        return [10, 50, 100].map((n) => ({
            id: `scale.n${n}.upSeconds`,
            label: `up of ${n} algorithms`,
            value: null,
            unit: "s",
            how: "not measured",
            skipped: missing,
        }));
    },
};
