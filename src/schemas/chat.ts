import { z } from 'zod';

/** One line of `logs/<YYYY-MM-DD>.jsonl`. */
export const ChatEntrySchema = z.object({
  v: z.literal(1),
  id: z.string().min(1),
  ts: z.iso.datetime({ offset: false }),
  session: z.string().min(1),
  role: z.enum(['user', 'assistant', 'system', 'tool']),
  text: z.string().min(1),
  meta: z.record(z.string(), z.unknown()).optional(),
});
