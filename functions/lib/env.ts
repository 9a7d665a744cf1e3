// Lambda configuration from the environment, validated once at cold start with a message that names what is wrong.
import type { z } from "zod";

export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
  fn: string,
): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`).join("; ");
  throw new Error(`${fn} is misconfigured (${problems}); the stack sets these variables, redeploy it`);
}
