import { z } from 'zod';

/** A goal list item: `- G-3: text`, `* [x] G-3 text`, … (also used by the STATE parser). */
export const GOAL_LINE = /^\s*[-*]\s+(\[[ xX]\]\s+)?(G-\d+)\s*[:：.-]?\s*(.*)$/;

// Text that a patch sets must read back as the same text: no line may start a section (`## `) or,
// inside `## G`, a goal item.
const NO_SECTION = [(s: string) => !/^## /m.test(s), 'must not contain a line starting with "## " (that starts a new section)'] as const;
const NO_GOAL = [
  (s: string) => !s.split(/\r?\n/).some((l) => GOAL_LINE.test(l)),
  'must not contain a goal item line (- G-n: …); add a goal to goals instead',
] as const;
const ONE_LINE = [(s: string) => !/[\r\n]/.test(s), 'must be a single line'] as const;
const block = () => z.string().refine(...NO_SECTION);

export const GoalSchema = z.object({
  id: z.string().regex(/^G-\d+$/, 'goal ids look like G-1, G-2, …'),
  text: z
    .string()
    .min(1, 'a goal needs a text')
    .refine(...ONE_LINE),
  /** The list item's checkbox: `[x]` true, `[ ]` false, none: absent. */
  done: z.boolean().optional(),
  /** Lines under the goal's list item (sub-items, prose) up to the next goal, kept verbatim. */
  notes: block()
    .refine(...NO_GOAL)
    .optional(),
});

/** The parsed form of STATE/current_state.md that `vpm state patch` JSON patches apply to. */
export const StateSchema = z
  .object({
    phase: z
      .string()
      .min(1)
      .refine(...ONE_LINE),
    updated_at: z.iso.datetime(),
    title: z
      .string()
      .refine(...ONE_LINE)
      .default('Current state'),
    /** Front-matter keys other than phase and updated_at, kept as they are. */
    front_matter: z
      .record(z.string().regex(/^[^\r\n]+$/, 'a key must be a single line'), z.unknown())
      .refine((o) => !('phase' in o) && !('updated_at' in o), 'phase and updated_at are top-level fields, not front_matter keys')
      .optional(),
    /** Text between the title and the first `## ` section. */
    intro: block().optional(),
    current: block(),
    /** Text of `## G` before its first goal. */
    goals_intro: block()
      .refine(...NO_GOAL)
      .optional(),
    goals: z.array(GoalSchema),
    delta: block(),
    /** Any other `## ` sections (and repeats of C, G, δ), kept verbatim so a patch never loses content. */
    other_sections: z
      .array(
        z.object({
          heading: z
            .string()
            .trim()
            .min(1)
            .refine(...ONE_LINE),
          body: block(),
        }),
      )
      .default([]),
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
