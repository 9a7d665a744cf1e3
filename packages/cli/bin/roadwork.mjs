#!/usr/bin/env node
// Entry of the `roadwork` command: the sources are TypeScript, loaded through tsx without a build step.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
