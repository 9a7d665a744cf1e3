// Composition root of the `roadwork` command. Sub-commands are registered in ./commands.
import { run } from "./commands.ts";

const code = await run(process.argv.slice(2));
process.exitCode = code;
// A failed command must end the process even if a handle it opened (a socket, a file watcher) is still alive:
// a supervisor has to see the failure instead of a live process that does nothing.
if (code !== 0) setTimeout(() => process.exit(code), 2_000).unref();
