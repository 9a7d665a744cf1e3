// Composition root of the `roadwork` command. Sub-commands are registered in ./commands.
import { run } from "./commands.ts";

process.exitCode = await run(process.argv.slice(2));
