// zod, loaded when first asked for. Only the provider process checks inputs: a program that declares resources never
// needs zod's 1 MB of JavaScript, whose compiling was most of this package's load time in a program (a CPU profile of
// `pulumi preview`). A function that builds a schema takes it as a default parameter, `(z = zod()) => z.object(…)`;
// types come from `import type { z } from "zod"`.
import type { z } from "zod";

export function zod(): typeof z {
    return (require("zod") as typeof import("zod")).z;
}
