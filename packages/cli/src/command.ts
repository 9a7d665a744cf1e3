// What every `roadwork` sub-command provides, and `defineCommand`, which builds one from a single declaration of its
// options: node:util parseArgs reads argv from it and `--help` prints it, so help text and parsing cannot drift.
// Keep a command module's top-level imports light (types, node: built-ins): `--help` loads the module, so heavy
// packages (@roadwork/inference, @roadwork/training, @polkadot/api, AWS SDK) are imported inside `run`.
import { type ParseArgsConfig, parseArgs } from "node:util";

export interface Command {
  name: string;
  summary: string;
  /** The full help text: usage line, description, every option with its default. */
  help(): string;
  /** Returns the process exit code (undefined = 0). Throw Error with a message that says what to do. */
  run(argv: string[]): Promise<number | undefined>;
}

export interface OptionSpec {
  type: "string" | "boolean";
  /** What the option does, one line (shown by --help). */
  help: string;
  short?: string;
  /** The value placeholder shown in help, e.g. "<n>" (strings only; default "<value>"). */
  value?: string;
  default?: string | boolean;
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

type One<S extends OptionSpec> = S["type"] extends "boolean" ? boolean : string;
type Value<S extends OptionSpec> = S extends { multiple: true } ? One<S>[] : One<S>;
/** Options with a default are always present; the others may be undefined. */
export type OptionValues<O extends OptionSpecs> = {
  -readonly [K in keyof O as O[K] extends { default: string | boolean } ? K : never]: Value<O[K]>;
} & {
  -readonly [K in keyof O as O[K] extends { default: string | boolean } ? never : K]?: Value<O[K]>;
};

export interface CommandSpec<O extends OptionSpecs> {
  name: string;
  summary: string;
  /** The synopsis after `roadwork <name>`, e.g. "--model <source> <image...>". */
  usage: string;
  /** Longer prose under the usage line: where secrets come from, what the exit codes mean. */
  description?: string;
  options: O;
  /** Accept positional arguments (named in `usage`). */
  positionals?: boolean;
  run(args: { values: OptionValues<O>; positionals: string[] }): Promise<number | undefined>;
}

/** A mistake in the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const HELP: OptionSpec = { type: "boolean", short: "h", help: "show this help" };

export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  if ("help" in spec.options) throw new Error(`${spec.name}: --help is added by defineCommand`);
  const all: OptionSpecs = { ...spec.options, help: HELP };
  const help = () => renderHelp(spec.name, spec.usage, spec.description, all);
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    async run(argv) {
      let parsed: ReturnType<typeof parseArgs>;
      try {
        parsed = parseArgs({
          args: argv,
          options: Object.fromEntries(
            Object.entries(all).map(([k, o]) => [
              k,
              {
                type: o.type,
                ...(o.short ? { short: o.short } : {}),
                ...(o.default !== undefined ? { default: o.default } : {}),
                ...(o.multiple ? { multiple: true } : {}),
              },
            ]),
          ) as NonNullable<ParseArgsConfig["options"]>,
          allowPositionals: spec.positionals === true,
          strict: true,
        });
      } catch (error) {
        throw new UsageError(`${(error as Error).message.replace(/\.?$/, "")}. Run 'roadwork ${spec.name} --help'.`);
      }
      if (parsed.values.help) {
        console.log(help());
        return 0;
      }
      return spec.run({ values: parsed.values as OptionValues<O>, positionals: parsed.positionals });
    },
  };
}

function renderHelp(name: string, usage: string, description: string | undefined, options: OptionSpecs): string {
  const rows = Object.entries(options).map(([key, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${key}${o.type === "string" ? ` ${o.value ?? "<value>"}` : ""}`;
    const dflt = o.default !== undefined && o.default !== false ? ` (default: ${String(o.default)})` : "";
    return [flag, `${o.help}${o.multiple ? " (repeatable)" : ""}${dflt}`] as const;
  });
  const width = Math.min(34, Math.max(...rows.map(([f]) => f.length)) + 2);
  const lines = rows.map(([f, h]) =>
    f.length + 2 > width ? `  ${f}\n  ${"".padEnd(width)}${h}` : `  ${f.padEnd(width)}${h}`,
  );
  return [
    `usage: roadwork ${name} ${usage}`.trimEnd(),
    ...(description ? ["", description.trim()] : []),
    "",
    "options:",
    ...lines,
  ].join("\n");
}
