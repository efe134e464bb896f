/** Evidence of `vpm contract check PR --apply`: the rules evaluated and what was done. */
import { z } from 'zod';
import { defineEvidence } from './evidence.js';

export const ContractReport = defineEvidence('contract', 'reports/contract', {
  repo: z.string(),
  pr: z.object({ number: z.number().int().positive(), url: z.string(), head_ref: z.string(), head_sha: z.string() }),
  eligible: z.boolean(),
  rules: z.array(z.object({ rule: z.string(), ok: z.boolean(), detail: z.string(), offending: z.array(z.string()) })),
  files: z.array(z.string()),
  checks: z.array(
    z.object({
      name: z.string(),
      source: z.enum(['check_run', 'status']),
      state: z.enum(['success', 'failure', 'pending']),
      detail: z.string(),
    }),
  ),
  applied: z
    .object({
      label: z.object({ name: z.string(), added: z.boolean() }),
      auto_merge: z.object({ enabled: z.boolean(), already: z.boolean(), merge_method: z.string() }),
    })
    .nullable(),
});
