import { z } from 'zod';

export const GoalSchema = z.object({
  id: z.string().regex(/^G-\d+$/, 'goal ids look like G-1, G-2, …'),
  text: z.string().min(1, 'a goal needs a text'),
});

/** The parsed form of STATE/current_state.md that `vpm state patch` JSON patches apply to. */
export const StateSchema = z
  .object({
    phase: z.string().min(1),
    updated_at: z.iso.datetime(),
    title: z.string().default('Current state'),
    current: z.string(),
    goals: z.array(GoalSchema),
    delta: z.string(),
    /** Any other `## ` sections, kept verbatim so a patch never loses content. */
    other_sections: z.array(z.object({ heading: z.string().min(1), body: z.string() })).default([]),
  })
  .superRefine((state, ctx) => {
    const seen = new Map<string, number>();
    state.goals.forEach((g, i) => {
      if (seen.has(g.id)) {
        ctx.addIssue({ code: 'custom', path: ['goals', i, 'id'], message: `duplicate goal id ${g.id} (also at goals.${seen.get(g.id)})` });
      } else seen.set(g.id, i);
    });
  });

export type ProjectState = z.infer<typeof StateSchema>;
