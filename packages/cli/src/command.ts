// What every `roadwork` sub-command provides. Options are parsed with node:util parseArgs inside `run`.
export interface Command {
  summary: string;
  /** Returns the process exit code (undefined = 0). Throw Error with a message that says what to do. */
  run(argv: string[]): Promise<number | undefined>;
}
