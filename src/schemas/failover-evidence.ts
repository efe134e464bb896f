import { z } from 'zod';
import { defineEvidence } from './evidence.js';

/** One HAProxy server as seen through the Runtime API (`show servers state` + `show stat`). */
export const ServerSnapshotSchema = z.object({
  server: z.string(),
  address: z.string(),
  port: z.number().nullable(),
  admin_state: z.enum(['ready', 'drain', 'maint']),
  op_state: z.string(),
  serving: z.boolean(),
  backup: z.boolean().nullable(),
  /** `show stat` status: UP, DOWN, MAINT, no check, … */
  status: z.string().nullable(),
  check_status: z.string().nullable(),
  /** The `show servers state` row keyed by HAProxy's header names. */
  raw: z.record(z.string(), z.string()),
});

/** Epoch milliseconds. */
export const TimestampsSchema = z.object({
  t0: z.number().nullable(),
  tDetect: z.number().nullable(),
  tSwitch: z.number().nullable(),
  tFirstSuccess: z.number().nullable(),
  tSteady: z.number().nullable(),
});

const IsoTimestampsSchema = z.object({
  t0: z.iso.datetime().nullable(),
  tDetect: z.iso.datetime().nullable(),
  tSwitch: z.iso.datetime().nullable(),
  tFirstSuccess: z.iso.datetime().nullable(),
  tSteady: z.iso.datetime().nullable(),
});

export const FailoverLegSchema = z.object({
  /** `a→b` (switch) or `b→a` (drill fail-back). */
  direction: z.string(),
  timestamps: TimestampsSchema,
  timestamps_iso: IsoTimestampsSchema,
  /** Each timestamp minus t0. */
  offsets_ms: TimestampsSchema,
  rto_ms: z.number().nullable(),
  rto_ok: z.boolean(),
});

export const ProbeLogSchema = z.object({
  seq: z.number().int(),
  phase: z.enum(['watch', 'recovery', 'failback', 'standby-check', 'baseline']),
  target: z.string(),
  sent_at: z.number(),
  done_at: z.number(),
  ok: z.boolean(),
  status: z.number().nullable(),
  class: z.string(),
  error: z.string().optional(),
});

export const FAILOVER_VERDICTS = [
  'ok',
  'noop',
  'no-failure',
  'rto-exceeded',
  'not-recovered',
  'switch-failed',
  'standby-unhealthy',
  'refused-frozen',
  'aborted',
] as const;

/** The body of `reports/failover/<run_id>.json` (after the common envelope). */
export const FailoverBodySchema = z.object({
  mode: z.enum(['manual', 'auto', 'drill']),
  verdict: z.enum(FAILOVER_VERDICTS),
  message: z.string(),
  haproxy: z.object({
    socket: z.string(),
    version: z.string().nullable(),
    cli_level: z.string().nullable(),
    backend: z.string(),
    from: z.string(),
    to: z.string(),
    before: z.array(ServerSnapshotSchema),
    after: z.array(ServerSnapshotSchema),
  }),
  /** Every Runtime API command sent, with HAProxy's answer (an empty answer means success for `set`). */
  commands: z.array(z.object({ at: z.number(), at_iso: z.iso.datetime(), command: z.string(), response: z.string(), ok: z.boolean() })),
  freeze: z.object({ active: z.boolean(), overridden: z.boolean(), reason: z.string().nullable(), state: z.unknown() }),
  /** Argo CD app status of the clusters behind the servers, best effort (taken before the switch). */
  argo: z.object({
    checked_at: z.string().nullable(),
    clusters: z.array(z.unknown()),
    apps: z.array(z.unknown()),
    error: z.string().nullable(),
  }),
  probe: z.object({
    /** `edge`: probes go through the edge URL; `server`: straight to each server's own address. */
    mode: z.enum(['edge', 'server']),
    watch_url: z.string().nullable(),
    recovery_url: z.string(),
    host: z.string().nullable(),
    interval_ms: z.number(),
    timeout_ms: z.number(),
    fail_threshold: z.number().int(),
    steady_successes: z.number().int(),
    success: z.literal('2xx'),
  }),
  standby_check: z
    .object({ url: z.string(), ok: z.boolean(), status: z.number().nullable(), latency_ms: z.number(), error: z.string().nullable() })
    .nullable(),
  timestamps: TimestampsSchema,
  timestamps_iso: IsoTimestampsSchema,
  offsets_ms: TimestampsSchema,
  /** tSteady − t0 of the switch (first leg). */
  rto_ms: z.number().nullable(),
  target_rto_ms: z.number(),
  rto_ok: z.boolean(),
  legs: z.array(FailoverLegSchema),
  /** Probes around and during the outage: the last ones before t0, then every probe until steady. */
  probes: z.array(ProbeLogSchema),
  probes_dropped: z.number().int(),
});

/** `reports/failover/<run_id>.json`: one `vpm failover` run. */
export const FailoverEvidence = defineEvidence('failover', 'reports/failover', FailoverBodySchema.shape);

export type FailoverBody = z.infer<typeof FailoverBodySchema>;
export type ServerSnapshot = z.infer<typeof ServerSnapshotSchema>;
export type FailoverVerdict = (typeof FAILOVER_VERDICTS)[number];
