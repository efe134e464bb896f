/**
 * Notifications of rollout events to the `notify` targets of the config: one HTTP POST per event and
 * target, Slack-compatible (`{text}`) or a JSON document naming the evidence. Everything sent is
 * masked; a target that fails is retried briefly (delivery is at least once: a target that answers
 * too late may get an event twice), logged and recorded, and never fails the rollout. A refusal (4xx
 * other than 408/429) is not retried: the same request would be refused again.
 */
import { postJson } from '../adapters/notify-http.js';
import type { Ctx } from '../core/context.js';
import { maskText, maskValue } from '../core/secrets.js';
import type { NOTIFY_EVENTS } from '../schemas/config.js';

export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface NotifyPayload {
  ksvc: string;
  namespace: string;
  run_id: string;
  revision: string | null;
  previous: string | null;
  reason: string;
  evidence?: string | null;
}

export interface NotificationRecord {
  event: NotifyEvent;
  url: string;
  ok: boolean;
  attempts: number;
  status: number | null;
  error: string | null;
  at: string;
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 3_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The URL as it may be shown: credentials and query (often a token) masked. */
function shownUrl(url: string, env: NodeJS.ProcessEnv): string {
  try {
    const u = new URL(url);
    const hidden = u.username || u.password || u.search;
    return maskText(`${u.protocol}//${u.host}${u.pathname}${hidden ? ' (credentials/query hidden)' : ''}`, env);
  } catch {
    return '(invalid url)';
  }
}

export interface Notifier {
  notify(event: NotifyEvent, payload: NotifyPayload): Promise<void>;
  readonly sent: NotificationRecord[];
}

export async function notifier(ctx: Ctx): Promise<Notifier> {
  const targets = (await ctx.config()).notify ?? [];
  const sent: NotificationRecord[] = [];
  return {
    sent,
    async notify(event, payload) {
      for (const t of targets.filter((x) => x.events.includes(event))) {
        const masked = maskValue({ event, at: new Date().toISOString(), ...payload }, ctx.env);
        const body =
          t.format === 'slack'
            ? {
                text: maskText(
                  `vpm: ${event} — ${payload.ksvc} (${payload.namespace})${payload.revision ? ` ${payload.revision}` : ''}${payload.previous ? ` (stable ${payload.previous})` : ''}: ${payload.reason}${payload.evidence ? ` — evidence ${payload.evidence}` : ''}`,
                  ctx.env,
                ),
              }
            : { schema: 'vpm.notification/v1', ...masked };
        const record: NotificationRecord = {
          event,
          url: shownUrl(t.url, ctx.env),
          ok: false,
          attempts: 0,
          status: null,
          error: null,
          at: new Date().toISOString(),
        };
        for (let attempt = 1; attempt <= ATTEMPTS && !record.ok; attempt++) {
          record.attempts = attempt;
          try {
            const { status } = await postJson(t.url, body, TIMEOUT_MS);
            record.status = status;
            record.ok = status >= 200 && status < 300;
            record.error = record.ok ? null : `HTTP ${status}`;
            if (status >= 400 && status < 500 && status !== 408 && status !== 429) break;
          } catch (err) {
            record.error = maskText((err as Error).message, ctx.env);
          }
          if (!record.ok && attempt < ATTEMPTS) await sleep(200 * attempt);
        }
        if (!record.ok)
          ctx.status(`warning: notification ${event} to ${record.url} failed after ${record.attempts} attempts: ${record.error}`);
        sent.push(record);
      }
    },
  };
}
