// Progress lines (provider/client/progress.ts): none for a short step, then one per interval whatever the number of
// ticks, and a closing line only when the step was reported while it ran.
import * as assert from "assert";
import { formatBytes, formatDuration, formatRate, Progress } from "../../provider/client/progress";

describe("progress reports (unit)", () => {
    const clock = () => {
        let now = 1_000_000;
        return { now: () => now, advance: (ms: number) => (now += ms) };
    };

    it("says nothing about a step that ends before the first report", () => {
        const lines: string[] = [];
        const time = clock();
        const progress = new Progress((line) => lines.push(line), time.now, {});
        for (let i = 0; i < 100; i++) {
            time.advance(40);
            progress.tick(() => "tick");
        }
        progress.done(() => "done");
        assert.deepStrictEqual(lines, []);
    });

    it("reports after 5 s, then at most every 15 s however often it is ticked, and closes", () => {
        const lines: string[] = [];
        const time = clock();
        const progress = new Progress((line) => lines.push(line), time.now, {});
        for (let i = 0; i < 400; i++) {
            time.advance(100); // 40 s in all, ticked 400 times
            progress.tick((ms) => `at ${ms}`);
        }
        progress.done((ms) => `done after ${ms}`);
        assert.deepStrictEqual(lines, ["at 5000", "at 20000", "at 35000", "done after 40000"]);
    });

    it("takes its intervals from PULUMI_ALGORITHMIA_PROGRESS_SECONDS", () => {
        const lines: string[] = [];
        const time = clock();
        const progress = new Progress((line) => lines.push(line), time.now, {
            PULUMI_ALGORITHMIA_PROGRESS_SECONDS: "1",
        });
        for (let i = 0; i < 10; i++) {
            time.advance(500);
            progress.tick((ms) => `at ${ms}`);
        }
        assert.deepStrictEqual(lines, ["at 1000", "at 4000"]);
    });

    it("formats sizes, rates and durations for people", () => {
        assert.deepStrictEqual(
            [formatBytes(512), formatBytes(3 * 1024 ** 2), formatBytes(1.5 * 1024 ** 3), formatBytes(200 * 1024)],
            ["512 B", "3.00 MiB", "1.50 GiB", "200.0 KiB"],
        );
        assert.strictEqual(formatRate(350 * 1024 ** 2, 1000), "350.0 MiB/s");
        assert.deepStrictEqual(
            [formatDuration(4_400), formatDuration(65_000), formatDuration(600_000)],
            ["4s", "1m05s", "10m00s"],
        );
    });
});
