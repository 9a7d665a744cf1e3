// Entry of ViewPool's worker threads from the source tree: registers tsx in this thread, then runs view-worker.ts.
// (A bundle replaces this file with view-worker.ts bundled under the same name.)
import { register } from "tsx/esm/api";

register();
await import("./view-worker.ts");
