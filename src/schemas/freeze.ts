import { z } from 'zod';

/** `.ops/deploy_freeze.json`. */
export const FreezeSchema = z.object({
  frozen: z.boolean(),
  reason: z.string(),
  by: z.string(),
  at: z.iso.datetime(),
  until: z.iso.datetime().nullable().optional(),
  source: z.enum(['manual', 'guard']),
  run_id: z.string().nullable().optional(),
});

export type FreezeState = z.infer<typeof FreezeSchema>;
