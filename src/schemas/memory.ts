import { z } from 'zod';

export const SUMMARY_MAX_GRAPHEMES = 400;

/** Where summarising stopped: the chat file and byte offset after the last consumed line. */
export const MemoryCursorSchema = z.object({
  file: z.string().regex(/^\d{4}-\d{2}-\d{2}\.jsonl$/),
  offset: z.number().int().nonnegative(),
  last_id: z.string().optional(),
});

// Loose: fields vpm does not know (a user's `tags`, a tool's `owner`) survive a rewrite of the file.
export const MemoryEntrySchema = z.looseObject({
  id: z.string().min(1),
  created_at: z.iso.datetime(),
  kind: z.enum(['summary', 'state_patch']).default('summary'),
  summary: z.string(),
  chars: z.number().int().nonnegative().max(SUMMARY_MAX_GRAPHEMES),
  source: z.object({
    from_id: z.string().nullable(),
    to_id: z.string().nullable(),
    count: z.number().int().nonnegative(),
  }),
  provider: z.string().min(1),
  /** Set when the configured provider failed and the extractive one stood in. */
  fallback: z.object({ from: z.string(), reason: z.string() }).optional(),
  compress_ratio: z.number().nonnegative(),
  sessions: z.array(z.string()).optional(),
});

/** `memory.json`: newest entry first. */
export const MemoryFileSchema = z.looseObject({
  version: z.literal(1),
  cursor: MemoryCursorSchema.nullable(),
  entries: z.array(MemoryEntrySchema),
});

export type MemoryFile = z.infer<typeof MemoryFileSchema>;
export type MemoryEntry = z.infer<typeof MemoryEntrySchema>;
export type MemoryCursor = z.infer<typeof MemoryCursorSchema>;
