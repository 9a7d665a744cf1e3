// What the evaluate step records in runs/<runId>/evaluation.json: the frozen set's items and each model's served scores
// on them. The gate decides from it; the drift check takes the promoted challenger's scores as its reference.
import { z } from "zod";

const ModelScores = z.object({ version: z.string(), source: z.string(), scores: z.array(z.number()) });
export const EvaluationRecord = z.object({
  setId: z.string(),
  items: z.array(z.object({ label: z.union([z.literal(0), z.literal(1)]), format: z.string() })),
  challenger: ModelScores,
  champion: ModelScores.optional(),
});
export type EvaluationRecord = z.infer<typeof EvaluationRecord>;
